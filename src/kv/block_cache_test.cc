#include "kv/block_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace shoal::kv {
namespace {

std::shared_ptr<const NodeBlock> MakeBlock(uint64_t seq, size_t value_size = 100) {
  auto b = std::make_shared<NodeBlock>();
  b->key = Bytes(8, static_cast<uint8_t>(seq));
  b->value = Bytes(value_size, 1);
  return b;
}

// What the cache charges for one block made by MakeBlock.
size_t Charged() {
  BlockCache probe(1 << 20);
  probe.Insert(1, MakeBlock(1));
  return probe.bytes();
}

TEST(BlockCache, FindsWhatWasInserted) {
  BlockCache cache(1 << 20);
  EXPECT_EQ(cache.Find(5), nullptr);
  for (uint64_t seq = 1; seq <= 1000; seq++) cache.Insert(seq, MakeBlock(seq));
  EXPECT_EQ(cache.size(), 1000u);
  for (uint64_t seq = 1; seq <= 1000; seq++) {
    const NodeBlock* b = cache.Find(seq);
    ASSERT_NE(b, nullptr) << seq;
    EXPECT_EQ(b->key[0], static_cast<uint8_t>(seq));
  }
  EXPECT_EQ(cache.Find(1001), nullptr);
  cache.Clear();
  EXPECT_EQ(cache.Find(1), nullptr);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(BlockCache, StaysWithinItsBudgetAndKeepsWhatIsUsed) {
  const size_t one = Charged();
  BlockCache cache(100 * one);
  for (uint64_t seq = 1; seq <= 10000; seq++) {
    cache.Insert(seq, MakeBlock(seq));
    cache.Find(1);  // kept warm: CLOCK gives it a second chance every sweep
    EXPECT_LE(cache.bytes(), 100 * one);
  }
  EXPECT_NE(cache.Find(1), nullptr);
  EXPECT_NE(cache.Find(10000), nullptr);
  EXPECT_EQ(cache.Find(5000), nullptr);
}

TEST(BlockCache, KeepsABlockBiggerThanTheBudgetUntilTheNextInsert) {
  BlockCache cache(10);
  cache.Insert(1, MakeBlock(1));
  EXPECT_NE(cache.Find(1), nullptr);
  cache.Insert(2, MakeBlock(2));
  EXPECT_EQ(cache.Find(1), nullptr);
  EXPECT_NE(cache.Find(2), nullptr);
}

// Random inserts, finds and evictions against a model of what may be cached:
// every block found is the one inserted under that seq, and the table never
// loses an entry it still charges for.
TEST(BlockCache, RandomOperationsMatchAModel) {
  std::mt19937_64 rng(7);
  const size_t one = Charged();
  BlockCache cache(300 * one);
  std::map<uint64_t, std::shared_ptr<const NodeBlock>> inserted;
  for (int step = 0; step < 200000; step++) {
    uint64_t seq = 1 + rng() % 2000;
    if (rng() % 3 == 0) {
      if (!cache.Find(seq)) {
        auto b = MakeBlock(seq);
        inserted[seq] = b;
        cache.Insert(seq, b);
      }
    } else if (const NodeBlock* b = cache.Find(seq)) {
      ASSERT_EQ(b, inserted[seq].get()) << "step " << step;
    }
  }
  size_t found = 0;
  for (uint64_t seq = 1; seq <= 2000; seq++) found += cache.Find(seq) != nullptr;
  EXPECT_EQ(found, cache.size());
  EXPECT_LE(cache.bytes(), 300 * one);
  EXPECT_GT(cache.size(), 250u);
}

}  // namespace
}  // namespace shoal::kv
