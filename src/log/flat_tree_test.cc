#include "log/flat_tree.h"

#include <gtest/gtest.h>

namespace shoal::log::flat {
namespace {

TEST(FlatTree, Basics) {
  EXPECT_EQ(Index(0, 0), 0u);
  EXPECT_EQ(Index(0, 1), 2u);
  EXPECT_EQ(Index(1, 0), 1u);
  EXPECT_EQ(Index(1, 1), 5u);
  EXPECT_EQ(Index(2, 0), 3u);
  EXPECT_EQ(Depth(7), 3u);
  EXPECT_EQ(Depth(4), 0u);
  EXPECT_EQ(Offset(5), 1u);
  EXPECT_EQ(Parent(0), 1u);
  EXPECT_EQ(Parent(2), 1u);
  EXPECT_EQ(Parent(1), 3u);
  EXPECT_EQ(Parent(5), 3u);
  EXPECT_EQ(Sibling(0), 2u);
  EXPECT_EQ(Sibling(5), 1u);
  EXPECT_EQ(LeftChild(3), 1u);
  EXPECT_EQ(RightChild(3), 5u);
  EXPECT_EQ(LeftSpan(3), 0u);
  EXPECT_EQ(RightSpan(3), 6u);
  EXPECT_EQ(LeftSpan(11), 8u);
  EXPECT_EQ(RightSpan(11), 14u);
  EXPECT_EQ(CountLeaves(7), 8u);
}

TEST(FlatTree, FullRootsMatchFlatTreeJs) {
  EXPECT_TRUE(FullRoots(0).empty());
  EXPECT_EQ(FullRoots(2), (std::vector<uint64_t>{0}));
  EXPECT_EQ(FullRoots(6), (std::vector<uint64_t>{1, 4}));
  EXPECT_EQ(FullRoots(16), (std::vector<uint64_t>{7}));
  EXPECT_EQ(FullRoots(22), (std::vector<uint64_t>{7, 17, 20}));
}

TEST(FlatTree, IteratorWalks) {
  Iterator ite(0);
  EXPECT_EQ(ite.Parent(), 1u);
  EXPECT_EQ(ite.Parent(), 3u);
  EXPECT_EQ(ite.Sibling(), 11u);
  EXPECT_EQ(ite.LeftChild(), 9u);
  EXPECT_EQ(ite.RightChild(), 10u);
  EXPECT_EQ(ite.Prev(), 8u);
  EXPECT_TRUE(ite.IsLeft());
  Iterator r(3);
  EXPECT_TRUE(r.Contains(6));
  EXPECT_FALSE(r.Contains(7));
  EXPECT_EQ(r.RightSpan(), 6u);
  Iterator f(0);
  ASSERT_TRUE(f.FullRoot(6));
  EXPECT_EQ(f.index(), 1u);
  f.NextTree();
  EXPECT_EQ(f.index(), 4u);
  ASSERT_TRUE(f.FullRoot(6));
  EXPECT_EQ(f.index(), 4u);
  f.NextTree();
  EXPECT_FALSE(f.FullRoot(6));
}

TEST(FlatTree, IteratorAgreesWithFunctions) {
  for (uint64_t i = 0; i < 2000; i++) {
    Iterator ite(i);
    EXPECT_EQ(ite.offset(), Offset(i));
    Iterator p(i);
    EXPECT_EQ(p.Parent(), Parent(i));
    Iterator s(i);
    EXPECT_EQ(s.Sibling(), Sibling(i));
  }
}

}  // namespace
}  // namespace shoal::log::flat
