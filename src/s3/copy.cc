// CopyObject and UploadPartCopy. A copy inside one bucket points the new
// entry at the source's blob (no byte is copied: blobs are never changed in
// place); a copy from another bucket streams the bytes across.
#include <nlohmann/json.hpp>

#include "crypto/digest.h"
#include "s3/internal.h"

namespace shoal::s3 {
namespace {

bool EtagMatches(std::string_view header, std::string_view etag) {
  std::string_view t = header;
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  if (t.size() >= 2 && t.front() == '"' && t.back() == '"') t = t.substr(1, t.size() - 2);
  return t == "*" || t == etag;
}

}  // namespace

// The source of x-amz-copy-source: its drive, entry and metadata. Answers
// the error itself and returns false when there is none.
bool Service::Impl::CopySource(Context& ctx, CopySourceInfo* out) {
  std::string source = ctx.req.headers.Get("x-amz-copy-source");
  if (size_t q = source.find('?'); q != std::string::npos) {
    if (source.substr(q + 1) != "versionId=null") {
      SendError(ctx, Error::NotImplemented("Versions other than null are not implemented."));
      return false;
    }
    source.resize(q);
  }
  auto decoded = UriDecode(source);
  if (!decoded.ok()) {
    SendError(ctx, Error::InvalidArgument("Invalid copy source encoding"));
    return false;
  }
  std::string s = *decoded;
  if (!s.empty() && s[0] == '/') s.erase(0, 1);
  size_t slash = s.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == s.size()) {
    SendError(ctx, Error::InvalidArgument("Copy Source must mention the source bucket and key: "
                                          "sourcebucket/sourcekey"));
    return false;
  }
  out->bucket = s.substr(0, slash);
  out->key = s.substr(slash + 1);
  out->drive = OwnedDriveOf(ctx, out->bucket, &out->info, /*for_write=*/false);
  if (!out->drive) return false;
  auto entry = out->drive->Entry("/" + out->key);
  if (!entry.ok()) {
    SendError(ctx, Error::InternalError(entry.status().ToString()));
    return false;
  }
  if (!*entry || !(*entry)->blob) {
    SendError(ctx, Error::NoSuchKey());
    return false;
  }
  out->blob = *(*entry)->blob;
  if (auto m = DecodeObjectMeta((*entry)->metadata_json); m.ok()) {
    out->meta = std::move(*m);
  } else {
    auto size = out->drive->blobs().Size(out->blob);
    out->meta.size = size.ok() ? *size : 0;
  }
  // x-amz-copy-source-if-*, as the conditionals of a GET but all 412.
  const http::Headers& h = ctx.req.headers;
  const int64_t mtime_s = out->meta.mtime_ms / 1000;
  bool ok = true;
  if (const std::string* v = h.Find("x-amz-copy-source-if-match")) {
    ok = ok && EtagMatches(*v, out->meta.etag);
  } else if (const std::string* v = h.Find("x-amz-copy-source-if-unmodified-since")) {
    auto t = ParseHttpTime(*v);
    ok = ok && !(t && mtime_s > *t / 1000);
  }
  if (const std::string* v = h.Find("x-amz-copy-source-if-none-match")) {
    ok = ok && !EtagMatches(*v, out->meta.etag);
  } else if (const std::string* v = h.Find("x-amz-copy-source-if-modified-since")) {
    auto t = ParseHttpTime(*v);
    ok = ok && !(t && mtime_s <= *t / 1000);
  }
  if (!ok) {
    SendError(ctx, Error::PreconditionFailed());
    return false;
  }
  return true;
}

// Bytes [offset, offset + length) of the source into `dest`, with their MD5.
Result<Service::Impl::Received> Service::Impl::CopyBytes(CopySourceInfo& src, blob::Blobs& dest,
                                                         uint64_t offset, uint64_t length) {
  auto writer = dest.NewWriter();
  crypto::StreamingDigest md5(crypto::StreamingDigest::Kind::kMd5);
  Status s = src.drive->blobs().Read(src.blob, offset, length, [&](ByteView b) {
    md5.Update(b);
    return writer->Write(b);
  });
  if (!s.ok()) {
    auto id = writer->Finish();
    if (id.ok()) (void)dest.Clear(*id);
    return s;
  }
  Received r;
  SHOAL_ASSIGN_OR_RETURN(r.id, writer->Finish());
  r.md5 = md5.Final();
  r.size = length;
  return r;
}

void Service::Impl::CopyObject(Context& ctx) {
  BucketInfo info;
  auto drive = OwnedDrive(ctx, &info);
  if (!drive) return;
  CopySourceInfo src;
  if (!CopySource(ctx, &src)) return;
  const std::string directive = ctx.req.headers.Get("x-amz-metadata-directive");
  if (!directive.empty() && directive != "COPY" && directive != "REPLACE") {
    return SendError(ctx, Error::InvalidArgument("Unknown metadata directive."));
  }
  const bool replace = directive == "REPLACE";
  if (src.info.id == info.id && src.key == ctx.key && !replace) {
    return SendError(ctx, Error::InvalidRequest(
                              "This copy request is illegal because it is trying to copy an object to "
                              "itself without changing the object's metadata, storage class, website "
                              "redirect location or encryption attributes."));
  }
  ObjectMeta meta = replace ? MetaFromHeaders(ctx.req.headers) : src.meta;
  meta.etag = src.meta.etag;
  meta.size = src.meta.size;
  meta.mtime_ms = NowMs();
  blob::FileEntry entry;
  entry.path = "/" + ctx.key;
  if (src.info.id == info.id) {
    entry.blob = src.blob;  // the same blobs log: share the blocks
  } else {
    auto copied = CopyBytes(src, drive->blobs(), 0, src.meta.size);
    if (!copied.ok()) return SendError(ctx, Error::InternalError(copied.status().ToString()));
    entry.blob = copied->id;
  }
  entry.metadata_json = EncodeObjectMeta(meta);
  auto shard = CommitEntry(info, *drive, ctx.key, entry);
  if (!shard.ok()) return SendError(ctx, Error::InternalError(shard.status().ToString()));
  http::Headers h;
  AddShardHeaders(h, ShardOf(ctx.bucket, ctx.key), *shard);
  SendXml(ctx, 200,
          "<CopyObjectResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LastModified>" +
              IsoTime(meta.mtime_ms) + "</LastModified><ETag>&quot;" + meta.etag +
              "&quot;</ETag></CopyObjectResult>",
          h);
}

}  // namespace shoal::s3
