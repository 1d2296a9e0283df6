#include "log/caps.h"

#include <gtest/gtest.h>

#include "log/manifest.h"

namespace shoal::log {
namespace {

// shared/HYPERCORE-VECTORS.txt
TEST(Caps, Vectors) {
  Key zero{};
  EXPECT_EQ(ToHex(DiscoveryKey(zero)),
            "6b7ecf9ce456d56e5145ec4c5661e0c79ee47ddcc9c0504e90aa6fd60746365c");
  EXPECT_EQ(ToHex(LeafNode(0, AsBytes("hello")).hash),
            "f2391083cfaa8043205fed76cdff843902146ca92aebcd7a196814ec45d8c8f8");
  EXPECT_EQ(ToHex(GetCaps().tree),
            "9fac70b50ca14efc4e91c833b204e75b8b5aad8b5881bfc0adb5ef38a3275b9c");
}

TEST(Caps, ParentOrdersByIndex) {
  Node a = LeafNode(0, AsBytes("a"));
  Node b = LeafNode(1, AsBytes("b"));
  EXPECT_EQ(ParentNode(1, a, b), ParentNode(1, b, a));
  EXPECT_EQ(ParentNode(1, a, b).size, 2u);
}

TEST(Manifest, DefaultSignerEncodesTo70Bytes) {
  crypto::PublicKey pk;
  pk.fill(0xab);
  Manifest m = DefaultSignerManifest(pk);
  Bytes e = EncodeManifest(m);
  ASSERT_EQ(e.size(), 70u);
  EXPECT_EQ(ToHex(ByteView(e).first(6)), "010000010100");
  auto back = DecodeManifest(e);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, m);
}

TEST(Manifest, AllVersionsRoundTrip) {
  crypto::PublicKey pk;
  pk.fill(1);
  Manifest v2 = DefaultSignerManifest(pk);
  v2.version = 2;
  v2.allow_patch = true;
  v2.prologue = Prologue{Hash{}, 5};
  v2.linked = std::vector<Key>{Key{}};
  v2.user_data = ToBytes("hi");
  auto back = DecodeManifest(EncodeManifest(v2));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, v2);
  Manifest v0 = DefaultSignerManifest(pk);
  v0.version = 0;
  auto back0 = DecodeManifest(EncodeManifest(v0));
  ASSERT_TRUE(back0.ok());
  EXPECT_EQ(*back0, v0);
}

TEST(Manifest, RejectsBadInput) {
  EXPECT_FALSE(DecodeManifest(*FromHex("04")).ok());        // version 4
  EXPECT_FALSE(DecodeManifest(*FromHex("01000100")).ok());  // unknown hash
  EXPECT_FALSE(DecodeManifest(*FromHex("0100000105")).ok()); // truncated signers
}

TEST(Verifier, SignsAndVerifiesEnvelope) {
  crypto::Seed seed{};
  auto kp = crypto::KeyPairFromSeed(seed);
  Manifest m = DefaultSignerManifest(kp.public_key);
  auto v = Verifier::Create(ManifestHash(m), m);
  ASSERT_TRUE(v.ok());
  Hash th{};
  auto sig = v->Sign(th, 3, 0, kp);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->size(), 68u);
  EXPECT_TRUE(v->Verify(th, 3, 0, *sig));
  EXPECT_FALSE(v->Verify(th, 4, 0, *sig));
  EXPECT_FALSE(v->Verify(th, 3, 1, *sig));
  Bytes bad = *sig;
  bad[10] ^= 1;
  EXPECT_FALSE(v->Verify(th, 3, 0, bad));
  EXPECT_FALSE(v->Verify(th, 3, 0, ByteView(*sig).first(40)));
  // A manifest that does not hash to the key is refused.
  EXPECT_FALSE(Verifier::Create(Key{}, m).ok());
  // Compat: raw signature over the 80-byte signable.
  Verifier c = Verifier::Compat(kp.public_key);
  auto raw = c.Sign(th, 3, 0, kp);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->size(), 64u);
  EXPECT_TRUE(c.Verify(th, 3, 0, *raw));
  EXPECT_FALSE(v->Verify(th, 3, 0, *raw));
}

}  // namespace
}  // namespace shoal::log
