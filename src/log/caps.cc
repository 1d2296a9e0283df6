#include "log/caps.h"

#include <array>

#include "base/check.h"
#include "crypto/hash.h"

namespace shoal::log {

const Caps& GetCaps() {
  static const Caps caps = [] {
    auto ns = crypto::Namespace("hypercore", 6);
    return Caps{ns[0], ns[1], ns[2], ns[3], ns[4], ns[5]};
  }();
  return caps;
}

Node LeafNode(uint64_t block_index, ByteView block) {
  uint8_t prefix[9];
  prefix[0] = 0;
  PutU64LE(prefix + 1, block.size());
  return Node{2 * block_index, block.size(), crypto::Blake2b256({ByteView(prefix, 9), block})};
}

void LeafNodes(std::span<const uint64_t> indexes, std::span<const ByteView> blocks,
               std::span<Node> out) {
  SHOAL_CHECK(indexes.size() == blocks.size() && out.size() == blocks.size());
  std::vector<std::array<uint8_t, 9>> prefixes(blocks.size());
  std::vector<crypto::Blake2bInput> inputs(blocks.size());
  for (size_t k = 0; k < blocks.size(); k++) {
    prefixes[k][0] = 0;
    PutU64LE(prefixes[k].data() + 1, blocks[k].size());
    inputs[k] = {ByteView(prefixes[k].data(), 9), blocks[k]};
  }
  std::vector<crypto::Hash> hashes(blocks.size());
  crypto::Blake2b256Many(inputs, hashes);
  for (size_t k = 0; k < blocks.size(); k++) {
    out[k] = Node{2 * indexes[k], blocks[k].size(), hashes[k]};
  }
}

Node ParentNode(uint64_t index, const Node& a, const Node& b) {
  const Node& left = a.index < b.index ? a : b;
  const Node& right = a.index < b.index ? b : a;
  uint8_t prefix[9];
  prefix[0] = 1;
  PutU64LE(prefix + 1, a.size + b.size);
  return Node{index, a.size + b.size,
              crypto::Blake2b256({ByteView(prefix, 9), left.hash, right.hash})};
}

Hash TreeHash(const std::vector<Node>& roots) {
  crypto::Blake2b h;
  const uint8_t type = 2;
  h.Update(ByteView(&type, 1));
  for (const Node& r : roots) {
    uint8_t nums[16];
    PutU64LE(nums, r.index);
    PutU64LE(nums + 8, r.size);
    h.Update(r.hash).Update(ByteView(nums, 16));
  }
  return h.Final();
}

FixedBytes<112> TreeSignable(const Hash& ctx, const Hash& tree_hash, uint64_t length,
                             uint64_t fork) {
  FixedBytes<112> out;
  std::memcpy(out.data(), GetCaps().tree.data(), 32);
  std::memcpy(out.data() + 32, ctx.data(), 32);
  std::memcpy(out.data() + 64, tree_hash.data(), 32);
  PutU64LE(out.data() + 96, length);
  PutU64LE(out.data() + 104, fork);
  return out;
}

FixedBytes<80> TreeSignableCompat(const Hash& tree_hash, uint64_t length, uint64_t fork) {
  FixedBytes<80> out;
  std::memcpy(out.data(), GetCaps().tree.data(), 32);
  std::memcpy(out.data() + 32, tree_hash.data(), 32);
  PutU64LE(out.data() + 64, length);
  PutU64LE(out.data() + 72, fork);
  return out;
}

Hash DiscoveryKey(const Key& key) {
  return crypto::Blake2b256Keyed(key, {AsBytes("hypercore")});
}

Hash ReplicateCapability(bool is_initiator, const Key& key, ByteView handshake_hash) {
  const Caps& caps = GetCaps();
  return crypto::Blake2b256Keyed(
      handshake_hash, {is_initiator ? caps.replicate_initiator : caps.replicate_responder, key});
}

}  // namespace shoal::log
