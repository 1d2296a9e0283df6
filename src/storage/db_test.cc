#include "storage/db.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace shoal::storage {
namespace {

std::unique_ptr<Db> OpenMem() {
  Options o;
  o.in_memory = true;
  auto db = Db::Open("/mem/storage_test", o);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return std::move(*db);
}

TEST(Db, PutGetDelete) {
  auto db = OpenMem();
  WriteBatch b;
  b.Put(AsBytes("a"), AsBytes("1"));
  b.Put(AsBytes("b"), AsBytes("2"));
  ASSERT_TRUE(db->Write(b).ok());
  Bytes v;
  ASSERT_TRUE(db->Get(AsBytes("a"), &v).ok());
  EXPECT_EQ(AsString(v), "1");
  EXPECT_TRUE(db->Get(AsBytes("c"), &v).IsNotFound());
  WriteBatch d;
  d.Delete(AsBytes("a"));
  ASSERT_TRUE(db->Write(d).ok());
  EXPECT_TRUE(db->Get(AsBytes("a"), &v).IsNotFound());
}

TEST(Db, IteratorAndDeleteRange) {
  auto db = OpenMem();
  WriteBatch b;
  for (char c = 'a'; c <= 'j'; c++) b.Put(AsBytes(std::string(1, c)), AsBytes("x"));
  ASSERT_TRUE(db->Write(b).ok());
  WriteBatch d;
  d.DeleteRange(AsBytes("c"), AsBytes("f"));
  ASSERT_TRUE(db->Write(d).ok());
  auto it = db->NewIterator(AsBytes("b"), AsBytes("h"));
  std::string seen;
  for (it->SeekToFirst(); it->Valid(); it->Next()) seen += AsString(it->key());
  EXPECT_EQ(seen, "bfg");
  EXPECT_TRUE(it->status().ok());
}

TEST(Db, SecondOpenOfSameDirectoryIsBusy) {
  auto dir = std::filesystem::temp_directory_path() / ("shoal_db_test_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  {
    auto a = Db::Open(dir.string());
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    auto b = Db::Open(dir.string());
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.status().code(), Status::Code::kBusy) << b.status().ToString();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shoal::storage
