// Log: one signed append-only log, byte-compatible with a Hypercore 11 core.
//
// A log is a list of blocks under a Merkle tree whose roots the writer signs
// (HYPERCORE.md §2a). The writer appends; anyone holding the key can check
// any block or length it is given (ApplyProof) and keep a sparse, verified
// copy. Logs live in a Store (store.h), which owns the database.
//
// Durability: Append, Truncate, Clear and ApplyProof return only after their
// write batch (for an append, its node run, which extends the stored head's
// length at open; for the others, the new head) is committed to the
// database's write-ahead log; an append writes its blocks to the log's blocks
// file just before, and so does a replica's ApplyProof with the block it carries. That survives the process being killed at any moment. It survives a
// power loss only with LogOptions::sync (or StoreOptions::sync), which
// fdatasyncs those blocks and every write-ahead log record (a clear's
// hole punch and a truncate's file cut are not synced; they only free space).
//
// Invariants:
//  1. state_ satisfies the TreeState invariants (merkle.h) except that its
//     signature covers the tree at signed_length_ <= state_.length, and
//     verifies under verifier_ there (checked again at every open);
//     signed_length_ < state_.length only on a log this node writes.
//
// Signing: appends do not sign. The writer signs its head when the signature
// is needed — when state() or a proof reads it, and when the log closes — so a
// burst of appends costs one signature, not one each. Ed25519 signatures are
// deterministic, so the bytes are those a per-append signer would produce for
// that length. After a crash the head may be signed at an older length; the
// open checks that signature against the tree at that length, and the next
// read of the signature signs the rest.
//  2. bit i of bitfield_ is set iff block i is stored, and i < length;
//  3. contiguous_ is the first unset bit; bits below it are implied, and
//     every bitfield page with a set bit at or above it is in storage and
//     current (other pages are absent or stale; docs/formats/log.md);
//  4. every node of the tree at state_.length with a stored block under it is
//     stored, and so are the roots.
//
// Thread safety: all methods may be called from any thread; they serialise on
// an internal mutex.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>

#include "base/result.h"
#include "crypto/sign.h"
#include "log/bitfield.h"
#include "log/block_file.h"
#include "log/encryption.h"
#include "log/manifest.h"
#include "log/merkle.h"
#include "log/proof.h"

namespace shoal::storage {
class Db;
class WriteBatch;
}

namespace shoal::log {

struct LogOptions {
  // fdatasync the blocks file and the write-ahead log on every write.
  bool sync = false;
  // Encrypt blocks with Hypercore's default block encryption.
  std::optional<FixedBytes<32>> encryption_key;
};

class Log {
 public:
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  const Key& key() const { return key_; }
  const Hash& discovery_key() const { return discovery_key_; }
  // The local name, empty for a log opened by key.
  const std::string& name() const { return name_; }
  bool writable() const { return key_pair_.has_value(); }
  bool encrypted() const { return encryption_.has_value(); }
  // nullopt until a replica has learnt the manifest from a peer.
  std::optional<Manifest> manifest() const;
  // A compat log (a v10 core's: key = public key, no manifest on the wire).
  bool compat() const;

  uint64_t length() const;
  uint64_t byte_length() const;
  uint64_t fork() const;
  // Blocks [0, contiguous_length) are all present.
  uint64_t contiguous_length() const;
  // How many of the blocks [0, length) are stored.
  uint64_t stored_blocks() const;
  // The signed state: signs the head first if appends left it unsigned (see
  // "Signing" above), which writes the head.
  Result<TreeState> state();
  // Signs and writes the head now if appends left it unsigned; OK otherwise.
  Status Sign();
  Hash tree_hash() const;

  // Appends blocks; the head is signed later (see "Signing" above). Returns
  // the new length. ReadOnly on a log this node cannot sign.
  Result<uint64_t> Append(ByteView block);
  Result<uint64_t> Append(std::span<const ByteView> blocks);

  // Block `index`, decrypted. NotFound if it is not stored (never written,
  // cleared, or not downloaded); Corruption if its bytes no longer match the
  // checksum written with them.
  Result<Bytes> Get(uint64_t index) const;
  bool Has(uint64_t index) const;
  // Up to `limit` indexes in [start, end) whose blocks are not stored, in
  // order: one lock for what would be many Has calls.
  std::vector<uint64_t> Missing(uint64_t start, uint64_t end, size_t limit) const;

  // Byte offset of block `index` in the log (index == length gives the
  // byte length), and the block holding byte `bytes` with the offset inside.
  // Both count the blocks as the application sees them (without padding).
  Result<uint64_t> ByteOffset(uint64_t index) const;
  Result<std::pair<uint64_t, uint64_t>> Seek(uint64_t bytes) const;

  // Cuts the log to `length` blocks and bumps the fork: what a writer does to
  // rewrite history. The new head is signed.
  Status Truncate(uint64_t length);
  // Deletes the stored blocks [start, end) and returns their disk space; the
  // tree and signature stay, so the log still proves what those blocks were.
  Status Clear(uint64_t start, uint64_t end);

