// Bad bytes, whether on disk or in a proof from a peer, are reported as
// errors; nothing crashes and nothing unverified is stored.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "base/crc32c.h"
#include "base/encoding.h"
#include "log/flat_tree.h"
#include "log/log_format.h"
#include "log/test_util.h"
#include "storage/db.h"

namespace shoal::log {
namespace {

using testing::DiskStore;
using testing::MemStore;
using testing::TempDir;

// Rewrites one stored value through the database, flipping one bit.
void FlipStored(Store& store, const Bytes& key, size_t at) {
  Bytes value;
  ASSERT_OK(store.db().Get(key, &value));
  ASSERT_LT(at, value.size());
  value[at] ^= 0x10;
  storage::WriteBatch wb;
  wb.Put(key, value);
  ASSERT_OK(store.db().Write(wb));
}

// Flips one bit of tree node `index` of log 1 (a writer's log keeps its nodes
// in runs keyed by their last block: docs/formats/log.md).
void FlipNode(Store& store, uint64_t index, size_t hash_byte) {
  uint64_t block = flat::RightSpan(index) / 2;
  auto it = store.db().NewIterator(format::LogKey(1, format::kNodeRun, 0),
                                   format::LogKey(1, format::kNodeRun + 1));
  it->Seek(format::LogKey(1, format::kNodeRun, block));
  ASSERT_TRUE(it->Valid());
  Bytes key(it->key().begin(), it->key().end());
  Bytes value(it->value().begin(), it->value().end());
  enc::Decoder d(value);
  d.Uint();  // first block
  uint64_t count = d.Uint();
  for (uint64_t i = 0; i < count; i++) {
    uint64_t at = d.Uint();
    d.Uint();
    size_t hash_at = d.position();
    d.Fixed<32>();
    if (at == index) {
      value[hash_at + hash_byte] ^= 0x10;
      storage::WriteBatch wb;
      wb.Put(key, value);
      ASSERT_OK(store.db().Write(wb));
      return;
    }
  }
  FAIL() << "node " << index << " not found";
}

std::shared_ptr<Log> FilledLog(Store& store, int n = 16) {
  auto log = *store.OpenLog("victim");
  for (int i = 0; i < n; i++) EXPECT_TRUE(log->Append(AsBytes("block-" + std::to_string(i))).ok());
  return log;
}

// Flips one bit of the writer's blocks file at byte `at`.
void FlipInBlocksFile(const TempDir& dir, uint64_t at) {
  std::fstream f(dir.db() + "/blocks/1", std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good());
  f.seekg(at);
  char c = static_cast<char>(f.get());
  f.seekp(at);
  f.put(static_cast<char>(c ^ 0x10));
}

TEST(Corruption, FlippedBlockByteIsReported) {
  TempDir dir;
  auto store = DiskStore(dir);
  auto log = FilledLog(*store);
  FlipInBlocksFile(dir, *log->ByteOffset(5) + 2);
  auto got = log->Get(5);
  EXPECT_TRUE(got.status().IsCorruption()) << got.status().ToString();
  EXPECT_TRUE(log->Get(4).ok());
  EXPECT_TRUE(log->Get(6).ok());
  EXPECT_TRUE(log->Audit().IsCorruption());
  FlipInBlocksFile(dir, *log->ByteOffset(5) + 2);  // repair 5
  ASSERT_OK(log->Audit());
  // A block and its checksum changed together still fail the audit, which
  // checks each block against its leaf in the signed tree.
  FlipInBlocksFile(dir, *log->ByteOffset(6) + 1);
  Bytes tampered = ToBytes("block-6");
  tampered[1] ^= 0x10;
  // Blocks 0..15 share locator group 0: uint offset, then (uint size, crc)
  // per block.
  Bytes locators;
  ASSERT_OK(store->db().Get(format::LogKey(1, format::kLocatorGroup, 0), &locators));
  enc::Decoder d(locators);
  d.Uint();
  for (int k = 0; k < 6; k++) {
    d.Uint();
    d.Uint32();
  }
  d.Uint();
  size_t crc_at = d.position();
  uint32_t crc = Crc32c(tampered);
  for (int i = 0; i < 4; i++) locators[crc_at + i] = static_cast<uint8_t>(crc >> (8 * i));
  storage::WriteBatch wb;
  wb.Put(format::LogKey(1, format::kLocatorGroup, 0), locators);
  ASSERT_OK(store->db().Write(wb));
  // Reopened, as an open log keeps the locators it read.
  log.reset();
  store.reset();
  store = DiskStore(dir);
  log = *store->OpenLog("victim");
  EXPECT_EQ(*log->Get(6), tampered);
  Status audit = log->Audit();
  EXPECT_TRUE(audit.IsCorruption());
  EXPECT_NE(audit.message().find("block 6"), std::string::npos) << audit.ToString();
  // A blocks file cut short reports the missing blocks, not garbage.
  log.reset();
  store.reset();
  std::filesystem::resize_file(dir.db() + "/blocks/1", 20);
  store = DiskStore(dir);
  log = *store->OpenLog("victim");
  EXPECT_TRUE(log->Get(15).status().IsCorruption());
}

TEST(Corruption, LocatorPointingPastTheLogIsReported) {
  TempDir dir;
  auto store = DiskStore(dir);
  auto log = FilledLog(*store, 20);  // locator groups 0 (blocks 0-15) and 1
  // Group 0 rewritten to claim a 2^50-byte block 0.
  enc::Encoder e;
  e.Uint(0);
  e.Uint(uint64_t{1} << 50);
  e.Uint32(0);
  storage::WriteBatch wb;
  wb.Put(format::LogKey(1, format::kLocatorGroup, 0), e.bytes());
  ASSERT_OK(store->db().Write(wb));
  EXPECT_TRUE(log->Get(0).status().IsCorruption());
  EXPECT_TRUE(log->Get(3).status().IsCorruption());  // no locator left for it
  EXPECT_EQ(AsString(*log->Get(17)), "block-17");     // another group is untouched
}

TEST(Corruption, FlippedTreeNodeIsReported) {
  TempDir dir;
  auto store = DiskStore(dir);
  auto log = FilledLog(*store);
  FlipNode(*store, 5, 3);  // an inner node
  Status audit = log->Audit();
  EXPECT_TRUE(audit.IsCorruption()) << audit.ToString();
  // A proof that carries a bad node (node 1 is the sibling of block 3's
  // parent) does not verify at a replica.
  FlipNode(*store, 1, 3);
  ProofRequest req;
  req.block = ProofRequest::Indexed{3, 0};
  req.upgrade = ProofRequest::Upgrade{0, 16};
  Proof p = *log->MakeProof(req);
  p.manifest = log->manifest();
  auto other = MemStore(9);
  auto replica = *other->OpenLogByKey(log->key(), true);
  EXPECT_TRUE(replica->ApplyProof(p).IsVerificationFailed());
  EXPECT_EQ(replica->length(), 0u);
}

TEST(Corruption, FlippedRootOrSignatureFailsOpen) {
  for (int what = 0; what < 3; what++) {
    TempDir dir;
    {
      auto store = DiskStore(dir);
      FilledLog(*store, 12);  // roots 7 and 19; signed as the log closes
    }
    {
      auto store = DiskStore(dir);  // tampered with while no log is open
      if (what == 0) FlipNode(*store, 7, 10);
      if (what == 1) {
        Bytes head;
        ASSERT_OK(store->db().Get(format::LogKey(1, format::kHead), &head));
        FlipStored(*store, format::LogKey(1, format::kHead), head.size() - 5);  // signature
      }
      if (what == 2) FlipStored(*store, format::LogKey(1, format::kHead), 0);  // version
    }
    auto store = DiskStore(dir);
    auto log = store->OpenLog("victim");
    ASSERT_FALSE(log.ok()) << what;
    EXPECT_TRUE(log.status().IsCorruption() ||
                log.status().code() == Status::Code::kNotSupported)
        << log.status().ToString();
  }
}

// A writer's log of 50 blocks, `marker` followed by the block's number.
static std::shared_ptr<Log> WriterOf50(Store& store, const std::string& marker) {
  auto writer = *store.OpenLog("w");
  for (int i = 0; i < 50; i++) EXPECT_TRUE(writer->Append(AsBytes(marker + std::to_string(i))).ok());
  return writer;
}

// A replica made by downloading a writer's 50 blocks, on disk in `dir`.
static void DownloadReplica(const TempDir& dir, Log& writer) {
  auto store = DiskStore(dir);
  auto replica = *store->OpenLogByKey(writer.key(), true);
  ProofRequest up;
  up.upgrade = ProofRequest::Upgrade{0, 50};
  Proof p = *writer.MakeProof(up);
  p.manifest = writer.manifest();
  ASSERT_OK(replica->ApplyProof(p));
  for (uint64_t i = 0; i < 50; i++) {
    ProofRequest req;
    req.block = ProofRequest::Indexed{i, *replica->MissingNodes(i)};
    ASSERT_OK(replica->ApplyProof(*writer.MakeProof(req)));
  }
  ASSERT_OK(store->db().Flush());
}

// Reads every block of the replica of `key`: each is its value or
// Corruption, and returns how many were Corruption (-1: the open failed with
// Corruption).
static int ReadBack(const TempDir& dir, const Key& key, const std::string& marker) {
  StoreOptions o;
  o.seed = testing::FillSeed(7);
  auto opened = Store::Open(dir.db(), o);
  if (!opened.ok()) {
    EXPECT_TRUE(opened.status().IsCorruption()) << opened.status().ToString();
    return -1;
  }
  auto& store = *opened;
  auto log = store->OpenLogByKey(key, false);
  if (!log.ok()) {
    EXPECT_TRUE(log.status().IsCorruption()) << log.status().ToString();
    return -1;
  }
  int errors = 0;
  for (uint64_t i = 0; i < 50; i++) {
    auto got = (*log)->Get(i);
    if (!got.ok()) {
      EXPECT_TRUE(got.status().IsCorruption()) << got.status().ToString();
      errors++;
    } else {
      EXPECT_EQ(AsString(*got), marker + std::to_string(i));
    }
  }
  return errors;
}

// A replica on disk of a writer's 50 blocks, each starting with `marker_`.
class ReplicaCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = MemStore(1);
    writer_ = WriterOf50(*source_, marker_);
    DownloadReplica(dir_, *writer_);
  }

