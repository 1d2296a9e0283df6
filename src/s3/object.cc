// Object operations: put, get and head (ranges, conditionals), delete, and
// delete of many.
#include <pugixml.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "crypto/digest.h"
#include "s3/internal.h"

namespace shoal::s3 {
namespace {

constexpr uint64_t kMaxPutBytes = uint64_t{5} << 30;  // S3's single-PUT limit
constexpr size_t kReadChunk = 256 << 10;
constexpr uint64_t kBackgroundBytes = 8 << 20;  // bodies this big get a writer thread
constexpr size_t kBackgroundChunk = 1 << 20;

// An entity tag as sent in If-Match and If-None-Match, without quotes.
bool EtagListMatches(std::string_view list, std::string_view etag) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    std::string_view t = list.substr(start, end == std::string_view::npos ? end : end - start);
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    if (t.substr(0, 2) == "W/") t.remove_prefix(2);
    if (t.size() >= 2 && t.front() == '"' && t.back() == '"') t = t.substr(1, t.size() - 2);
    if (t == "*" || t == etag) return true;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return false;
}

struct ByteRange {
  enum Kind { kWhole, kRange, kUnsatisfiable } kind = kWhole;
  uint64_t start = 0;
  uint64_t length = 0;
};

// A Range header against an object of `size` bytes: bytes=a-b, bytes=a- or
// bytes=-n. Several ranges or bad syntax are ignored (the whole object), as
// S3 does; a range that starts past the end cannot be satisfied.
ByteRange ParseRange(std::string_view v, uint64_t size) {
  ByteRange out;
  if (v.rfind("bytes=", 0) != 0 || v.find(',') != std::string_view::npos) return out;
  v.remove_prefix(6);
  size_t dash = v.find('-');
  if (dash == std::string_view::npos) return out;
  std::string_view a = v.substr(0, dash), b = v.substr(dash + 1);
  auto number = [](std::string_view s, uint64_t* n) {
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string_view::npos) {
      return false;
    }
    *n = std::stoull(std::string(s));
    return true;
  };
  uint64_t first = 0, last = 0;
  if (a.empty()) {
    uint64_t n;
    if (!number(b, &n)) return out;
    if (n == 0 || size == 0) return {ByteRange::kUnsatisfiable};
    first = size > n ? size - n : 0;
    last = size - 1;
  } else {
    if (!number(a, &first)) return out;
    if (b.empty()) {
      last = UINT64_MAX;
    } else if (!number(b, &last) || last < first) {
      return out;
    }
    if (first >= size) return {ByteRange::kUnsatisfiable};
    last = std::min(last, size - 1);
  }
  return {ByteRange::kRange, first, last - first + 1};
}

// Feeds a Blobs::Writer on a thread of its own, so that hashing the request
// body (MD5 and SHA-256, on the connection's thread) and hashing its blocks
// into the log (BLAKE2b, in Log::Append) run on two cores at once. At most
// kDepth chunks wait in between.
class BackgroundWriter {
 public:
  explicit BackgroundWriter(blob::Blobs::Writer& w) : w_(w), thread_([this] { Loop(); }) {}
  ~BackgroundWriter() { (void)Close(); }

  // Queues `chunk`; false once the writer has failed (Close says why).
  bool Push(Bytes chunk) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return queue_.size() < kDepth || !status_.ok(); });
    if (!status_.ok()) return false;
    queue_.push_back(std::move(chunk));
    cv_.notify_all();
    return true;
  }

  // Waits until everything queued is written; the first error, if any.
  Status Close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    return status_;
  }

 private:
  static constexpr size_t kDepth = 4;

  void Loop() {
    for (;;) {
      Bytes chunk;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty() || closed_; });
        if (queue_.empty()) return;
        chunk = std::move(queue_.front());
        queue_.pop_front();
        cv_.notify_all();
      }
      Status s = w_.Write(chunk);
      if (!s.ok()) {
        std::lock_guard lock(mu_);
        status_ = s;
        queue_.clear();
        cv_.notify_all();
        return;
      }
    }
  }

  blob::Blobs::Writer& w_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Bytes> queue_;
  bool closed_ = false;
  Status status_;
  std::thread thread_;  // last: starts once the rest is built
};

// The stored headers that an object answers with.
constexpr const char* kStoredHeaders[] = {"Content-Encoding", "Content-Disposition",
                                          "Content-Language", "Cache-Control", "Expires"};

}  // namespace

