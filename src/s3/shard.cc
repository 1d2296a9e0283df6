// Shards: every object's route (bucket, key) falls in one of 32,768 shards,
// and each bucket keeps, per shard, a consistency hash of the objects in it,
// how many writes changed it and when the last one did. Every answer to a
// GET, HEAD or PUT of an object carries them, so a client that asks several
// replicas sees at once whether they agree (docs/formats/shards.md).
//
// The records live in the bucket's files bee next to the entries, under
// "shoal" 00 "shards/" + shard (2 bytes, big-endian): Hyperdrive only reads
// keys under "files" 00, and an entry and its shard record are written in one
// append, so they never disagree, even after a crash.
#include "base/encoding.h"
#include "crypto/hash.h"
#include "s3/internal.h"

namespace shoal::s3 {
namespace {

constexpr std::string_view kShardPrefix{"shoal\0shards/", 13};

Bytes ShardKey(uint16_t shard) {
  Bytes key(kShardPrefix.begin(), kShardPrefix.end());
  key.push_back(static_cast<uint8_t>(shard >> 8));
  key.push_back(static_cast<uint8_t>(shard));
  return key;
}

Bytes EncodeShard(const ShardState& s) {
  enc::Encoder e(48);
  e.Fixed(s.hash);
  e.Uint(s.writes);
  e.Uint(static_cast<uint64_t>(s.time_ms));
  return e.Take();
}

Result<ShardState> DecodeShard(ByteView v) {
  enc::Decoder d(v);
  ShardState s;
  s.hash = d.Fixed<32>();
  s.writes = d.Uint();
  s.time_ms = static_cast<int64_t>(d.Uint());
  if (!d.Finish().ok()) return Status::Corruption("a shard record is unreadable");
  return s;
}

void Xor(FixedBytes<32>& into, const FixedBytes<32>& h) {
  for (size_t i = 0; i < 32; i++) into[i] ^= h[i];
}

}  // namespace

uint16_t ShardOf(std::string_view bucket, std::string_view key) {
  enc::Encoder e;
  e.String(bucket);
  e.String(key);
  auto h = crypto::Blake2b256(e.bytes());
  return static_cast<uint16_t>(((h[0] << 8) | h[1]) & (kShards - 1));
}

FixedBytes<32> ShardEntryHash(std::string_view bucket, std::string_view key, std::string_view etag) {
  enc::Encoder e;
  e.String(bucket);
  e.String(key);
  e.String(etag);
  return crypto::Blake2b256(e.bytes());
}

Result<ShardState> Service::Impl::ReadShard(blob::Drive& drive, uint16_t shard) {
  SHOAL_ASSIGN_OR_RETURN(auto e, drive.bee().Get(ShardKey(shard)));
  if (!e) return ShardState{};
  return DecodeShard(e->value);
}

std::mutex& Service::Impl::LockIn(LockMap& locks, const std::string& bucket_id) {
  std::lock_guard lock(mu);
  auto& m = locks[bucket_id];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

Result<ShardState> Service::Impl::CommitEntry(const BucketInfo& b, blob::Drive& drive,
                                              const std::string& key,
                                              const std::optional<blob::FileEntry>& entry,
                                              bool only_if_absent, bool* refused) {
  std::lock_guard lock(WriteLock(b.id));
  const std::string path = "/" + key;
  SHOAL_ASSIGN_OR_RETURN(auto old, drive.Entry(path));
  if (refused) *refused = false;
  if (only_if_absent && old) {
    if (refused) *refused = true;
    return ShardState{};
  }
  if (!old && !entry) {
    // Deleting what is not there changes nothing, and writes nothing.
    return ReadShard(drive, ShardOf(b.name, key));
  }
  const uint16_t shard = ShardOf(b.name, key);
  SHOAL_ASSIGN_OR_RETURN(ShardState state, ReadShard(drive, shard));
  if (old) {
    std::string etag;
    if (auto m = DecodeObjectMeta(old->metadata_json); m.ok()) etag = m->etag;
    Xor(state.hash, ShardEntryHash(b.name, key, etag));
  }
  if (entry) {
    std::string etag;
    if (auto m = DecodeObjectMeta(entry->metadata_json); m.ok()) etag = m->etag;
    Xor(state.hash, ShardEntryHash(b.name, key, etag));
  }
  state.writes++;
  state.time_ms = NowMs();
  std::vector<kv::Op> ops;
  if (entry) {
    ops.push_back({blob::FileKey(path), ToBytes(blob::EncodeEntryValue(*entry))});
  } else {
    ops.push_back({blob::FileKey(path), std::nullopt});
  }
  ops.push_back({ShardKey(shard), EncodeShard(state)});
  SHOAL_RETURN_IF_ERROR(drive.bee().Apply(ops));
  return state;
}

void AddShardHeaders(http::Headers& h, uint16_t shard, const ShardState& s) {
  h.Add("x-shoal-shard", std::to_string(shard));
  h.Add("x-shoal-shard-hash", ToHex(s.hash));
  h.Add("x-shoal-shard-writes", std::to_string(s.writes));
  h.Add("x-shoal-shard-time", std::to_string(s.time_ms));
}

}  // namespace shoal::s3
