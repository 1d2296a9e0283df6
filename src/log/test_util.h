// Helpers shared by the log tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "log/store.h"

namespace shoal::log::testing {

#define ASSERT_OK(expr)                                      \
  do {                                                       \
    ::shoal::Status _s = (expr);                             \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.ToString();  \
  } while (0)

inline crypto::Seed FillSeed(uint8_t byte) {
  crypto::Seed s;
  s.fill(byte);
  return s;
}

inline std::unique_ptr<Store> MemStore(uint8_t seed_byte = 7) {
  static int counter = 0;
  StoreOptions o;
  o.in_memory = true;
  o.seed = FillSeed(seed_byte);
  auto store = Store::Open("/mem/log_test_" + std::to_string(counter++), o);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return std::move(*store);
}

// A directory removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("shoal_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }
  std::string db() const { return (path_ / "db").string(); }

 private:
  std::filesystem::path path_;
};

inline std::unique_ptr<Store> DiskStore(const TempDir& dir, uint8_t seed_byte = 7) {
  StoreOptions o;
  o.seed = FillSeed(seed_byte);
  auto store = Store::Open(dir.db(), o);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

}  // namespace shoal::log::testing
