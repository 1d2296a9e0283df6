// BlockCache: decoded hyperbee blocks by seq, within a byte budget.
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

class BlockCache {
 public:
  explicit BlockCache(size_t limit_bytes) : limit_(limit_bytes) {}

  // The block at `seq`, or null. The pointer stays valid until the next
  // Insert or Clear; take Shared() to keep it longer.
  const NodeBlock* Find(uint64_t seq);
  std::shared_ptr<const NodeBlock> Shared(uint64_t seq);

  // Adds `block` (seq must not be 0 and must not be cached yet), evicting
  // others while the total is over the budget. A block bigger than the budget
  // alone is still kept until the next insert.
  void Insert(uint64_t seq, std::shared_ptr<const NodeBlock> block);
  void Clear();

  size_t bytes() const { return bytes_; }
  size_t size() const { return entries_.size() - free_.size(); }

  // What a cached block is charged: its bytes and the bookkeeping around them.
  static size_t Footprint(const NodeBlock& b);

 private:
  struct Entry {
    uint64_t seq = 0;  // 0: free
    bool referenced = false;
    size_t bytes = 0;
    std::shared_ptr<const NodeBlock> block;
  };
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    uint64_t seq = 0;
    uint32_t entry = kEmpty;
  };

  size_t SlotOf(uint64_t seq) const;  // the slot holding seq, or an empty one
  void Grow();
  void EvictOne(uint32_t keep);
  void EraseSlot(size_t slot);

  size_t limit_;
  size_t bytes_ = 0;
  std::vector<Slot> table_;  // power-of-two size, at most half full
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;  // indices of free entries
  size_t hand_ = 0;
};

}  // namespace shoal::kv

#endif  // SHOAL_KV_BLOCK_CACHE_H_
