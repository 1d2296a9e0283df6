#include "log/store.h"

#include <cstring>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "crypto/hash.h"
#include "log/log_format.h"
#include "storage/db.h"

namespace shoal::log {

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, const StoreOptions& options) {
  storage::Options db_options;
  db_options.in_memory = options.in_memory;
  db_options.block_cache_bytes = options.cache_bytes;
  SHOAL_ASSIGN_OR_RETURN(auto db, storage::Db::Open(path, db_options));

  std::unique_ptr<Store> store(new Store());
  store->db_ = std::move(db);
  store->sync_ = options.sync;
  if (options.in_memory) {
    // Blocks files need a real directory; an in-memory store gets a private
    // temporary one that goes away with it.
    const char* tmp = std::getenv("TMPDIR");
    std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/shoal-mem-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) return Status::IOError("mkdtemp " + dir);
    store->blocks_dir_ = dir;
    store->remove_blocks_dir_ = true;
  } else {
    store->blocks_dir_ = path + "/blocks";
    std::error_code ec;
    if (std::filesystem::create_directories(store->blocks_dir_, ec)) {
      // Make the new directory's name durable in the store directory.
      int dfd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
      }
    }
    if (ec) return Status::IOError("creating " + store->blocks_dir_ + ": " + ec.message());
  }

  Bytes seed;
  Status s = store->db_->Get(format::SeedKey(), &seed);
  if (s.ok()) {
    if (seed.size() != 32) return Status::Corruption("stored master seed is not 32 bytes");
    std::memcpy(store->seed_.data(), seed.data(), 32);
    if (options.seed && *options.seed != store->seed_) {
      return Status::AlreadyExists("the store already has a different master seed");
    }
  } else if (s.IsNotFound()) {
    store->seed_ = options.seed ? *options.seed : crypto::RandomFixed<32>();
    storage::WriteBatch wb;
    wb.Put(format::SeedKey(), store->seed_);
    SHOAL_RETURN_IF_ERROR(store->db_->Write(wb, /*sync=*/true));
  } else {
    return s;
  }

  // The next log id is one past the highest id in use, whatever the counter
  // says: a lost or stale counter must never reuse an id.
  Bytes next;
  s = store->db_->Get(format::NextIdKey(), &next);
  if (s.ok()) {
    if (next.size() != 8) return Status::Corruption("next log id is not 8 bytes");
    store->next_id_ = GetU64BE(next.data());
  } else if (!s.IsNotFound()) {
    return s;
  }
  auto it = store->db_->NewIterator(Bytes{format::kLog}, Bytes{format::kLog + 1});
  it->SeekToLast();
  if (it->Valid() && it->key().size() >= 9) {
    store->next_id_ = std::max(store->next_id_, GetU64BE(it->key().data() + 1) + 1);
  }
  SHOAL_RETURN_IF_ERROR(it->status());
  return store;
}

Store::~Store() {
  {
    std::lock_guard lock(mu_);
    open_.clear();
  }
  if (remove_blocks_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(blocks_dir_, ec);
  }
}

std::string Store::BlocksPath(uint64_t id) const {
  return blocks_dir_ + "/" + std::to_string(id);
}

crypto::KeyPair Store::DeriveKeyPair(std::string_view name) const {
  static const Hash ns_corestore = crypto::Namespace("corestore", 1)[0];
  const FixedBytes<32> default_namespace{};
  crypto::Seed seed =
      crypto::Blake2b256Keyed(seed_, {ns_corestore, default_namespace, AsBytes(name)});
  return crypto::KeyPairFromSeed(seed);
}

Result<std::optional<uint64_t>> Store::LookupId(const Bytes& index_key) {
  Bytes value;
  Status s = db_->Get(index_key, &value);
  if (s.IsNotFound()) return std::optional<uint64_t>();
  SHOAL_RETURN_IF_ERROR(s);
  if (value.size() != 8) return Status::Corruption("log index entry is not 8 bytes");
  return std::optional<uint64_t>(GetU64BE(value.data()));
}

