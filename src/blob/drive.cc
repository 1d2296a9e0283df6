#include "blob/drive.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "crypto/hash.h"

namespace shoal::blob {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kFilesPrefix{"files\0", 6};

// The smallest key above every key that starts with `prefix`, or none.
std::optional<Bytes> PrefixEnd(Bytes prefix) {
  while (!prefix.empty()) {
    if (prefix.back() != 0xff) {
      prefix.back()++;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::nullopt;
}

Result<uint64_t> GetUint(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_unsigned()) {
    if (it != j.end() && it->is_number_integer() && it->get<int64_t>() >= 0) {
      return static_cast<uint64_t>(it->get<int64_t>());
    }
    return Status::Malformed(std::string("a drive entry's blob lacks ") + name);
  }
  return it->get<uint64_t>();
}

}  // namespace

Bytes FileKey(std::string_view path) {
  Bytes key(kFilesPrefix.size() + path.size());
  std::memcpy(key.data(), kFilesPrefix.data(), kFilesPrefix.size());
  if (!path.empty()) std::memcpy(key.data() + kFilesPrefix.size(), path.data(), path.size());
  return key;
}

log::Manifest ContentManifest(const log::Manifest& db, const log::Key& db_key) {
  static const crypto::Hash kBlobs = crypto::Namespace("hyperdrive", 1)[0];
  log::Manifest m;
  m.version = db.version;
  m.allow_patch = db.allow_patch;
  m.quorum = db.quorum;
  for (const log::Signer& s : db.signers) {
    log::Signer c = s;
    c.ns = crypto::Blake2b256({kBlobs, db_key, s.ns});
    m.signers.push_back(c);
  }
  return m;
}

log::Key ContentKey(const log::Manifest& db, const log::Key& db_key) {
  return log::ManifestHash(ContentManifest(db, db_key));
}

std::string EncodeEntryValue(const FileEntry& e) {
  Json j;
  j["executable"] = e.executable;
  j["linkname"] = e.linkname ? Json(*e.linkname) : Json(nullptr);
  if (e.blob) {
    Json b;
    b["blockOffset"] = e.blob->block_offset;
    b["byteOffset"] = e.blob->byte_offset;
    b["blockLength"] = e.blob->block_length;
    b["byteLength"] = e.blob->byte_length;
    if (e.blob->block_map) b["blockMap"] = true;
    j["blob"] = std::move(b);
  } else {
    j["blob"] = nullptr;
  }
  j["metadata"] = Json::parse(e.metadata_json, nullptr, false);
  if (j["metadata"].is_discarded()) j["metadata"] = nullptr;
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<FileEntry> DecodeEntryValue(ByteView value) {
  Json j = Json::parse(value.begin(), value.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Malformed("a drive entry is not JSON");
  FileEntry e;
  if (auto it = j.find("executable"); it != j.end() && it->is_boolean()) e.executable = *it;
  if (auto it = j.find("linkname"); it != j.end() && it->is_string()) {
    e.linkname = it->get<std::string>();
  }
  if (auto it = j.find("blob"); it != j.end() && it->is_object()) {
    BlobId b;
    SHOAL_ASSIGN_OR_RETURN(b.block_offset, GetUint(*it, "blockOffset"));
    SHOAL_ASSIGN_OR_RETURN(b.byte_offset, GetUint(*it, "byteOffset"));
    SHOAL_ASSIGN_OR_RETURN(b.block_length, GetUint(*it, "blockLength"));
    SHOAL_ASSIGN_OR_RETURN(b.byte_length, GetUint(*it, "byteLength"));
    if (auto m = it->find("blockMap"); m != it->end() && m->is_boolean()) b.block_map = *m;
    e.blob = b;
  }
  if (auto it = j.find("metadata"); it != j.end()) {
    e.metadata_json = it->dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  return e;
}

Drive::Drive(std::shared_ptr<log::Log> db, std::shared_ptr<log::Log> blobs)
    : bee_(std::move(db), [] {
        kv::BeeOptions o;
        o.header_metadata = Bytes();  // Hyperdrive's header: metadata present, empty
        o.cache_bytes = 8 << 20;
        return o;
      }()),
      blobs_(std::move(blobs)) {}

namespace {

Result<FileEntry> FromBee(const kv::Entry& kve) {
  SHOAL_ASSIGN_OR_RETURN(FileEntry e, DecodeEntryValue(kve.value));
  e.path.assign(kve.key.begin() + kFilesPrefix.size(), kve.key.end());
  e.seq = kve.seq;
  return e;
}

}  // namespace

Result<std::optional<FileEntry>> Drive::Entry(std::string_view path,
                                              std::optional<uint64_t> version) {
  SHOAL_ASSIGN_OR_RETURN(auto kve, bee_.Get(FileKey(path), version));
  if (!kve) return std::optional<FileEntry>();
  SHOAL_ASSIGN_OR_RETURN(FileEntry e, FromBee(*kve));
  return std::optional<FileEntry>(std::move(e));
}

Status Drive::PutEntry(const FileEntry& entry, const kv::Cas& cas) {
  std::string value = EncodeEntryValue(entry);
  return bee_.Put(FileKey(entry.path), AsBytes(value), cas);
}

Status Drive::Del(std::string_view path) { return bee_.Del(FileKey(path)); }

Result<std::vector<FileEntry>> Drive::List(std::string_view prefix, std::string_view start_after,
                                           uint64_t limit) {
  kv::Range r;
  Bytes from = FileKey(prefix);
  r.gte = from;
  r.lt = PrefixEnd(from);
  if (!start_after.empty()) {
    Bytes after = FileKey(start_after);
    if (after >= from) {
      r.gte.reset();
      r.gt = after;
    }
  }
  r.limit = limit;
  SHOAL_ASSIGN_OR_RETURN(auto entries, bee_.List(r));
  std::vector<FileEntry> out;
  out.reserve(entries.size());
  for (const kv::Entry& kve : entries) {
    SHOAL_ASSIGN_OR_RETURN(FileEntry e, FromBee(kve));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace shoal::blob
