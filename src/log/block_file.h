// BlockFile: the bytes of a writer's blocks, concatenated in block order in one
// file per log, so appending a block costs one write into the page cache
// instead of a trip through the database's log, memtable and compactions.
// Block i starts at the log's byte offset of block i (stored sizes); the
// database keeps each block's offset, size and checksum in locator groups
// (docs/formats/log.md).
//
// Bytes past the log's committed byte length are leftovers of an append that
// did not commit; the owner cuts them off when it opens the file.
//
// Thread safety: Read may run concurrently with anything; the owner serialises
// the rest.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "base/bytes.h"
#include "base/result.h"

namespace shoal::log {

class BlockFile {
 public:
  static Result<std::unique_ptr<BlockFile>> Open(const std::string& path);
  ~BlockFile();
  BlockFile(const BlockFile&) = delete;
  BlockFile& operator=(const BlockFile&) = delete;

  // Writes `parts` back to back from `offset`.
  Status Write(uint64_t offset, std::span<const ByteView> parts);
  // Reads exactly `size` bytes at `offset`; Corruption if the file is shorter.
  Status Read(uint64_t offset, uint64_t size, Bytes* out) const;
  // Gives the disk space of [offset, offset + size) back; reads there return zeros.
  Status PunchHole(uint64_t offset, uint64_t size);
  Status Truncate(uint64_t size);
  Result<uint64_t> Size() const;
  // fdatasync.
  Status Sync();
  const std::string& path() const { return path_; }

 private:
  BlockFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace shoal::log