Result<std::shared_ptr<Log>> Store::LoadLocked(uint64_t id) {
  auto it = open_.find(id);
  if (it != open_.end()) return it->second;
  std::shared_ptr<Log> log(new Log(db_.get(), id, BlocksPath(id)));
  log->sync_ = sync_;
  SHOAL_RETURN_IF_ERROR(log->Load().WithContext("opening log " + std::to_string(id)));
  if (!log->name_.empty()) {
    crypto::KeyPair kp = DeriveKeyPair(log->signer_.empty() ? log->name_ : log->signer_);
    if (log->verifier_) {
      for (const Signer& s : log->verifier_->manifest().signers) {
        if (s.public_key == kp.public_key) log->key_pair_ = kp;
      }
    }
  }
  open_[id] = log;
  return log;
}

Result<std::shared_ptr<Log>> Store::CreateLocked(const Key& key, std::string_view name,
                                                 const LogOptions& options,
                                                 const Manifest* manifest,
                                                 std::string_view signer) {
  uint64_t id = next_id_;
  std::shared_ptr<Log> log(new Log(db_.get(), id, BlocksPath(id)));
  log->key_ = key;
  log->discovery_key_ = DiscoveryKey(key);
  log->name_ = std::string(name);
  log->signer_ = std::string(signer);
  log->sync_ = sync_ || options.sync;
  if (!name.empty()) {
    crypto::KeyPair kp = DeriveKeyPair(signer.empty() ? name : signer);
    log->key_pair_ = kp;
    SHOAL_RETURN_IF_ERROR(log->UseWriterLayout());
    // A blocks file left by an id that never committed must not leak in.
    SHOAL_RETURN_IF_ERROR(log->file_->Truncate(0));
    SHOAL_ASSIGN_OR_RETURN(
        log->verifier_,
        Verifier::Create(key, manifest ? *manifest : DefaultSignerManifest(kp.public_key)));
  } else {
    SHOAL_RETURN_IF_ERROR(log->UseReplicaFile());
    SHOAL_RETURN_IF_ERROR(log->replica_file_->Truncate(0));
    log->replica_end_ = 0;
  }
  if (options.encryption_key) {
    log->encryption_key_ = options.encryption_key;
    log->encryption_.emplace(key, *options.encryption_key);
  }

  storage::WriteBatch wb;
  wb.Put(format::LogKey(id, format::kMeta), log->EncodeMeta());
  Bytes id_bytes(8);
  PutU64BE(id_bytes.data(), id);
  if (!name.empty()) wb.Put(format::NameKey(name), id_bytes);
  wb.Put(format::DiscoveryKeyKey(log->discovery_key_), id_bytes);
  Bytes next(8);
  PutU64BE(next.data(), id + 1);
  wb.Put(format::NextIdKey(), next);
  SHOAL_RETURN_IF_ERROR(db_->Write(wb, log->sync_.load()));
  next_id_ = id + 1;
  open_[id] = log;
  return log;
}

Result<std::shared_ptr<Log>> Store::OpenLog(std::string_view name, const LogOptions& options) {
  if (name.empty()) return Status::InvalidArgument("a log name cannot be empty");
  std::lock_guard lock(mu_);
  SHOAL_ASSIGN_OR_RETURN(auto id, LookupId(format::NameKey(name)));
  if (id) {
    SHOAL_ASSIGN_OR_RETURN(auto log, LoadLocked(*id));
    if (options.sync) log->sync_ = true;
    return log;
  }
  crypto::KeyPair kp = DeriveKeyPair(name);
  Key key = ManifestHash(DefaultSignerManifest(kp.public_key));
  SHOAL_ASSIGN_OR_RETURN(auto existing, LookupId(format::DiscoveryKeyKey(DiscoveryKey(key))));
  if (existing) return Status::AlreadyExists("a log with this key exists under another name");
  return CreateLocked(key, name, options);
}

