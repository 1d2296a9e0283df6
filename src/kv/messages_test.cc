#include "kv/messages.h"

#include <gtest/gtest.h>

namespace shoal::kv {
namespace {

TEST(Messages, HeaderBytes) {
  EXPECT_EQ(ToHex(EncodeHeader()), "0a08" + ToHex(AsBytes("hyperbee")));
  EXPECT_TRUE(DecodeHeader(EncodeHeader()).ok());
  EXPECT_FALSE(DecodeHeader(AsBytes("nope")).ok());
}

TEST(Messages, NodeRoundTrip) {
  NodeBlock n;
  n.key = ToBytes("k");
  n.value = ToBytes("v");
  n.index = {Level{{1, 2}, {1, 1, 3, 0}}, Level{{4}, {}}, Level{}};
  Bytes e = EncodeNode(n);
  auto back = DecodeNode(e);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->key, n.key);
  EXPECT_EQ(back->value, n.value);
  EXPECT_EQ(back->index, n.index);
  NodeBlock del;
  del.key = ToBytes("k");
  del.index = {Level{}};
  auto d = DecodeNode(EncodeNode(del));
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->value.has_value());
}

TEST(Messages, MalformedNeverReadsPastTheEnd) {
  NodeBlock n;
  n.key = ToBytes("key");
  n.value = ToBytes("value");
  n.index = {Level{{1, 2, 300}, {1, 0, 2, 0, 3, 0, 4, 0}}};
  Bytes e = EncodeNode(n);
  for (size_t cut = 0; cut < e.size(); cut++) {
    auto d = DecodeNode(ByteView(e).first(cut));
    if (d.ok()) {
      EXPECT_NE(d->value, n.value) << cut;  // a prefix is not the message
    }
  }
  Bytes bad = {0x0a, 0x05, 0x0a, 0x03, 0x12, 0x01, 0x01};  // level with half a child
  EXPECT_FALSE(DecodeNode(bad).ok());
}

}  // namespace
}  // namespace shoal::kv
