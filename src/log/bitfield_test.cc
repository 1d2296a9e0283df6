#include "log/bitfield.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace shoal::log {
namespace {

TEST(Bitfield, MatchesVectorModel) {
  Bitfield b;
  std::vector<bool> model(100000, false);
  std::mt19937_64 rng(1);
  for (int round = 0; round < 300; round++) {
    uint64_t start = rng() % model.size();
    uint64_t end = std::min<uint64_t>(model.size(), start + rng() % 40000);
    bool value = rng() % 3 != 0;
    b.SetRange(start, end, value);
    for (uint64_t i = start; i < end; i++) model[i] = value;
    uint64_t probe = rng() % model.size();
    EXPECT_EQ(b.Get(probe), model[probe]);
    uint64_t expect_first = UINT64_MAX;
    for (uint64_t i = probe; i < model.size(); i++) {
      if (model[i]) {
        expect_first = i;
        break;
      }
    }
    EXPECT_EQ(b.FindFirst(true, probe), expect_first);
    uint64_t expect_zero = model.size();
    for (uint64_t i = probe; i < model.size(); i++) {
      if (!model[i]) {
        expect_zero = i;
        break;
      }
    }
    EXPECT_EQ(std::min<uint64_t>(b.FindFirst(false, probe), model.size()), expect_zero);
  }
  uint64_t count = 0;
  for (bool v : model) count += v;
  EXPECT_EQ(b.Count(0, model.size()), count);
}

TEST(Bitfield, PagesRoundTrip) {
  Bitfield a;
  a.SetRange(5, 70000, true);
  auto dirty = a.TakeDirty();
  EXPECT_EQ(dirty.size(), 3u);
  Bitfield b;
  for (uint64_t p : dirty) b.LoadPage(p, a.PageBytes(p));
  EXPECT_FALSE(b.Get(4));
  EXPECT_TRUE(b.Get(5));
  EXPECT_TRUE(b.Get(69999));
  EXPECT_FALSE(b.Get(70000));
  a.Truncate(10);
  EXPECT_TRUE(a.Get(9));
  EXPECT_FALSE(a.Get(10));
  EXPECT_TRUE(a.PageBytes(2).empty());
}

}  // namespace
}  // namespace shoal::log
