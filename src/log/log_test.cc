#include "log/log.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "log/log_format.h"
#include "log/test_util.h"
#include "storage/db.h"

namespace shoal::log {
namespace {

using testing::MemStore;

// Expected values computed by the JS corestore 7.12.5 / hypercore 11.37.1
// with primaryKey = 32 x 0x07 and name "alpha", appending ["a", "bb"] then "ccc".
TEST(Log, MatchesCorestoreByteForByte) {
  auto store = MemStore(7);
  auto log = *store->OpenLog("alpha");
  EXPECT_EQ(ToHex(log->key()), "cdf95e5837646dfaac23ccb0898b68001340a79038976f5987a8f68f8811fd4e");
  EXPECT_EQ(ToHex(log->discovery_key()),
            "0afd0e8941dd177fd1cb36d0c60bdf7486be0987d86adac93095953acf0b2352");
  ByteView first[] = {AsBytes("a"), AsBytes("bb")};
  ASSERT_EQ(*log->Append(first), 2u);
  ASSERT_EQ(*log->Append(AsBytes("ccc")), 3u);
  EXPECT_EQ(log->byte_length(), 6u);
  EXPECT_EQ(ToHex(log->tree_hash()),
            "45f511522f3ccc90b4b76f89a9ee1ac039febd894778b3e9b06aefe521c52265");
  EXPECT_EQ(ToHex(log->state()->signature),
            "01006551aab3fc873da3ad4ffd83ed4138206645a6f49661dc120294a1515a9578c700819d131a487b"
            "4f33e622fe72ad72fa89add93c142359a0b4113ddbb22369070000");
}

TEST(Log, EncryptedMatchesHypercore) {
  auto store = MemStore(7);
  LogOptions o;
  o.encryption_key.emplace();
  o.encryption_key->fill(9);
  auto log = *store->OpenLog("enc", o);
  EXPECT_EQ(ToHex(log->key()), "559fb9018756be006cbada79cf7cf8b5aaee436abc22646f28b6de7989afb9bf");
  ASSERT_TRUE(log->Append(AsBytes("secret")).ok());
  EXPECT_EQ(ToHex(log->tree_hash()),
            "f7cffd695e2d3e1182e9361b165426c29fdaada9fd66187bfa37b28944c5dcc5");
  EXPECT_EQ(log->byte_length(), 6u);
  EXPECT_EQ(AsString(*log->Get(0)), "secret");
}

TEST(Log, AppendGetOffsetsSeek) {
  auto store = MemStore();
  auto log = *store->OpenLog("a");
  std::vector<std::string> blocks;
  for (int i = 0; i < 37; i++) blocks.push_back(std::string(i + 1, 'a' + i % 26));
  for (auto& b : blocks) ASSERT_TRUE(log->Append(AsBytes(b)).ok());
  uint64_t offset = 0;
  for (uint64_t i = 0; i < blocks.size(); i++) {
    EXPECT_EQ(AsString(*log->Get(i)), blocks[i]);
    EXPECT_EQ(*log->ByteOffset(i), offset);
    auto seek = *log->Seek(offset + blocks[i].size() / 2);
    EXPECT_EQ(seek.first, i);
    EXPECT_EQ(seek.second, blocks[i].size() / 2);
    offset += blocks[i].size();
  }
  EXPECT_EQ(*log->ByteOffset(blocks.size()), offset);
  EXPECT_EQ(log->byte_length(), offset);
  EXPECT_TRUE(log->Get(37).status().IsNotFound());
  EXPECT_FALSE(log->Seek(offset).ok());
  ASSERT_OK(log->Audit());
}

TEST(Log, ReopenKeepsEverything) {
  testing::TempDir dir;
  Hash tree;
  {
    auto store = testing::DiskStore(dir);
    auto log = *store->OpenLog("a");
    for (int i = 0; i < 100; i++) ASSERT_TRUE(log->Append(AsBytes(std::to_string(i))).ok());
    tree = log->tree_hash();
    // A writer that only appends stores no bitfield page: the head's
    // contiguous length says it all.
    auto it = store->db().NewIterator(format::LogKey(1, format::kBitfield, 0),
                                      format::LogKey(1, format::kBitfield + 1));
    it->SeekToFirst();
    EXPECT_FALSE(it->Valid());
  }
  auto store = testing::DiskStore(dir);
  auto log = *store->GetLog("a");
  EXPECT_EQ(AsString(*log->Get(99)), "99");
  EXPECT_EQ(log->length(), 100u);
  EXPECT_EQ(log->tree_hash(), tree);
  auto names = *store->ListNames();
  EXPECT_EQ(names, std::vector<std::string>{"a"});
  EXPECT_TRUE(store->GetLog("b").status().IsNotFound());
  EXPECT_TRUE(store->FindLog(ToHex(log->key())).ok());
}

TEST(Log, TruncateBumpsForkAndResigns) {
  auto store = MemStore();
  auto log = *store->OpenLog("t");
  for (int i = 0; i < 10; i++) ASSERT_TRUE(log->Append(AsBytes(std::to_string(i))).ok());
  auto other = *store->OpenLog("u");
  for (int i = 0; i < 6; i++) ASSERT_TRUE(other->Append(AsBytes(std::to_string(i))).ok());
  ASSERT_OK(log->Truncate(6));
  EXPECT_EQ(log->length(), 6u);
  EXPECT_EQ(log->fork(), 1u);
  EXPECT_EQ(log->tree_hash(), other->tree_hash());  // same blocks, same tree
  EXPECT_TRUE(log->Get(7).status().IsNotFound());
  ASSERT_TRUE(log->Append(AsBytes("new")).ok());
  EXPECT_EQ(AsString(*log->Get(6)), "new");
  ASSERT_OK(log->Audit());
  EXPECT_TRUE(log->Truncate(100).IsInvalidArgument());
}

TEST(Log, ClearKeepsTreeAndProofs) {
  auto store = MemStore();
  auto log = *store->OpenLog("c");
  for (int i = 0; i < 20; i++) ASSERT_TRUE(log->Append(AsBytes(std::to_string(i))).ok());
  ASSERT_OK(log->Clear(5, 10));
  EXPECT_FALSE(log->Has(5));
  EXPECT_TRUE(log->Has(10));
  EXPECT_EQ(log->contiguous_length(), 5u);
  EXPECT_TRUE(log->Get(7).status().IsNotFound());
  EXPECT_EQ(AsString(*log->Get(10)), "10");
  EXPECT_EQ(log->length(), 20u);
  ProofRequest req;
  req.hash = ProofRequest::Indexed{14, 0};  // leaf of cleared block 7
  req.upgrade = ProofRequest::Upgrade{0, 20};
  EXPECT_TRUE(log->MakeProof(req).ok());
  ASSERT_OK(log->Audit());
}

// Clearing blocks gives their disk space back, not just their keys.
TEST(Log, ClearReturnsDiskSpace) {
  testing::TempDir dir;
  auto store = testing::DiskStore(dir);
  auto log = *store->OpenLog("big");
  std::string block(64 << 10, 'x');
  std::vector<ByteView> batch(16, AsBytes(block));
  for (int i = 0; i < 24; i++) ASSERT_TRUE(log->Append(batch).ok());  // 24 MiB
  // Disk space actually allocated to the store's data: blocks files and
  // tables (write-ahead logs and the manifest are preallocated, so left out).
  auto allocated = [&] {
    uint64_t bytes = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(dir.db())) {
      struct stat st;
      if (!e.is_regular_file() || e.path().extension() == ".log" ||
          e.path().filename().string().starts_with("MANIFEST")) {
        continue;
      }
      if (::stat(e.path().c_str(), &st) == 0) bytes += st.st_blocks * 512;
    }
    return bytes;
  };
  ASSERT_OK(store->db().Flush());
  uint64_t before = allocated();
  ASSERT_GT(before, 20u << 20);
  ASSERT_OK(log->Clear(0, log->length()));
  uint64_t after = allocated();
  EXPECT_LT(after, before / 10) << before << " -> " << after;
  EXPECT_EQ(log->length(), 24u * 16);
  EXPECT_TRUE(log->Get(5).status().IsNotFound());
  ASSERT_OK(log->Audit());
}

// A replica keeps downloaded blocks in its blocks file; clearing them frees
// that space, and what is left reads back after a reopen.
TEST(Log, ReplicaClearReturnsDiskSpace) {
  auto source = MemStore(1);
  auto writer = *source->OpenLog("big");
  std::vector<std::string> blocks;
  for (int i = 0; i < 256; i++) blocks.push_back(std::string(64 << 10, static_cast<char>('a' + i % 26)));
  for (const auto& b : blocks) ASSERT_TRUE(writer->Append(AsBytes(b)).ok());
  testing::TempDir dir;
  auto blocks_file_bytes = [&] {
    uint64_t bytes = 0;
    for (auto& e : std::filesystem::directory_iterator(dir.db() + "/blocks")) {
      struct stat st;
      if (::stat(e.path().c_str(), &st) == 0) bytes += st.st_blocks * 512;
    }
    return bytes;
  };
  {
    auto store = testing::DiskStore(dir, 2);
    auto replica = *store->OpenLogByKey(writer->key(), true);
    ProofRequest up;
    up.upgrade = ProofRequest::Upgrade{0, 256};
    Proof p = *writer->MakeProof(up);
    p.manifest = writer->manifest();
    ASSERT_OK(replica->ApplyProof(p));
    // Out of order: the file holds blocks as they arrive.
    for (uint64_t k = 0; k < 256; k++) {
      uint64_t i = (k * 37) % 256;
      ProofRequest req;
      req.block = ProofRequest::Indexed{i, *replica->MissingNodes(i)};
      ASSERT_OK(replica->ApplyProof(*writer->MakeProof(req)));
    }
    uint64_t before = blocks_file_bytes();
    ASSERT_GE(before, 16u << 20);
    ASSERT_OK(replica->Clear(0, 128));
    uint64_t after = blocks_file_bytes();
    EXPECT_LT(after, before * 6 / 10) << before << " -> " << after;
    EXPECT_TRUE(replica->Get(5).status().IsNotFound());
    ASSERT_OK(replica->Audit());
  }
  auto store = testing::DiskStore(dir, 2);
  auto replica = *store->OpenLogByKey(writer->key(), false);
  EXPECT_EQ(replica->stored_blocks(), 128u);
  for (uint64_t i = 128; i < 256; i++) ASSERT_EQ(AsString(*replica->Get(i)), blocks[i]);
  ASSERT_OK(replica->Audit());
}

TEST(Log, ReplicaIsReadOnly) {
  auto store = MemStore();
  auto replica = *store->OpenLogByKey(Key{}, true);
  EXPECT_FALSE(replica->writable());
  EXPECT_EQ(replica->Append(AsBytes("x")).status().code(), Status::Code::kReadOnly);
  EXPECT_EQ(replica->Truncate(0).code(), Status::Code::kReadOnly);
}

TEST(Log, ProofRequestsOutOfRangeAreRefused) {
  auto store = MemStore();
  auto log = *store->OpenLog("r");
  ProofRequest none;
  none.block = ProofRequest::Indexed{0, 0};
  Proof empty = *log->MakeProof(none);  // an empty log answers with nothing
  EXPECT_FALSE(empty.block.has_value());
  for (int i = 0; i < 5; i++) ASSERT_TRUE(log->Append(AsBytes("x")).ok());
  ProofRequest past;
  past.block = ProofRequest::Indexed{5, 0};
  EXPECT_TRUE(log->MakeProof(past).status().IsInvalidArgument());
  ProofRequest up;
  up.upgrade = ProofRequest::Upgrade{2, 4};
  EXPECT_TRUE(log->MakeProof(up).status().IsInvalidArgument());
  ProofRequest too_many;
  too_many.block = ProofRequest::Indexed{1, 40};
  EXPECT_TRUE(log->MakeProof(too_many).status().IsInvalidArgument());
  ProofRequest own;
  own.upgrade = ProofRequest::Upgrade{0, 5};
  EXPECT_TRUE(log->ApplyProof(*log->MakeProof(own)).IsInvalidArgument());
}

// Copies a log block by block to a replica in another store, through proofs.
class ProofTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(ProofTest, ReplicaVerifiesEveryBlockAndUpgrade) {
  const uint64_t n = GetParam();
  auto a = MemStore(1);
  auto b = MemStore(2);
  auto writer = *a->OpenLog("w");
  for (uint64_t i = 0; i < n; i++) {
    ASSERT_TRUE(writer->Append(AsBytes("block " + std::to_string(i))).ok());
  }
  auto replica = *b->OpenLogByKey(writer->key(), true);