  TempDir dir_;
  const std::string marker_ = std::string(600, 'Q');
  std::unique_ptr<Store> source_;
  std::shared_ptr<Log> writer_;
};

// A byte flipped in a replica's blocks file (its downloaded blocks, in the
// order they came) is caught by the block's checksum: that block alone reads
// as Corruption.
TEST_F(ReplicaCorruption, FlippedByteInBlocksFileIsReported) {
  const std::string& marker = marker_;
  bool flipped = false;
  for (auto& entry : std::filesystem::directory_iterator(dir_.db() + "/blocks")) {
    std::fstream f(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    size_t at = data.find(marker + "25");
    if (at == std::string::npos) continue;
    f.seekp(at + 100);
    f.put('R');
    flipped = true;
  }
  ASSERT_TRUE(flipped);
  EXPECT_EQ(ReadBack(dir_, writer_->key(), marker), 1);
}

// A byte flipped inside a database table file is caught by the storage
// engine's own checksums and reported, not returned.
TEST_F(ReplicaCorruption, FlippedByteInTableFileIsReported) {
  // Every data block of every table: whatever reads it must fail.
  bool flipped = false;
  for (auto& entry : std::filesystem::directory_iterator(dir_.db())) {
    if (entry.path().extension() != ".sst") continue;
    std::fstream f(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    std::streamoff size = f.tellg();
    for (std::streamoff at = 40; at + 4096 < size; at += 4096) {
      f.seekg(at);
      char c = static_cast<char>(f.get());
      f.seekp(at);
      f.put(static_cast<char>(c ^ 0x20));
      flipped = true;
    }
  }
  ASSERT_TRUE(flipped);
  // The open fails, or the reads it cannot trust fail; nothing wrong is read.
  EXPECT_NE(ReadBack(dir_, writer_->key(), marker_), 0);
}

class BadProof : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = MemStore(1);
    writer_ = *source_->OpenLog("w");
    for (int i = 0; i < 20; i++) ASSERT_TRUE(writer_->Append(AsBytes(std::to_string(i))).ok());
    target_ = MemStore(2);
    replica_ = *target_->OpenLogByKey(writer_->key(), true);
    ProofRequest req;
    req.block = ProofRequest::Indexed{9, 0};
    req.upgrade = ProofRequest::Upgrade{0, 20};
    good_ = *writer_->MakeProof(req);
    good_.manifest = writer_->manifest();
  }

  void ExpectRejected(const Proof& p) {
    Status s = replica_->ApplyProof(p);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(replica_->length(), 0u);
    EXPECT_FALSE(replica_->Has(9));
  }

  std::unique_ptr<Store> source_, target_;
  std::shared_ptr<Log> writer_, replica_;
  Proof good_;
};

