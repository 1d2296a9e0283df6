// BlockSet: which blocks of a log a remote peer has, as its range and
// bitfield messages describe them. A contiguous prefix [0, contiguous) plus
// sparse bits in pages of 32,768 blocks.
//
// Not thread-safe; each replication peer keeps one on its connection's strand.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>

namespace shoal::repl {

class BlockSet {
 public:
  bool Has(uint64_t index) const;
  // Sets or clears [start, end). Clearing below the contiguous prefix cuts it.
  void SetRange(uint64_t start, uint64_t end, bool value);
  // A bitfield message: the words overwrite [start, start + 32 * words.size()).
  // `start` must be a multiple of 32 (the message is ignored otherwise, as JS does).
  bool SetWords(uint64_t start, std::span<const uint32_t> words);
  // The first index >= start that is not in the set.
  uint64_t FirstMissing(uint64_t start) const;
  uint64_t contiguous() const { return contiguous_; }

 private:
  static constexpr uint64_t kPageBits = 32768;
  using Page = std::array<uint64_t, kPageBits / 64>;
  void SetBit(uint64_t index, bool value);
  bool GetBit(uint64_t index) const;
  // Moves contiguous_ forward over set bits.
  void Advance();

  uint64_t contiguous_ = 0;
  std::map<uint64_t, std::unique_ptr<Page>> pages_;  // bits at or above contiguous_ matter
};

}  // namespace shoal::repl
