// Drive: files by path, in the Hyperdrive format (docs/formats/drive.md): a
// files bee whose entries point at blobs in a second log.
//
// An entry is written after its blob, so a file is never visible before all
// its bytes are in the blobs log; a crash in between leaves unreferenced
// blocks and no entry. Deleting or overwriting a file writes only to the
// bee: older versions still read the old bytes until Clear frees them.
//
// Paths are stored as given, after a leading '/': S3 keys such as "a//b" or
// "a/../b" stay distinct. JS Hyperdrive normalises the paths it looks up
// (drive.md §3.2), so it lists such entries but cannot fetch them by name.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "blob/blobs.h"
#include "kv/bee.h"

namespace shoal::blob {

struct FileEntry {
  std::string path;  // with its leading '/'
  bool executable = false;
  std::optional<std::string> linkname;
  std::optional<BlobId> blob;
  std::string metadata_json = "null";  // any JSON value, as text
  uint64_t seq = 0;                    // the bee block that wrote it
};

// The JSON value Hyperdrive writes for an entry (key order and all), and back.
std::string EncodeEntryValue(const FileEntry& e);
Result<FileEntry> DecodeEntryValue(ByteView value);

// The bee key of a path: "files" 00 path.
Bytes FileKey(std::string_view path);

// The manifest of a drive's blobs log, derived from its db log's as
// Hyperdrive does (docs/formats/drive.md §2.2): each signer's namespace
// becomes BLAKE2b-256(namespace("hyperdrive") || db key || namespace), so a
// reader that has the db log finds the blobs log without being told.
log::Manifest ContentManifest(const log::Manifest& db, const log::Key& db_key);
// The key of that blobs log: the hash of ContentManifest(db, db_key).
log::Key ContentKey(const log::Manifest& db, const log::Key& db_key);

class Drive {
 public:
  // A drive on these two logs (created empty if new). The db log gets the
  // 12-byte header Hyperdrive writes on its first write.
  Drive(std::shared_ptr<log::Log> db, std::shared_ptr<log::Log> blobs);

  kv::Bee& bee() { return bee_; }
  Blobs& blobs() { return blobs_; }
  uint64_t version() const { return bee_.version(); }

  Result<std::optional<FileEntry>> Entry(std::string_view path,
                                         std::optional<uint64_t> version = std::nullopt);
  // Writes `entry` under entry.path (its blob must already be in the log).
  // `cas` as kv::Bee::Put.
  Status PutEntry(const FileEntry& entry, const kv::Cas& cas = nullptr);
  Status Del(std::string_view path);
  // Entries whose paths start with `prefix` (a full path prefix, with its
  // leading '/'), in path order, after `start_after` (a full path) if not
  // empty, at most `limit`.
  Result<std::vector<FileEntry>> List(std::string_view prefix, std::string_view start_after,
                                      uint64_t limit);

 private:
  kv::Bee bee_;
  Blobs blobs_;
};

}  // namespace shoal::blob
