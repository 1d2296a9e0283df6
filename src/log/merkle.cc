#include "log/merkle.h"

#include <string>

#include "base/parallel.h"

namespace shoal::log {
namespace {

// Walks deeper than any real tree can be are refused (2^62 leaves).
constexpr uint64_t kMaxFactor = uint64_t{1} << 62;
constexpr int kMaxSteps = 1024;

Status MissingNode(uint64_t index) {
  return Status::NotFound("tree node " + std::to_string(index) + " is not stored");
}

Result<Node> Get(NodeReader& reader, uint64_t index) {
  auto node = reader.GetNode(index);
  if (!node.ok() && node.status().IsNotFound()) return MissingNode(index);
  return node;
}

uint64_t UnpaddedSize(const Node& node, uint64_t padding, uint64_t leaves) {
  return padding == 0 ? node.size : node.size - padding * leaves;
}

// ---- proof generation (merkle-tree.js: generateProof and helpers) ----

struct Pending {
  std::optional<std::vector<Node>> node, seek, upgrade, additional;
};

struct Indexed {
  bool value;          // a block (its value is sent, not its leaf)
  uint64_t index;      // flat index
  uint64_t nodes;
  uint64_t last_index; // last block covered
};

Status PushNode(NodeReader& reader, std::vector<Node>& out, uint64_t index) {
  SHOAL_ASSIGN_OR_RETURN(Node n, Get(reader, index));
  out.push_back(n);
  return Status::OK();
}

Status SeekProof(NodeReader& reader, uint64_t seek_root, uint64_t root, Pending& p) {
  flat::Iterator ite(seek_root);
  p.seek.emplace();
  SHOAL_RETURN_IF_ERROR(PushNode(reader, *p.seek, ite.index()));
  for (int cnt = 0; ite.index() != root; cnt++) {
    if (cnt >= kMaxSteps) return Status::InvalidArgument("bad seek proof");
    ite.Sibling();
    SHOAL_RETURN_IF_ERROR(PushNode(reader, *p.seek, ite.index()));
    ite.Parent();
  }
  return Status::OK();
}

Status BlockAndSeekProof(NodeReader& reader, const std::optional<Indexed>& node, bool seek,
                         uint64_t seek_root, uint64_t root, Pending& p) {
  if (!node) return SeekProof(reader, seek_root, root, p);
  flat::Iterator ite(node->index);
  p.node.emplace();
  if (!node->value) SHOAL_RETURN_IF_ERROR(PushNode(reader, *p.node, ite.index()));
  for (int cnt = 0; ite.index() != root; cnt++) {
    if (cnt >= kMaxSteps) return Status::InvalidArgument("bad block proof");
    ite.Sibling();
    if (seek && ite.Contains(seek_root) && ite.index() != seek_root) {
      SHOAL_RETURN_IF_ERROR(SeekProof(reader, seek_root, ite.index(), p));
    } else {
      SHOAL_RETURN_IF_ERROR(PushNode(reader, *p.node, ite.index()));
    }
    ite.Parent();
  }
  return Status::OK();
}

// Roots (or subtrees) of [from, to) the asker lacks. With `with_block`, the
// subtree that holds the requested block or seek is proved through it.
Status UpgradeProof(NodeReader& reader, const std::optional<Indexed>& node, bool seek,
                    uint64_t from, uint64_t to, uint64_t sub_tree, bool with_block,
                    std::optional<std::vector<Node>>& out, Pending& p) {
  if (from == 0) out.emplace();
  for (flat::Iterator ite(0); ite.FullRoot(to); ite.NextTree()) {
    if (ite.index() + ite.factor() / 2 < from) continue;

    if (!out && ite.Contains(from - 2)) {
      out.emplace();
      uint64_t root = ite.index();
      uint64_t target = from - 2;
      ite.Seek(target);
      for (int cnt = 0; ite.index() != root; cnt++) {
        if (cnt >= kMaxSteps) return Status::InvalidArgument("bad upgrade proof");
        ite.Sibling();
        if (ite.index() > target) {
          if (with_block && !p.node && !p.seek && ite.Contains(sub_tree)) {
            SHOAL_RETURN_IF_ERROR(BlockAndSeekProof(reader, node, seek, sub_tree, ite.index(), p));
          } else {
            SHOAL_RETURN_IF_ERROR(PushNode(reader, *out, ite.index()));
          }
        }
        ite.Parent();
      }
      continue;
    }

    if (!out) out.emplace();
    if (with_block && !p.node && !p.seek && ite.Contains(sub_tree)) {
      SHOAL_RETURN_IF_ERROR(BlockAndSeekProof(reader, node, seek, sub_tree, ite.index(), p));
      continue;
    }
    SHOAL_RETURN_IF_ERROR(PushNode(reader, *out, ite.index()));
  }
  return Status::OK();
}

Result<uint64_t> NodesToRoot(uint64_t index, uint64_t nodes, uint64_t head) {
  flat::Iterator ite(index);
  for (uint64_t i = 0; i < nodes; i++) {
    ite.Parent();
    if (ite.Contains(head) || ite.factor() >= kMaxFactor) {
      return Status::InvalidArgument("requested nodes are out of bounds");
    }
  }
  return ite.index();
}

Result<uint64_t> SeekTrustedTree(NodeReader& reader, uint64_t root, uint64_t bytes,
                                 uint64_t padding) {
  if (bytes == 0) return root;
  flat::Iterator ite(root);
  for (int cnt = 0; ite.index() & 1; cnt++) {
    if (cnt >= kMaxSteps) return Status::InvalidArgument("bad seek");
    auto left = reader.GetNode(ite.LeftChild());
    if (left.ok()) {
      uint64_t size = UnpaddedSize(*left, padding, ite.CountLeaves());
      if (size == bytes) return ite.index();
      if (size > bytes) continue;
      bytes -= size;
      ite.Sibling();
    } else if (left.status().IsNotFound()) {
      ite.Parent();
      return ite.index();
    } else {
      return left.status();
    }
  }
  return ite.index();
}

Result<uint64_t> SeekFromHead(NodeReader& reader, uint64_t head, uint64_t bytes,
                              uint64_t padding) {
  for (uint64_t root : flat::FullRoots(head)) {
    SHOAL_ASSIGN_OR_RETURN(Node node, Get(reader, root));
    uint64_t size = UnpaddedSize(node, padding, flat::CountLeaves(root));
    if (bytes == size) return root;
    if (bytes > size) {
      bytes -= size;
      continue;
    }
    return SeekTrustedTree(reader, root, bytes, padding);
  }
  return head;
}

Result<uint64_t> SeekUntrustedTree(const TreeState& state, NodeReader& reader, uint64_t root,
                                   uint64_t bytes, uint64_t padding) {
  SHOAL_ASSIGN_OR_RETURN(uint64_t offset, ByteOffset(state, reader, root));
  if (padding) offset -= padding * flat::LeftSpan(root) / 2;
  if (offset > bytes) return Status::InvalidArgument("invalid seek");
  if (offset == bytes) return root;
  bytes -= offset;
  SHOAL_ASSIGN_OR_RETURN(Node node, Get(reader, root));
  if (UnpaddedSize(node, padding, flat::CountLeaves(root)) <= bytes) {
    return Status::InvalidArgument("invalid seek");
  }
  return SeekTrustedTree(reader, root, bytes, padding);
}

// ---- proof verification (merkle-tree.js: verifyTree, verifyUpgrade) ----

// The nodes of one proof part, consumed in order; `extra` is a node proved by
// an earlier part that may stand in for one of them.
class NodeQueue {
 public:
  NodeQueue(const std::vector<Node>& nodes, std::optional<Node> extra = std::nullopt)
      : nodes_(nodes), extra_(std::move(extra)) {}