  // The proof answering `request`, with the stored block value filled in.
  // Signs the head first if it is unsigned.
  Result<Proof> MakeProof(const ProofRequest& request);
  // How many of block `index`'s ancestors this log lacks: the `nodes` to put
  // in a ProofRequest so the answer carries just what is missing.
  Result<uint64_t> MissingNodes(uint64_t index) const;
  // Verifies `proof` against the key and stores what it proves: a newer
  // signed length, tree nodes, a block. Nothing is stored unless everything
  // verifies.
  Status ApplyProof(const Proof& proof);
  // ApplyProof for each of `proofs` in order, one status each; their blocks
  // are hashed together first, outside the lock (LeafNodes).
  std::vector<Status> ApplyProofs(std::span<const Proof* const> proofs);

  // Calls `on_change` after every append, truncate or applied proof that
  // changes the length or fork, on the thread that made the change, after the
  // log's lock is released. It must be quick and must not call back into the
  // log's writers (signal another thread instead). Returns an id for
  // Unsubscribe, which waits out a running call.
  uint64_t Subscribe(std::function<void()> on_change);
  void Unsubscribe(uint64_t id);

  // Re-checks everything stored: block checksums, every block against its
  // leaf, every parent against its children, the roots at the signed length
  // against the signature. Corruption names the first thing that does not match.
  Status Audit() const;

 private:
  friend class Store;
  class Reader;

  Log(storage::Db* db, uint64_t id, std::string blocks_path);

  Result<uint64_t> AppendImpl(std::span<const ByteView> blocks);
  Status TruncateImpl(uint64_t length);
  Status ApplyProofImpl(const Proof& proof, const std::optional<Node>& leaf);
  Status SignLocked();
  void NotifyListeners();

  Status Load();
  // A writer's log keeps its tree nodes in runs, one per append, and its
  // blocks in a file of their own (docs/formats/log.md).
  Status UseWriterLayout();
  // A replica keeps its downloaded blocks in a blocks file of its own.
  Status UseReplicaFile();
  bool writer_layout() const { return file_ != nullptr; }
  Status LoadRoots(uint64_t length, std::vector<Node>* roots) const;
  Result<bool> SignatureVerifies() const;  // needs verifier_ and mu_
  Result<Bytes> GetStoredLocked(uint64_t index) const;
  Bytes EncodeMeta() const;
  Bytes EncodeHead() const;
  // Moves contiguous_ to `value`, marking pages that leave the implied prefix.
  void SetContiguous(uint64_t value);
  Status DecodeHead(ByteView head);
  Status ExtendByRuns();
  Status LoadTail();
  // Add bitfield pages (see invariant 3), the head, or both, to `wb`.
  void PersistBitfield(storage::WriteBatch& wb);
  void PersistHead(storage::WriteBatch& wb);
  void PersistBitfieldAndHead(storage::WriteBatch& wb);
  // Adds the locators of `stored` to `wb`; `*tail` gets the encoded group
  // left partly filled (its number and value), if any.
  Status PutLocators(storage::WriteBatch& wb, std::span<const ByteView> stored,
                     std::optional<std::pair<uint64_t, Bytes>>* tail) const;
  // Writes `wb`; if that fails, reloads the in-memory state from storage.
  Status CommitOrReload(storage::WriteBatch& wb);

  storage::Db* const db_;
  const uint64_t id_;
  const std::string blocks_path_;
  std::unique_ptr<Reader> reader_;
  std::unique_ptr<BlockFile> file_;  // the writer's blocks; null for a replica
  // A replica's downloaded blocks, appended as they arrive (meta flag 32);
  // null for a writer and for a replica that keeps its blocks in the database.
  std::unique_ptr<BlockFile> replica_file_;
  uint64_t replica_end_ = 0;  // where the next downloaded block goes

  Key key_{};
  Hash discovery_key_{};
  std::string name_;
  std::string signer_;  // the name its key pair derives from, when not name_
  std::optional<crypto::KeyPair> key_pair_;
  std::optional<Verifier> verifier_;
  std::optional<BlockEncryption> encryption_;
  std::optional<FixedBytes<32>> encryption_key_;
  std::atomic<bool> sync_{false};

  mutable std::mutex mu_;
  TreeState state_;
  uint64_t signed_length_ = 0;  // the length state_.signature covers
  uint64_t head_length_ = 0;    // the length in the stored head
  Bitfield bitfield_;
  uint64_t contiguous_ = 0;
  std::set<uint64_t> stored_pages_;  // bitfield pages present in storage
  // Tree nodes a replica wrote lately: index → the first 8 bytes of the hash.
  // Proofs requested together all carry the ancestors missing when they were
  // asked for; each is written once. Cleared when it grows past kMaxWritten
  // and whenever the in-memory state is reloaded.
  std::unordered_map<uint64_t, uint64_t> written_nodes_;
  // The writer's last, partly filled locator group as stored, so an append
  // need not read it back; empty when unknown.
  std::optional<std::pair<uint64_t, Bytes>> tail_group_;
  // Locator groups read by Get, as stored, so random reads of a writer's
  // blocks skip the database; emptied when full. At most
  // kLocatorCacheGroups * ~150 bytes (about 1.2 MiB).
  static constexpr size_t kLocatorCacheGroups = 8192;
  mutable std::unordered_map<uint64_t, Bytes> locator_cache_;
  // Reused by appends so each does not allocate a fresh buffer.
  std::unique_ptr<storage::WriteBatch> append_batch_;

  std::mutex listeners_mu_;  // never held with mu_
  uint64_t next_listener_ = 1;
  std::vector<std::pair<uint64_t, std::function<void()>>> listeners_;
};

}  // namespace shoal::log
