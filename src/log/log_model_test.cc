// Randomised model test: thousands of appends, truncates and clears on a real
// on-disk log, checked after every step against a plain vector of blocks,
// with the store closed and reopened from disk now and then, and proofs of
// random blocks re-verified by a fresh replica.
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <vector>

#include "log/test_util.h"

namespace shoal::log {
namespace {

using testing::DiskStore;
using testing::MemStore;
using testing::TempDir;

// What the log should hold: blocks (nullopt once cleared) and the fork.
struct Model {
  std::vector<std::optional<std::string>> blocks;
  uint64_t fork = 0;

  Hash TreeHashOfAllBlocks() const {
    TreeBatch batch(TreeState{});
    for (const auto& b : all) batch.Append(AsBytes(b));
    return batch.state().TreeHash();
  }
  std::vector<std::string> all;  // every block ever at each index, cleared or not
};

void CheckAgainstModel(Log& log, const Model& m, std::mt19937_64& rng) {
  ASSERT_EQ(log.length(), m.blocks.size());
  ASSERT_EQ(log.fork(), m.fork);
  uint64_t bytes = 0;
  for (const auto& b : m.all) bytes += b.size();
  ASSERT_EQ(log.byte_length(), bytes);
  ASSERT_EQ(log.tree_hash(), m.TreeHashOfAllBlocks());
  uint64_t contiguous = 0;
  while (contiguous < m.blocks.size() && m.blocks[contiguous]) contiguous++;
  ASSERT_EQ(log.contiguous_length(), contiguous);
  for (uint64_t i = 0; i < m.blocks.size(); i++) {
    auto got = log.Get(i);
    if (m.blocks[i]) {
      ASSERT_TRUE(got.ok()) << i << ": " << got.status().ToString();
      ASSERT_EQ(AsString(*got), *m.blocks[i]) << i;
    } else {
      ASSERT_TRUE(got.status().IsNotFound()) << i;
    }
  }
  if (m.blocks.empty()) return;
  // Offsets of a few blocks.
  for (int k = 0; k < 3; k++) {
    uint64_t i = rng() % m.blocks.size();
    uint64_t offset = 0;
    for (uint64_t j = 0; j < i; j++) offset += m.all[j].size();
    ASSERT_EQ(*log.ByteOffset(i), offset);
  }
  // A proof of a random stored block, with an upgrade, verifies in a fresh
  // replica, which then reads the same block.
  uint64_t i = rng() % m.blocks.size();
  ProofRequest req;
  req.upgrade = ProofRequest::Upgrade{0, m.blocks.size()};
  if (m.blocks[i]) {
    req.block = ProofRequest::Indexed{i, 0};
  } else {
    req.hash = ProofRequest::Indexed{2 * i, 0};
  }
  auto proof = log.MakeProof(req);
  ASSERT_TRUE(proof.ok()) << proof.status().ToString();
  proof->manifest = log.manifest();
  auto other = MemStore(99);
  auto replica = *other->OpenLogByKey(log.key(), true);
  ASSERT_OK(replica->ApplyProof(*DecodeProof(EncodeProof(*proof))));
  ASSERT_EQ(replica->length(), m.blocks.size());
  ASSERT_EQ(replica->tree_hash(), log.tree_hash());
  if (m.blocks[i]) {
    ASSERT_EQ(AsString(*replica->Get(i)), *m.blocks[i]);
  }
}

TEST(LogModel, RandomOperationsMatchModel) {
  TempDir dir;
  auto store = DiskStore(dir);
  auto log = *store->OpenLog("model");
  Model m;
  std::mt19937_64 rng(20261122);
  const int kSteps = 1500;
  for (int step = 0; step < kSteps; step++) {
    int op = rng() % 100;
    if (op < 60) {
      // Append 1..40 blocks of random size (including empty blocks).
      // One append in ten is large (> 32 KiB: hashed on two threads, and
      // spanning several locator groups).
      bool big = rng() % 10 == 0;
      int n = big ? 20 + rng() % 20 : 1 + rng() % (rng() % 4 == 0 ? 40 : 3);
      std::vector<std::string> blocks;
      for (int k = 0; k < n; k++) {
        std::string b(big ? 1700 + rng() % 1000 : rng() % 300, '\0');
        for (auto& c : b) c = static_cast<char>('a' + rng() % 26);
        blocks.push_back(b);
      }
      std::vector<ByteView> views;
      for (auto& b : blocks) views.push_back(AsBytes(b));
      auto length = log->Append(views);
      ASSERT_TRUE(length.ok()) << length.status().ToString();
      for (auto& b : blocks) {
        m.blocks.push_back(b);
        m.all.push_back(b);
      }
      ASSERT_EQ(*length, m.blocks.size());
    } else if (op < 70 && !m.blocks.empty()) {
      uint64_t to = rng() % (m.blocks.size() + 1);
      ASSERT_OK(log->Truncate(to));
      m.blocks.resize(to);
      m.all.resize(to);
      m.fork++;
    } else if (op < 85 && !m.blocks.empty()) {
      uint64_t start = rng() % m.blocks.size();
      uint64_t end = std::min<uint64_t>(m.blocks.size() + 2, start + 1 + rng() % 50);
      ASSERT_OK(log->Clear(start, end));
      for (uint64_t i = start; i < std::min<uint64_t>(end, m.blocks.size()); i++) {
        m.blocks[i].reset();
      }
    } else if (op < 90) {
      // Close everything and reopen from disk.
      log.reset();
      store.reset();
      store = DiskStore(dir);
      ASSERT_NE(store, nullptr);
      auto reopened = store->OpenLog("model");
      ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
      log = *reopened;
    }
    if (step % 10 == 0 || op >= 85) CheckAgainstModel(*log, m, rng);
    if (::testing::Test::HasFatalFailure()) {
      FAIL() << "at step " << step;
    }
  }
  CheckAgainstModel(*log, m, rng);
  ASSERT_OK(log->Audit());
}

// Blocks that arrive at a replica in any order, across many bitfield pages
// and reopens, are all there afterwards.
TEST(LogModel, SparseReplicaAcrossPagesSurvivesReopen) {
  auto source = MemStore(3);
  auto writer = *source->OpenLog("w");
  const uint64_t n = 70000;  // > 2 bitfield pages
  std::vector<std::string> blocks;
  std::vector<ByteView> views;
  for (uint64_t i = 0; i < n; i++) blocks.push_back(std::to_string(i));
  for (auto& b : blocks) views.push_back(AsBytes(b));
  ASSERT_TRUE(writer->Append(views).ok());

  TempDir dir;
  auto store = DiskStore(dir, 4);
  auto replica = *store->OpenLogByKey(writer->key(), true);
  ProofRequest up;
  up.upgrade = ProofRequest::Upgrade{0, n};
  Proof p = *writer->MakeProof(up);
  p.manifest = writer->manifest();
  ASSERT_OK(replica->ApplyProof(p));
  std::mt19937_64 rng(5);
  std::vector<uint64_t> fetched;
  for (int k = 0; k < 400; k++) {
    uint64_t i = rng() % n;
    ProofRequest req;
    req.block = ProofRequest::Indexed{i, *replica->MissingNodes(i)};
    ASSERT_OK(replica->ApplyProof(*writer->MakeProof(req)));
    fetched.push_back(i);
  }
  replica.reset();
  store.reset();
  store = DiskStore(dir, 4);
  replica = *store->OpenLogByKey(writer->key(), false);
  EXPECT_EQ(replica->length(), n);
  for (uint64_t i : fetched) EXPECT_EQ(AsString(*replica->Get(i)), blocks[i]);
  uint64_t present = 0;
  for (uint64_t i = 0; i < n; i++) present += replica->Has(i);
  std::sort(fetched.begin(), fetched.end());
  fetched.erase(std::unique(fetched.begin(), fetched.end()), fetched.end());
  EXPECT_EQ(present, fetched.size());
  ASSERT_OK(replica->Audit());
}

}  // namespace
}  // namespace shoal::log
