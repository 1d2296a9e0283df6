// Flat-tree math: the in-order numbering of a binary tree laid over a list.
//
// Block i is leaf 2i; parents are odd. A node at depth d and offset o has
// index (2o + 1) * 2^d - 1. Mirrors the npm flat-tree package, which
// Hypercore's Merkle tree is written in terms of:
//
//          3
//      1       5
//    0   2   4   6   ...
//
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace shoal::log::flat {

// Number of trailing one bits of `index`: 0 for leaves.
inline uint64_t Depth(uint64_t index) { return static_cast<uint64_t>(__builtin_ctzll(~index)); }
inline uint64_t Index(uint64_t depth, uint64_t offset) {
  return ((2 * offset + 1) << depth) - 1;
}
inline uint64_t Offset(uint64_t index) { return ((index + 1) >> Depth(index)) >> 1; }
inline uint64_t Parent(uint64_t index) {
  uint64_t d = Depth(index);
  return Index(d + 1, Offset(index) >> 1);
}
inline uint64_t Sibling(uint64_t index) {
  uint64_t d = Depth(index);
  return Index(d, Offset(index) ^ 1);
}
// Requires: index is not a leaf.
inline uint64_t LeftChild(uint64_t index) {
  uint64_t d = Depth(index);
  return Index(d - 1, Offset(index) * 2);
}
inline uint64_t RightChild(uint64_t index) {
  uint64_t d = Depth(index);
  return Index(d - 1, Offset(index) * 2 + 1);
}
// Leftmost and rightmost leaf under `index`.
inline uint64_t LeftSpan(uint64_t index) {
  uint64_t d = Depth(index);
  return Offset(index) * (uint64_t{2} << d);
}
inline uint64_t RightSpan(uint64_t index) {
  uint64_t d = Depth(index);
  return (Offset(index) + 1) * (uint64_t{2} << d) - 2;
}
// Number of leaves (blocks) under `index`.
inline uint64_t CountLeaves(uint64_t index) { return uint64_t{1} << Depth(index); }

// The roots of the perfect subtrees that cover leaves [0, index/2), left to
// right. `index` must be even (2 * length). popcount(length) roots.
std::vector<uint64_t> FullRoots(uint64_t index);

// Walks the tree one step at a time, as flat-tree's iterator does. `factor` is
// 2^(depth+1): the span of the subtree under the current node, in indices.
class Iterator {
 public:
  explicit Iterator(uint64_t index = 0) { Seek(index); }

  void Seek(uint64_t index);
  uint64_t index() const { return index_; }
  uint64_t offset() const { return offset_; }
  uint64_t factor() const { return factor_; }

  bool IsLeft() const { return (offset_ & 1) == 0; }
  bool IsRight() const { return !IsLeft(); }
  // Whether `index` is inside the subtree rooted at the current node.
  bool Contains(uint64_t index) const;
  uint64_t CountLeaves() const { return factor_ / 2; }

  uint64_t Prev();
  uint64_t Next();
  uint64_t Sibling() { return IsLeft() ? Next() : Prev(); }
  uint64_t Parent();
  uint64_t LeftChild();
  uint64_t RightChild();
  uint64_t LeftSpan();
  uint64_t RightSpan();
  uint64_t PeekLeftSpan() const { return index_ - factor_ / 2 + 1; }
  uint64_t PeekRightSpan() const { return index_ + factor_ / 2 - 1; }
  // Moves to the first leaf after the current subtree.
  uint64_t NextTree();
  // Grows the current leaf (must be even) into the largest perfect subtree
  // that ends before `index`. False if there is none.
  bool FullRoot(uint64_t index);

 private:
  uint64_t index_ = 0;
  uint64_t offset_ = 0;
  uint64_t factor_ = 2;
};

}  // namespace shoal::log::flat
