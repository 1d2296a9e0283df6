// The node's one key/value database: a facade over RocksDB.
//
// Every piece of durable state in a node lives in one Db, under key prefixes
// owned by the layer that writes them (docs/formats/log.md lists the log's).
// Writes go through WriteBatch, which is atomic: after a crash either all of a
// batch is there or none of it.
//
// Durability: Write() returns once the batch is in RocksDB's write-ahead log.
// Without `sync`, the WAL sits in the operating system's page cache: the batch
// survives the process being killed, but not a power loss or kernel crash.
// With `sync`, Write() also fdatasyncs the WAL and survives both.
//
// Only this folder includes RocksDB headers.
//
// Thread safety: a Db may be used from any number of threads at once.
// WriteBatch and Iterator objects belong to one thread at a time.
#pragma once

#include <memory>
#include <string>

#include "base/bytes.h"
#include "base/result.h"

namespace shoal::storage {

struct Options {
  // Keep everything in memory (RocksDB's MemEnv); for tests.
  bool in_memory = false;
  // RocksDB block cache, shared by all readers.
  size_t block_cache_bytes = 64 << 20;
  // Memtable size before it is flushed to a table file.
  size_t write_buffer_bytes = 64 << 20;
};

class WriteBatch {
 public:
  // `reserve_bytes`: expected size, so big batches are not copied as they grow.
  explicit WriteBatch(size_t reserve_bytes = 0);
  ~WriteBatch();
  WriteBatch(const WriteBatch&) = delete;
  WriteBatch& operator=(const WriteBatch&) = delete;

  void Put(ByteView key, ByteView value);
  // Puts the concatenation of `prefix` and `value` without building it first.
  void Put(ByteView key, ByteView prefix, ByteView value);
  void Delete(ByteView key);
  // Deletes every key in [begin, end).
  void DeleteRange(ByteView begin, ByteView end);
  void Clear();
  size_t ByteSize() const;
  bool empty() const;

 private:
  friend class RocksDb;
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// Walks keys in [lower, upper) in order. Views returned by key() and value()
// are valid until the next move.
class Iterator {
 public:
  virtual ~Iterator() = default;
  virtual void SeekToFirst() = 0;
  virtual void SeekToLast() = 0;
  virtual void Seek(ByteView key) = 0;  // first key >= key
  virtual bool Valid() const = 0;
  virtual void Next() = 0;
  virtual void Prev() = 0;
  virtual ByteView key() const = 0;
  virtual ByteView value() const = 0;
  virtual Status status() const = 0;
};

class Db {
 public:
  // Opens (creating if needed) the database in directory `path`. Returns Busy
  // if another process has it open.
  static Result<std::unique_ptr<Db>> Open(const std::string& path, const Options& options = {});

  virtual ~Db() = default;

  // NotFound if `key` is absent.
  virtual Status Get(ByteView key, Bytes* value) = 0;
  virtual Status Write(WriteBatch& batch, bool sync = false) = 0;
  virtual std::unique_ptr<Iterator> NewIterator(ByteView lower, ByteView upper) = 0;

  // Rewrites the tables that hold [begin, end) so deleted keys in the range
  // give their disk space back.
  virtual Status CompactRange(ByteView begin, ByteView end) = 0;
  // Writes the memtable to a table file and fsyncs the WAL.
  virtual Status Flush() = 0;
  // Bytes of live table and WAL files.
  virtual uint64_t DiskUsage() = 0;
};

}  // namespace shoal::storage
