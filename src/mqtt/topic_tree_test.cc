#include "mqtt/topic_tree.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "mqtt/topic.h"

namespace shoal::mqtt {
namespace {

using Hits = std::multiset<std::pair<uint64_t, bool>>;

Hits MatchAll(TopicTree& tree, std::string_view name) {
  Hits hits;
  tree.Match(name, [](uint64_t) { return true; },
             [&](uint64_t id, const SubOptions&, bool shared) { hits.emplace(id, shared); });
  return hits;
}

// The tree against Matches() over every pair, for random filters and names
// built from a small alphabet of levels (so they collide often).
TEST(TopicTree, MatchesLikeTheRules) {
  std::mt19937 rng(5);
  const char* levels[] = {"a", "b", "", "$SYS", "+", "#"};
  auto random_filter = [&] {
    std::string f;
    int n = 1 + rng() % 4;
    for (int i = 0; i < n; i++) {
      if (i) f += '/';
      f += levels[rng() % 6];
    }
    return f;
  };
  for (int round = 0; round < 50; round++) {
    TopicTree tree;
    std::vector<std::string> filters;
    for (int i = 0; i < 30; i++) {
      std::string f = random_filter();
      if (!ValidTopicFilter(f)) continue;
      filters.push_back(f);
      tree.Add(f, "", filters.size() - 1, {});
    }
    for (int i = 0; i < 50; i++) {
      std::string name = random_filter();
      if (!ValidTopicName(name)) continue;
      Hits want;
      for (size_t k = 0; k < filters.size(); k++) {
        if (Matches(filters[k], name)) want.emplace(k, false);
      }
      EXPECT_EQ(MatchAll(tree, name), want) << name;
    }
    // Removing everything leaves an empty tree that matches nothing.
    for (size_t k = 0; k < filters.size(); k++) EXPECT_TRUE(tree.Remove(filters[k], "", k));
    EXPECT_EQ(tree.size(), 0u);
    EXPECT_TRUE(MatchAll(tree, "a/b").empty());
  }
}

TEST(TopicTree, AddReplacesAndRemoveIsExact) {
  TopicTree tree;
  EXPECT_TRUE(tree.Add("a/+", "", 1, {.qos = 0}));
  EXPECT_FALSE(tree.Add("a/+", "", 1, {.qos = 2}));
  EXPECT_EQ(tree.size(), 1u);
  uint8_t qos = 9;
  tree.Match("a/x", [](uint64_t) { return true; },
             [&](uint64_t, const SubOptions& o, bool) { qos = o.qos; });
  EXPECT_EQ(qos, 2);
  EXPECT_FALSE(tree.Remove("a/+", "", 2));
  EXPECT_FALSE(tree.Remove("a/#", "", 1));
  EXPECT_TRUE(tree.Remove("a/+", "", 1));
  EXPECT_FALSE(tree.Remove("a/+", "", 1));
}

TEST(TopicTree, SharedGroupsTakeTurns) {
  TopicTree tree;
  tree.Add("jobs/+", "workers", 1, {});
  tree.Add("jobs/+", "workers", 2, {});
  tree.Add("jobs/+", "workers", 3, {});
  tree.Add("jobs/+", "audit", 9, {});
  tree.Add("jobs/#", "", 4, {});
  std::map<uint64_t, int> got;
  for (int i = 0; i < 30; i++) {
    for (auto [id, shared] : MatchAll(tree, "jobs/x")) got[id]++;
  }
  EXPECT_EQ(got[1], 10);
  EXPECT_EQ(got[2], 10);
  EXPECT_EQ(got[3], 10);
  EXPECT_EQ(got[9], 30);
  EXPECT_EQ(got[4], 30);
  // A member that is not ready is passed over while another is.
  got.clear();
  for (int i = 0; i < 10; i++) {
    tree.Match("jobs/x", [](uint64_t id) { return id != 2; },
               [&](uint64_t id, const SubOptions&, bool shared) {
                 if (shared) got[id]++;
               });
  }
  EXPECT_EQ(got[2], 0);
  EXPECT_EQ(got[1] + got[3], 10);
  EXPECT_TRUE(tree.Remove("jobs/+", "workers", 2));
  EXPECT_EQ(tree.size(), 4u);
}

TEST(TopicTree, DollarTopics) {
  TopicTree tree;
  tree.Add("#", "", 1, {});
  tree.Add("+/broker/uptime", "", 2, {});
  tree.Add("$SYS/#", "", 3, {});
  tree.Add("$SYS/broker/+", "", 4, {});
  EXPECT_EQ(MatchAll(tree, "$SYS/broker/uptime"), (Hits{{3, false}, {4, false}}));
  EXPECT_EQ(MatchAll(tree, "x/broker/uptime"), (Hits{{1, false}, {2, false}}));
}

}  // namespace
}  // namespace shoal::mqtt
