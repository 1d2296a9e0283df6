#include <gtest/gtest.h>
#include <sodium.h>

#include <random>

#include "crypto/blake2b.h"
#include "crypto/digest.h"
#include "crypto/hash.h"
#include "crypto/sign.h"

namespace shoal::crypto {
namespace {

// Vectors from shared/HYPERCORE-VECTORS.txt.
TEST(Namespace, HypercoreVectors) {
  auto ns = Namespace("hypercore", 6);
  EXPECT_EQ(ToHex(ns[0]), "9fac70b50ca14efc4e91c833b204e75b8b5aad8b5881bfc0adb5ef38a3275b9c");
  EXPECT_EQ(ToHex(ns[1]), "51812a2a359b50369536775df89e18e47740f3db72ac0ae70b29594c194dc316");
  EXPECT_EQ(ToHex(ns[2]), "0438492d02970cc13528ac0262bca0074e0926260256865accc0bf15bd79127d");
  EXPECT_EQ(ToHex(ns[3]), "e64b7108eacce47cfc61ac850568f55f8b15b82ec5ed78c4ec597b036e2a1498");
  EXPECT_EQ(ToHex(ns[4]), "4144eea531e483d54e0c14f4ca68e0644f355343ff6fcb0f005200e12cd747cb");
  EXPECT_EQ(ToHex(ns[5]), "9aedb6f1dea8487cc1e1698f97eb2f063f6db4c649695622e7b675e2ceafa6e9");
  auto ss = Namespace("hyperswarm/secret-stream", 3);
  EXPECT_EQ(ToHex(ss[0]), "a931a0155b5c09e6d28628236af83c4b8a6af9af60986edeede9dc5d63192bf7");
  EXPECT_EQ(ToHex(ss[1]), "742c9d833d430af4c48a8705e91631eecf295442bbca18996e597097723b1061");
  EXPECT_EQ(ToHex(ss[2]), "aab97d097471f56651b0460ffc8aaa7d3342f7377597d60b925a1dac689adcbf");
  EXPECT_EQ(ToHex(Namespace("corestore", 1)[0]),
            "ac5c4cbfb1064776404637a280c71fac823281d351ebeced03151743270def29");
}

TEST(Blake2b, IncrementalMatchesOneShot) {
  Blake2b h;
  h.Update(AsBytes("hyper")).Update(AsBytes("core"));
  EXPECT_EQ(h.Final(), Blake2b256(AsBytes("hypercore")));
  FixedBytes<32> key{};
  Blake2b k(key);
  k.Update(AsBytes("hypercore"));
  EXPECT_EQ(k.Final(), Blake2b256Keyed(key, {AsBytes("hypercore")}));
  EXPECT_NE(Blake2b256Keyed(key, {AsBytes("hypercore")}), Blake2b256(AsBytes("hypercore")));
}

// RFC 7693 Appendix A, and Python's hashlib for the others.
TEST(Blake2b, KnownDigests) {
  uint8_t out[64];
  Blake2bState abc(64, {});
  abc.Update(reinterpret_cast<const uint8_t*>("abc"), 3);
  abc.Final(out);
  EXPECT_EQ(ToHex(ByteView(out, 64)),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
            "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
  EXPECT_EQ(ToHex(Blake2b256(ByteView())),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  Bytes data, key;
  for (int i = 0; i < 768; i++) data.push_back(static_cast<uint8_t>(i));
  for (int i = 0; i < 64; i++) key.push_back(static_cast<uint8_t>(i));
  EXPECT_EQ(ToHex(Blake2b256Keyed(key, {data})),
            "4b846372177de700a4548707dd4094b0a6e137c016c2dea7355b2bbba7380792");
}

// Every digest size, key size and split of the input against libsodium,
// around the 128-byte block edges where the last-block rule bites.
TEST(Blake2b, MatchesLibsodium) {
  Init();
  std::mt19937 rng(7);
  Bytes data(1200);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  const size_t sizes[] = {0, 1, 63, 127, 128, 129, 255, 256, 257, 1000, 1200};
  for (size_t size : sizes) {
    for (size_t key_size : {0, 1, 32, 64}) {
      for (size_t digest : {1, 20, 32, 64}) {
        ByteView key = ByteView(data).last(key_size);
        uint8_t want[64], got[64];
        crypto_generichash(want, digest, data.data(), size, key_size ? key.data() : nullptr,
                           key_size);
        for (size_t split : {size_t{0}, size / 3, size_t{128}, size}) {
          split = std::min(split, size);
          Blake2bState st(digest, key);
          st.Update(data.data(), split);
          st.Update(data.data() + split, size - split);
          st.Final(got);
          ASSERT_EQ(ToHex(ByteView(got, digest)), ToHex(ByteView(want, digest)))
              << "size " << size << " key " << key_size << " digest " << digest << " split "
              << split;
        }
      }
    }
  }
}

// Batches of every shape: lengths around the block edges, groups that fill
// the eight lanes and spill over, lone lengths, and prefixes of 0-128 bytes.
TEST(Blake2b, ManyMatchesOneByOne) {
  std::mt19937 rng(11);
  Bytes data(70000);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  const size_t prefixes[] = {0, 9, 100, 128};
  const size_t bodies[] = {0, 1, 119, 120, 247, 248, 1000, 65536};
  for (bool vector : {true, false}) {
    for (size_t count : {1, 2, 7, 8, 9, 17}) {
      std::vector<Blake2bInput> in;
      for (size_t i = 0; i < count; i++) {
        size_t p = prefixes[(i / 3) % 4];
        size_t b = bodies[(count + i / 2) % 8];
        in.push_back({ByteView(data).subspan(i, p), ByteView(data).subspan(200 + i, b)});
      }
      std::vector<Hash> got(count);
      Blake2b256Many(in, got, vector);
      for (size_t i = 0; i < count; i++) {
        ASSERT_EQ(ToHex(got[i]), ToHex(Blake2b256({in[i].prefix, in[i].body})))
            << "vector " << vector << " count " << count << " input " << i;
      }
    }
  }
}

TEST(Ed25519, SignVerifyDeterministic) {
  Seed seed{};
  seed[0] = 1;
  KeyPair kp = KeyPairFromSeed(seed);
  EXPECT_EQ(KeyPairFromSeed(seed).public_key, kp.public_key);
  Signature a = Sign(AsBytes("msg"), kp.secret_key);
  EXPECT_EQ(a, Sign(AsBytes("msg"), kp.secret_key));
  EXPECT_TRUE(Verify(AsBytes("msg"), a, kp.public_key));
  EXPECT_FALSE(Verify(AsBytes("msh"), a, kp.public_key));
  a[5] ^= 1;
  EXPECT_FALSE(Verify(AsBytes("msg"), a, kp.public_key));
  EXPECT_FALSE(Verify(AsBytes("msg"), ByteView(a).first(63), kp.public_key));
}

TEST(XSalsa20, XorTwiceIsIdentity) {
  Bytes data = ToBytes("some block bytes");
  Bytes orig = data;
  FixedBytes<24> nonce{};
  FixedBytes<32> key{};
  key[3] = 9;
  XSalsa20Xor(data, nonce, key);
  EXPECT_NE(data, orig);
  XSalsa20Xor(data, nonce, key);
  EXPECT_EQ(data, orig);
}

// FIPS 180-2 and RFC 1321 / RFC 4231 vectors.
TEST(Digest, KnownAnswers) {
  EXPECT_EQ(ToHex(Sha256(AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha256({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ToHex(Md5(AsBytes("abc"))), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(ToHex(Sha1(AsBytes("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(ToHex(Md5({})), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(ToHex(HmacSha256(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  StreamingDigest d(StreamingDigest::Kind::kMd5);
  d.Update(AsBytes("a"));
  d.Update(AsBytes("bc"));
  EXPECT_EQ(ToHex(d.Final()), "900150983cd24fb0d6963f7d28e17f72");
}

}  // namespace
}  // namespace shoal::crypto