TEST_F(BadProof, GoodProofIsAccepted) {
  ASSERT_OK(replica_->ApplyProof(good_));
  EXPECT_EQ(AsString(*replica_->Get(9)), "9");
}

TEST_F(BadProof, WrongBlockValue) {
  Proof p = good_;
  p.block->value = ToBytes("x");
  ExpectRejected(p);
}

TEST_F(BadProof, WrongNodeHash) {
  for (size_t k = 0; k < good_.block->nodes.size(); k++) {
    Proof p = good_;
    p.block->nodes[k].hash[0] ^= 1;
    ExpectRejected(p);
  }
  for (size_t k = 0; k < good_.upgrade->nodes.size(); k++) {
    Proof p = good_;
    p.upgrade->nodes[k].hash[7] ^= 1;
    ExpectRejected(p);
  }
}

TEST_F(BadProof, WrongNodeSizeOrIndex) {
  Proof p = good_;
  p.upgrade->nodes[0].size += 1;
  ExpectRejected(p);
  Proof q = good_;
  q.block->nodes[0].index += 2;
  ExpectRejected(q);
  Proof r = good_;
  r.block->nodes.pop_back();
  ExpectRejected(r);
}

TEST_F(BadProof, WrongSignature) {
  Proof p = good_;
  p.upgrade->signature[10] ^= 1;
  ExpectRejected(p);
  Proof q = good_;
  q.upgrade->signature.resize(20);
  ExpectRejected(q);
  Proof r = good_;
  r.upgrade->signature.clear();
  ExpectRejected(r);
}

