// The Merkle tree over a log's blocks: tree states, batches that grow them,
// and proofs made and checked the way hypercore/lib/merkle-tree.js does, so
// that a proof made here verifies in JS and the other way round.
//
// Invariants of a TreeState with length n:
//  1. roots are the nodes at flat::FullRoots(2n), left to right;
//  2. byte_length is the sum of the roots' sizes;
//  3. signature (if not empty) signs (TreeHash(roots), n, fork) under the
//     log's Verifier.
//
// Nodes come from a NodeReader, which the log backs with its storage. Nothing
// here writes: callers store TreeBatch::nodes() themselves.
//
// Thread safety: none; callers serialise access to one tree.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "base/result.h"
#include "log/caps.h"
#include "log/flat_tree.h"
#include "log/manifest.h"
#include "log/proof.h"

namespace shoal::log {

class NodeReader {
 public:
  virtual ~NodeReader() = default;
  // NotFound when the node is not stored.
  virtual Result<Node> GetNode(uint64_t index) = 0;
};

struct TreeState {
  uint64_t fork = 0;
  uint64_t length = 0;
  uint64_t byte_length = 0;
  std::vector<Node> roots;
  Bytes signature;

  Hash TreeHash() const { return log::TreeHash(roots); }
};

// A tree state being grown by appends or by a verified upgrade. nodes()
// lists every node the batch created or proved, for the caller to store.
class TreeBatch {
 public:
  explicit TreeBatch(const TreeState& base) : state_(base) {}

  // Appends one block: hashes it and folds completed subtrees into parents.
  void Append(ByteView block);
  // Appends a leaf already hashed (LeafNode(length, block)).
  void AppendLeaf(const Node& leaf);
  // Adds `node` as the newest root at the iterator's position and merges.
  void AppendRoot(const Node& node, flat::Iterator& ite);

  TreeState& state() { return state_; }
  const TreeState& state() const { return state_; }
  std::vector<Node>& nodes() { return nodes_; }
  bool upgraded() const { return upgraded_; }

 private:
  TreeState state_;
  std::vector<Node> nodes_;
  bool upgraded_ = false;
};

// Leaf nodes of blocks first_index, first_index + 1, ...; with `parallel`,
// large batches are hashed on two threads.
std::vector<Node> HashLeaves(uint64_t first_index, std::span<const ByteView> blocks,
                             bool parallel = true);

// Builds the proof for `request` from `state`. The block value is left empty
// for the caller to fill. An empty tree answers with an empty proof.
Result<Proof> GenerateProof(const TreeState& state, NodeReader& reader,
                            const ProofRequest& request);

struct VerifiedProof {
  TreeState state;           // the tree once the proof is applied
  bool upgraded = false;     // state differs from the current one
  std::vector<Node> nodes;   // nodes the proof proved (to store)
};

// Checks `proof` against the current tree of a log: every hash must chain up
// to a stored node or to roots signed by `verifier`. Fails with
// VerificationFailed on any mismatch, Malformed on a proof that cannot be
// walked, InvalidArgument for a proof of another fork. `block_leaf`, when
// given, must be LeafNode(proof.block->index, proof.block->value): a caller
// hashes the block before it takes the lock that guards `current`.
Result<VerifiedProof> VerifyProof(const TreeState& current, NodeReader& reader,
                                  const Proof& proof, const Verifier& verifier,
                                  const std::optional<Node>& block_leaf = std::nullopt);

// Byte offset of flat-tree node `index` (a block is 2 * block index).
Result<uint64_t> ByteOffset(const TreeState& state, NodeReader& reader, uint64_t index);

// The block holding byte `bytes` and the offset inside it. `bytes` must be
// below byte_length.
Result<std::pair<uint64_t, uint64_t>> SeekBytes(const TreeState& state, NodeReader& reader,
                                                uint64_t bytes, uint64_t padding = 0);

}  // namespace shoal::log
