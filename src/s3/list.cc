// Listing: ListObjects (v1), ListObjectsV2 and ListObjectVersions (which
// answers with the current versions: every object has the one version
// "null" until versioning comes).
#include "s3/internal.h"

namespace shoal::s3 {
namespace {

struct Item {
  std::string key;
  ObjectMeta meta;
};

struct Listing {
  std::vector<Item> contents;
  std::vector<std::string> prefixes;
  bool truncated = false;
  std::string next;  // the last key or common prefix returned
};

// Keys that start with `prefix`, after `after`, grouped by `delimiter`,
// at most `max_keys` keys and common prefixes together.
Result<Listing> List(blob::Drive& drive, const std::string& prefix, const std::string& delimiter,
                     const std::string& after, uint64_t max_keys) {
  Listing out;
  if (max_keys == 0) return out;  // nothing asked, nothing truncated
  std::string cursor = after;
  uint64_t count = 0;
  constexpr uint64_t kBatch = 1000;
  for (;;) {
    SHOAL_ASSIGN_OR_RETURN(auto batch,
                           drive.List("/" + prefix, cursor.empty() ? "" : "/" + cursor, kBatch));
    bool skipped = false;
    for (const blob::FileEntry& e : batch) {
      std::string key = e.path.substr(1);
      cursor = key;
      if (!delimiter.empty()) {
        size_t pos = key.find(delimiter, prefix.size());
        if (pos != std::string::npos) {
          std::string cp = key.substr(0, pos + delimiter.size());
          // Jump past every key under this prefix: keys are UTF-8, which
          // never holds the byte ff.
          cursor = cp + "\xff";
          skipped = true;
          if (!after.empty() && cp <= after) break;
          if (count == max_keys) {
            out.truncated = true;
            return out;
          }
          out.prefixes.push_back(cp);
          out.next = cp;
          count++;
          break;
        }
      }
      if (count == max_keys) {
        out.truncated = true;
        return out;
      }
      Item item;
      item.key = std::move(key);
      if (auto m = DecodeObjectMeta(e.metadata_json); m.ok()) {
        item.meta = std::move(*m);
      } else if (e.blob) {
        // Written by another Hyperdrive writer: the size is the blob's.
        auto size = drive.blobs().Size(*e.blob);
        item.meta.size = size.ok() ? *size : 0;
      }
      out.next = item.key;
      out.contents.push_back(std::move(item));
      count++;
    }
    if (!skipped && batch.size() < kBatch) return out;
    if (batch.empty()) return out;
  }
}

std::string Enc(const std::string& s, bool url) { return XmlEscape(url ? UriEncode(s, false) : s); }

}  // namespace

std::optional<uint64_t> Service::Impl::PageSize(Context& ctx, std::string_view param,
                                                const std::string& message) {
  if (!ctx.Has(param)) return 1000;
  const std::string v = ctx.Param(param);
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) {
    SendError(ctx, Error::InvalidArgument(message));
    return std::nullopt;
  }
  return std::min<uint64_t>(std::stoull(v), 1000);
}