ObjectMeta MetaFromHeaders(const http::Headers& h) {
  ObjectMeta meta;
  if (const std::string* ct = h.Find("content-type")) meta.content_type = *ct;
  for (const char* name : kStoredHeaders) {
    const std::string* v = h.Find(name);
    if (!v) continue;
    if (std::string_view(name) == "Content-Encoding") {
      // aws-chunked describes the upload, not the object: it is not kept.
      std::string kept;
      size_t start = 0;
      while (start <= v->size()) {
        size_t end = v->find(',', start);
        std::string token = v->substr(start, end == std::string::npos ? std::string::npos : end - start);
        while (!token.empty() && token.front() == ' ') token.erase(0, 1);
        while (!token.empty() && token.back() == ' ') token.pop_back();
        if (!token.empty() && token != "aws-chunked") kept += (kept.empty() ? "" : ", ") + token;
        if (end == std::string::npos) break;
        start = end + 1;
      }
      if (!kept.empty()) meta.headers.emplace_back(name, kept);
      continue;
    }
    meta.headers.emplace_back(name, *v);
  }
  for (const auto& [name, value] : h.fields()) {
    std::string lower = Lower(name);
    if (lower.rfind("x-amz-meta-", 0) == 0) meta.user.emplace_back(lower.substr(11), value);
  }
  return meta;
}

std::optional<Service::Impl::Received> Service::Impl::ReceiveBody(
    Context& ctx, blob::Blobs& blobs, const std::optional<Bytes>& content_md5) {
  if (!ctx.req.content_length && !ctx.req.chunked) {
    SendError(ctx, Error::MissingContentLength());
    return std::nullopt;
  }
  // The length of the object: Content-Length, or for an aws-chunked body
  // x-amz-decoded-content-length.
  std::optional<uint64_t> length = ctx.req.content_length;
  http::BodyReader* reader = ctx.req.body;
  std::unique_ptr<AwsChunkedReader> chunked;
  const std::string& mode = ctx.payload_hash;
  if (mode.rfind("STREAMING-", 0) == 0) {
    const bool is_signed = mode == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" ||
                           mode == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
    const bool trailer = mode == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" ||
                         mode == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
    if ((!is_signed && !trailer) || (is_signed && !ctx.signing)) {
      SendError(ctx, Error::NotImplemented("This x-amz-content-sha256 streaming mode is not implemented."));
      return std::nullopt;
    }
    const std::string decoded = ctx.req.headers.Get("x-amz-decoded-content-length");
    if (decoded.empty() || decoded.size() > 19 ||
        decoded.find_first_not_of("0123456789") != std::string::npos) {
      SendError(ctx, Error::MissingContentLength());
      return std::nullopt;
    }
    length = std::stoull(decoded);
    chunked = std::make_unique<AwsChunkedReader>(
        ctx.req.body, is_signed ? ctx.signing : std::nullopt, trailer);
    reader = chunked.get();
  }
  if (length && *length > kMaxPutBytes) {
    SendError(ctx, Error::EntityTooLarge());
    return std::nullopt;
  }
  const bool check_sha256 = mode != "UNSIGNED-PAYLOAD" && !chunked;
  if (check_sha256 && !IsLowerHex64(ctx.payload_hash)) {
    SendError(ctx, Error::InvalidArgument("x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a "
                                          "SHA-256 in lower-case hex"));
    return std::nullopt;
  }
  // The body goes into the blobs log as it arrives.
  auto writer = blobs.NewWriter();
  // Big bodies are written by a second thread (see BackgroundWriter), in
  // chunks of 1 MiB; small ones inline.
  std::optional<BackgroundWriter> background;
  if (length && *length >= kBackgroundBytes) background.emplace(*writer);
  crypto::StreamingDigest md5(crypto::StreamingDigest::Kind::kMd5);
  std::optional<crypto::StreamingDigest> sha256;
  if (check_sha256) sha256.emplace(crypto::StreamingDigest::Kind::kSha256);
  const size_t chunk_size = background ? kBackgroundChunk : kReadChunk;
  Bytes buf(chunk_size);
  uint64_t total = 0;
  // Whatever was appended is cleared again: the blocks stay in the log's
  // tree but take no space.
  auto fail = [&](std::optional<Error> e) -> std::optional<Received> {
    if (background) (void)background->Close();
    auto id = writer->Finish();
    if (id.ok()) (void)blobs.Clear(*id);
    if (e) SendError(ctx, *e);
    return std::nullopt;
  };
  for (;;) {
    // With a writer thread, a chunk is filled before it is handed on (the
    // reader returns what the socket has); inline, each read is written.
    size_t filled = 0;
    Status read_error;
    for (;;) {
      auto n = reader->Read(buf.data() + filled, buf.size() - filled);
      if (!n.ok()) {
        read_error = n.status();
        break;
      }
      if (*n == 0) break;  // the end of the body
      filled += *n;
      if (!background || filled == buf.size()) break;
    }
    if (!read_error.ok()) {
      if (chunked && !chunked->error_code().empty()) {
        // The encoding or a signature in it was wrong: the client is still there.
        const std::string& code = chunked->error_code();
        Error e = code == "SignatureDoesNotMatch" ? Error::SignatureDoesNotMatch()
                  : code == "IncompleteBody"      ? Error::IncompleteBody()
                  : code == "BadDigest"           ? Error::BadDigest()
                                                  : Error::InvalidArgument(read_error.message());
        if (code == "IncompleteSignature") e = Error{400, code, read_error.message()};
        return fail(e);
      }
      return fail(std::nullopt);  // the client went away; nothing to answer
    }
    if (filled == 0) break;
    ByteView chunk(buf.data(), filled);
    total += filled;
    if (total > kMaxPutBytes) return fail(Error::EntityTooLarge());
    md5.Update(chunk);
    if (sha256) sha256->Update(chunk);
    if (background) {
      buf.resize(filled);
      if (!background->Push(std::move(buf))) {
        Status s = background->Close();
        return fail(Error::InternalError(s.ToString()));
      }
      buf = Bytes(chunk_size);
    } else if (Status s = writer->Write(chunk); !s.ok()) {
      return fail(Error::InternalError(s.ToString()));
    }
  }
  if (background) {
    if (Status s = background->Close(); !s.ok()) return fail(Error::InternalError(s.ToString()));
  }
  if (length && total != *length) return fail(Error::IncompleteBody());
  Received r;
  r.md5 = md5.Final();
  r.size = total;
  if (sha256 && ToHex(sha256->Final()) != ctx.payload_hash) {
    return fail(Error::XAmzContentSHA256Mismatch());
  }
  if (content_md5 && *content_md5 != r.md5) return fail(Error::BadDigest());
  auto id = writer->Finish();
  if (!id.ok()) {
    SendError(ctx, Error::InternalError(id.status().ToString()));
    return std::nullopt;
  }
  r.id = *id;
  return r;
}

