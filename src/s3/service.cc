// Routing, authentication, answers and the bucket registry.
#include <time.h>

#include <chrono>
#include <set>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "crypto/hash.h"
#include "s3/internal.h"

namespace shoal::s3 {

using Json = nlohmann::ordered_json;

// ---- times ----

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string IsoTime(int64_t ms) {
  time_t t = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[96];  // room for any int the fields could hold, to keep the compiler sure
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string HttpTime(int64_t ms) {
  time_t t = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[40];
  strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::optional<int64_t> ParseHttpTime(std::string_view s) {
  std::string str(s);
  struct tm tm {};
  const char* end = strptime(str.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') {
    tm = {};
    end = strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);  // ISO 8601, as some clients send
    if (!end) return std::nullopt;
  }
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

bool ValidBucketName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  bool all_ip = true;
  int dots = 0;
  for (size_t i = 0; i < name.size(); i++) {
    char c = name[i];
    if (!alnum(c) && c != '-' && c != '.') return false;
    if (c == '.') {
      dots++;
      if (name[i - 1] == '.' || name[i - 1] == '-' || name[i + 1] == '-') return false;
    } else if (!(c >= '0' && c <= '9')) {
      all_ip = false;
    }
  }
  return !(all_ip && dots == 3);  // not formatted as an IP address
}

// ---- object metadata ----

std::string EncodeObjectMeta(const ObjectMeta& m) {
  Json j;
  j["etag"] = m.etag;
  j["size"] = m.size;
  j["mtime"] = m.mtime_ms;
  j["contentType"] = m.content_type;
  Json h = Json::object();
  for (const auto& [k, v] : m.headers) h[k] = v;
  j["headers"] = std::move(h);
  Json u = Json::object();
  for (const auto& [k, v] : m.user) u[k] = v;
  j["meta"] = std::move(u);
  if (!m.parts.empty()) j["parts"] = m.parts;
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<ObjectMeta> DecodeObjectMeta(std::string_view json) {
  Json j = Json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Malformed("object metadata is not JSON");
  // Metadata another Hyperdrive writer left (any JSON) is not this: callers
  // then take what the blob says.
  if (!j.contains("etag") || !j.contains("size")) {
    return Status::Malformed("the metadata is not an S3 object's");
  }
  ObjectMeta m;
  try {
    m.etag = j.value("etag", "");
    m.size = j.value("size", uint64_t{0});
    m.mtime_ms = j.value("mtime", int64_t{0});
    m.content_type = j.value("contentType", "binary/octet-stream");
    if (auto it = j.find("headers"); it != j.end() && it->is_object()) {
      for (auto& [k, v] : it->items()) {
        if (v.is_string()) m.headers.emplace_back(k, v.get<std::string>());
      }
    }
    if (auto it = j.find("meta"); it != j.end() && it->is_object()) {
      for (auto& [k, v] : it->items()) {
        if (v.is_string()) m.user.emplace_back(k, v.get<std::string>());
      }
    }
    if (auto it = j.find("parts"); it != j.end() && it->is_array()) {
      m.parts = it->get<std::vector<uint64_t>>();
    }
  } catch (const Json::exception&) {
    return Status::Malformed("object metadata has fields of the wrong type");
  }
  return m;
}

// ---- context ----

bool Context::Has(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return true;
  }
  return false;
}

std::string Context::Param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return "";
}

// ---- the service ----

Service::Impl::Impl(log::Store& store, UserLookup users, ServiceOptions options)
    : store(store), users(std::move(users)), options(std::move(options)) {}

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Service>> Service::Open(log::Store& store, UserLookup users,
                                               ServiceOptions options) {
  auto impl = std::make_unique<Impl>(store, std::move(users), std::move(options));
  SHOAL_ASSIGN_OR_RETURN(auto log, store.OpenLog("s3.buckets"));
  impl->buckets = std::make_unique<kv::Bee>(std::move(log));
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

Service::~Service() = default;


void Service::Handle(http::Request& req, http::ResponseWriter& w) { impl_->Handle(req, w); }

void Service::Impl::SendError(Context& ctx, const Error& e) {
  http::Headers h;
  h.Add("x-amz-request-id", ctx.req.id);
  if (e.status == 304) {
    (void)ctx.w.Send(304, h, "");
    return;
  }
  h.Add("Content-Type", "application/xml");
  (void)ctx.w.Send(e.status, h, ErrorXml(e, ctx.Resource(), ctx.req.id));
}

void Service::Impl::SendXml(Context& ctx, int status, const std::string& xml, http::Headers h) {
  h.Add("x-amz-request-id", ctx.req.id);
  h.Add("Content-Type", "application/xml");
  (void)ctx.w.Send(status, h, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + xml);
}

void Service::Impl::SendEmpty(Context& ctx, int status, http::Headers h) {
  h.Add("x-amz-request-id", ctx.req.id);
  (void)ctx.w.Send(status, h, "");
}

std::optional<Error> Service::Impl::Authenticate(Context& ctx) {
  const http::Headers& h = ctx.req.headers;
  const std::string* authorization = h.Find("authorization");
  SignatureInfo info;
  if (authorization && authorization->find_first_not_of(" \t") == std::string::npos) {
    return Error::AccessDenied("Access Denied");  // an empty Authorization header
  }
  if (authorization) {
    auto parsed = ParseAuthorization(*authorization);
    if (!parsed.ok()) {
      if (parsed.status().code() == Status::Code::kNotSupported) {
        return Error::InvalidRequest("Please use AWS4-HMAC-SHA256.");
      }
      return Error::AuthorizationHeaderMalformed(parsed.status().message());
    }
    info = std::move(*parsed);
    info.amz_date = h.Get("x-amz-date");
    if (info.amz_date.empty()) {
      auto date = ParseHttpTime(h.Get("date"));
      if (!date) return Error::AccessDenied("AWS authentication requires a valid Date or x-amz-date header");
      time_t t = static_cast<time_t>(*date / 1000);
      struct tm tm;
      gmtime_r(&t, &tm);
      char buf[20];
      strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
      info.amz_date = buf;
    }
    ctx.payload_hash = h.Get("x-amz-content-sha256");
    if (ctx.payload_hash.empty()) {
      return Error::InvalidRequest("Missing required header for this request: x-amz-content-sha256");
    }
  } else if (ctx.Has("X-Amz-Algorithm")) {
    auto parsed = ParsePresigned(ctx.query);
    if (!parsed.ok()) {
      if (parsed.status().code() == Status::Code::kVerificationFailed) {
        return Error::AccessDenied(parsed.status().message());
      }
      return Error::AuthorizationHeaderMalformed(parsed.status().message());
    }
    info = std::move(*parsed);
    ctx.payload_hash = "UNSIGNED-PAYLOAD";
  } else if (ctx.Has("AWSAccessKeyId") && ctx.Has("Signature")) {
    return Error::InvalidRequest(
        "Signature Version 2 is not supported; sign with AWS4-HMAC-SHA256 (for boto3, "
        "Config(signature_version='s3v4')).");
  } else {
    return Error::AccessDenied("Anonymous access is not allowed");
  }

  auto when = ParseAmzDate(info.amz_date);
  if (!when.ok()) return Error::AccessDenied("AWS authentication requires a valid Date or x-amz-date header");
  if (info.amz_date.substr(0, 8) != info.date) {
    return Error::AuthorizationHeaderMalformed("the credential date does not match the request date");
  }
  const int64_t now = NowMs() / 1000;
  if (info.presigned) {
    if (now > *when + info.expires_seconds) return Error::ExpiredToken();
    if (*when > now + options.max_clock_skew_seconds) return Error::RequestTimeTooSkewed();
  } else if (*when > now + options.max_clock_skew_seconds ||
             *when < now - options.max_clock_skew_seconds) {
    return Error::RequestTimeTooSkewed();
  }
  auto user = users(info.access_key);
  if (!user) return Error::InvalidAccessKeyId();

  std::string canonical = CanonicalRequest(ctx.req.method, ctx.req.path, ctx.query, h,
                                           info.signed_headers, ctx.payload_hash);
  auto key = SigningKey(user->secret_key, info.date, info.region, info.service);
  std::string expected = Sign(key, StringToSign(info, canonical));
  // Constant time: a timing difference must not reveal the signature.
  uint8_t diff = expected.size() != info.signature.size();
  for (size_t i = 0; i < expected.size() && i < info.signature.size(); i++) {
    diff |= static_cast<uint8_t>(expected[i] ^ info.signature[i]);
  }
  if (diff != 0) return Error::SignatureDoesNotMatch();
  ctx.user = std::move(*user);
  if (!info.presigned) ctx.signing = ChunkedSigning{key, info.amz_date, info.Scope(), info.signature};
  return std::nullopt;
}

void Service::Impl::Handle(http::Request& req, http::ResponseWriter& w) {
  Context ctx{req, w, {}, {}, {}, {}, {}, {}};
  auto query = ParseQuery(req.query);
  if (!query.ok()) {
    SendError(ctx, Error::InvalidArgument("the query string is not valid percent-encoding"));
    return;
  }
  ctx.query = std::move(*query);
  auto path = UriDecode(req.path);
  if (!path.ok() || path->empty() || (*path)[0] != '/') {
    SendError(ctx, Error::InvalidArgument("the path is not valid percent-encoding"));
    return;
  }

  // Virtual-host style (bucket.domain) or path style (/bucket/key).
  std::string host = req.headers.Get("host");
  if (size_t colon = host.rfind(':'); colon != std::string::npos && host.find(']') == std::string::npos) {
    host.resize(colon);
  }
  bool virtual_host = false;
  for (const std::string& d : options.domains) {
    if (host.size() > d.size() + 1 && host.compare(host.size() - d.size(), d.size(), d) == 0 &&
        host[host.size() - d.size() - 1] == '.') {
      ctx.bucket = host.substr(0, host.size() - d.size() - 1);
      ctx.key = path->substr(1);
      virtual_host = true;
      break;
    }
  }
  if (!virtual_host) {
    size_t slash = path->find('/', 1);
    ctx.bucket = path->substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
    if (slash != std::string::npos) ctx.key = path->substr(slash + 1);
  }

  if (req.method == "OPTIONS") {
    // A CORS preflight, which carries no signature. No bucket has a CORS
    // configuration yet, so none is allowed.
    if (!req.headers.Find("origin")) {
      return SendError(ctx, Error::InvalidRequest("Insufficient information. Origin request header needed."));
    }
    return SendError(ctx, Error{403, "AccessForbidden", "CORSResponse: This CORS request is not allowed."});
  }
  if (auto e = Authenticate(ctx)) {
    SendError(ctx, *e);
    return;
  }

  const std::string& m = req.method;
  if (ctx.bucket.empty()) {
    if (m == "GET") return ListBuckets(ctx);
    return SendError(ctx, Error::MethodNotAllowed());
  }
  // A subresource this node does not implement must never fall through to
  // the plain operation (a DELETE ?cors deleting the bucket, a PUT ?tagging
  // replacing the object): every query parameter must be one the operation
  // knows.
  static const std::set<std::string, std::less<>> kKnown = {
      "location", "versions", "uploads", "uploadId", "partNumber", "delete", "list-type",
      "prefix", "delimiter", "marker", "max-keys", "encoding-type", "continuation-token",
      "start-after", "fetch-owner", "key-marker", "version-id-marker", "upload-id-marker",
      "max-uploads", "max-parts", "part-number-marker", "response-content-type",
      "response-content-language", "response-expires", "response-cache-control",
      "response-content-disposition", "response-content-encoding", "X-Amz-Algorithm",
      "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
      "X-Amz-Signature", "X-Amz-Content-Sha256", "x-id"};
  for (const auto& [name, value] : ctx.query) {
    if (name == "versionId" && (value == "null" || value.empty())) continue;
    if (!kKnown.count(name)) {
      return SendError(ctx, Error::NotImplemented("The subresource ?" + name + " is not implemented."));
    }
  }
  if (ctx.key.empty()) {
    if (m == "GET") {
      if (ctx.Has("location")) return GetBucketLocation(ctx);
      if (ctx.Has("versions")) return ListObjectVersions(ctx);
      if (ctx.Has("uploads")) return ListMultipartUploads(ctx);
      return ListObjects(ctx, ctx.Param("list-type") == "2");
    }
    if (m == "PUT") {
      if (!ctx.query.empty() && !ctx.Has("X-Amz-Algorithm")) {
        return SendError(ctx, Error::NotImplemented("This bucket subresource is not implemented."));
      }
      return CreateBucket(ctx);
    }
    if (m == "HEAD") return HeadBucket(ctx);
    if (m == "DELETE" && !ctx.Has("delete") && !ctx.Has("uploads")) return DeleteBucket(ctx);
    if (m == "POST" && ctx.Has("delete")) return DeleteObjects(ctx);
    return SendError(ctx, Error::MethodNotAllowed());
  }
  if (ctx.key.size() > 1024) return SendError(ctx, Error::KeyTooLong());
  if (m == "POST" && ctx.Has("uploads")) return CreateMultipartUpload(ctx);
  if (ctx.Has("uploadId")) {
    if (m == "PUT") return UploadPart(ctx);
    if (m == "POST") return CompleteMultipartUpload(ctx);
    if (m == "DELETE") return AbortMultipartUpload(ctx);
    if (m == "GET") return ListParts(ctx);
    return SendError(ctx, Error::MethodNotAllowed());
  }
  if (m == "PUT" && req.headers.Find("x-amz-copy-source")) return CopyObject(ctx);
  if (m == "PUT") return PutObject(ctx);
  if (m == "GET") return GetObject(ctx, false);
  if (m == "HEAD") return GetObject(ctx, true);
  if (m == "DELETE") return DeleteObject(ctx);
  SendError(ctx, Error::MethodNotAllowed());
}

// ---- the bucket registry ----

namespace {

std::string EncodeBucket(const BucketInfo& b) {
  Json j;
  j["owner"] = b.owner;
  j["id"] = b.id;
  j["created"] = b.created_ms;
  if (!b.location.empty()) j["location"] = b.location;
  if (!b.replica.empty()) j["replica"] = b.replica;
  return j.dump();
}

Result<BucketInfo> DecodeBucket(std::string_view name, ByteView value) {
  Json j = Json::parse(value.begin(), value.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("a bucket record is not JSON");
  BucketInfo b;
  b.name = std::string(name);
  b.owner = j.value("owner", "");
  b.id = j.value("id", "");
  b.created_ms = j.value("created", int64_t{0});
  b.location = j.value("location", "");
  b.replica = j.value("replica", "");
  return b;
}

}  // namespace

Result<std::optional<BucketInfo>> Service::Impl::FindBucket(std::string_view name) {
  auto e = buckets->Get(AsBytes(name));
  SHOAL_RETURN_IF_ERROR(e.status());
  if (!*e) return std::optional<BucketInfo>();
  SHOAL_ASSIGN_OR_RETURN(BucketInfo b, DecodeBucket(name, (*e)->value));
  return std::optional<BucketInfo>(std::move(b));
}

Result<std::shared_ptr<blob::Drive>> Service::Impl::DriveOf(const BucketInfo& b) {
  std::lock_guard lock(mu);
  auto it = drives.find(b.id);
  if (it != drives.end()) return it->second;
  if (!b.replica.empty()) {
    // A followed drive: both logs are replicas, the blobs log found by the
    // key its db log's manifest gives.
    auto key = FixedFromHex<32>(b.replica);
    if (!key) return Status::Corruption("bucket " + b.name + " has a bad replica key");
    SHOAL_ASSIGN_OR_RETURN(auto db, store.OpenLogByKey(*key, /*create=*/true));
    auto manifest = db->manifest();
    if (!manifest) return Status::NotFound("bucket " + b.name + " has not been downloaded yet");
    SHOAL_ASSIGN_OR_RETURN(auto blobs, store.OpenLogByKey(blob::ContentKey(*manifest, *key), true));
    auto drive = std::make_shared<blob::Drive>(std::move(db), std::move(blobs));
    drives.emplace(b.id, drive);
    return drive;
  }
  // The blobs log's manifest derives from the db log's, as Hyperdrive's
  // does, so a reader given the db log finds the blobs (drive.md §2.2).
  const std::string db_name = "s3/" + b.id + "/db";
  SHOAL_ASSIGN_OR_RETURN(auto db, store.OpenLog(db_name));
  auto manifest = db->manifest();
  if (!manifest) return Status::Corruption("bucket " + b.name + " has a db log without manifest");
  SHOAL_ASSIGN_OR_RETURN(auto blobs, store.OpenSignedBy("s3/" + b.id + "/blobs", db_name,
                                                         blob::ContentManifest(*manifest, db->key())));
  auto drive = std::make_shared<blob::Drive>(std::move(db), std::move(blobs));
  drives.emplace(b.id, drive);
  return drive;
}

Status Service::AddReplica(std::string_view bucket, std::string_view owner, const log::Key& db_key) {
  if (!ValidBucketName(std::string(bucket))) {
    return Status::InvalidArgument("'" + std::string(bucket) + "' is not a valid bucket name");
  }
  std::lock_guard lock(impl_->mu);
  SHOAL_ASSIGN_OR_RETURN(auto existing, impl_->FindBucket(bucket));
  if (existing) {
    if (existing->replica == ToHex(db_key)) return Status::OK();
    return Status::AlreadyExists("bucket " + std::string(bucket) + " exists");
  }
  BucketInfo b;
  b.name = std::string(bucket);
  b.owner = std::string(owner);
  b.created_ms = NowMs();
  b.id = "replica-" + ToHex(db_key);
  b.replica = ToHex(db_key);
  return impl_->buckets->Put(AsBytes(bucket), AsBytes(EncodeBucket(b)));
}

Result<std::vector<Service::BucketSummary>> Service::Buckets() {
  SHOAL_ASSIGN_OR_RETURN(auto all, impl_->buckets->List(kv::Range{}));
  std::vector<BucketSummary> out;
  for (const kv::Entry& e : all) {
    SHOAL_ASSIGN_OR_RETURN(BucketInfo b, DecodeBucket(AsString(e.key), e.value));
    BucketSummary s{b.name, b.owner, b.replica, !b.replica.empty()};
    if (s.key.empty()) {
      auto db = impl_->store.GetLog("s3/" + b.id + "/db");
      if (db.ok()) s.key = ToHex((*db)->key());
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::shared_ptr<blob::Drive> Service::Impl::OwnedDrive(Context& ctx, BucketInfo* out) {
  const std::string& m = ctx.req.method;
  return OwnedDriveOf(ctx, ctx.bucket, out, /*for_write=*/m != "GET" && m != "HEAD");
}

std::shared_ptr<blob::Drive> Service::Impl::OwnedDriveOf(Context& ctx, const std::string& bucket,
                                                         BucketInfo* out, bool for_write) {
  auto b = FindBucket(bucket);
  if (!b.ok()) {
    SendError(ctx, Error::InternalError(b.status().ToString()));
    return nullptr;
  }
  if (!*b) {
    SendError(ctx, Error::NoSuchBucket());
    return nullptr;
  }
  if ((*b)->owner != ctx.user.name) {
    SendError(ctx, Error::AccessDenied());
    return nullptr;
  }
  if (for_write && !(*b)->replica.empty()) {
    SendError(ctx, Error::AccessDenied("Bucket " + bucket + " is a read-only replica of drive " +
                                       (*b)->replica + "; write to the node that owns it."));
    return nullptr;
  }
  auto drive = DriveOf(**b);
  if (!drive.ok()) {
    SendError(ctx, drive.status().IsNotFound() ? Error::SlowDown(drive.status().message())
                                               : Error::InternalError(drive.status().ToString()));
    return nullptr;
  }
  if (out) *out = **b;
  return *drive;
}

std::optional<std::string> Service::Impl::ReadXmlBody(Context& ctx, size_t limit) {
  std::string body;
  uint8_t buf[16 << 10];
  for (;;) {
    auto n = ctx.req.body->Read(buf, sizeof(buf));
    if (!n.ok()) return std::nullopt;  // the client went away
    if (*n == 0) return body;
    body.append(reinterpret_cast<char*>(buf), *n);
    if (body.size() > limit) {
      SendError(ctx, Error::MalformedXML());
      return std::nullopt;
    }
  }
}

// ---- bucket operations ----

void Service::Impl::ListBuckets(Context& ctx) {
  auto all = buckets->List(kv::Range{});
  if (!all.ok()) return SendError(ctx, Error::InternalError(all.status().ToString()));
  std::string xml = "<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  xml += "<Owner><ID>" + XmlEscape(ctx.user.name) + "</ID><DisplayName>" +
         XmlEscape(ctx.user.name) + "</DisplayName></Owner><Buckets>";
  for (const kv::Entry& e : *all) {
    auto b = DecodeBucket(AsString(e.key), e.value);
    if (!b.ok() || b->owner != ctx.user.name) continue;
    xml += "<Bucket><Name>" + XmlEscape(b->name) + "</Name><CreationDate>" +
           IsoTime(b->created_ms) + "</CreationDate></Bucket>";
  }
  xml += "</Buckets></ListAllMyBucketsResult>";
  SendXml(ctx, 200, xml);
}

void Service::Impl::CreateBucket(Context& ctx) {
  if (!ValidBucketName(ctx.bucket)) return SendError(ctx, Error::InvalidBucketName());
  // The body, if any, is a CreateBucketConfiguration naming a location;
  // any is accepted, as this node is the only one, and kept for
  // GetBucketLocation.
  auto xml = ReadXmlBody(ctx, 64 << 10);
  if (!xml) return;
  const std::string& body = *xml;
  std::string location;
  if (!body.empty()) {
    pugi::xml_document doc;
    if (!doc.load_buffer(body.data(), body.size()) || !doc.child("CreateBucketConfiguration")) {
      return SendError(ctx, Error::MalformedXML());
    }
    location = doc.child("CreateBucketConfiguration").child_value("LocationConstraint");
  }
  std::lock_guard lock(mu);
  auto existing = FindBucket(ctx.bucket);
  if (!existing.ok()) return SendError(ctx, Error::InternalError(existing.status().ToString()));
  if (*existing) {
    // As S3 in us-east-1: the owner making it again succeeds and changes
    // nothing.
    if ((*existing)->owner == ctx.user.name) {
      http::Headers h;
      h.Add("Location", "/" + ctx.bucket);
      return SendEmpty(ctx, 200, h);
    }
    return SendError(ctx, Error::BucketAlreadyExists());
  }
  BucketInfo b;
  b.name = ctx.bucket;
  b.owner = ctx.user.name;
  b.location = location;
  b.created_ms = NowMs();
  // A new id each time, so a bucket made again after a delete starts with
  // fresh logs.
  auto id = crypto::Blake2b256({AsBytes(ctx.bucket), AsBytes(std::to_string(b.created_ms)),
                                AsBytes(ctx.req.id)});
  b.id = ToHex(ByteView(id).subspan(0, 12));
  Status s = buckets->Put(AsBytes(ctx.bucket), AsBytes(EncodeBucket(b)));
  if (!s.ok()) return SendError(ctx, Error::InternalError(s.ToString()));
  http::Headers h;
  h.Add("Location", "/" + ctx.bucket);
  SendEmpty(ctx, 200, h);
}

void Service::Impl::HeadBucket(Context& ctx) {
  BucketInfo info;
  if (!OwnedDrive(ctx, &info)) return;
  http::Headers h;
  h.Add("x-amz-bucket-region", info.location.empty() ? options.region : info.location);
  SendEmpty(ctx, 200, h);
}

void Service::Impl::GetBucketLocation(Context& ctx) {
  BucketInfo info;
  if (!OwnedDrive(ctx, &info)) return;
  // The location the bucket was made with; without one, the node's region,
  // us-east-1 being answered as an empty constraint, as S3 does.
  std::string region = !info.location.empty()          ? XmlEscape(info.location)
                       : options.region == "us-east-1" ? ""
                                                       : XmlEscape(options.region);
  SendXml(ctx, 200,
          "<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" + region +
              "</LocationConstraint>");
}

void Service::Impl::DeleteBucket(Context& ctx) {
  BucketInfo info;
  auto drive = OwnedDrive(ctx, &info);
  if (!drive) return;
  // No object commit may slip in between the emptiness check and the delete.
  std::lock_guard write(WriteLock(info.id));
  std::lock_guard lock(mu);
  auto any = drive->List("/", "", 1);
  if (!any.ok()) return SendError(ctx, Error::InternalError(any.status().ToString()));
  if (!any->empty()) return SendError(ctx, Error::BucketNotEmpty());
  Status s = buckets->Del(AsBytes(ctx.bucket));
  if (!s.ok()) return SendError(ctx, Error::InternalError(s.ToString()));
  drives.erase(info.id);
  SendEmpty(ctx, 204);
}

}  // namespace shoal::s3
