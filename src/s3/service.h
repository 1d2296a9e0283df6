// s3::Service: the S3 API on a node's store. Each bucket is a drive
// (blob/drive.h): its objects are entries of a files bee whose bytes are
// blobs in a second log, so every object is in a signed, versioned log.
//
// Requests are authenticated with SigV4 (Authorization header or presigned
// query); anonymous requests are refused. A bucket belongs to the user who
// created it, and other users are refused.
//
// Durability: a PUT is answered only after the object's bytes and then its
// entry are in the store's write-ahead log, so an object that got a 200
// survives the process being killed, and an object is never visible half
// written.
//
// Thread safety: Handle runs on many threads at once.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "blob/drive.h"
#include "http/server.h"
#include "log/store.h"

namespace shoal::s3 {

struct User {
  std::string name;
  std::string access_key;
  std::string secret_key;
};

struct ServiceOptions {
  std::string region = "us-east-1";
  // Host names under which `bucket.NAME` addresses a bucket (virtual-host
  // style); any other host is path style.
  std::vector<std::string> domains = {"localhost"};
  // How far a request's date may be from the node's clock.
  int64_t max_clock_skew_seconds = 15 * 60;
};

class Service {
 public:
  using UserLookup = std::function<std::optional<User>(std::string_view access_key)>;

  // The service on `store`, whose log "s3.buckets" lists the buckets.
  static Result<std::unique_ptr<Service>> Open(log::Store& store, UserLookup users,
                                               ServiceOptions options = {});
  ~Service();

  void Handle(http::Request& req, http::ResponseWriter& w);

  // Makes `bucket`, owned by `owner`, a read-only replica of the drive whose
  // db log has key `db_key` (a log this node follows): GET, HEAD and listing
  // read the replica, and every write is refused. OK if it already is;
  // AlreadyExists if the name is taken; InvalidArgument for a bad name.
  Status AddReplica(std::string_view bucket, std::string_view owner, const log::Key& db_key);

  // Every bucket, with the key of its drive's db log: what another node
  // follows to replicate it (`shoal follow KEY --bucket NAME`).
  struct BucketSummary {
    std::string name;
    std::string owner;
    std::string key;  // hex; empty for a bucket not written to yet
    bool replica = false;
  };
  Result<std::vector<BucketSummary>> Buckets();

 private:
  struct Impl;
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::s3
