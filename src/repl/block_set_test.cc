#include "repl/block_set.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace shoal::repl {
namespace {

TEST(BlockSet, RangesAndBitfields) {
  BlockSet s;
  s.SetRange(0, 10, true);
  EXPECT_EQ(s.contiguous(), 10u);
  s.SetRange(20, 30, true);
  EXPECT_TRUE(s.Has(25));
  EXPECT_FALSE(s.Has(15));
  EXPECT_EQ(s.FirstMissing(20), 30u);
  s.SetRange(10, 20, true);
  EXPECT_EQ(s.contiguous(), 30u);
  s.SetRange(5, 6, false);
  EXPECT_EQ(s.contiguous(), 5u);
  EXPECT_TRUE(s.Has(6));
  EXPECT_TRUE(s.Has(29));
  EXPECT_FALSE(s.Has(5));
  // A bitfield overwrites its region, and cuts the prefix where it starts.
  uint32_t words[] = {0b110};
  EXPECT_FALSE(s.SetWords(3, words));  // not a multiple of 32
  EXPECT_TRUE(s.SetWords(0, words));
  EXPECT_EQ(s.contiguous(), 0u);
  EXPECT_TRUE(s.Has(1));
  EXPECT_TRUE(s.Has(2));
  EXPECT_FALSE(s.Has(6));
}

// Random operations against a vector<bool> model.
TEST(BlockSet, Model) {
  std::mt19937_64 rng(7);
  BlockSet s;
  std::vector<bool> model(100000, false);
  for (int step = 0; step < 2000; step++) {
    uint64_t start = rng() % 90000, len = 1 + rng() % (step % 10 == 0 ? 40000 : 300);
    uint64_t end = std::min<uint64_t>(start + len, model.size());
    int op = rng() % 5;
    if (op < 3) {
      bool v = op != 2;
      if (rng() % 4 == 0) start = 0;
      s.SetRange(start, end, v);
      for (uint64_t i = start; i < end; i++) model[i] = v;
    } else {
      uint64_t at = (rng() % 2800) * 32;
      std::vector<uint32_t> words(1 + rng() % 8);
      for (auto& w : words) w = static_cast<uint32_t>(rng());
      ASSERT_TRUE(s.SetWords(at, words));
      for (size_t w = 0; w < words.size(); w++) {
        for (int b = 0; b < 32; b++) model[at + 32 * w + b] = (words[w] >> b) & 1;
      }
    }
    for (int probe = 0; probe < 50; probe++) {
      uint64_t i = rng() % model.size();
      ASSERT_EQ(s.Has(i), model[i]) << "step " << step << " index " << i;
    }
    uint64_t c = 0;
    while (c < model.size() && model[c]) c++;
    ASSERT_EQ(s.contiguous(), c) << "step " << step;
  }
}

}  // namespace
}  // namespace shoal::repl