Result<std::shared_ptr<Log>> Store::OpenSignedBy(std::string_view name, std::string_view signer,
                                                 const Manifest& manifest,
                                                 const LogOptions& options) {
  if (name.empty() || signer.empty()) {
    return Status::InvalidArgument("a log name and a signer name are needed");
  }
  const Key key = ManifestHash(manifest);
  std::lock_guard lock(mu_);
  SHOAL_ASSIGN_OR_RETURN(auto id, LookupId(format::NameKey(name)));
  if (id) {
    SHOAL_ASSIGN_OR_RETURN(auto log, LoadLocked(*id));
    if (log->key() != key) {
      return Status::InvalidArgument("log " + std::string(name) + " exists with another manifest");
    }
    if (options.sync) log->sync_ = true;
    return log;
  }
  crypto::KeyPair kp = DeriveKeyPair(signer);
  bool signs = false;
  for (const Signer& s : manifest.signers) signs = signs || s.public_key == kp.public_key;
  if (!signs) return Status::InvalidArgument("the signer is not one of the manifest's");
  SHOAL_ASSIGN_OR_RETURN(auto existing, LookupId(format::DiscoveryKeyKey(DiscoveryKey(key))));
  if (existing) return Status::AlreadyExists("a log with this key exists under another name");
  return CreateLocked(key, name, options, &manifest, signer);
}

Result<std::shared_ptr<Log>> Store::GetLog(std::string_view name) {
  std::lock_guard lock(mu_);
  SHOAL_ASSIGN_OR_RETURN(auto id, LookupId(format::NameKey(name)));
  if (!id) return Status::NotFound("no log named '" + std::string(name) + "'");
  return LoadLocked(*id);
}

Result<std::shared_ptr<Log>> Store::OpenLogByKey(const Key& key, bool create) {
  std::lock_guard lock(mu_);
  SHOAL_ASSIGN_OR_RETURN(auto id, LookupId(format::DiscoveryKeyKey(DiscoveryKey(key))));
  if (id) return LoadLocked(*id);
  if (!create) return Status::NotFound("no log with key " + ToHex(key));
  return CreateLocked(key, "", {});
}

Result<std::shared_ptr<Log>> Store::OpenLogByDiscoveryKey(const Hash& discovery_key) {
  std::lock_guard lock(mu_);
  SHOAL_ASSIGN_OR_RETURN(auto id, LookupId(format::DiscoveryKeyKey(discovery_key)));
  if (!id) return Status::NotFound("no log with discovery key " + ToHex(discovery_key));
  return LoadLocked(*id);
}

Result<std::shared_ptr<Log>> Store::FindLog(std::string_view name_or_key) {
  auto by_name = GetLog(name_or_key);
  if (by_name.ok() || !by_name.status().IsNotFound()) return by_name;
  if (name_or_key.size() == 64) {
    if (auto key = FixedFromHex<32>(name_or_key)) return OpenLogByKey(*key, false);
  }
  return by_name.status();
}

Result<std::vector<std::string>> Store::ListNames() {
  std::vector<std::string> names;
  Bytes lower{format::kByName};
  Bytes upper{static_cast<uint8_t>(format::kByName + 1)};
  auto it = db_->NewIterator(lower, upper);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    names.emplace_back(AsString(it->key().subspan(1)));
  }
  SHOAL_RETURN_IF_ERROR(it->status());
  return names;
}

Result<std::vector<Hash>> Store::ListDiscoveryKeys() {
  std::vector<Hash> keys;
  Bytes lower{format::kByDiscoveryKey};
  Bytes upper{static_cast<uint8_t>(format::kByDiscoveryKey + 1)};
  auto it = db_->NewIterator(lower, upper);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ByteView k = it->key();
    if (k.size() != 33) return Status::Corruption("a discovery key index key is not 33 bytes");
    Hash dk;
    std::memcpy(dk.data(), k.data() + 1, dk.size());
    keys.push_back(dk);
  }
  SHOAL_RETURN_IF_ERROR(it->status());
  return keys;
}

}  // namespace shoal::log
