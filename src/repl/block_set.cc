#include "repl/block_set.h"

#include <algorithm>

namespace shoal::repl {

bool BlockSet::GetBit(uint64_t index) const {
  auto it = pages_.find(index / kPageBits);
  if (it == pages_.end()) return false;
  uint64_t bit = index % kPageBits;
  return ((*it->second)[bit / 64] >> (bit % 64)) & 1;
}

void BlockSet::SetBit(uint64_t index, bool value) {
  uint64_t page = index / kPageBits;
  auto it = pages_.find(page);
  if (it == pages_.end()) {
    if (!value) return;
    it = pages_.emplace(page, std::make_unique<Page>()).first;
    it->second->fill(0);
  }
  uint64_t bit = index % kPageBits;
  uint64_t mask = uint64_t{1} << (bit % 64);
  if (value) {
    (*it->second)[bit / 64] |= mask;
  } else {
    (*it->second)[bit / 64] &= ~mask;
  }
}

bool BlockSet::Has(uint64_t index) const { return index < contiguous_ || GetBit(index); }

void BlockSet::Advance() {
  while (GetBit(contiguous_)) contiguous_++;
  // Pages wholly below the prefix say nothing more.
  while (!pages_.empty() && (pages_.begin()->first + 1) * kPageBits <= contiguous_) {
    pages_.erase(pages_.begin());
  }
}

void BlockSet::SetRange(uint64_t start, uint64_t end, bool value) {
  if (start >= end) return;
  if (value) {
    if (start <= contiguous_) {
      // Bits below the new prefix need not be kept.
      contiguous_ = std::max(contiguous_, end);
    } else {
      for (uint64_t i = start; i < end; i++) SetBit(i, true);
    }
    Advance();
    return;
  }
  if (start < contiguous_) {
    // Keep [start', contiguous_) outside the cut as bits.
    for (uint64_t i = end; i < contiguous_; i++) SetBit(i, true);
    contiguous_ = start;
  }
  // Clear what lies in pages, bounded by the pages that exist.
  for (auto it = pages_.lower_bound(start / kPageBits); it != pages_.end() && it->first * kPageBits < end; ++it) {
    uint64_t lo = std::max(start, it->first * kPageBits);
    uint64_t hi = std::min(end, (it->first + 1) * kPageBits);
    for (uint64_t i = lo; i < hi; i++) SetBit(i, false);
  }
}

bool BlockSet::SetWords(uint64_t start, std::span<const uint32_t> words) {
  if (start % 32 != 0) return false;
  // A bitfield is the truth for its region: the prefix stops where it starts.
  if (start < contiguous_) {
    uint64_t old = contiguous_;
    contiguous_ = start;
    for (uint64_t i = start + 32 * words.size(); i < old; i++) SetBit(i, true);
  }
  for (size_t w = 0; w < words.size(); w++) {
    for (int b = 0; b < 32; b++) SetBit(start + 32 * w + b, (words[w] >> b) & 1);
  }
  Advance();
  return true;
}

uint64_t BlockSet::FirstMissing(uint64_t start) const {
  uint64_t i = std::max(start, contiguous_);
  while (GetBit(i)) i++;
  return i;
}

}  // namespace shoal::repl
