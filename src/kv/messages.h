// The three protobuf messages of Hyperbee v1 (hyperbee/lib/messages.js), by
// hand: protobuf is heavy for three messages (DESIGN.md).
//
//   Header    { 1: string protocol = "hyperbee"; 2: optional Metadata metadata }
//   Node      { 1: bytes index; 2: bytes key; 3: optional bytes value }
//   YoloIndex { repeated Level levels = 1 }
//   Level     { repeated uint64 keys = 1 [packed]; repeated uint64 children = 2 [packed] }
//
// Encoders write fields in field order, omit absent optionals and packed
// fields with no elements, exactly as the JS generated code does, so Shoal
// and JS write the same bytes. Decoders skip unknown fields.
#pragma once

#include <optional>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace shoal::kv {

struct Level {
  std::vector<uint64_t> keys;      // seqs of the blocks holding each key
  std::vector<uint64_t> children;  // flat (seq, level offset) pairs
  bool operator==(const Level&) const = default;
};

struct NodeBlock {
  std::vector<Level> index;  // decoded YoloIndex: levels[0] is the root
  Bytes key;
  std::optional<Bytes> value;  // none for a deletion
};

Bytes EncodeHeader(const std::optional<Bytes>& metadata = std::nullopt);
// Ok when `bytes` is a Hyperbee header.
Status DecodeHeader(ByteView bytes);

Bytes EncodeIndex(const std::vector<Level>& levels);
Result<std::vector<Level>> DecodeIndex(ByteView bytes);

Bytes EncodeNode(const NodeBlock& node);
Result<NodeBlock> DecodeNode(ByteView bytes);

}  // namespace shoal::kv
