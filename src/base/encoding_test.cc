#include "base/encoding.h"

#include <gtest/gtest.h>

#include <random>

namespace shoal::enc {
namespace {

Bytes Enc(uint64_t n) {
  Encoder e;
  e.Uint(n);
  return e.Take();
}

TEST(Encoding, UintBoundaries) {
  EXPECT_EQ(ToHex(Enc(0)), "00");
  EXPECT_EQ(ToHex(Enc(0xfc)), "fc");
  EXPECT_EQ(ToHex(Enc(0xfd)), "fdfd00");
  EXPECT_EQ(ToHex(Enc(0xffff)), "fdffff");
  EXPECT_EQ(ToHex(Enc(0x10000)), "fe00000100");
  EXPECT_EQ(ToHex(Enc(0xffffffff)), "feffffffff");
  EXPECT_EQ(ToHex(Enc(0x100000000)), "ff0000000001000000");
  for (uint64_t n : std::initializer_list<uint64_t>{0ull, 1ull, 0xfcull, 0xfdull, 0xffffull, 0x10000ull, 0xffffffffull,
                     0x100000000ull, kMaxSafeInteger}) {
    Bytes b = Enc(n);
    EXPECT_EQ(b.size(), UintSize(n));
    Decoder d(b);
    EXPECT_EQ(d.Uint(), n);
    EXPECT_TRUE(d.Finish().ok());
  }
}

TEST(Encoding, UintAboveSafeIntegerIsRefused) {
  Bytes b = Enc(kMaxSafeInteger + 1);
  Decoder d(b);
  d.Uint();
  EXPECT_TRUE(d.status().IsMalformed());
}

TEST(Encoding, ZigZag) {
  for (int64_t n : std::initializer_list<int64_t>{0ll, 1ll, -1ll, 2ll, -2ll, 1000000ll, -1000000ll}) {
    Encoder e;
    e.Int(n);
    Decoder d(e.bytes());
    EXPECT_EQ(d.Int(), n);
  }
  Encoder e;
  e.Int(-1);
  EXPECT_EQ(ToHex(e.bytes()), "01");
  Encoder f;
  f.Int(1);
  EXPECT_EQ(ToHex(f.bytes()), "02");
}

TEST(Encoding, BuffersStringsArrays) {
  Encoder e;
  e.Buffer(AsBytes("abc"));
  e.String("héllo");
  e.OptionalBuffer(nullptr);
  uint32_t words[] = {1, 0xdeadbeef};
  e.Uint32Array(words);
  e.Bool(true);
  e.Uint24(0x123456);
  Decoder d(e.bytes());
  EXPECT_EQ(AsString(d.Buffer()), "abc");
  EXPECT_EQ(d.String(), "héllo");
  EXPECT_TRUE(d.Buffer().empty());
  auto arr = d.Uint32Array();
  ASSERT_EQ(arr.size(), 2u);
  EXPECT_EQ(arr[1], 0xdeadbeef);
  EXPECT_TRUE(d.Bool());
  EXPECT_EQ(d.Uint24(), 0x123456u);
  EXPECT_TRUE(d.Finish().ok());
}

TEST(Encoding, TruncatedInputNeverReadsPastEnd) {
  Encoder e;
  e.Buffer(Bytes(300, 7));
  e.Uint(0x12345678);
  Bytes full = e.Take();
  for (size_t cut = 0; cut < full.size(); cut++) {
    Decoder d(ByteView(full).first(cut));
    d.Buffer();
    d.Uint();
    EXPECT_FALSE(d.ok()) << cut;
  }
}

TEST(Encoding, ArrayLengthIsBounded) {
  Bytes b = Enc(kMaxArrayLength + 1);
  Decoder d(b);
  d.ArrayLength(0);
  EXPECT_FALSE(d.ok());
  Bytes c = Enc(10);  // claims 10 items, has none
  Decoder d2(c);
  d2.ArrayLength(1);
  EXPECT_FALSE(d2.ok());
}

TEST(Encoding, RandomRoundTrip) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; i++) {
    uint64_t n = rng() >> (rng() % 64);
    if (n > kMaxSafeInteger) n &= kMaxSafeInteger;
    Bytes b = Enc(n);
    Decoder d(b);
    EXPECT_EQ(d.Uint(), n);
  }
}

TEST(Hex, RoundTripAndErrors) {
  Bytes b = {0, 1, 0xab, 0xff};
  EXPECT_EQ(ToHex(b), "0001abff");
  EXPECT_EQ(*FromHex("0001ABff"), b);
  EXPECT_FALSE(FromHex("abc"));
  EXPECT_FALSE(FromHex("zz"));
}

}  // namespace
}  // namespace shoal::enc

#include "base/crc32c.h"

namespace shoal {
namespace {

TEST(Crc32c, KnownValues) {
  // RFC 3720 B.4 check value for "123456789".
  EXPECT_EQ(Crc32c(AsBytes("123456789")), 0xe3069283u);
  Bytes zeros(32, 0);
  EXPECT_EQ(Crc32c(zeros), 0x8a9136aau);
  EXPECT_EQ(Crc32c(AsBytes("6789"), Crc32c(AsBytes("12345"))), 0xe3069283u);
}

// RFC 4648 §10 vectors.
TEST(Base64, RoundTripAndErrors) {
  EXPECT_EQ(ToBase64(AsBytes("")), "");
  EXPECT_EQ(ToBase64(AsBytes("f")), "Zg==");
  EXPECT_EQ(ToBase64(AsBytes("fo")), "Zm8=");
  EXPECT_EQ(ToBase64(AsBytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(AsString(*FromBase64("Zm9vYg==")), "foob");
  EXPECT_FALSE(FromBase64("Zm9").has_value());
  EXPECT_FALSE(FromBase64("Zm=v").has_value());
  EXPECT_FALSE(FromBase64("Zm9v!!==").has_value());
}

}  // namespace
}  // namespace shoal
