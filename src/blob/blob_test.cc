#include <gtest/gtest.h>

#include <thread>

#include "blob/blobs.h"
#include "blob/drive.h"
#include "log/test_util.h"

namespace shoal::blob {
namespace {

using log::testing::MemStore;

Bytes Pattern(size_t n, size_t seed = 0) {
  Bytes b(n);
  for (size_t i = 0; i < n; i++) b[i] = static_cast<uint8_t>((i + seed) % 251);
  return b;
}

TEST(Blobs, PutReadAndRanges) {
  auto store = MemStore();
  Blobs blobs(*store->OpenLog("blobs"));
  auto small = blobs.Put(AsBytes("hello"));
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(*small, (BlobId{0, 0, 1, 5, false}));
  Bytes big = Pattern(200000);
  auto id = blobs.Put(big);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, (BlobId{1, 5, 4, 200000, false}));  // 3 x 64 KiB + 3,392
  EXPECT_EQ(*blobs.ReadAll(*id), big);
  // A range across a block boundary, and the last byte.
  Bytes got;
  ASSERT_TRUE(blobs
                  .Read(*id, 65530, 12,
                        [&](ByteView b) {
                          got.insert(got.end(), b.begin(), b.end());
                          return Status::OK();
                        })
                  .ok());
  EXPECT_EQ(got, Bytes(big.begin() + 65530, big.begin() + 65542));
  EXPECT_TRUE(blobs.Read(*id, 199999, 2, [](ByteView) { return Status::OK(); }).IsInvalidArgument());
  // An empty blob has no block and sits at the end of the log.
  auto empty = blobs.Put({});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, (BlobId{5, 200005, 0, 0, false}));
  EXPECT_TRUE(blobs.ReadAll(*empty)->empty());
  // Cleared blocks are gone, and say so.
  ASSERT_TRUE(blobs.Clear(*id).ok());
  EXPECT_TRUE(blobs.ReadAll(*id).status().IsNotFound());
  EXPECT_EQ(AsString(*blobs.ReadAll(*small)), "hello");
}

TEST(Blobs, InterleavedWritersGetBlockMaps) {
  auto store = MemStore();
  Blobs blobs(*store->OpenLog("blobs"));
  auto a = blobs.NewWriter();
  auto b = blobs.NewWriter();
  Bytes da = Pattern(3 << 20, 1), db = Pattern((2 << 20) + 777, 2);
  // Alternating megabytes: each writer's blocks land between the other's.
  for (size_t off = 0; off < std::max(da.size(), db.size()); off += 1 << 20) {
    if (off < da.size()) {
      ASSERT_TRUE(a->Write(ByteView(da).subspan(off, std::min<size_t>(1 << 20, da.size() - off))).ok());
    }
    if (off < db.size()) {
      ASSERT_TRUE(b->Write(ByteView(db).subspan(off, std::min<size_t>(1 << 20, db.size() - off))).ok());
    }
  }
  auto ia = a->Finish();
  auto ib = b->Finish();
  ASSERT_TRUE(ia.ok() && ib.ok());
  EXPECT_TRUE(ia->block_map);
  EXPECT_TRUE(ib->block_map);
  EXPECT_EQ(*blobs.Size(*ia), da.size());
  EXPECT_EQ(*blobs.ReadAll(*ia), da);
  EXPECT_EQ(*blobs.ReadAll(*ib), db);
  Bytes mid;
  ASSERT_TRUE(blobs
                  .Read(*ib, (1 << 20) - 3, 10,
                        [&](ByteView v) {
                          mid.insert(mid.end(), v.begin(), v.end());
                          return Status::OK();
                        })
                  .ok());
  EXPECT_EQ(mid, Bytes(db.begin() + (1 << 20) - 3, db.begin() + (1 << 20) + 7));
}

