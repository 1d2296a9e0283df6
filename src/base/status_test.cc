#include "base/status.h"

#include <gtest/gtest.h>

#include "base/result.h"

namespace shoal {
namespace {

TEST(Status, OkIsDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = Status::Corruption("block 3");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_EQ(s.ToString(), "Corruption: block 3");
  Status copy = s;
  EXPECT_EQ(copy.message(), "block 3");
  EXPECT_EQ(s.WithContext("log a").ToString(), "Corruption: log a: block 3");
}

Result<int> Half(int n) {
  if (n % 2) return Status::InvalidArgument("odd");
  return n / 2;
}

Result<int> Quarter(int n) {
  SHOAL_ASSIGN_OR_RETURN(int h, Half(n));
  return Half(h);
}

TEST(Result, ValueOrStatus) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_TRUE(Quarter(6).status().IsInvalidArgument());
}

}  // namespace
}  // namespace shoal
