#include "node/users.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "crypto/sign.h"

namespace shoal::node {
namespace {

std::string RandomString(size_t n, std::string_view alphabet) {
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    uint8_t b[64];
    crypto::RandomBytes(b);
    for (uint8_t x : b) {
      // Rejection sampling keeps every character equally likely.
      if (x >= 256 - 256 % alphabet.size()) continue;
      out.push_back(alphabet[x % alphabet.size()]);
      if (out.size() == n) break;
    }
  }
  return out;
}

// The file's inode and modification time: every save renames a new file
// into place, so the inode changes even within one tick of the clock.
std::pair<int64_t, int64_t> Stamp(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return {-1, -1};
  return {static_cast<int64_t>(st.st_ino),
          int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec};
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string NewAccessKey() { return "SH" + RandomString(18, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"); }

std::string NewSecretKey() {
  return RandomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
}

Result<std::unique_ptr<Users>> Users::Open(const std::string& path) {
  std::unique_ptr<Users> u(new Users(path));
  std::lock_guard lock(u->mu_);
  if (Stamp(path).first < 0) {
    u->users_.push_back({kOwner, NewAccessKey(), NewSecretKey()});
    SHOAL_RETURN_IF_ERROR(u->Save());
  }
  SHOAL_RETURN_IF_ERROR(u->Load());
  return u;
}

Status Users::Load() {
  // The stamp first: a replacement that lands during the read changes it
  // again, and the next lookup reads once more.
  const auto stamp = Stamp(path_);
  std::ifstream f(path_);
  if (!f) return Status::IOError("cannot read " + path_);
  std::stringstream ss;
  ss << f.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("users") || !j["users"].is_array()) {
    return Status::Corruption(path_ + " is not a users file");
  }
  std::vector<s3::User> users;
  for (const auto& u : j["users"]) {
    if (!u.is_object() || !u.value("name", nlohmann::json()).is_string() ||
        !u.value("accessKey", nlohmann::json()).is_string() ||
        !u.value("secretKey", nlohmann::json()).is_string()) {
      return Status::Corruption(path_ + " has a user without name, accessKey or secretKey");
    }
    users.push_back({u["name"], u["accessKey"], u["secretKey"]});
  }
  users_ = std::move(users);
  stamp_ = stamp;
  return Status::OK();
}

Status Users::Save() const {
  nlohmann::ordered_json j;
  j["users"] = nlohmann::ordered_json::array();
  for (const auto& u : users_) {
    nlohmann::ordered_json e;
    e["name"] = u.name;
    e["accessKey"] = u.access_key;
    e["secretKey"] = u.secret_key;
    j["users"].push_back(std::move(e));
  }
  const std::string text = j.dump(2) + "\n";
  // A temporary name of this writer's own: two processes adding users at
  // once must not write into each other's file.
  const std::string tmp = path_ + ".tmp." + std::to_string(::getpid()) + "." + NewAccessKey();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot write " + tmp);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path_.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::IOError("cannot write " + path_);
  }
  return Status::OK();
}

void Users::ReloadIfChanged() {
  if (Stamp(path_) != stamp_) (void)Load();  // on failure the old list stays
}

std::optional<s3::User> Users::Find(const std::function<bool(const s3::User&)>& match) {
  std::lock_guard lock(mu_);
  ReloadIfChanged();
  for (const auto& u : users_) {
    if (match(u)) return u;
  }
  return std::nullopt;
}

std::optional<s3::User> Users::ByAccessKey(std::string_view access_key) {
  return Find([&](const s3::User& u) { return u.access_key == access_key; });
}

std::optional<s3::User> Users::ByName(std::string_view name) {
  return Find([&](const s3::User& u) { return u.name == name; });
}

Result<s3::User> Users::Add(const std::string& name) {
  if (!ValidName(name)) {
    return Status::InvalidArgument("a user name is 1 to 64 letters, digits, '-', '_' or '.'");
  }
  std::lock_guard lock(mu_);
  ReloadIfChanged();
  for (const auto& u : users_) {
    if (u.name == name) return Status::AlreadyExists("user " + name + " exists");
  }
  users_.push_back({name, NewAccessKey(), NewSecretKey()});
  Status s = Save();
  if (!s.ok()) {
    users_.pop_back();
    return s;
  }
  stamp_ = Stamp(path_);
  return users_.back();
}

}  // namespace shoal::node
