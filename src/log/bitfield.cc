#include "log/bitfield.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace shoal::log {

bool Bitfield::Get(uint64_t index) const {
  auto it = pages_.find(index / kBitsPerPage);
  if (it == pages_.end()) return false;
  uint64_t bit = index % kBitsPerPage;
  return ((*it->second)[bit / 64] >> (bit % 64)) & 1;
}

Bitfield::Page* Bitfield::MutablePage(uint64_t page) {
  auto& slot = pages_[page];
  if (!slot) slot = std::make_unique<Page>(Page{});
  return slot.get();
}

void Bitfield::SetRange(uint64_t start, uint64_t end, bool value) {
  while (start < end) {
    uint64_t page = start / kBitsPerPage;
    uint64_t page_end = std::min(end, (page + 1) * kBitsPerPage);
    dirty_.insert(page);
    if (!value && pages_.find(page) == pages_.end()) {
      start = page_end;
      continue;
    }
    Page* p = MutablePage(page);
    for (uint64_t i = start; i < page_end;) {
      uint64_t bit = i % kBitsPerPage;
      uint64_t word = bit / 64;
      uint64_t lo = bit % 64;
      uint64_t n = std::min<uint64_t>(64 - lo, page_end - i);
      uint64_t mask = (n == 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1)) << lo;
      if (value) {
        (*p)[word] |= mask;
      } else {
        (*p)[word] &= ~mask;
      }
      i += n;
    }
    if (!value && std::all_of(p->begin(), p->end(), [](uint64_t w) { return w == 0; })) {
      pages_.erase(page);
    }
    start = page_end;
  }
}

void Bitfield::Truncate(uint64_t length) {
  if (pages_.empty()) return;
  uint64_t end = (pages_.rbegin()->first + 1) * kBitsPerPage;
  if (length < end) SetRange(length, end, false);
}

uint64_t Bitfield::FindFirst(bool value, uint64_t start) const {
  uint64_t i = start;
  while (true) {
    uint64_t page = i / kBitsPerPage;
    auto it = pages_.lower_bound(page);
    if (value) {
      if (it == pages_.end()) return UINT64_MAX;
      if (it->first > page) i = it->first * kBitsPerPage;
    } else if (it == pages_.end() || it->first > page) {
      return i;  // a missing page is all zero
    }
    const Page& p = *it->second;
    uint64_t bit = i % kBitsPerPage;
    for (uint64_t w = bit / 64; w < p.size(); w++) {
      uint64_t word = value ? p[w] : ~p[w];
      if (w == bit / 64) word &= ~uint64_t{0} << (bit % 64);
      if (word) return it->first * kBitsPerPage + w * 64 + __builtin_ctzll(word);
    }
    i = (it->first + 1) * kBitsPerPage;
  }
}

uint64_t Bitfield::Count(uint64_t start, uint64_t end) const {
  uint64_t n = 0;
  for (auto it = pages_.lower_bound(start / kBitsPerPage);
       it != pages_.end() && it->first * kBitsPerPage < end; ++it) {
    uint64_t base = it->first * kBitsPerPage;
    for (uint64_t w = 0; w < it->second->size(); w++) {
      uint64_t word = (*it->second)[w];
      if (!word) continue;
      uint64_t lo = base + w * 64;
      if (lo >= start && lo + 64 <= end) {
        n += __builtin_popcountll(word);
        continue;
      }
      for (int b = 0; b < 64; b++) {
        uint64_t idx = lo + b;
        if (idx >= start && idx < end && ((word >> b) & 1)) n++;
      }
    }
  }
  return n;
}

void Bitfield::LoadPage(uint64_t page, ByteView bytes) {
  Page* p = MutablePage(page);
  std::memset(p->data(), 0, kPageBytes);
  if (!bytes.empty()) std::memcpy(p->data(), bytes.data(), std::min(bytes.size(), kPageBytes));
}

Bytes Bitfield::PageBytes(uint64_t page) const {
  auto it = pages_.find(page);
  if (it == pages_.end()) return {};
  Bytes out(kPageBytes);
  std::memcpy(out.data(), it->second->data(), kPageBytes);
  return out;
}

std::set<uint64_t> Bitfield::TakeDirty() { return std::exchange(dirty_, {}); }

void Bitfield::MarkDirty(uint64_t first_page, uint64_t end_page) {
  for (uint64_t p = first_page; p < end_page; p++) dirty_.insert(p);
}

}  // namespace shoal::log
