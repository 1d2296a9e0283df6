// What the files of the S3 service share: the service's state, one request's
// context, and helpers for answers. Not a public header.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "blob/drive.h"
#include "kv/bee.h"
#include "s3/chunked.h"
#include "s3/error.h"
#include "s3/service.h"
#include "s3/sigv4.h"

namespace shoal::s3 {

// A bucket as the registry keeps it.
struct BucketInfo {
  std::string name;
  std::string owner;
  std::string id;  // names its logs: s3/<id>/db, s3/<id>/blobs
  int64_t created_ms = 0;
  std::string location;  // the LocationConstraint it was made with, if any
  // For a bucket this node follows: the key of the drive's db log (hex).
  // Such a bucket is a read-only replica; empty for a bucket of this node.
  std::string replica;
};

// The object attributes kept in a drive entry's metadata.
struct ObjectMeta {
  std::string etag;  // without quotes
  uint64_t size = 0;
  int64_t mtime_ms = 0;
  std::string content_type = "binary/octet-stream";
  // Content-Encoding, Content-Disposition, Content-Language, Cache-Control,
  // Expires, as sent.
  std::vector<std::pair<std::string, std::string>> headers;
  // x-amz-meta-* without the prefix, names in lower case.
  std::vector<std::pair<std::string, std::string>> user;
  // A multipart upload's part sizes, in order, for GETs by part number.
  std::vector<uint64_t> parts;
};

std::string EncodeObjectMeta(const ObjectMeta& m);
Result<ObjectMeta> DecodeObjectMeta(std::string_view json);

// Shards (shard.cc, docs/formats/shards.md).
constexpr uint32_t kShards = 32768;
struct ShardState {
  FixedBytes<32> hash{};  // XOR of ShardEntryHash over the shard's objects
  uint64_t writes = 0;
  int64_t time_ms = 0;
};
uint16_t ShardOf(std::string_view bucket, std::string_view key);
FixedBytes<32> ShardEntryHash(std::string_view bucket, std::string_view key, std::string_view etag);
void AddShardHeaders(http::Headers& h, uint16_t shard, const ShardState& s);

struct Context {
  http::Request& req;
  http::ResponseWriter& w;
  QueryParams query;
  User user;
  std::string bucket;
  std::string key;  // decoded; empty for bucket requests
  // x-amz-content-sha256 as sent ("UNSIGNED-PAYLOAD", hex, …).
  std::string payload_hash;
  // What a signed aws-chunked body's chunks are checked with.
  std::optional<ChunkedSigning> signing;

  bool Has(std::string_view name) const;
  std::string Param(std::string_view name) const;
  std::string Resource() const { return "/" + bucket + (key.empty() ? "" : "/" + key); }
};

struct Service::Impl {
  Impl(log::Store& store, UserLookup users, ServiceOptions options);

  log::Store& store;
  UserLookup users;
  ServiceOptions options;
  std::unique_ptr<kv::Bee> buckets;  // name -> BucketInfo JSON

  std::mutex mu;  // guards drives and bucket creation/deletion
  std::map<std::string, std::shared_ptr<blob::Drive>> drives;  // by bucket id
  std::map<std::string, std::shared_ptr<kv::Bee>> uploads;     // by bucket id
  // Per-bucket locks, made on first use (under mu).
  using LockMap = std::map<std::string, std::unique_ptr<std::mutex>>;  // by bucket id
  std::mutex& LockIn(LockMap& locks, const std::string& bucket_id);
  // Serialises the commits of entries into a bucket, each with its shard.
  LockMap write_locks;
  std::mutex& WriteLock(const std::string& bucket_id) { return LockIn(write_locks, bucket_id); }
  // Serialises the changes to a bucket's uploads: part records, completion,
  // abort. Taken before WriteLock when both are.
  LockMap upload_locks;
  std::mutex& UploadLock(const std::string& bucket_id) { return LockIn(upload_locks, bucket_id); }
  Result<ShardState> ReadShard(blob::Drive& drive, uint16_t shard);
  // Writes `entry` under `key` (or deletes the key when none) together with
  // its shard's new state, in one append, and returns that state. With
  // `only_if_absent`, writes nothing and sets *refused if the key exists.
  Result<ShardState> CommitEntry(const BucketInfo& b, blob::Drive& drive, const std::string& key,
                                 const std::optional<blob::FileEntry>& entry,
                                 bool only_if_absent = false, bool* refused = nullptr);

  void Handle(http::Request& req, http::ResponseWriter& w);

  // Authentication; sets ctx.user and ctx.payload_hash.
  std::optional<Error> Authenticate(Context& ctx);