std::optional<Bytes> Service::Impl::ContentMd5(Context& ctx) {
  const std::string* md5 = ctx.req.headers.Find("content-md5");
  if (!md5) return Bytes();
  auto d = FromBase64(*md5);
  if (!d || d->size() != 16) {
    SendError(ctx, Error::InvalidDigest());
    return std::nullopt;
  }
  return d;
}

void Service::Impl::PutObject(Context& ctx) {
  BucketInfo info;
  auto drive = OwnedDrive(ctx, &info);
  if (!drive) return;
  const http::Headers& h = ctx.req.headers;
  auto md5_header = ContentMd5(ctx);
  if (!md5_header) return;
  std::optional<Bytes> content_md5;
  if (!md5_header->empty()) content_md5 = std::move(*md5_header);
  const std::string path = "/" + ctx.key;
  const std::string* if_match = h.Find("if-match");
  const std::string* if_none_match = h.Find("if-none-match");
  if (if_match || if_none_match) {
    auto existing = drive->Entry(path);
    if (!existing.ok()) return SendError(ctx, Error::InternalError(existing.status().ToString()));
    std::string etag;
    if (*existing) {
      auto m = DecodeObjectMeta((*existing)->metadata_json);
      if (m.ok()) etag = m->etag;
    }
    if (if_match && (!*existing || !EtagListMatches(*if_match, etag))) {
      return SendError(ctx, *existing ? Error::PreconditionFailed() : Error::NoSuchKey());
    }
    if (if_none_match && *existing && EtagListMatches(*if_none_match, etag)) {
      return SendError(ctx, Error::PreconditionFailed());
    }
  }

  auto body = ReceiveBody(ctx, drive->blobs(), content_md5);
  if (!body) return;
  ObjectMeta meta = MetaFromHeaders(h);
  meta.etag = ToHex(body->md5);
  meta.size = body->size;
  meta.mtime_ms = NowMs();
  blob::FileEntry entry;
  entry.path = path;
  entry.blob = body->id;
  entry.metadata_json = EncodeObjectMeta(meta);
  // If-None-Match: * holds at the moment of writing, not only when asked.
  bool refused = false;
  const bool only_if_absent = if_none_match && EtagListMatches(*if_none_match, "*");
  auto shard = CommitEntry(info, *drive, ctx.key, entry, only_if_absent, &refused);
  if (!shard.ok() || refused) {
    (void)drive->blobs().Clear(body->id);
    return SendError(ctx, shard.ok() ? Error::PreconditionFailed()
                                     : Error::InternalError(shard.status().ToString()));
  }
  http::Headers out;
  out.Add("ETag", "\"" + meta.etag + "\"");
  AddShardHeaders(out, ShardOf(ctx.bucket, ctx.key), *shard);
  SendEmpty(ctx, 200, out);
}

