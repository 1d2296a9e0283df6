#include "repl/messages.h"

#include <gtest/gtest.h>

namespace shoal::repl {
namespace {

TEST(Messages, JsBytes) {
  // request{id 1, block(1, nodes 1), priority 1}, as a JS reader sent it.
  Request r;
  r.id = 1;
  r.proof.block = log::ProofRequest::Indexed{1, 1};
  r.priority = 1;
  EXPECT_EQ(ToHex(EncodeRequest(r)), "210100010101");
  // request{id 1, upgrade(0, 3), manifest}.
  Request u;
  u.id = 1;
  u.proof.upgrade = log::ProofRequest::Upgrade{0, 3};
  u.manifest = true;
  EXPECT_EQ(ToHex(EncodeRequest(u)), "1801000003");
  // sync{fork 0, length 3, remoteLength 0, canUpgrade, uploading, downloading, hasManifest}
  Sync s{0, 3, 0, true, true, true, true, false};
  EXPECT_EQ(ToHex(EncodeSync(s)), "0f000300");
  EXPECT_EQ(ToHex(EncodeRange({false, 0, 3})), "000003");
  EXPECT_EQ(ToHex(EncodeRange({false, 7, 1})), "0207");
  EXPECT_EQ(ToHex(EncodeWant({0, 1 << 21, false})), "00fe00002000");
  EXPECT_EQ(ToHex(EncodeNoData({5, NoData::kNotAvailable})), "050101");
  EXPECT_EQ(ToHex(EncodeNoData({5, NoData::kUnspecified})), "0500");
}

TEST(Messages, RoundTrips) {
  Request r;
  r.id = 77;
  r.fork = 2;
  r.proof.block = log::ProofRequest::Indexed{100000, 3};
  r.proof.hash = log::ProofRequest::Indexed{12, 0};
  r.proof.seek = log::ProofRequest::Seek{99, 8};
  r.proof.upgrade = log::ProofRequest::Upgrade{5, 10};
  r.manifest = true;
  auto back = DecodeRequest(EncodeRequest(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->id, 77u);
  EXPECT_EQ(back->fork, 2u);
  EXPECT_EQ(back->proof.block->index, 100000u);
  EXPECT_EQ(back->proof.hash->index, 12u);
  EXPECT_EQ(back->proof.seek->padding, 8u);
  EXPECT_EQ(back->proof.upgrade->length, 10u);
  EXPECT_TRUE(back->manifest);
  EXPECT_EQ(back->priority, 0u);

  Sync s{1, 2, 3, false, true, false, true, true};
  auto sb = DecodeSync(EncodeSync(s));
  ASSERT_TRUE(sb.ok());
  EXPECT_EQ(sb->remote_length, 3u);
  EXPECT_TRUE(sb->allow_push);
  EXPECT_FALSE(sb->can_upgrade);

  Bitfield b{64, {0xdeadbeef, 1}};
  auto bb = DecodeBitfield(EncodeBitfield(b));
  ASSERT_TRUE(bb.ok());
  EXPECT_EQ(bb->words, b.words);

  auto rb = DecodeRange(EncodeRange({true, 10, 20}));
  ASSERT_TRUE(rb.ok());
  EXPECT_TRUE(rb->drop);
  EXPECT_EQ(rb->length, 20u);

  auto nd = DecodeNoData(EncodeNoData({9, NoData::kInvalidRequest}));
  ASSERT_TRUE(nd.ok());
  EXPECT_EQ(nd->reason, NoData::kInvalidRequest);
  // The JS encoder of an older version left the flags out.
  EXPECT_EQ(DecodeNoData(*FromHex("09"))->reason, 0u);

  auto ext = DecodeExtension(EncodeExtension({"hyperbee", {1, 2, 3}}));
  ASSERT_TRUE(ext.ok());
  EXPECT_EQ(ext->name, "hyperbee");
  EXPECT_EQ(ext->message, (Bytes{1, 2, 3}));

  auto w = DecodeWant(EncodeWant({32, 64, true}));
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->any);
  auto h = DecodeHandshake(EncodeHandshake({true, log::Hash{}}));
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->seeks);
}

TEST(Messages, TruncatedInputIsMalformed) {
  EXPECT_EQ(DecodeSync(*FromHex("0100")).status().code(), Status::Code::kMalformed);
  EXPECT_EQ(DecodeRequest(*FromHex("0101")).status().code(), Status::Code::kMalformed);
  EXPECT_EQ(DecodeRequest(*FromHex("010100")).status().code(), Status::Code::kMalformed);
  EXPECT_EQ(DecodeHandshake(*FromHex("01aabb")).status().code(), Status::Code::kMalformed);
  EXPECT_EQ(DecodeBitfield(*FromHex("00050102")).status().code(), Status::Code::kMalformed);
  EXPECT_EQ(DecodeRange(*FromHex("00")).status().code(), Status::Code::kMalformed);
  EXPECT_EQ(DecodeCancel({}).status().code(), Status::Code::kMalformed);
  // Trailing bytes are ignored, as in JS.
  EXPECT_TRUE(DecodeSync(*FromHex("00000000ffffff")).ok());
}

}  // namespace
}  // namespace shoal::repl