  // First an upgrade with the manifest, then blocks in a scattered order.
  ProofRequest up;
  up.upgrade = ProofRequest::Upgrade{0, n};
  Proof p = *writer->MakeProof(up);
  p.manifest = writer->manifest();
  ASSERT_OK(replica->ApplyProof(p));
  EXPECT_EQ(replica->length(), n);
  EXPECT_EQ(replica->tree_hash(), writer->tree_hash());

  std::vector<uint64_t> order(n);
  for (uint64_t k = 0; k < n; k++) order[k] = k;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(n));
  for (uint64_t i : order) {
    ProofRequest req;
    req.block = ProofRequest::Indexed{i, *replica->MissingNodes(i)};
    Proof bp = *writer->MakeProof(req);
    // Round trip through the wire encoding, as a peer would.
    Proof decoded = *DecodeProof(EncodeProof(bp));
    ASSERT_OK(replica->ApplyProof(decoded));
    EXPECT_EQ(*replica->Get(i), *writer->Get(i));
  }
  EXPECT_EQ(replica->contiguous_length(), n);
  ASSERT_OK(replica->Audit());
}

INSTANTIATE_TEST_SUITE_P(Lengths, ProofTest, ::testing::Values(1, 2, 3, 7, 8, 9, 31, 64, 100));

