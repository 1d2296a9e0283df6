// The hashes and byte strings that make Hypercore's trust work: Merkle node
// hashes, the root-of-roots tree hash, the signable, discovery keys and
// replication capabilities (HYPERCORE.md §2a; hypercore-crypto, lib/caps.js).
//
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/bytes.h"
#include "crypto/hash.h"

namespace shoal::log {

using crypto::Hash;
using Key = FixedBytes<32>;

// A Merkle tree node: flat index, bytes of the blocks under it, hash.
struct Node {
  uint64_t index = 0;
  uint64_t size = 0;
  Hash hash{};

  bool operator==(const Node&) const = default;
};

// The six namespace constants of hypercore/lib/caps.js.
struct Caps {
  Hash tree;
  Hash replicate_initiator;
  Hash replicate_responder;
  Hash manifest;
  Hash default_namespace;
  Hash default_encryption;
};
const Caps& GetCaps();

// H(0x00 || u64le(len) || block): the leaf for block `block_index`.
Node LeafNode(uint64_t block_index, ByteView block);
// out[k] = LeafNode(indexes[k], blocks[k]), the blocks hashed together (eight
// at a time where the CPU can: crypto::Blake2b256Many). Sizes must match.
void LeafNodes(std::span<const uint64_t> indexes, std::span<const ByteView> blocks,
               std::span<Node> out);
// H(0x01 || u64le(a.size + b.size) || left.hash || right.hash), where left is
// the node with the lower index.
Node ParentNode(uint64_t index, const Node& a, const Node& b);
// H(0x02 || for each root: hash || u64le(index) || u64le(size)).
Hash TreeHash(const std::vector<Node>& roots);

// The 112 bytes a writer signs: TREE || ctx || tree_hash || u64(length) || u64(fork).
FixedBytes<112> TreeSignable(const Hash& ctx, const Hash& tree_hash, uint64_t length,
                             uint64_t fork);
// Compat mode's 80 bytes (TREE || tree_hash || length || fork).
FixedBytes<80> TreeSignableCompat(const Hash& tree_hash, uint64_t length, uint64_t fork);

// H_key("hypercore"): the public topic of a log; the key itself is never sent.
Hash DiscoveryKey(const Key& key);

// Proof that a peer knows `key`, bound to one Noise session.
Hash ReplicateCapability(bool is_initiator, const Key& key, ByteView handshake_hash);

}  // namespace shoal::log