  size_t size() const { return nodes_.size() - i_ + (extra_ ? 1 : 0); }
  bool extra_used() const { return !extra_; }

  Result<Node> Shift(uint64_t index) {
    if (extra_ && extra_->index == index) {
      Node n = *extra_;
      extra_.reset();
      return n;
    }
    if (i_ >= nodes_.size()) {
      return Status::VerificationFailed("proof lacks node " + std::to_string(index));
    }
    const Node& n = nodes_[i_++];
    if (n.index != index) {
      return Status::VerificationFailed("proof has node " + std::to_string(n.index) +
                                        " where " + std::to_string(index) + " belongs");
    }
    return n;
  }

 private:
  const std::vector<Node>& nodes_;
  size_t i_ = 0;
  std::optional<Node> extra_;
};

// Hashes `root` up through the queue's siblings; records every node.
Result<Node> FoldUp(flat::Iterator& ite, Node root, NodeQueue& q, std::vector<Node>& nodes) {
  while (q.size() > 0) {
    if (ite.factor() >= kMaxFactor) return Status::Malformed("proof reaches past any tree");
    SHOAL_ASSIGN_OR_RETURN(Node sibling, q.Shift(ite.Sibling()));
    root = ParentNode(ite.Parent(), root, sibling);
    nodes.push_back(sibling);
    nodes.push_back(root);
  }
  return root;
}

Result<std::optional<Node>> VerifyTree(const Proof& proof, const std::optional<Node>& block_leaf,
                                       std::vector<Node>& nodes) {
  std::optional<Node> root;
  if (proof.seek && !proof.seek->nodes.empty()) {
    flat::Iterator ite(proof.seek->nodes[0].index);
    NodeQueue q(proof.seek->nodes);
    SHOAL_ASSIGN_OR_RETURN(Node first, q.Shift(ite.index()));
    nodes.push_back(first);
    SHOAL_ASSIGN_OR_RETURN(root, FoldUp(ite, first, q, nodes));
  }

  uint64_t index;
  const std::vector<Node>* untrusted_nodes;
  if (proof.block) {
    if (proof.block->index > enc::kMaxSafeInteger / 2) return Status::Malformed("block index");
    index = 2 * proof.block->index;
    untrusted_nodes = &proof.block->nodes;
  } else if (proof.hash) {
    index = proof.hash->index;
    untrusted_nodes = &proof.hash->nodes;
  } else {
    return root;
  }

  flat::Iterator ite(index);
  NodeQueue q(*untrusted_nodes, root);
  Node start;
  if (proof.block) {
    start = block_leaf ? *block_leaf : LeafNode(proof.block->index, proof.block->value);
  } else {
    SHOAL_ASSIGN_OR_RETURN(start, q.Shift(ite.index()));
  }
  nodes.push_back(start);
  SHOAL_ASSIGN_OR_RETURN(Node top, FoldUp(ite, start, q, nodes));
  return std::optional<Node>(top);
}

// Rebuilds the roots of the upgraded length into `batch`. Returns whether
// `block_root` (the top of the block/hash/seek part) was used as one of them.
Result<bool> VerifyUpgrade(const Proof& proof, const std::optional<Node>& block_root,
                           TreeBatch& batch) {
  const Proof::Upgrade& up = *proof.upgrade;
  NodeQueue q(up.nodes, block_root);
  std::vector<Node>& roots = batch.state().roots;
  bool grow = !roots.empty();
  size_t i = 0;
  if (up.start > enc::kMaxSafeInteger || up.length > enc::kMaxSafeInteger) {
    return Status::Malformed("upgrade range");
  }
  const uint64_t to = 2 * (up.start + up.length);
  flat::Iterator ite(0);
  for (; ite.FullRoot(to); ite.NextTree()) {
    if (i < roots.size() && roots[i].index == ite.index()) {
      i++;
      continue;
    }
    if (grow) {
      grow = false;
      uint64_t root = ite.index();
      if (i < roots.size()) {
        ite.Seek(roots.back().index);
        for (int cnt = 0; ite.index() != root; cnt++) {
          if (cnt >= kMaxSteps) return Status::VerificationFailed("upgrade does not connect");
          SHOAL_ASSIGN_OR_RETURN(Node n, q.Shift(ite.Sibling()));
          batch.AppendRoot(n, ite);
        }
        continue;
      }
    }
    SHOAL_ASSIGN_OR_RETURN(Node n, q.Shift(ite.index()));
    batch.AppendRoot(n, ite);
  }

  const std::vector<Node>& extra = up.additional_nodes;
  if (!extra.empty()) {
    if (roots.empty()) return Status::VerificationFailed("additional nodes without roots");
    ite.Seek(roots.back().index);
    size_t j = 0;
    while (j < extra.size() && extra[j].index == ite.Sibling()) batch.AppendRoot(extra[j++], ite);
    while (j < extra.size()) {
      const Node& n = extra[j++];
      while (n.index != ite.index()) {
        if (ite.factor() == 2) {
          return Status::VerificationFailed("unexpected node " + std::to_string(n.index));
        }
        ite.LeftChild();
      }
      batch.AppendRoot(n, ite);
      ite.Sibling();
    }
  }

  batch.state().signature = up.signature;
  batch.state().fork = proof.fork;
  return q.extra_used();
}

}  // namespace

std::vector<Node> HashLeaves(uint64_t first_index, std::span<const ByteView> blocks,
                             bool parallel) {
  std::vector<Node> leaves(blocks.size());
  std::vector<uint64_t> indexes(blocks.size());
  size_t bytes = 0;
  for (size_t k = 0; k < blocks.size(); k++) {
    indexes[k] = first_index + k;
    bytes += blocks[k].size();
  }
  // Worth a second thread from about 128 KiB of hashing (~30 µs in lanes).
  size_t min_parallel = parallel && bytes >= (128 << 10) ? 2 : SIZE_MAX;
  ParallelFor(blocks.size(), min_parallel, [&](size_t begin, size_t end) {
    LeafNodes(std::span(indexes).subspan(begin, end - begin), blocks.subspan(begin, end - begin),
              std::span(leaves).subspan(begin, end - begin));
  });
  return leaves;
}

void TreeBatch::Append(ByteView block) { AppendLeaf(LeafNode(state_.length, block)); }

void TreeBatch::AppendLeaf(const Node& leaf) {
  flat::Iterator ite(2 * state_.length);
  AppendRoot(leaf, ite);
}

void TreeBatch::AppendRoot(const Node& node, flat::Iterator& ite) {
  upgraded_ = true;
  state_.length += ite.factor() / 2;
  state_.byte_length += node.size;
  state_.roots.push_back(node);
  nodes_.push_back(node);
  auto& roots = state_.roots;
  while (roots.size() > 1) {
    const Node& a = roots[roots.size() - 1];
    const Node& b = roots[roots.size() - 2];
    if (ite.Sibling() != b.index) {
      ite.Sibling();  // step back: the newest root stays where it was
      break;
    }
    Node parent = ParentNode(ite.Parent(), a, b);
    nodes_.push_back(parent);
    roots.pop_back();
    roots.pop_back();
    roots.push_back(parent);
  }
}

Result<Proof> GenerateProof(const TreeState& state, NodeReader& reader,
                            const ProofRequest& req) {
  Proof proof;
  proof.fork = state.fork;
  const uint64_t head = 2 * state.length;
  if (head == 0) return proof;

  if (req.upgrade && (req.upgrade->start > enc::kMaxSafeInteger ||
                      req.upgrade->length > enc::kMaxSafeInteger)) {
    return Status::InvalidArgument("invalid upgrade");
  }
  const uint64_t from = req.upgrade ? 2 * req.upgrade->start : 0;
  const uint64_t to = req.upgrade ? from + 2 * req.upgrade->length : head;

  std::optional<Indexed> node;
  if (req.block) {
    if (req.block->index >= state.length) return Status::InvalidArgument("block out of range");
    node = Indexed{true, 2 * req.block->index, req.block->nodes, req.block->index};
  } else if (req.hash) {
    if (req.hash->index >= head) return Status::InvalidArgument("node out of range");
    node = Indexed{false, req.hash->index, req.hash->nodes, flat::RightSpan(req.hash->index) / 2};
  }

  if (from >= to || to > head) return Status::InvalidArgument("invalid upgrade");
  if (req.seek && req.upgrade && node && node->index >= from) {
    return Status::InvalidArgument("cannot both seek and prove a block while upgrading");
  }

  Pending p;
  uint64_t sub_tree = head;
  if (node && (!req.upgrade || node->last_index < req.upgrade->start)) {
    SHOAL_ASSIGN_OR_RETURN(sub_tree, NodesToRoot(node->index, node->nodes, to));
    uint64_t seek_root = head;
    if (req.seek) {
      SHOAL_ASSIGN_OR_RETURN(
          seek_root, SeekUntrustedTree(state, reader, sub_tree, req.seek->bytes, req.seek->padding));
    }
    SHOAL_RETURN_IF_ERROR(
        BlockAndSeekProof(reader, node, req.seek.has_value(), seek_root, sub_tree, p));
  } else if ((node || req.seek) && req.upgrade) {
    if (req.seek) {
      SHOAL_ASSIGN_OR_RETURN(sub_tree,
                             SeekFromHead(reader, to, req.seek->bytes, req.seek->padding));
    } else {
      sub_tree = node->index;
    }
  }

  if (req.upgrade) {
    SHOAL_RETURN_IF_ERROR(UpgradeProof(reader, node, req.seek.has_value(), from, to, sub_tree,
                                       true, p.upgrade, p));
    if (head > to) {
      SHOAL_RETURN_IF_ERROR(
          UpgradeProof(reader, node, false, to, head, sub_tree, false, p.additional, p));
    }
  }

  if (req.block) {
    if (!p.node) return Status::InvalidArgument("invalid block request");
    proof.block = Proof::Block{req.block->index, {}, std::move(*p.node)};
  } else if (req.hash) {
    if (!p.node) return Status::InvalidArgument("invalid hash request");
    proof.hash = Proof::HashNodes{req.hash->index, std::move(*p.node)};
  }
  if (req.seek && p.seek) proof.seek = Proof::Seek{req.seek->bytes, std::move(*p.seek)};
  if (req.upgrade) {
    Proof::Upgrade up;
    up.start = req.upgrade->start;
    up.length = req.upgrade->length;
    if (p.upgrade) up.nodes = std::move(*p.upgrade);
    if (p.additional) up.additional_nodes = std::move(*p.additional);
    up.signature = state.signature;
    proof.upgrade = std::move(up);
  }
  return proof;
}

Result<VerifiedProof> VerifyProof(const TreeState& current, NodeReader& reader,
                                  const Proof& proof, const Verifier& verifier,
                                  const std::optional<Node>& block_leaf) {
  // An empty log has no history to reorganise, so it may take a signed
  // upgrade of any fork.
  const bool fresh = current.length == 0 && proof.upgrade.has_value();
  if (proof.fork != current.fork && !fresh) {
    return Status::InvalidArgument("proof is for fork " + std::to_string(proof.fork) +
                                   ", the log is at fork " + std::to_string(current.fork));
  }
  TreeBatch batch(current);
  SHOAL_ASSIGN_OR_RETURN(std::optional<Node> unverified, VerifyTree(proof, block_leaf, batch.nodes()));

  if (proof.upgrade) {
    SHOAL_ASSIGN_OR_RETURN(bool used, VerifyUpgrade(proof, unverified, batch));
    if (used) unverified.reset();
  }

  if (unverified) {
    auto stored = reader.GetNode(unverified->index);
    if (!stored.ok()) {
      if (stored.status().IsNotFound()) {
        return Status::VerificationFailed("proof does not reach a node this log has");
      }
      return stored.status();
    }
    if (stored->hash != unverified->hash) {
      return Status::VerificationFailed("invalid checksum at node " +
                                        std::to_string(unverified->index));
    }
  }

  VerifiedProof out;
  if (batch.upgraded()) {
    const TreeState& s = batch.state();
    if (!verifier.Verify(s.TreeHash(), s.length, s.fork, s.signature)) {
      return Status::VerificationFailed("proof carries an invalid signature");
    }
    if (s.length <= current.length) {
      // An upgrade to a length the log already has must match its roots.
      for (const Node& r : s.roots) {
        auto stored = reader.GetNode(r.index);
        if (!stored.ok() || stored->hash != r.hash) {
          return Status::VerificationFailed("signed tree does not match the stored tree");
        }
      }
      out.state = current;
    } else {
      out.state = s;
      out.upgraded = true;
    }
  } else {
    out.state = current;
  }
  out.nodes = std::move(batch.nodes());
  return out;
}

Result<uint64_t> ByteOffset(const TreeState& state, NodeReader& reader, uint64_t index) {
  if (index == 2 * state.length) return state.byte_length;
  if (index & 1) index = flat::LeftSpan(index);
  uint64_t head = 0;
  uint64_t offset = 0;
  for (const Node& root : state.roots) {
    head += 2 * (root.index - head + 1);
    if (index >= head) {
      offset += root.size;
      continue;
    }
    flat::Iterator ite(root.index);
    for (int cnt = 0; ite.index() != index; cnt++) {
      if (cnt >= kMaxSteps) return Status::InvalidArgument("bad byte offset index");
      if (index < ite.index()) {
        ite.LeftChild();
      } else {
        SHOAL_ASSIGN_OR_RETURN(Node left, Get(reader, ite.LeftChild()));
        offset += left.size;
        ite.Sibling();
      }
    }
    return offset;
  }
  return Status::InvalidArgument("index " + std::to_string(index) + " is past the end of the log");
}

Result<std::pair<uint64_t, uint64_t>> SeekBytes(const TreeState& state, NodeReader& reader,
                                                uint64_t bytes, uint64_t padding) {
  for (const Node& root : state.roots) {
    uint64_t size = UnpaddedSize(root, padding, flat::CountLeaves(root.index));
    if (bytes >= size) {
      bytes -= size;
      continue;
    }
    flat::Iterator ite(root.index);
    while (ite.index() & 1) {
      SHOAL_ASSIGN_OR_RETURN(Node left, Get(reader, ite.LeftChild()));
      uint64_t left_size = UnpaddedSize(left, padding, ite.CountLeaves());
      if (bytes < left_size) continue;
      bytes -= left_size;
      ite.Sibling();
    }
    return std::make_pair(ite.index() / 2, bytes);
  }
  return Status::InvalidArgument("byte offset is past the end of the log");
}

}  // namespace shoal::log