TEST(Proof, BlockWithUpgradeFromPartialLength) {
  auto a = MemStore(1);
  auto b = MemStore(2);
  auto writer = *a->OpenLog("w");
  auto replica = *b->OpenLogByKey(writer->key(), true);
  uint64_t have = 0;
  for (uint64_t target : {3u, 5u, 12u, 13u, 40u}) {
    while (writer->length() < target) {
      ASSERT_TRUE(writer->Append(AsBytes(std::to_string(writer->length()))).ok());
    }
    // Ask for the newest block together with the upgrade from what we have.
    ProofRequest req;
    req.block = ProofRequest::Indexed{target - 1, 0};
    req.upgrade = ProofRequest::Upgrade{have, target - have};
    Proof p = *writer->MakeProof(req);
    p.manifest = writer->manifest();
    ASSERT_OK(replica->ApplyProof(*DecodeProof(EncodeProof(p))));
    EXPECT_EQ(replica->length(), target);
    EXPECT_EQ(AsString(*replica->Get(target - 1)), std::to_string(target - 1));
    have = target;
  }
  // A seek proof locates a byte without fetching the blocks before it.
  ProofRequest seek;
  seek.seek = ProofRequest::Seek{20, 0};
  seek.upgrade = ProofRequest::Upgrade{0, writer->length()};
  auto fresh = MemStore(3);
  auto r2 = *fresh->OpenLogByKey(writer->key(), true);
  Proof sp = *writer->MakeProof(seek);
  sp.manifest = writer->manifest();
  ASSERT_TRUE(sp.seek.has_value());
  ASSERT_OK(r2->ApplyProof(sp));
  EXPECT_EQ(*r2->Seek(20), *writer->Seek(20));
}

}  // namespace
}  // namespace shoal::log
