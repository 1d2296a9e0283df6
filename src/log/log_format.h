// The keys and values a store of logs writes into the node's database.
// docs/formats/log.md describes every byte and why; keep the two in step.
//
// Store-wide keys:
//   [0x01]                      master seed (32 bytes)
//   [0x02]                      next log id (u64be)
//   [0x03, name...]             log id (u64be) of the local log `name`
//   [0x04, discovery key (32)]  log id (u64be)
// Per log, under [0x10, id (u64be)]:
//   [.., 0x00]                  meta: what the log is (key, manifest, name, ...)
//   [.., 0x01]                  head: fork, length, contiguous length, signature
//   [.., 0x02, index (u64be)]   block: crc32c (u32le) || stored block bytes  (replicas)
//   [.., 0x03, flat (u64be)]    tree node: uint size || hash (32)  (replicas)
//   [.., 0x04, page (u64be)]    bitfield page (4 KiB, 32768 blocks)
//   [.., 0x05, last (u64be)]    node run: every tree node whose rightmost block
//                               is in [first, last], written by one append
//                               (the writer's logs): uint first, uint count,
//                               count x (uint index, uint size, hash (32))
//   [.., 0x06, group (u64be)]   block locators of blocks [16 group, 16 group + 16)
//                               (the writer's logs, whose blocks live in the
//                               log's blocks file): uint offset of the first,
//                               then per block: uint size, crc32c (u32le)
//   [.., 0x07, index (u64be)]   replica block locator (replicas made with meta
//                               flag 32, whose downloaded blocks live in the
//                               log's blocks file in the order they arrived):
//                               uint offset, uint size, crc32c (u32le)
#pragma once

#include <cstdint>
#include <string_view>

#include "base/bytes.h"

namespace shoal::log::format {

constexpr uint8_t kSeed = 0x01;
constexpr uint8_t kNextId = 0x02;
constexpr uint8_t kByName = 0x03;
constexpr uint8_t kByDiscoveryKey = 0x04;
constexpr uint8_t kLog = 0x10;

constexpr uint8_t kMeta = 0x00;
constexpr uint8_t kHead = 0x01;
constexpr uint8_t kBlock = 0x02;
constexpr uint8_t kNode = 0x03;
constexpr uint8_t kBitfield = 0x04;
constexpr uint8_t kNodeRun = 0x05;
constexpr uint8_t kLocatorGroup = 0x06;
constexpr uint8_t kReplicaBlock = 0x07;
constexpr uint64_t kLocatorGroupBlocks = 16;

// Blocks covered by one node run at most: about 2,048 nodes, under 100 KB.
constexpr uint64_t kMaxRunBlocks = 1024;

constexpr uint64_t kMetaVersion = 1;
constexpr uint64_t kHeadVersion = 2;  // 1: without the signed length
// A writer's append rewrites the head once the stored head's length is this
// many blocks behind; node runs past the head extend it at open (log.md §3.2).
constexpr uint64_t kHeadIntervalBlocks = 256;

inline Bytes SeedKey() { return Bytes{kSeed}; }
inline Bytes NextIdKey() { return Bytes{kNextId}; }
inline Bytes NameKey(std::string_view name) {
  Bytes k{kByName};
  k.insert(k.end(), name.begin(), name.end());
  return k;
}
inline Bytes DiscoveryKeyKey(ByteView dkey) {
  Bytes k{kByDiscoveryKey};
  k.insert(k.end(), dkey.begin(), dkey.end());
  return k;
}

// [0x10, id, tag] and [0x10, id, tag, n]: fixed-size keys that sort by n.
inline Bytes LogKey(uint64_t id, uint8_t tag) {
  Bytes k(10);
  k[0] = kLog;
  PutU64BE(k.data() + 1, id);
  k[9] = tag;
  return k;
}
inline Bytes LogKey(uint64_t id, uint8_t tag, uint64_t n) {
  Bytes k(18);
  k[0] = kLog;
  PutU64BE(k.data() + 1, id);
  k[9] = tag;
  PutU64BE(k.data() + 10, n);
  return k;
}

}  // namespace shoal::log::format
