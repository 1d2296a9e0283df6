// ClockCache: values by seq, within a byte budget. The Bee keeps two: the
// decoded blocks (BlockCache), and the keys alone (KeyCache), which every key
// comparison reads and which are small enough to keep many more of.
//
// A Bee looks blocks up many times per operation (every key comparison reads
// the key of another block), so a lookup must cost one probe of a flat table
// and no pointer chasing. The table is open-addressed with linear probing on
// the seq; eviction is CLOCK (second chance): a hit sets the entry's
// referenced bit, and the hand sweeping the entries clears it once before it
// evicts. That approximates LRU without relinking a list on every hit.
//
// Not thread-safe: the Bee calls it under its own mutex.
#ifndef SHOAL_KV_BLOCK_CACHE_H_
#define SHOAL_KV_BLOCK_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kv/messages.h"

namespace shoal::kv {

// What a cached value is charged: its bytes and the bookkeeping around them.
size_t Footprint(const NodeBlock& b);
size_t Footprint(const Bytes& key);

template <typename T>
class ClockCache {
 public:
  explicit ClockCache(size_t limit_bytes) : limit_(limit_bytes) {}

  // The value at `seq`, or null. The pointer stays valid until the next
  // Insert or Clear; take Shared() to keep it longer.
  const T* Find(uint64_t seq) {
    Entry* e = EntryOf(seq);
    if (!e) return nullptr;
    e->referenced = true;
    return e->value.get();
  }
  std::shared_ptr<const T> Shared(uint64_t seq) {
    Entry* e = EntryOf(seq);
    if (!e) return nullptr;
    e->referenced = true;
    return e->value;
  }

  // Adds `value` (seq must not be 0; a seq already cached is left alone),
  // evicting others while the total is over the budget. A value bigger than
  // the budget alone is still kept until the next insert.
  void Insert(uint64_t seq, std::shared_ptr<const T> value) {
    if (table_.size() < 2 * (size() + 1)) Grow();
    size_t slot = SlotOf(seq);
    if (table_[slot].entry != kEmpty) return;
    uint32_t index;
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else {
      index = static_cast<uint32_t>(entries_.size());
      entries_.emplace_back();
    }
    Entry& e = entries_[index];
    e.seq = seq;
    e.referenced = false;
    e.bytes = Footprint(*value) + sizeof(Entry) + 2 * sizeof(Slot);
    e.value = std::move(value);
    table_[slot] = Slot{seq, index};
    bytes_ += e.bytes;
    while (bytes_ > limit_ && size() > 1) EvictOne(index);
  }

  void Clear() {
    table_.clear();
    entries_.clear();
    free_.clear();
    bytes_ = 0;
    hand_ = 0;
  }

  size_t bytes() const { return bytes_; }
  size_t size() const { return entries_.size() - free_.size(); }

 private:
  struct Entry {
    uint64_t seq = 0;  // 0: free
    bool referenced = false;
    size_t bytes = 0;
    std::shared_ptr<const T> value;
  };
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    uint64_t seq = 0;
    uint32_t entry = kEmpty;
  };

  // Fibonacci hashing: consecutive seqs, the common case, spread out.
  static size_t Hash(uint64_t seq) {
    return static_cast<size_t>((seq * 0x9E3779B97F4A7C15ull) >> 20);
  }

  // The slot holding `seq`, or the empty slot where it would go.
  size_t SlotOf(uint64_t seq) const {
    const size_t mask = table_.size() - 1;
    size_t i = Hash(seq) & mask;
    while (table_[i].entry != kEmpty && table_[i].seq != seq) i = (i + 1) & mask;
    return i;
  }

  Entry* EntryOf(uint64_t seq) {
    if (table_.empty()) return nullptr;
    const Slot& s = table_[SlotOf(seq)];
    return s.entry == kEmpty ? nullptr : &entries_[s.entry];
  }

  void Grow() {
    std::vector<Slot> old = std::move(table_);
    table_.assign(old.empty() ? 64 : 2 * old.size(), Slot{});
    for (const Slot& s : old) {
      if (s.entry != kEmpty) table_[SlotOf(s.seq)] = s;
    }
  }

  // size() > 1 guarantees an entry other than `keep`; it goes within two
  // sweeps (the first may only clear its referenced bit).
  void EvictOne(uint32_t keep) {
    for (;;) {
      if (hand_ >= entries_.size()) hand_ = 0;
      Entry& e = entries_[hand_];
      if (e.seq == 0 || hand_ == keep) {
        hand_++;
        continue;
      }
      if (e.referenced) {
        e.referenced = false;
        hand_++;
        continue;
      }
      EraseSlot(SlotOf(e.seq));
      bytes_ -= e.bytes;
      e = Entry{};
      free_.push_back(static_cast<uint32_t>(hand_));
      hand_++;
      return;
    }
  }

  // Backward-shift deletion: later entries of the probe run move up so that
  // every entry stays reachable from its home slot without tombstones.
  void EraseSlot(size_t i) {
    const size_t mask = table_.size() - 1;
    size_t j = i;
    for (;;) {
      table_[i] = Slot{};
      for (;;) {
        j = (j + 1) & mask;
        if (table_[j].entry == kEmpty) return;
        size_t home = Hash(table_[j].seq) & mask;
        // Entry j may fill the hole at i unless its home lies in (i, j].
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) break;
      }
      table_[i] = table_[j];
      i = j;
    }
  }

  size_t limit_;
  size_t bytes_ = 0;
  std::vector<Slot> table_;  // power-of-two size, at most half full
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;  // indices of free entries
  size_t hand_ = 0;
};

using BlockCache = ClockCache<NodeBlock>;
using KeyCache = ClockCache<Bytes>;

}  // namespace shoal::kv

#endif  // SHOAL_KV_BLOCK_CACHE_H_
