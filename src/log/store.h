// Store: every log of a node, in the node's one database, with keys derived
// from one master seed exactly as Corestore derives them.
//
// A named log's key pair is
//   ed25519_seed_keypair(H_seed(NS_corestore || namespace || name))
// with the default namespace (32 zero bytes), and its key is the hash of the
// default signer manifest (HYPERCORE.md §2b). So the same seed and name give
// the same key, discovery key and signatures in Shoal and in a JS corestore.
//
// Thread safety: all methods may be called from any thread. Logs returned are
// shared; they stay valid while any holder keeps them, and the Store must
// outlive them.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "crypto/sign.h"
#include "log/log.h"

namespace shoal::storage {
class Db;
class WriteBatch;
}

namespace shoal::log {

struct StoreOptions {
  // The master seed for a new store; an existing store must have this seed.
  std::optional<crypto::Seed> seed;
  // fsync every write (survives power loss, costs a disk flush per write).
  bool sync = false;
  // Keep the database in memory and blocks files in a temporary directory
  // removed with the store (tests).
  bool in_memory = false;
  size_t cache_bytes = 64 << 20;
};

class Store {
 public:
  // Opens or creates the store whose database lives in directory `path`.
  static Result<std::unique_ptr<Store>> Open(const std::string& path,
                                             const StoreOptions& options = {});
  ~Store();

  const crypto::Seed& seed() const { return seed_; }

  // The local log `name`, created on first use (writable, signed with the
  // key pair derived from the seed and name). Options apply at creation.
  Result<std::shared_ptr<Log>> OpenLog(std::string_view name, const LogOptions& options = {});
  // A writable log named `name` with the given manifest, signed with the key
  // pair derived from the name `signer` (which must be one of the
  // manifest's signers): how a Hyperdrive's blobs core is made from its db
  // core. Opens it if it exists (InvalidArgument if with another manifest).
  Result<std::shared_ptr<Log>> OpenSignedBy(std::string_view name, std::string_view signer,
                                            const Manifest& manifest,
                                            const LogOptions& options = {});
  // An existing log by name; NotFound if there is none.
  Result<std::shared_ptr<Log>> GetLog(std::string_view name);
  // A log known by its key. With `create`, a missing log becomes an empty
  // read-only replica that fills through ApplyProof.
  Result<std::shared_ptr<Log>> OpenLogByKey(const Key& key, bool create);
  // The log whose discovery key is `discovery_key`: how a peer's channel
  // open finds the log it asks for. NotFound if this store has none.
  Result<std::shared_ptr<Log>> OpenLogByDiscoveryKey(const Hash& discovery_key);
  // A name, or a key as 64 hex digits.
  Result<std::shared_ptr<Log>> FindLog(std::string_view name_or_key);

  crypto::KeyPair DeriveKeyPair(std::string_view name) const;
  // Names of the local logs, sorted.
  Result<std::vector<std::string>> ListNames();
  // The discovery keys of every log in the store (named or replicas),
  // without opening any of them.
  Result<std::vector<Hash>> ListDiscoveryKeys();

  storage::Db& db() { return *db_; }

 private:
  Store() = default;
  Result<std::shared_ptr<Log>> LoadLocked(uint64_t id);
  Result<std::optional<uint64_t>> LookupId(const Bytes& index_key);
  // A new log of `key` named `name`; writable when named, signed with the
  // key pair derived from `signer` (else from `name`) under `manifest`
  // (else the default one).
  Result<std::shared_ptr<Log>> CreateLocked(const Key& key, std::string_view name,
                                            const LogOptions& options,
                                            const Manifest* manifest = nullptr,
                                            std::string_view signer = {});

  std::string BlocksPath(uint64_t id) const;

  std::unique_ptr<storage::Db> db_;
  std::string blocks_dir_;      // one blocks file per writer's log
  bool remove_blocks_dir_ = false;  // a temporary one, for an in-memory store
  crypto::Seed seed_{};
  bool sync_ = false;

  std::mutex mu_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<Log>> open_;
};

}  // namespace shoal::log
