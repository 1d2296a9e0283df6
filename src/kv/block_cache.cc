#include "kv/block_cache.h"

namespace shoal::kv {
namespace {

// Fibonacci hashing: consecutive seqs, the common case, spread over the table.
size_t Hash(uint64_t seq) { return static_cast<size_t>((seq * 0x9E3779B97F4A7C15ull) >> 20); }

}  // namespace

size_t BlockCache::Footprint(const NodeBlock& b) {
  size_t n = sizeof(NodeBlock) + sizeof(Entry) + 2 * sizeof(Slot) + 64 + b.key.size() +
             (b.value ? b.value->size() : 0);
  for (const Level& l : b.index) n += sizeof(Level) + 8 * (l.keys.size() + l.children.size());
  return n;
}

size_t BlockCache::SlotOf(uint64_t seq) const {
  const size_t mask = table_.size() - 1;
  size_t i = Hash(seq) & mask;
  while (table_[i].entry != kEmpty && table_[i].seq != seq) i = (i + 1) & mask;
  return i;
}

const NodeBlock* BlockCache::Find(uint64_t seq) {
  if (table_.empty()) return nullptr;
  const Slot& s = table_[SlotOf(seq)];
  if (s.entry == kEmpty) return nullptr;
  Entry& e = entries_[s.entry];
  e.referenced = true;
  return e.block.get();
}

std::shared_ptr<const NodeBlock> BlockCache::Shared(uint64_t seq) {
  if (table_.empty()) return nullptr;
  const Slot& s = table_[SlotOf(seq)];
  if (s.entry == kEmpty) return nullptr;
  Entry& e = entries_[s.entry];
  e.referenced = true;
  return e.block;
}

void BlockCache::Insert(uint64_t seq, std::shared_ptr<const NodeBlock> block) {
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
  e.bytes = Footprint(*block);
  e.block = std::move(block);
  table_[slot] = Slot{seq, index};
  bytes_ += e.bytes;
  while (bytes_ > limit_ && size() > 1) EvictOne(index);
}

void BlockCache::Clear() {
  table_.clear();
  entries_.clear();
  free_.clear();
  bytes_ = 0;
  hand_ = 0;
}

void BlockCache::Grow() {
  std::vector<Slot> old = std::move(table_);
  table_.assign(old.empty() ? 64 : 2 * old.size(), Slot{});
  for (const Slot& s : old) {
    if (s.entry != kEmpty) table_[SlotOf(s.seq)] = s;
  }
}

void BlockCache::EvictOne(uint32_t keep) {
  // size() > 1 guarantees an entry other than `keep`; it goes within two
  // sweeps (the first may only clear its referenced bit).
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
void BlockCache::EraseSlot(size_t i) {
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

}  // namespace shoal::kv
