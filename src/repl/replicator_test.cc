#include "repl/replicator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "log/test_util.h"

namespace shoal::repl {
namespace {

using log::testing::MemStore;

// A node: a store, a replicator and a network listening on loopback.
struct Node {
  explicit Node(uint8_t seed) : store(MemStore(seed)), replicator(store.get()) {
    network = std::make_unique<net::Network>(crypto::RandomKeyPair(), replicator.Callbacks());
    auto ep = network->Listen({"127.0.0.1", 0});
    EXPECT_TRUE(ep.ok());
    endpoint = *ep;
  }
  ~Node() { network.reset(); }  // before the replicator

  std::unique_ptr<log::Store> store;
  Replicator replicator;
  std::unique_ptr<net::Network> network;
  net::Endpoint endpoint;
};

bool WaitUntil(const std::function<bool()>& pred, int seconds = 30) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

std::string Block(uint64_t i, size_t size = 100) {
  std::string s = "block " + std::to_string(i) + " ";
  s.resize(size, static_cast<char>('a' + i % 26));
  return s;
}

void AppendBlocks(log::Log& log, uint64_t from, uint64_t to, size_t size = 100) {
  for (uint64_t i = from; i < to; i++) ASSERT_TRUE(log.Append(AsBytes(Block(i, size))).ok());
}

void ExpectSame(log::Log& writer, log::Log& replica) {
  ASSERT_EQ(replica.length(), writer.length());
  EXPECT_EQ(replica.tree_hash(), writer.tree_hash());
  for (uint64_t i = 0; i < writer.length(); i++) {
    auto a = writer.Get(i), b = replica.Get(i);
    ASSERT_TRUE(b.ok()) << "block " << i << ": " << b.status().ToString();
    ASSERT_EQ(*a, *b) << "block " << i;
  }
  EXPECT_TRUE(replica.Audit().ok());
}

TEST(Replicator, FollowDownloadsAndStaysLive) {
  Node a(1), b(2);
  auto log = *a.store->OpenLog("photos");
  AppendBlocks(*log, 0, 500, 1000);

  auto replica = *b.store->OpenLogByKey(log->key(), /*create=*/true);
  b.replicator.Follow(replica);
  b.network->Connect(a.endpoint);
  ASSERT_TRUE(WaitUntil([&] { return replica->contiguous_length() == 500; }));
  ExpectSame(*log, *replica);
  ASSERT_TRUE(replica->manifest().has_value());

  // Live: appends on the writer reach the follower.
  AppendBlocks(*log, 500, 520, 1000);
  ASSERT_TRUE(WaitUntil([&] { return replica->contiguous_length() == 520; }));
  ExpectSame(*log, *replica);

  auto peers = b.replicator.Peers();
  ASSERT_EQ(peers.size(), 1u);
  ASSERT_EQ(peers[0].channels.size(), 1u);
  EXPECT_EQ(peers[0].channels[0].blocks_down, 520u);
  EXPECT_EQ(peers[0].channels[0].remote_length, 520u);
  auto progress = b.replicator.Progress();
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_TRUE(progress[0].following);
  EXPECT_EQ(progress[0].stored_blocks, 520u);
}

TEST(Replicator, WriterDialsFollower) {
  // The follower listens; the writer connects and serves what is asked.
  Node a(1), b(2);
  auto log = *a.store->OpenLog("dialer");
  AppendBlocks(*log, 0, 50);
  auto replica = *b.store->OpenLogByKey(log->key(), true);
  b.replicator.Follow(replica);
  a.network->Connect(b.endpoint);
  ASSERT_TRUE(WaitUntil([&] { return replica->contiguous_length() == 50; }));
  ExpectSame(*log, *replica);
}

TEST(Replicator, SparseRange) {
  Node a(1), b(2);
  auto log = *a.store->OpenLog("big");
  AppendBlocks(*log, 0, 1000);
  auto replica = *b.store->OpenLogByKey(log->key(), true);
  std::atomic<bool> done{false};
  b.replicator.Download(replica, 300, 340, [&] { done = true; });
  b.network->Connect(a.endpoint);
  ASSERT_TRUE(WaitUntil([&] { return done.load(); }));
  EXPECT_EQ(replica->length(), 1000u);
  EXPECT_EQ(replica->stored_blocks(), 40u);
  for (uint64_t i = 300; i < 340; i++) EXPECT_EQ(AsString(*replica->Get(i)), Block(i));
  EXPECT_FALSE(replica->Has(299));
  EXPECT_FALSE(replica->Has(340));
}

TEST(Replicator, ManySourcesAndAFollowerOfAFollower) {
  // A writes; B follows A; C follows and is connected to both A and B.
  Node a(1), b(2), c(3);
  auto log = *a.store->OpenLog("shared");
  AppendBlocks(*log, 0, 2000, 2000);
  auto rb = *b.store->OpenLogByKey(log->key(), true);
  b.replicator.Follow(rb);
  b.network->Connect(a.endpoint);
  ASSERT_TRUE(WaitUntil([&] { return rb->contiguous_length() == 2000; }));

  auto rc = *c.store->OpenLogByKey(log->key(), true);
  c.replicator.Follow(rc);
  c.network->Connect(a.endpoint);
  c.network->Connect(b.endpoint);
  ASSERT_TRUE(WaitUntil([&] { return rc->contiguous_length() == 2000; }));
  ExpectSame(*log, *rc);
  uint64_t from_a = 0, from_b = 0;
  for (auto& p : c.replicator.Peers()) {
    for (auto& ch : p.channels) (p.public_key == ToHex(a.network->public_key()) ? from_a : from_b) += ch.blocks_down;
  }
  EXPECT_EQ(from_a + from_b, 2000u);
  // A is gone: B still serves new followers, and C keeps what it has.
  a.network->Stop();
  Node d(4);
  auto rd = *d.store->OpenLogByKey(log->key(), true);
  d.replicator.Follow(rd);
  d.network->Connect(b.endpoint);
  ASSERT_TRUE(WaitUntil([&] { return rd->contiguous_length() == 2000; }));
  ExpectSame(*log, *rd);
}

TEST(Replicator, UnknownLogIsRejectedAndOthersCarryOn) {
  Node a(1), b(2);
  auto log = *a.store->OpenLog("known");
  AppendBlocks(*log, 0, 10);
  // B follows a key A does not have, and one it has.
  auto other = *b.store->OpenLogByKey(crypto::RandomFixed<32>(), true);
  b.replicator.Follow(other);
  auto replica = *b.store->OpenLogByKey(log->key(), true);
  b.replicator.Follow(replica);
  b.network->Connect(a.endpoint);
  ASSERT_TRUE(WaitUntil([&] { return replica->contiguous_length() == 10; }));
  EXPECT_EQ(other->length(), 0u);
  EXPECT_EQ(b.network->connection_count(), 1u);
}

}  // namespace
}  // namespace shoal::repl
