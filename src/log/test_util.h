// Helpers shared by the log tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "log/store.h"

namespace shoal::log::testing {

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

#define ASSERT_OK(expr)                                      \
  do {                                                       \
    ::shoal::Status _s = (expr);                             \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.ToString();  \
  } while (0)

}  // namespace shoal::log::testing