void Service::Impl::GetObject(Context& ctx, bool head) {
  auto drive = OwnedDrive(ctx);
  if (!drive) return;
  auto entry = drive->Entry("/" + ctx.key);
  if (!entry.ok()) return SendError(ctx, Error::InternalError(entry.status().ToString()));
  if (!*entry || !(*entry)->blob) return SendError(ctx, Error::NoSuchKey());
  const blob::BlobId blob = *(*entry)->blob;
  ObjectMeta meta;
  if (auto m = DecodeObjectMeta((*entry)->metadata_json); m.ok()) {
    meta = std::move(*m);
  } else {
    // An entry written by another Hyperdrive writer: what the blob says.
    auto size = drive->blobs().Size(blob);
    if (!size.ok()) return SendError(ctx, Error::InternalError(size.status().ToString()));
    meta.size = *size;
  }
  const http::Headers& h = ctx.req.headers;

  // Conditionals, in RFC 7232's order.
  const int64_t mtime_s = meta.mtime_ms / 1000;
  if (const std::string* v = h.Find("if-match")) {
    if (!EtagListMatches(*v, meta.etag)) return SendError(ctx, Error::PreconditionFailed());
  } else if (const std::string* v = h.Find("if-unmodified-since")) {
    auto t = ParseHttpTime(*v);
    if (t && mtime_s > *t / 1000) return SendError(ctx, Error::PreconditionFailed());
  }
  bool not_modified = false;
  if (const std::string* v = h.Find("if-none-match")) {
    not_modified = EtagListMatches(*v, meta.etag);
  } else if (const std::string* v = h.Find("if-modified-since")) {
    auto t = ParseHttpTime(*v);
    not_modified = t && mtime_s <= *t / 1000;
  }
  if (not_modified) {
    http::Headers nm;
    nm.Add("ETag", "\"" + meta.etag + "\"");
    nm.Add("Last-Modified", HttpTime(meta.mtime_ms));
    return SendEmpty(ctx, 304, nm);
  }

  // ?partNumber=N: one part of a multipart object; part 1 of any other is
  // the whole of it.
  std::optional<std::pair<uint64_t, uint64_t>> part_range;
  if (ctx.Has("partNumber")) {
    const std::string pn = ctx.Param("partNumber");
    uint64_t n = 0;
    if (!pn.empty() && pn.size() <= 5 && pn.find_first_not_of("0123456789") == std::string::npos) {
      n = std::stoull(pn);
    }
    const uint64_t count = meta.parts.empty() ? 1 : meta.parts.size();
    if (n < 1 || n > count) return SendError(ctx, Error::InvalidPart());
    if (!meta.parts.empty()) {
      uint64_t first = 0;
      for (uint64_t i = 0; i + 1 < n; i++) first += meta.parts[i];
      part_range.emplace(first, meta.parts[n - 1]);
    }
  }

  uint64_t start = 0, length = meta.size;
  bool partial = false;
  if (part_range) {
    start = part_range->first;
    length = part_range->second;
    partial = length > 0;  // an empty part has no byte range to name
  } else if (const std::string* v = h.Find("range")) {
    ByteRange r = ParseRange(*v, meta.size);
    if (r.kind == ByteRange::kUnsatisfiable) {
      http::Headers eh;
      eh.Add("Content-Range", "bytes */" + std::to_string(meta.size));
      eh.Add("x-amz-request-id", ctx.req.id);
      eh.Add("Content-Type", "application/xml");
      (void)ctx.w.Send(416, eh, ErrorXml(Error::InvalidRange(), ctx.Resource(), ctx.req.id));
      return;
    }
    if (r.kind == ByteRange::kRange) {
      start = r.start;
      length = r.length;
      partial = true;
    }
  }

  http::Headers out;
  out.Add("x-amz-request-id", ctx.req.id);
  out.Add("ETag", "\"" + meta.etag + "\"");
  out.Add("Last-Modified", HttpTime(meta.mtime_ms));
  out.Add("Accept-Ranges", "bytes");
  std::string content_type = meta.content_type;
  for (const auto& [k, v] : meta.headers) out.Add(k, v);
  for (const auto& [k, v] : meta.user) out.Add("x-amz-meta-" + k, v);
  // Presigned GETs may ask for other response headers.
  static const std::pair<const char*, const char*> kOverrides[] = {
      {"response-content-type", "Content-Type"},
      {"response-content-language", "Content-Language"},
      {"response-expires", "Expires"},
      {"response-cache-control", "Cache-Control"},
      {"response-content-disposition", "Content-Disposition"},
      {"response-content-encoding", "Content-Encoding"}};
  for (const auto& [param, header] : kOverrides) {
    if (!ctx.Has(param)) continue;
    if (std::string_view(header) == "Content-Type") {
      content_type = ctx.Param(param);
    } else {
      out.Set(header, ctx.Param(param));
    }
  }
  out.Add("Content-Type", content_type);
  if (!meta.parts.empty()) out.Add("x-amz-mp-parts-count", std::to_string(meta.parts.size()));
  if (partial) {
    out.Add("Content-Range", "bytes " + std::to_string(start) + "-" +
                                 std::to_string(start + length - 1) + "/" +
                                 std::to_string(meta.size));
  }
  const uint16_t shard = ShardOf(ctx.bucket, ctx.key);
  if (auto state = ReadShard(*drive, shard); state.ok()) AddShardHeaders(out, shard, *state);
  if (!ctx.w.Begin(partial ? 206 : 200, out, length).ok() || head) return;
  (void)drive->blobs().Read(blob, start, length, [&](ByteView b) { return ctx.w.Write(b); });
}

