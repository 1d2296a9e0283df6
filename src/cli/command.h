// The shoal command line, as a function from arguments to output, so that the
// same code runs in the `shoal` process or inside a running `shoal serve`
// that a `shoal` process forwards its command to (control.h).
//
// Thread safety: RunCommand may run on any thread; the Home it is given must
// not be used by another command at the same time.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "base/result.h"
#include "log/store.h"

namespace shoal::node {
class Peering;
}
namespace shoal::s3 {
class Service;
}

namespace shoal::cli {

// Exit codes.
constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

// A node's home directory and, once opened, its store.
class Home {
 public:
  explicit Home(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  std::string db_path() const { return dir_ + "/db"; }
  std::string socket_path() const { return dir_ + "/shoal.sock"; }
  std::string endpoints_path() const { return dir_ + "/endpoints.json"; }
  std::string users_path() const { return dir_ + "/users.json"; }

  // Creates the directory (0700) and opens the store, with `seed` for a new
  // one. Busy if another process has it open.
  Status Open(const std::optional<crypto::Seed>& seed = std::nullopt);
  bool is_open() const { return store_ != nullptr; }
  log::Store& store() { return *store_; }
  void Close() { store_.reset(); }

  // The running node's peering, when commands run inside `shoal serve`.
  node::Peering* peering() const { return peering_; }
  void set_peering(node::Peering* p) { peering_ = p; }
  // The running node's S3 service, likewise.
  s3::Service* s3() const { return s3_; }
  void set_s3(s3::Service* s) { s3_ = s; }
  std::string follows_path() const { return dir_ + "/follows.json"; }

 private:
  std::string dir_;
  std::unique_ptr<log::Store> store_;
  node::Peering* peering_ = nullptr;
  s3::Service* s3_ = nullptr;
};

// `$SHOAL_HOME`, else `~/.local/share/shoal`.
std::string DefaultHome();

struct Io {
  std::ostream& out;
  std::ostream& err;
  // All of standard input; called at most once, only by commands that read it.
  std::function<std::string()> read_stdin;
};

// Runs one command (`args` without the program name and global options).
// `home` is opened on demand. Returns the exit code.
int RunCommand(const std::vector<std::string>& args, Home& home, Io& io);

// Whether `args` name a command that needs standard input forwarded.
bool CommandReadsStdin(const std::vector<std::string>& args);

}  // namespace shoal::cli