TEST_F(BadProof, ImpossibleLengths) {
  Proof p = good_;
  p.upgrade->length = 21;  // the roots do not cover 21 blocks
  ExpectRejected(p);
  Proof q = good_;
  q.upgrade->length = uint64_t{1} << 52;
  ExpectRejected(q);
  Proof r = good_;
  r.upgrade->start = 5;  // does not connect to the empty replica
  ExpectRejected(r);
  Proof s = good_;
  s.block->index = 30;
  ExpectRejected(s);
}

TEST_F(BadProof, ForeignManifest) {
  Proof p = good_;
  p.manifest->signers[0].public_key[0] ^= 1;
  ExpectRejected(p);
  Proof q = good_;
  q.manifest.reset();
  ExpectRejected(q);
}

TEST_F(BadProof, TruncatedEncodingIsMalformed) {
  Bytes wire = EncodeProof(good_);
  for (size_t cut = 0; cut < wire.size(); cut++) {
    auto decoded = DecodeProof(ByteView(wire).first(cut));
    EXPECT_FALSE(decoded.ok()) << cut;
  }
  // Bytes after the message are ignored, as compact-encoding does in JS.
  Bytes extra = wire;
  extra.push_back(0);
  EXPECT_TRUE(DecodeProof(extra).ok());
}

}  // namespace
}  // namespace shoal::log

namespace shoal::log {
namespace {

// A copy of the store taken while the log is open stands for a crash: its
// head is signed only as far as the last read of the signature.
TEST(Corruption, UnsignedTailAfterACrashIsSignedOnRead) {
  TempDir dir, crashed, reference;
  Bytes expected;
  {
    auto store = DiskStore(reference);
    auto log = FilledLog(*store, 12);
    expected = log->state()->signature;
  }
  {
    auto store = DiskStore(dir);
    auto log = *store->OpenLog("victim");
    for (int i = 0; i < 5; i++) ASSERT_OK(log->Append(AsBytes("block-" + std::to_string(i))).status());
    ASSERT_OK(log->Sign());
    for (int i = 5; i < 12; i++) ASSERT_OK(log->Append(AsBytes("block-" + std::to_string(i))).status());
    std::filesystem::copy(dir.path(), crashed.path(),
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing);
  }
  {
    auto store = DiskStore(crashed);
    auto log = *store->OpenLog("victim");
    EXPECT_EQ(log->length(), 12u);
    ASSERT_OK(log->Audit());
    auto state = log->state();
    ASSERT_OK(state.status());
    EXPECT_EQ(state->signature, expected);
    EXPECT_EQ(AsString(*log->Get(11)), "block-11");
  }
  {
    // The signed prefix is still checked at open: a flipped root of the tree
    // at length 5 fails it even though the head is unsigned past 5.
    TempDir again, crashed2;
    {
      auto store = DiskStore(again);
      auto log = *store->OpenLog("victim");
      for (int i = 0; i < 5; i++) ASSERT_OK(log->Append(AsBytes("b" + std::to_string(i))).status());
      ASSERT_OK(log->Sign());
      for (int i = 5; i < 12; i++) ASSERT_OK(log->Append(AsBytes("b" + std::to_string(i))).status());
      std::filesystem::copy(again.path(), crashed2.path(),
                            std::filesystem::copy_options::recursive |
                                std::filesystem::copy_options::overwrite_existing);
    }
    {
      auto store = DiskStore(crashed2);
      FlipNode(*store, 8, 3);  // block 4's leaf, a root of the tree at length 5
    }
    auto store = DiskStore(crashed2);
    auto log = store->OpenLog("victim");
    ASSERT_FALSE(log.ok());
    EXPECT_TRUE(log.status().IsCorruption()) << log.status().ToString();
  }
}

}  // namespace
}  // namespace shoal::log