void Service::Impl::DeleteObject(Context& ctx) {
  BucketInfo info;
  auto drive = OwnedDrive(ctx, &info);
  if (!drive) return;
  auto shard = CommitEntry(info, *drive, ctx.key, std::nullopt);
  if (!shard.ok()) return SendError(ctx, Error::InternalError(shard.status().ToString()));
  SendEmpty(ctx, 204);
}

void Service::Impl::DeleteObjects(Context& ctx) {
  BucketInfo info;
  auto drive = OwnedDrive(ctx, &info);
  if (!drive) return;
  auto body = ReadXmlBody(ctx, 2 << 20);
  if (!body) return;
  pugi::xml_document doc;
  if (!doc.load_buffer(body->data(), body->size())) return SendError(ctx, Error::MalformedXML());
  pugi::xml_node del = doc.child("Delete");
  if (!del) return SendError(ctx, Error::MalformedXML());
  const bool quiet = std::string_view(del.child_value("Quiet")) == "true";
  std::vector<std::string> keys;
  for (pugi::xml_node o : del.children("Object")) {
    pugi::xml_node k = o.child("Key");
    if (!k) return SendError(ctx, Error::MalformedXML());
    keys.emplace_back(k.child_value());
  }
  if (keys.empty() || keys.size() > 1000) return SendError(ctx, Error::MalformedXML());
  std::string xml = "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (const std::string& key : keys) {
    Status s = key.empty() || key.size() > 1024
                   ? Status::InvalidArgument("bad key")
                   : CommitEntry(info, *drive, key, std::nullopt).status();
    if (s.ok()) {
      if (!quiet) xml += "<Deleted><Key>" + XmlEscape(key) + "</Key></Deleted>";
    } else {
      xml += "<Error><Key>" + XmlEscape(key) + "</Key><Code>" +
             (s.IsInvalidArgument() ? "InvalidArgument" : "InternalError") + "</Code><Message>" +
             XmlEscape(s.message()) + "</Message></Error>";
    }
  }
  xml += "</DeleteResult>";
  SendXml(ctx, 200, xml);
}

}  // namespace shoal::s3
