#include "log/flat_tree.h"

namespace shoal::log::flat {

std::vector<uint64_t> FullRoots(uint64_t index) {
  std::vector<uint64_t> roots;
  uint64_t remaining = index / 2;
  uint64_t offset = 0;
  while (remaining > 0) {
    uint64_t factor = uint64_t{1} << (63 - __builtin_clzll(remaining));
    roots.push_back(offset + factor - 1);
    offset += 2 * factor;
    remaining -= factor;
  }
  return roots;
}

void Iterator::Seek(uint64_t index) {
  index_ = index;
  if (index & 1) {
    offset_ = flat::Offset(index);
    factor_ = uint64_t{2} << Depth(index);
  } else {
    offset_ = index / 2;
    factor_ = 2;
  }
}

bool Iterator::Contains(uint64_t index) const {
  if (index > index_) return index < index_ + factor_ / 2;
  if (index < index_) return index + factor_ / 2 > index_;
  return true;
}

uint64_t Iterator::Prev() {
  if (offset_ == 0) return index_;
  offset_--;
  index_ -= factor_;
  return index_;
}

uint64_t Iterator::Next() {
  offset_++;
  index_ += factor_;
  return index_;
}

uint64_t Iterator::Parent() {
  if (offset_ & 1) {
    index_ -= factor_ / 2;
    offset_ = (offset_ - 1) / 2;
  } else {
    index_ += factor_ / 2;
    offset_ /= 2;
  }
  factor_ *= 2;
  return index_;
}

uint64_t Iterator::LeftChild() {
  if (factor_ == 2) return index_;
  factor_ /= 2;
  index_ -= factor_ / 2;
  offset_ *= 2;
  return index_;
}

uint64_t Iterator::RightChild() {
  if (factor_ == 2) return index_;
  factor_ /= 2;
  index_ += factor_ / 2;
  offset_ = 2 * offset_ + 1;
  return index_;
}

uint64_t Iterator::LeftSpan() {
  index_ = index_ - factor_ / 2 + 1;
  offset_ = index_ / 2;
  factor_ = 2;
  return index_;
}

uint64_t Iterator::RightSpan() {
  index_ = index_ + factor_ / 2 - 1;
  offset_ = index_ / 2;
  factor_ = 2;
  return index_;
}

uint64_t Iterator::NextTree() {
  index_ = index_ + factor_ / 2 + 1;
  offset_ = index_ / 2;
  factor_ = 2;
  return index_;
}

bool Iterator::FullRoot(uint64_t index) {
  if (index <= index_ || (index_ & 1) != 0) return false;
  while (index > index_ + factor_ + factor_ / 2) {
    index_ += factor_ / 2;
    factor_ *= 2;
    offset_ /= 2;
  }
  return true;
}

}  // namespace shoal::log::flat