  // Answers.
  void SendError(Context& ctx, const Error& e);
  void SendXml(Context& ctx, int status, const std::string& xml, http::Headers h = {});
  void SendEmpty(Context& ctx, int status, http::Headers h = {});

  // The registry.
  Result<std::optional<BucketInfo>> FindBucket(std::string_view name);
  Result<std::shared_ptr<blob::Drive>> DriveOf(const BucketInfo& b);
  // The bucket of ctx, owned by ctx.user; answers the error itself and
  // returns null otherwise. A replica bucket is refused (AccessDenied) to
  // any method but GET and HEAD.
  std::shared_ptr<blob::Drive> OwnedDrive(Context& ctx, BucketInfo* info = nullptr);
  // The same for `bucket`, refusing a replica when `for_write`.
  std::shared_ptr<blob::Drive> OwnedDriveOf(Context& ctx, const std::string& bucket,
                                            BucketInfo* info, bool for_write);
  // The bucket's uploads database, its drive and record, for a multipart
  // operation; null with the error answered otherwise.
  std::shared_ptr<kv::Bee> OwnedUploads(Context& ctx, BucketInfo* info,
                                        std::shared_ptr<blob::Drive>* drive);
  // A request body of XML, at most `limit` bytes (MalformedXML answered past
  // it); nullopt when answered or the client went away.
  std::optional<std::string> ReadXmlBody(Context& ctx, size_t limit);
  // A page size parameter (max-keys, max-parts): 1000 when absent, at most
  // 1000; nullopt, with InvalidArgument(message) answered, when not a number.
  std::optional<uint64_t> PageSize(Context& ctx, std::string_view param, const std::string& message);

  // A request body streamed into `blobs`, its MD5 and SHA-256 (against
  // x-amz-content-sha256) and Content-MD5 checked. On any failure the error
  // is answered (if the client is still there), what was written is cleared,
  // and nullopt returned.
  struct Received {
    blob::BlobId id;
    Bytes md5;
    uint64_t size = 0;
  };
  std::optional<Received> ReceiveBody(Context& ctx, blob::Blobs& blobs,
                                      const std::optional<Bytes>& content_md5);
  // The Content-MD5 header decoded (empty when absent); nullopt, with
  // InvalidDigest answered, when it is not 16 bytes of base64.
  std::optional<Bytes> ContentMd5(Context& ctx);

  // Operations (service.cc, object.cc, list.cc, multipart.cc).
  void ListBuckets(Context& ctx);
  void CreateBucket(Context& ctx);
  void DeleteBucket(Context& ctx);
  void HeadBucket(Context& ctx);
  void GetBucketLocation(Context& ctx);
  void PutObject(Context& ctx);
  void GetObject(Context& ctx, bool head);
  void DeleteObject(Context& ctx);
  void DeleteObjects(Context& ctx);
  void ListObjects(Context& ctx, bool v2);
  void ListObjectVersions(Context& ctx);
  void CreateMultipartUpload(Context& ctx);
  void UploadPart(Context& ctx);
  void CompleteMultipartUpload(Context& ctx);
  void AbortMultipartUpload(Context& ctx);
  void ListParts(Context& ctx);
  void ListMultipartUploads(Context& ctx);

  // Copies (copy.cc).
  struct CopySourceInfo {
    std::string bucket, key;
    BucketInfo info;
    std::shared_ptr<blob::Drive> drive;
    blob::BlobId blob;
    ObjectMeta meta;
  };
  bool CopySource(Context& ctx, CopySourceInfo* out);
  Result<Received> CopyBytes(CopySourceInfo& src, blob::Blobs& dest, uint64_t offset,
                             uint64_t length);
  void CopyObject(Context& ctx);

  // The bucket's database of uploads in progress (multipart.cc).
  Result<std::shared_ptr<kv::Bee>> UploadsOf(const BucketInfo& b);
  // The upload named by ?uploadId, which must be for ctx.key; otherwise
  // NoSuchUpload is answered and nullopt returned. A completed upload is
  // found only when `done_etag` is given, which then gets its ETag.
  std::optional<std::string> FindUpload(Context& ctx, kv::Bee& bee, std::string* meta_json,
                                        std::string* done_etag);
};

// Content-Type, the stored headers and x-amz-meta-* of a request.
ObjectMeta MetaFromHeaders(const http::Headers& h);

// Times as S3 writes them.
std::string IsoTime(int64_t ms);   // 2009-10-12T17:50:30.000Z
std::string HttpTime(int64_t ms);  // Mon, 12 Oct 2009 17:50:30 GMT
std::optional<int64_t> ParseHttpTime(std::string_view s);  // ms
int64_t NowMs();

bool ValidBucketName(std::string_view name);

}  // namespace shoal::s3
