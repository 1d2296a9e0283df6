// Multipart uploads. Each part's bytes go into the bucket's blobs log as the
// part arrives; completing the upload writes one block map that lists the
// parts' blocks in order (docs/formats/drive.md §4.5), so no byte is copied
// and the object reads as any other, in Shoal and in JS Hyperdrive.
//
// Uploads in progress live in a database of the bucket's own, "s3/<id>/uploads"
// (not in the drive, so listings never show them):
//   "u/" upload-id           -> {"key", "initiated", "meta": object metadata as JSON text},
//                               or {"key", "done": etag} once completed
//   "p/" upload-id "/" NNNNN -> {"etag", "size", "mtime", "blob": {…}}
#include <pugixml.hpp>

#include <nlohmann/json.hpp>

#include "crypto/digest.h"
#include "crypto/sign.h"
#include "s3/internal.h"

namespace shoal::s3 {
namespace {

using Json = nlohmann::ordered_json;

constexpr uint64_t kMinPartBytes = 5 << 20;  // all parts but the last
constexpr int kMaxPartNumber = 10000;

std::string UploadKey(const std::string& id) { return "u/" + id; }

std::string PartKey(const std::string& id, int number) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%05d", number);
  return "p/" + id + "/" + buf;
}

struct Part {
  int number = 0;
  std::string etag;  // hex, no quotes
  uint64_t size = 0;
  int64_t mtime_ms = 0;
  blob::BlobId blob;
};

std::string EncodePart(const Part& p) {
  Json j;
  j["etag"] = p.etag;
  j["size"] = p.size;
  j["mtime"] = p.mtime_ms;
  j["blob"] = {{"blockOffset", p.blob.block_offset}, {"byteOffset", p.blob.byte_offset},
               {"blockLength", p.blob.block_length}, {"byteLength", p.blob.byte_length},
               {"blockMap", p.blob.block_map}};
  return j.dump();
}

std::optional<Part> DecodePart(ByteView v, int number) {
  Json j = Json::parse(v.begin(), v.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("blob")) return std::nullopt;
  try {
    Part p;
    p.number = number;
    p.etag = j.at("etag").get<std::string>();
    p.size = j.at("size").get<uint64_t>();
    p.mtime_ms = j.at("mtime").get<int64_t>();
    const Json& b = j.at("blob");
    p.blob.block_offset = b.at("blockOffset").get<uint64_t>();
    p.blob.byte_offset = b.at("byteOffset").get<uint64_t>();
    p.blob.block_length = b.at("blockLength").get<uint64_t>();
    p.blob.byte_length = b.at("byteLength").get<uint64_t>();
    p.blob.block_map = b.at("blockMap").get<bool>();
    return p;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

std::string NewUploadId() {
  uint8_t b[16];
  crypto::RandomBytes(b);
  return ToHex(ByteView(b, sizeof(b)));
}

// "1".."10000", else 0.
int PartNumber(const std::string& s) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return 0;
  int n = std::stoi(s);
  return n >= 1 && n <= kMaxPartNumber ? n : 0;
}

}  // namespace

Result<std::shared_ptr<kv::Bee>> Service::Impl::UploadsOf(const BucketInfo& b) {
  std::lock_guard lock(mu);
  auto it = uploads.find(b.id);
  if (it != uploads.end()) return it->second;
  SHOAL_ASSIGN_OR_RETURN(auto log, store.OpenLog("s3/" + b.id + "/uploads"));
  auto bee = std::make_shared<kv::Bee>(std::move(log));
  uploads.emplace(b.id, bee);
  return bee;
}

std::shared_ptr<kv::Bee> Service::Impl::OwnedUploads(Context& ctx, BucketInfo* info,
                                                     std::shared_ptr<blob::Drive>* drive) {
  *drive = OwnedDrive(ctx, info);
  if (!*drive) return nullptr;
  auto bee = UploadsOf(*info);
  if (!bee.ok()) {
    SendError(ctx, Error::InternalError(bee.status().ToString()));
    return nullptr;
  }
  return *bee;
}

// The upload named by ?uploadId for ctx.key, or null with NoSuchUpload answered.
std::optional<std::string> Service::Impl::FindUpload(Context& ctx, kv::Bee& bee,
                                                    std::string* meta_json, std::string* done_etag) {
  const std::string id = ctx.Param("uploadId");
  auto rec = bee.Get(AsBytes(UploadKey(id)));
  if (!rec.ok()) {
    SendError(ctx, Error::InternalError(rec.status().ToString()));
    return std::nullopt;
  }
  Json j;
  if (*rec) j = Json::parse((*rec)->value.begin(), (*rec)->value.end(), nullptr, false);
  if (!*rec || j.is_discarded() || j.value("key", "") != ctx.key ||
      (j.contains("done") && !done_etag)) {
    SendError(ctx, Error::NoSuchUpload());
    return std::nullopt;
  }
  if (meta_json) *meta_json = j.value("meta", "");
  if (done_etag) *done_etag = j.value("done", "");
  return id;
}

void Service::Impl::CreateMultipartUpload(Context& ctx) {
  BucketInfo info;
  std::shared_ptr<blob::Drive> drive;
  auto bee = OwnedUploads(ctx, &info, &drive);
  if (!bee) return;
  ObjectMeta meta = MetaFromHeaders(ctx.req.headers);
  const std::string id = NewUploadId();
  Json j;
  j["key"] = ctx.key;
  j["initiated"] = NowMs();
  j["meta"] = EncodeObjectMeta(meta);
  Status s = bee->Put(AsBytes(UploadKey(id)), AsBytes(j.dump()));
  if (!s.ok()) return SendError(ctx, Error::InternalError(s.ToString()));
  SendXml(ctx, 200,
          "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>" +
              XmlEscape(ctx.bucket) + "</Bucket><Key>" + XmlEscape(ctx.key) + "</Key><UploadId>" + id +
              "</UploadId></InitiateMultipartUploadResult>");
}

void Service::Impl::UploadPart(Context& ctx) {
  BucketInfo info;
  std::shared_ptr<blob::Drive> drive;
  auto bee = OwnedUploads(ctx, &info, &drive);
  if (!bee) return;
  const int number = PartNumber(ctx.Param("partNumber"));
  if (number == 0) {
    return SendError(ctx, Error::InvalidArgument("Part number must be an integer between 1 and 10000, inclusive"));
  }
  auto id = FindUpload(ctx, *bee, nullptr, nullptr);
  if (!id) return;
  std::optional<Received> body;
  const bool copy = ctx.req.headers.Find("x-amz-copy-source") != nullptr;
  if (copy) {
    // UploadPartCopy: the part is (a range of) another object.
    CopySourceInfo src;
    if (!CopySource(ctx, &src)) return;
    uint64_t first = 0, length = src.meta.size;
    if (const std::string* r = ctx.req.headers.Find("x-amz-copy-source-range")) {
      unsigned long long a = 0, b = 0;
      char tail = 0;
      if (std::sscanf(r->c_str(), "bytes=%llu-%llu%c", &a, &b, &tail) != 2 || b < a) {
        return SendError(ctx, Error::InvalidArgument("The x-amz-copy-source-range value must be "
                                                     "of the form bytes=first-last"));
      }
      if (b >= src.meta.size) return SendError(ctx, Error::InvalidRange());
      first = a;
      length = b - a + 1;
    }
    auto copied = CopyBytes(src, drive->blobs(), first, length);
    if (!copied.ok()) return SendError(ctx, Error::InternalError(copied.status().ToString()));
    body = std::move(*copied);
  } else {
    auto md5 = ContentMd5(ctx);
    if (!md5) return;
    std::optional<Bytes> content_md5;
    if (!md5->empty()) content_md5 = std::move(*md5);
    body = ReceiveBody(ctx, drive->blobs(), content_md5);
    if (!body) return;
  }
  std::lock_guard uploads_lock(UploadLock(info.id));
  // Still in progress? A completion or abort may have come meanwhile.
  if (!FindUpload(ctx, *bee, nullptr, nullptr)) {
    (void)drive->blobs().Clear(body->id);
    return;
  }
  Part p;
  p.number = number;
  p.etag = ToHex(body->md5);
  p.size = body->size;
  p.mtime_ms = NowMs();
  p.blob = body->id;
  // A part uploaded again replaces the old one, whose blocks are freed.
  std::optional<Part> old;
  auto prev = bee->Get(AsBytes(PartKey(*id, number)));
  if (prev.ok() && *prev) old = DecodePart((*prev)->value, number);
  Status s = bee->Put(AsBytes(PartKey(*id, number)), AsBytes(EncodePart(p)));
  if (!s.ok()) {
    (void)drive->blobs().Clear(p.blob);
    return SendError(ctx, Error::InternalError(s.ToString()));
  }
  if (old) (void)drive->blobs().Clear(old->blob);
  if (copy) {
    return SendXml(ctx, 200,
                   "<CopyPartResult><LastModified>" + IsoTime(p.mtime_ms) +
                       "</LastModified><ETag>&quot;" + p.etag + "&quot;</ETag></CopyPartResult>");
  }
  http::Headers h;
  h.Add("ETag", "\"" + p.etag + "\"");
  SendEmpty(ctx, 200, h);
}

namespace {

Result<std::vector<Part>> PartsOf(kv::Bee& bee, const std::string& id) {
  kv::Range r;
  r.gte = ToBytes("p/" + id + "/");
  r.lt = ToBytes("p/" + id + "0");
  SHOAL_ASSIGN_OR_RETURN(auto entries, bee.List(r));
  std::vector<Part> out;
  for (const kv::Entry& e : entries) {
    std::string key(AsString(e.key));
    int number = PartNumber(key.substr(key.rfind('/') + 1));  // "00012": 12
    auto p = DecodePart(e.value, number);
    if (!p || number == 0) return Status::Corruption("a part record of upload " + id + " is unreadable");
    out.push_back(std::move(*p));
  }
  return out;
}

// Removes an upload's records in one batch.
Status Forget(kv::Bee& bee, const std::string& id, const std::vector<Part>& parts) {
  std::vector<kv::Op> ops;
  for (const Part& p : parts) ops.push_back({ToBytes(PartKey(id, p.number)), std::nullopt});
  ops.push_back({ToBytes(UploadKey(id)), std::nullopt});
  return bee.Apply(ops);
}

}  // namespace

void Service::Impl::CompleteMultipartUpload(Context& ctx) {
  BucketInfo info;
  std::shared_ptr<blob::Drive> drive;
  auto bee = OwnedUploads(ctx, &info, &drive);
  if (!bee) return;
  std::lock_guard uploads_lock(UploadLock(info.id));
  std::string meta_json, done;
  auto id = FindUpload(ctx, *bee, &meta_json, &done);
  if (!id) return;
  auto result = [&](const std::string& etag) {
    SendXml(ctx, 200,
            "<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>/" +
                XmlEscape(ctx.bucket) + "/" + XmlEscape(ctx.key) + "</Location><Bucket>" +
                XmlEscape(ctx.bucket) + "</Bucket><Key>" + XmlEscape(ctx.key) + "</Key><ETag>&quot;" +
                etag + "&quot;</ETag></CompleteMultipartUploadResult>");
  };
  if (!done.empty()) {
    // Completed before (a client retrying): the same answer while the object
    // it made is still there.
    auto e = drive->Entry("/" + ctx.key);
    if (e.ok() && *e) {
      auto m = DecodeObjectMeta((*e)->metadata_json);
      if (m.ok() && m->etag == done) return result(done);
    }
    return SendError(ctx, Error::NoSuchUpload());
  }
  auto body = ReadXmlBody(ctx, 4 << 20);
  if (!body) return;
  pugi::xml_document doc;
  if (!doc.load_buffer(body->data(), body->size())) return SendError(ctx, Error::MalformedXML());
  pugi::xml_node root = doc.child("CompleteMultipartUpload");
  if (!root) return SendError(ctx, Error::MalformedXML());
  std::vector<std::pair<int, std::string>> wanted;
  for (pugi::xml_node p : root.children("Part")) {
    int number = PartNumber(p.child_value("PartNumber"));
    std::string etag = p.child_value("ETag");
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
    if (number == 0) return SendError(ctx, Error::InvalidPart());
    wanted.emplace_back(number, etag);
  }
  if (wanted.empty()) return SendError(ctx, Error::MalformedXML());
  // Ascending part numbers; a number listed twice counts once, the last
  // listing winning (as radosgw does).
  std::vector<std::pair<int, std::string>> order;
  for (auto& w : wanted) {
    if (!order.empty() && w.first < order.back().first) return SendError(ctx, Error::InvalidPartOrder());
    if (!order.empty() && w.first == order.back().first) {
      order.back() = std::move(w);
    } else {
      order.push_back(std::move(w));
    }
  }
  wanted = std::move(order);
  auto parts = PartsOf(*bee, *id);
  if (!parts.ok()) return SendError(ctx, Error::InternalError(parts.status().ToString()));
  std::map<int, const Part*> by_number;
  for (const Part& p : *parts) by_number[p.number] = &p;

  std::vector<blob::MapEntry> blocks;
  crypto::StreamingDigest etags(crypto::StreamingDigest::Kind::kMd5);
  uint64_t size = 0;
  std::vector<int> used;
  std::vector<uint64_t> part_sizes;
  for (size_t i = 0; i < wanted.size(); i++) {
    auto it = by_number.find(wanted[i].first);
    if (it == by_number.end() || it->second->etag != wanted[i].second) {
      return SendError(ctx, Error::InvalidPart());
    }
    const Part& p = *it->second;
    if (i + 1 < wanted.size() && p.size < kMinPartBytes) return SendError(ctx, Error::EntityTooSmall());
    auto b = drive->blobs().Blocks(p.blob);
    if (!b.ok()) return SendError(ctx, Error::InternalError(b.status().ToString()));
    blocks.insert(blocks.end(), b->begin(), b->end());
    auto md5 = FromHex(p.etag);
    if (!md5) return SendError(ctx, Error::InternalError("a part record has a bad ETag"));
    etags.Update(*md5);
    size += p.size;
    used.push_back(p.number);
    part_sizes.push_back(p.size);
  }
  auto blob = drive->blobs().PutBlocks(blocks);
  if (!blob.ok()) return SendError(ctx, Error::InternalError(blob.status().ToString()));

  ObjectMeta meta;
  if (auto m = DecodeObjectMeta(meta_json); m.ok()) meta = std::move(*m);
  meta.etag = ToHex(etags.Final()) + "-" + std::to_string(wanted.size());
  meta.size = size;
  meta.mtime_ms = NowMs();
  meta.parts = std::move(part_sizes);
  blob::FileEntry entry;
  entry.path = "/" + ctx.key;
  entry.blob = *blob;
  entry.metadata_json = EncodeObjectMeta(meta);
  // The upload is marked done (its part records go) before the object is
  // written: a crash in between loses this unacknowledged completion and
  // leaves unreferenced blocks, but no later abort can free the blocks of an
  // object that exists. The record stays so that a client retrying the
  // completion gets the same answer.
  std::vector<kv::Op> ops;
  for (const Part& p : *parts) ops.push_back({ToBytes(PartKey(*id, p.number)), std::nullopt});
  Json done_record;
  done_record["key"] = ctx.key;
  done_record["done"] = meta.etag;
  ops.push_back({ToBytes(UploadKey(*id)), ToBytes(done_record.dump())});
  if (Status s = bee->Apply(ops); !s.ok()) return SendError(ctx, Error::InternalError(s.ToString()));
  auto shard = CommitEntry(info, *drive, ctx.key, entry);
  if (!shard.ok()) return SendError(ctx, Error::InternalError(shard.status().ToString()));
  // Parts left out of the object are freed.
  for (const Part& p : *parts) {
    if (std::find(used.begin(), used.end(), p.number) == used.end()) {
      (void)drive->blobs().Clear(p.blob);
    }
  }
  result(meta.etag);
}

void Service::Impl::AbortMultipartUpload(Context& ctx) {
  BucketInfo info;
  std::shared_ptr<blob::Drive> drive;
  auto bee = OwnedUploads(ctx, &info, &drive);
  if (!bee) return;
  std::lock_guard uploads_lock(UploadLock(info.id));
  auto id = FindUpload(ctx, *bee, nullptr, nullptr);
  if (!id) return;
  auto parts = PartsOf(*bee, *id);
  if (!parts.ok()) return SendError(ctx, Error::InternalError(parts.status().ToString()));
  for (const Part& p : *parts) (void)drive->blobs().Clear(p.blob);
  Status s = Forget(*bee, *id, *parts);
  if (!s.ok()) return SendError(ctx, Error::InternalError(s.ToString()));
  SendEmpty(ctx, 204);
}

void Service::Impl::ListParts(Context& ctx) {
  BucketInfo info;
  std::shared_ptr<blob::Drive> drive;
  auto bee = OwnedUploads(ctx, &info, &drive);
  if (!bee) return;
  auto id = FindUpload(ctx, *bee, nullptr, nullptr);
  if (!id) return;
  auto parts = PartsOf(*bee, *id);
  if (!parts.ok()) return SendError(ctx, Error::InternalError(parts.status().ToString()));
  int marker = 0;
  if (ctx.Has("part-number-marker")) marker = std::max(0, PartNumber(ctx.Param("part-number-marker")));
  auto max = PageSize(ctx, "max-parts", "max-parts must be an integer");
  if (!max) return;
  const size_t max_parts = *max;
  std::string xml = "<ListPartsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>" +
                    XmlEscape(ctx.bucket) + "</Bucket><Key>" + XmlEscape(ctx.key) +
                    "</Key><UploadId>" + *id + "</UploadId><PartNumberMarker>" +
                    std::to_string(marker) + "</PartNumberMarker>";
  std::string items;
  size_t count = 0;
  int last = marker;
  bool truncated = false;
  for (const Part& p : *parts) {
    if (p.number <= marker) continue;
    if (count == max_parts) {
      truncated = true;
      break;
    }
    items += "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><LastModified>" +
             IsoTime(p.mtime_ms) + "</LastModified><ETag>&quot;" + p.etag + "&quot;</ETag><Size>" +
             std::to_string(p.size) + "</Size></Part>";
    last = p.number;
    count++;
  }
  xml += "<NextPartNumberMarker>" + std::to_string(last) + "</NextPartNumberMarker><MaxParts>" +
         std::to_string(max_parts) + "</MaxParts><IsTruncated>" + (truncated ? "true" : "false") +
         "</IsTruncated><StorageClass>STANDARD</StorageClass><Initiator><ID>" +
         XmlEscape(ctx.user.name) + "</ID><DisplayName>" + XmlEscape(ctx.user.name) +
         "</DisplayName></Initiator><Owner><ID>" + XmlEscape(ctx.user.name) + "</ID><DisplayName>" +
         XmlEscape(ctx.user.name) + "</DisplayName></Owner>" + items + "</ListPartsResult>";
  SendXml(ctx, 200, xml);
}

void Service::Impl::ListMultipartUploads(Context& ctx) {
  BucketInfo info;
  std::shared_ptr<blob::Drive> drive;
  auto bee = OwnedUploads(ctx, &info, &drive);
  if (!bee) return;
  kv::Range r;
  r.gte = ToBytes("u/");
  r.lt = ToBytes("u0");
  auto entries = bee->List(r);
  if (!entries.ok()) return SendError(ctx, Error::InternalError(entries.status().ToString()));
  const std::string prefix = ctx.Param("prefix");
  struct Upload {
    std::string key, id;
    int64_t initiated;
  };
  std::vector<Upload> ups;
  for (const kv::Entry& e : *entries) {
    Json j = Json::parse(e.value.begin(), e.value.end(), nullptr, false);
    if (j.is_discarded()) continue;
    std::string key = j.value("key", "");
    if (key.rfind(prefix, 0) != 0 || j.contains("done")) continue;
    ups.push_back({key, std::string(AsString(e.key).substr(2)), j.value("initiated", int64_t{0})});
  }
  std::sort(ups.begin(), ups.end(), [](const Upload& a, const Upload& b) {
    return a.key != b.key ? a.key < b.key : a.initiated < b.initiated;
  });
  std::string xml = "<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>" +
                    XmlEscape(ctx.bucket) + "</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
                    "<Prefix>" + XmlEscape(prefix) + "</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>";
  for (const Upload& u : ups) {
    xml += "<Upload><Key>" + XmlEscape(u.key) + "</Key><UploadId>" + u.id +
           "</UploadId><Initiator><ID>" + XmlEscape(ctx.user.name) + "</ID><DisplayName>" +
           XmlEscape(ctx.user.name) + "</DisplayName></Initiator><Owner><ID>" +
           XmlEscape(ctx.user.name) + "</ID><DisplayName>" + XmlEscape(ctx.user.name) +
           "</DisplayName></Owner><StorageClass>STANDARD</StorageClass><Initiated>" +
           IsoTime(u.initiated) + "</Initiated></Upload>";
  }
  xml += "</ListMultipartUploadsResult>";
  SendXml(ctx, 200, xml);
}

}  // namespace shoal::s3