TEST(Blobs, BlockMapBytesMatchHyperblobs) {
  // drive.md §4.5: blocks 10, 11, 10 of 4 bytes each.
  auto map = EncodeBlockMap({{10, 4}, {11, 4}, {10, 4}});
  ASSERT_EQ(map.size(), 1u);
  EXPECT_EQ(ToHex(map[0]), "00030a040b040a04");
  auto back = DecodeBlockMap(map);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->size(), 3u);
  EXPECT_FALSE(DecodeBlockMap({*FromHex("0103")}).ok());
  EXPECT_FALSE(DecodeBlockMap({*FromHex("00030a04")}).ok());
}

// The JS vectors of drive.md Appendix B: primary key 01 x 32, a drive on
// Corestore name "db", /a.txt = "hello" with metadata, /dir/b.bin = 100,000
// bytes of i mod 251. The db log matches block for block, and so its tree.
TEST(Drive, MatchesHyperdriveBlockForBlock) {
  // (Also the keys and signatures of both logs.)
  auto store = MemStore(1);
  auto db = *store->OpenLog("db");
  EXPECT_EQ(ToHex(db->key()), "765ce6f1b788dd123061c6a1b74730c45a93e403af97e391b98c87291e6602b6");
  // The blobs log: the manifest derived from the db log's, signed by the
  // db log's key pair, so its key is the one JS derives (drive.md §2.2).
  auto blobs_log = store->OpenSignedBy("db/blobs", "db", ContentManifest(*db->manifest(), db->key()));
  ASSERT_TRUE(blobs_log.ok()) << blobs_log.status().ToString();
  EXPECT_EQ(ToHex((*blobs_log)->key()),
            "29dad855b61308ad7fa5c79b6857ad1c541671f6d6c26cfd622359f96c9d340a");
  Drive drive(db, *blobs_log);
  auto put = [&](const std::string& path, ByteView data, const std::string& metadata) {
    auto id = drive.blobs().Put(data);
    ASSERT_TRUE(id.ok());
    FileEntry e;
    e.path = path;
    e.blob = *id;
    e.metadata_json = metadata;
    ASSERT_TRUE(drive.PutEntry(e).ok());
  };
  put("/a.txt", AsBytes("hello"), R"({"contentType":"text/plain"})");
  put("/dir/b.bin", Pattern(100000), "null");
  ASSERT_EQ(db->length(), 3u);
  EXPECT_EQ(ToHex(*db->Get(0)), "0a0868797065726265651200");
  EXPECT_EQ(ToHex(*db->Get(1)),
            "0a050a030a0101120c66696c6573002f612e7478741a93017b2265786563757461626c65223a66616c73"
            "652c226c696e6b6e616d65223a6e756c6c2c22626c6f62223a7b22626c6f636b4f6666736574223a302c"
            "22627974654f6666736574223a302c22626c6f636b4c656e677468223a312c22627974654c656e677468"
            "223a357d2c226d65746164617461223a7b22636f6e74656e7454797065223a22746578742f706c61696e"
            "227d7d");
  EXPECT_EQ(ToHex(*db->Get(2)),
            "0a060a040a020102121066696c6573002f6469722f622e62696e1a80017b2265786563757461626c6522"
            "3a66616c73652c226c696e6b6e616d65223a6e756c6c2c22626c6f62223a7b22626c6f636b4f66667365"
            "74223a312c22627974654f6666736574223a352c22626c6f636b4c656e677468223a322c22627974654c"
            "656e677468223a3130303030307d2c226d65746164617461223a6e756c6c7d");
  EXPECT_EQ(ToHex(db->tree_hash()),
            "6433c422350c4937abca230b9f101a8f1b629a8f9411ae556093e14f9b3bc0e1");
  EXPECT_EQ(ToHex(db->state()->signature),
            "0100c8c052e9f0a1ae1f8cf3f90da9e42bf2b40cfd1c2ae5c545ee0a8f5efa29e0bc33cc3039b03c209e"
            "15298e3577a3603cbbbd46f83dec7597d72a8d88dc0b290c0000");
  // The blobs log holds "hello", then 65,536 and 34,464 bytes: JS's tree and
  // signature, made with the db log's key pair.
  EXPECT_EQ(ToHex((*blobs_log)->tree_hash()),
            "571dfa68b623634794dce105607b43b1cde8a0cb2b1f5a65e02d14050bfe0ae7");
  EXPECT_EQ(ToHex((*blobs_log)->state()->signature),
            "0100d4584b04de1961874c332666e7605033a9a4b4f43ec406d5194048f85ee4c2d21975d4cbd68d9bd1"
            "eb599b7232f7b8428bd9f9ff886fa35bd894e1ce88a74d0c0000");

  auto a = drive.Entry("/a.txt");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->metadata_json, R"({"contentType":"text/plain"})");
  EXPECT_EQ(AsString(*drive.blobs().ReadAll(*(*a)->blob)), "hello");
  auto listed = drive.List("/", "", 100);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[1].path, "/dir/b.bin");
  EXPECT_EQ(drive.List("/dir/", "", 100)->size(), 1u);
  EXPECT_EQ(drive.List("/", "/a.txt", 100)->size(), 1u);
  ASSERT_TRUE(drive.Del("/a.txt").ok());
  EXPECT_FALSE(drive.Entry("/a.txt")->has_value());
  EXPECT_TRUE(drive.Entry("/a.txt", 3)->has_value());  // the version before the delete
}

