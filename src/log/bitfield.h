// Which blocks of a log this node holds: one bit per block, in pages of
// 32,768 bits (4 KiB) that exist only where some bit is set.
//
// The log persists pages itself (log_format.h); Bitfield tracks which pages
// changed since the last TakeDirty().
//
// Thread safety: none; the owning Log serialises access.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <set>

#include "base/bytes.h"

namespace shoal::log {

class Bitfield {
 public:
  static constexpr uint64_t kBitsPerPage = 32768;
  static constexpr size_t kPageBytes = kBitsPerPage / 8;

  bool Get(uint64_t index) const;
  // Sets or clears every bit in [start, end).
  void SetRange(uint64_t start, uint64_t end, bool value);
  // Clears every bit at or above `length`.
  void Truncate(uint64_t length);
  // The first index >= start whose bit is `value`.
  uint64_t FindFirst(bool value, uint64_t start) const;
  // The number of set bits in [start, end).
  uint64_t Count(uint64_t start, uint64_t end) const;

  // Loads one page's bytes (kPageBytes, or fewer: the rest is zero).
  void LoadPage(uint64_t page, ByteView bytes);
  // The page's bytes; empty if the page is all zero.
  Bytes PageBytes(uint64_t page) const;
  // Pages changed since the last call, and forgets them.
  std::set<uint64_t> TakeDirty();
  void MarkDirty(uint64_t first_page, uint64_t end_page);

 private:
  using Page = std::array<uint64_t, kBitsPerPage / 64>;
  Page* MutablePage(uint64_t page);

  std::map<uint64_t, std::unique_ptr<Page>> pages_;
  std::set<uint64_t> dirty_;
};

}  // namespace shoal::log
