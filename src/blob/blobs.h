// Blobs: large values in a log, in the Hyperblobs format
// (docs/formats/drive.md §4): a blob's bytes are cut into blocks of at most
// 64 KiB, and a BlobId says where they are.
//
// Many writers may stream blobs into one log at once. Each Writer appends
// its blocks as its data arrives, 16 at a time (1 MiB), so a blob of any
// size never sits in memory whole, and blobs written at the same time
// interleave in the log. A blob whose blocks ended up consecutive gets a
// plain BlobId; one whose blocks are interleaved with another's is finished
// with a block map (drive.md §4.5), which the JS Hyperblobs reads as well.
//
// Thread safety: a Blobs may be shared; each Writer is used by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "log/log.h"

namespace shoal::blob {

// Where a blob is: blocks [block_offset, block_offset + block_length) of the
// log, holding bytes [byte_offset, byte_offset + byte_length). With
// `block_map`, those blocks hold the blob's block map instead.
struct BlobId {
  uint64_t block_offset = 0;
  uint64_t byte_offset = 0;
  uint64_t block_length = 0;
  uint64_t byte_length = 0;
  bool block_map = false;

  bool operator==(const BlobId&) const = default;
};

// One entry of a block map: a block of the log and how many bytes it holds.
struct MapEntry {
  uint64_t index = 0;
  uint64_t size = 0;
};

// A block map as its blocks: each {uint version = 0, uint count, count x
// (uint index, uint size)} for up to 8,192 entries (hyperblobs
// lib/block-map.js). Decoding refuses another version, trailing bytes or a
// truncated map (Malformed).
std::vector<Bytes> EncodeBlockMap(const std::vector<MapEntry>& entries);
Result<std::vector<MapEntry>> DecodeBlockMap(const std::vector<Bytes>& blocks);

class Blobs {
 public:
  static constexpr size_t kBlockSize = 64 << 10;  // Hyperblobs' default
  static constexpr size_t kBlocksPerAppend = 16;  // as its write stream
  static constexpr size_t kMapEntriesPerBlock = 8192;
  static constexpr size_t kMaxMapBlocks = 64;  // what Hyperblobs reads

  explicit Blobs(std::shared_ptr<log::Log> log) : log_(std::move(log)) {}

  class Writer {
   public:
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    Status Write(ByteView data);
    // Appends what is left (and a block map if the blocks are not
    // consecutive) and returns the blob's id. Once only.
    Result<BlobId> Finish();
    uint64_t size() const { return size_; }

   private:
    friend class Blobs;
    explicit Writer(Blobs& blobs) : blobs_(blobs) {}
    Result<BlobId> FinishBlocks();
    Status Flush();

    Blobs& blobs_;
    Bytes current_;                 // the block being filled
    std::vector<Bytes> full_;       // full blocks not appended yet
    std::vector<MapEntry> blocks_;  // appended so far
    uint64_t size_ = 0;
    bool finished_ = false;
  };

  std::unique_ptr<Writer> NewWriter() { return std::unique_ptr<Writer>(new Writer(*this)); }
  // A whole blob in one call (what Hyperblobs' put does).
  Result<BlobId> Put(ByteView data);

  // A blob made of blocks already in the log, in this order (a multipart
  // upload's parts): a block map, or a plain id when they are consecutive.
  Result<BlobId> PutBlocks(const std::vector<MapEntry>& blocks);
  // The blob's blocks as (index, size), in order.
  Result<std::vector<MapEntry>> Blocks(const BlobId& id);

  // The blob's size: byte_length, or for a block map the sum of its blocks.
  Result<uint64_t> Size(const BlobId& id);
  // Calls `sink` with bytes [offset, offset + length) of the blob, in order,
  // a block (or part of one) at a time. InvalidArgument if the range is not
  // inside the blob; NotFound if a block is not stored.
  Status Read(const BlobId& id, uint64_t offset, uint64_t length,
              const std::function<Status(ByteView)>& sink);
  Result<Bytes> ReadAll(const BlobId& id);
  // Frees the disk space of the blob's blocks (the log keeps their hashes).
  Status Clear(const BlobId& id);

  log::Log& log() { return *log_; }

 private:
  std::shared_ptr<log::Log> log_;
};

}  // namespace shoal::blob
