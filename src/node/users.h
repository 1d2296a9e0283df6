// Users: the people who may use a node's APIs, each with an S3 key pair.
//
// Kept in HOME/users.json, readable by the owner only (0600), written whole
// to a temporary file and renamed over the old one, so a crash leaves either
// version. The first open creates it with one user, "owner", whose keys are
// what `shoal credentials` prints. Another process (a `shoal user add` that
// runs while `shoal serve` does) may change the file: lookups reread it when
// it is replaced.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "s3/service.h"

namespace shoal::node {

class Users {
 public:
  static constexpr const char* kOwner = "owner";

  // Opens (or creates) the users file at `path`.
  static Result<std::unique_ptr<Users>> Open(const std::string& path);

  std::optional<s3::User> ByAccessKey(std::string_view access_key);
  std::optional<s3::User> ByName(std::string_view name);
  // Adds a user with fresh keys. InvalidArgument for a bad name,
  // AlreadyExists for a taken one.
  Result<s3::User> Add(const std::string& name);

 private:
  explicit Users(std::string path) : path_(std::move(path)) {}
  Status Load();           // with mu_ held
  Status Save() const;     // with mu_ held
  void ReloadIfChanged();  // with mu_ held
  std::optional<s3::User> Find(const std::function<bool(const s3::User&)>& match);

  const std::string path_;
  std::mutex mu_;
  std::vector<s3::User> users_;
  std::pair<int64_t, int64_t> stamp_{-1, -1};  // inode, mtime of what was read
};

// 20 characters of A-Z and 0-9, and 40 of base64's alphabet, as AWS keys look.
std::string NewAccessKey();
std::string NewSecretKey();

}  // namespace shoal::node