void Service::Impl::ListObjects(Context& ctx, bool v2) {
  auto drive = OwnedDrive(ctx);
  if (!drive) return;
  const std::string prefix = ctx.Param("prefix");
  const std::string delimiter = ctx.Param("delimiter");
  const bool url = ctx.Param("encoding-type") == "url";
  if (ctx.Has("encoding-type") && !url) {
    return SendError(ctx, Error::InvalidArgument("Invalid Encoding Method specified in Request"));
  }
  auto max = PageSize(ctx, "max-keys", "Provided max-keys not an integer or within integer range");
  if (!max) return;
  const uint64_t max_keys = *max;
  std::string after;
  std::string token;
  if (v2) {
    after = ctx.Param("start-after");
    if (ctx.Has("continuation-token")) {
      token = ctx.Param("continuation-token");
      auto decoded = FromHex(token);
      if (!decoded) return SendError(ctx, Error::InvalidArgument("The continuation token provided is incorrect"));
      after = AsString(*decoded);
    }
  } else {
    after = ctx.Param("marker");
  }
  auto listing = List(*drive, prefix, delimiter, after, max_keys);
  if (!listing.ok()) return SendError(ctx, Error::InternalError(listing.status().ToString()));

  std::string xml = "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  xml += "<Name>" + XmlEscape(ctx.bucket) + "</Name>";
  xml += "<Prefix>" + Enc(prefix, url) + "</Prefix>";
  if (v2) {
    xml += "<KeyCount>" +
           std::to_string(listing->contents.size() + listing->prefixes.size()) + "</KeyCount>";
    if (ctx.Has("continuation-token")) {
      xml += "<ContinuationToken>" + XmlEscape(token) + "</ContinuationToken>";
    }
    if (ctx.Has("start-after")) {
      xml += "<StartAfter>" + Enc(ctx.Param("start-after"), url) + "</StartAfter>";
    }
  } else {
    xml += "<Marker>" + Enc(after, url) + "</Marker>";
  }
  xml += "<MaxKeys>" + std::to_string(max_keys) + "</MaxKeys>";
  if (!delimiter.empty()) xml += "<Delimiter>" + Enc(delimiter, url) + "</Delimiter>";
  if (url) xml += "<EncodingType>url</EncodingType>";
  xml += std::string("<IsTruncated>") + (listing->truncated ? "true" : "false") + "</IsTruncated>";
  if (listing->truncated) {
    if (v2) {
      xml += "<NextContinuationToken>" + ToHex(AsBytes(listing->next)) + "</NextContinuationToken>";
    } else if (!delimiter.empty()) {
      xml += "<NextMarker>" + Enc(listing->next, url) + "</NextMarker>";
    }
  }
  const bool owner = !v2 || ctx.Param("fetch-owner") == "true";
  for (const Item& it : listing->contents) {
    xml += "<Contents><Key>" + Enc(it.key, url) + "</Key><LastModified>" +
           IsoTime(it.meta.mtime_ms) + "</LastModified><ETag>&quot;" + XmlEscape(it.meta.etag) +
           "&quot;</ETag><Size>" + std::to_string(it.meta.size) +
           "</Size><StorageClass>STANDARD</StorageClass>";
    if (owner) {
      xml += "<Owner><ID>" + XmlEscape(ctx.user.name) + "</ID><DisplayName>" +
             XmlEscape(ctx.user.name) + "</DisplayName></Owner>";
    }
    xml += "</Contents>";
  }
  for (const std::string& p : listing->prefixes) {
    xml += "<CommonPrefixes><Prefix>" + Enc(p, url) + "</Prefix></CommonPrefixes>";
  }
  xml += "</ListBucketResult>";
  SendXml(ctx, 200, xml);
}

void Service::Impl::ListObjectVersions(Context& ctx) {
  auto drive = OwnedDrive(ctx);
  if (!drive) return;
  const std::string prefix = ctx.Param("prefix");
  const std::string delimiter = ctx.Param("delimiter");
  const bool url = ctx.Param("encoding-type") == "url";
  auto max = PageSize(ctx, "max-keys", "Provided max-keys not an integer");
  if (!max) return;
  const uint64_t max_keys = *max;
  const std::string after = ctx.Param("key-marker");
  auto listing = List(*drive, prefix, delimiter, after, max_keys);
  if (!listing.ok()) return SendError(ctx, Error::InternalError(listing.status().ToString()));
  std::string xml = "<ListVersionsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  xml += "<Name>" + XmlEscape(ctx.bucket) + "</Name><Prefix>" + Enc(prefix, url) +
         "</Prefix><KeyMarker>" + Enc(after, url) + "</KeyMarker><VersionIdMarker>" +
         XmlEscape(ctx.Param("version-id-marker")) + "</VersionIdMarker><MaxKeys>" +
         std::to_string(max_keys) + "</MaxKeys>";
  if (!delimiter.empty()) xml += "<Delimiter>" + Enc(delimiter, url) + "</Delimiter>";
  if (url) xml += "<EncodingType>url</EncodingType>";
  xml += std::string("<IsTruncated>") + (listing->truncated ? "true" : "false") + "</IsTruncated>";
  if (listing->truncated) {
    xml += "<NextKeyMarker>" + Enc(listing->next, url) +
           "</NextKeyMarker><NextVersionIdMarker>null</NextVersionIdMarker>";
  }
  for (const Item& it : listing->contents) {
    xml += "<Version><Key>" + Enc(it.key, url) +
           "</Key><VersionId>null</VersionId><IsLatest>true</IsLatest><LastModified>" +
           IsoTime(it.meta.mtime_ms) + "</LastModified><ETag>&quot;" + XmlEscape(it.meta.etag) +
           "&quot;</ETag><Size>" + std::to_string(it.meta.size) +
           "</Size><StorageClass>STANDARD</StorageClass><Owner><ID>" + XmlEscape(ctx.user.name) +
           "</ID><DisplayName>" + XmlEscape(ctx.user.name) + "</DisplayName></Owner></Version>";
  }
  for (const std::string& p : listing->prefixes) {
    xml += "<CommonPrefixes><Prefix>" + Enc(p, url) + "</Prefix></CommonPrefixes>";
  }
  xml += "</ListVersionsResult>";
  SendXml(ctx, 200, xml);
}

}  // namespace shoal::s3
