// Bee: a sorted key/value database in a signed log, in the Hyperbee v1 format
// (HYPERCORE.md §2e), so the JS hyperbee reads what Shoal writes and the
// other way round: the same operations on the same log write the same bytes.
//
// Block 0 is the header; every later block holds one key, its value (none for
// a deletion) and the copy-on-write path of B-tree nodes it changed
// (kv/messages.h). The database at version v (= log length) is the tree whose
// root is level 0 of block v - 1, so every version stays readable.
//
// Thread safety: a Bee serialises its own calls; the Log underneath may be
// shared.
#pragma once

#include <functional>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "kv/messages.h"
#include "log/log.h"

namespace shoal::kv {

struct Entry {
  uint64_t seq = 0;  // the block that wrote it
  Bytes key;
  Bytes value;
};

// One operation of a batch: a put, or a delete when `value` is empty.
struct Op {
  Bytes key;
  std::optional<Bytes> value;
};

// A key that differs between two versions: its entry before and after
// (either may be missing: added or deleted).
struct DiffEntry {
  std::optional<Entry> before;
  std::optional<Entry> after;
};

// Compare-and-swap: called with the entry a write would replace and the one
// it would write (empty value for a delete); false cancels the write.
// Called only when the key exists, as in hyperbee.
using Cas = std::function<bool(const Entry& prev, const Entry& next)>;

struct Range {
  std::optional<Bytes> gt, gte, lt, lte;
  bool reverse = false;
  uint64_t limit = UINT64_MAX;
};

struct BeeOptions {
  // Decoded blocks (keys, values and tree nodes) kept in memory, least
  // recently used out first. The upper levels of the tree stay in it, so a
  // random get reads about one block from the log.
  size_t cache_bytes = 32 << 20;
  // The Header's metadata field, written into block 0 of a new database:
  // none (hyperbee's default), or these bytes of an encoded Metadata message
  // (empty for Hyperdrive's files bee, which writes the field empty).
  std::optional<Bytes> header_metadata;
};

class Watch;

class Bee {
 public:
  // A database in `log`. A writable empty log gets its header on first write.
  explicit Bee(std::shared_ptr<log::Log> log, const BeeOptions& options = {});
  ~Bee();

  // The log length: the version the next read sees.
  uint64_t version() const;

  // The entry for `key` at `version` (default: the newest); nullopt if absent.
  Result<std::optional<Entry>> Get(ByteView key, std::optional<uint64_t> version = std::nullopt);
  // Appends one block (also when the key already has this value, as
  // hyperbee does by default), unless `cas` refuses it.
  Status Put(ByteView key, ByteView value, const Cas& cas = nullptr);
  // Appends one block if the key exists and `cas` allows it; deleting a
  // missing key writes nothing.
  Status Del(ByteView key, const Cas& cas = nullptr);
  // Applies `ops` in order as one append (one signature): all or nothing.
  // The blocks are the ones hyperbee's batch() writes for the same operations.
  Status Apply(std::span<const Op> ops);
  // What changed from version `from` to version `to` (default: the newest),
  // in key order. Walks both trees in step and skips every subtree the two
  // share, so it costs in proportion to the change, not the database.
  Result<std::vector<DiffEntry>> Diff(uint64_t from, std::optional<uint64_t> to = std::nullopt,
                                      uint64_t limit = UINT64_MAX);
  // Frees the disk space of every block the newest version no longer uses
  // (overwritten values, deleted keys, replaced tree nodes), by clearing
  // them from the log, as hyperbee's clearUnlinked does. The newest version
  // reads as before; older versions become unreadable where they needed a
  // cleared block (NotFound). Returns the number of blocks cleared.
  Result<uint64_t> Compact();
  // Calls on_change(from, to) on a thread of its own whenever the database
  // moves from version `from` to `to` and an entry within `range` differs
  // between them (or the log was truncated). Stops when the Watch goes; the
  // Bee must outlive it.
  std::unique_ptr<Watch> WatchRange(const Range& range,
                                    std::function<void(uint64_t from, uint64_t to)> on_change);
  // Entries in key order (or reverse) within the bounds, at `version`.
  Result<std::vector<Entry>> List(const Range& range,
                                  std::optional<uint64_t> version = std::nullopt);

 private:
  friend class Watch;
  struct Impl;
  class DiffWalker;
  std::unique_ptr<Impl> impl_;
};

// A running watch (Bee::WatchRange). Destroying it stops the watch and waits
// for a callback in progress.
class Watch {
 public:
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

 private:
  friend class Bee;
  Watch() = default;
  void Run();

  Bee* bee_ = nullptr;
  Range range_;
  std::function<void(uint64_t, uint64_t)> on_change_;
  uint64_t listener_ = 0;
  uint64_t version_ = 0;
  uint64_t fork_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = false;
  bool stop_ = false;
  std::thread thread_;
};

// A sub-database: the keys of `bee` that start with `prefix` and a
// separator byte (0x00 by default), seen without them, as hyperbee's
// sub(prefix) does. Subs nest: Sub(Sub(bee, "a"), "b") is prefix "a\0b\0".
class Sub {
 public:
  Sub(Bee& bee, ByteView prefix, uint8_t separator = 0);
  Sub(const Sub& parent, ByteView prefix, uint8_t separator = 0);

  const Bytes& prefix() const { return prefix_; }
  Result<std::optional<Entry>> Get(ByteView key, std::optional<uint64_t> version = std::nullopt);
  Status Put(ByteView key, ByteView value, const Cas& cas = nullptr);
  Status Del(ByteView key, const Cas& cas = nullptr);
  Status Apply(std::span<const Op> ops);
  // Bounds are the sub's own keys; without bounds, the whole sub.
  Result<std::vector<Entry>> List(const Range& range,
                                  std::optional<uint64_t> version = std::nullopt);

 private:
  Bytes Full(ByteView key) const;
  Entry Strip(Entry e) const;

  Bee& bee_;
  Bytes prefix_;  // includes the separator
};

}  // namespace shoal::kv