// A log signed by another's key pair stays writable after a reopen: the
// signer's name is in its meta.
TEST(Drive, DerivedBlobsLogSurvivesReopen) {
  log::testing::TempDir dir;
  log::Key key{};
  {
    auto store = log::testing::DiskStore(dir, 1);
    auto db = *store->OpenLog("db");
    auto blobs = store->OpenSignedBy("db/blobs", "db", ContentManifest(*db->manifest(), db->key()));
    ASSERT_TRUE(blobs.ok()) << blobs.status().ToString();
    key = (*blobs)->key();
    ASSERT_TRUE((*blobs)->Append(AsBytes("x")).ok());
    // The signer must sign the manifest.
    EXPECT_TRUE(store->OpenSignedBy("other", "nobody", ContentManifest(*db->manifest(), db->key()))
                    .status()
                    .IsInvalidArgument());
  }
  auto store = log::testing::DiskStore(dir, 1);
  auto db = *store->OpenLog("db");
  auto blobs = store->OpenSignedBy("db/blobs", "db", ContentManifest(*db->manifest(), db->key()));
  ASSERT_TRUE(blobs.ok()) << blobs.status().ToString();
  EXPECT_EQ((*blobs)->key(), key);
  EXPECT_TRUE((*blobs)->writable());
  ASSERT_TRUE((*blobs)->Append(AsBytes("y")).ok());
  ASSERT_TRUE((*blobs)->Audit().ok());
}

TEST(Drive, EntryValuesRoundTripAndBadOnesAreRefused) {
  FileEntry e;
  e.executable = true;
  e.blob = BlobId{12, 70064, 1, 8, true};
  e.metadata_json = R"({"s":"é\"\n","n":1})";
  std::string v = EncodeEntryValue(e);
  EXPECT_EQ(v,
            R"({"executable":true,"linkname":null,"blob":{"blockOffset":12,"byteOffset":70064,)"
            R"("blockLength":1,"byteLength":8,"blockMap":true},"metadata":{"s":"é\"\n","n":1}})");
  auto back = DecodeEntryValue(AsBytes(v));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back->blob, *e.blob);
  EXPECT_FALSE(DecodeEntryValue(AsBytes("not json")).ok());
  EXPECT_FALSE(DecodeEntryValue(AsBytes(R"({"blob":{"blockOffset":-1}})")).ok());
}

}  // namespace
}  // namespace shoal::blob
