#include <gtest/gtest.h>
#include <sodium.h>

#include "crypto/hash.h"
#include "crypto/noise.h"
#include "crypto/secretstream.h"

namespace shoal::crypto {
namespace {

KeyPair SeededKeyPair(uint8_t fill) {
  Seed seed;
  seed.fill(fill);
  return KeyPairFromSeed(seed);
}

// Computed with noise-handshake 4.x and noise-curve-ed (the modules
// @hyperswarm/secret-stream uses): static key pairs from seeds 01…/03…,
// ephemeral ones from 02…/04…, initiator first.
TEST(NoiseXX, MatchesSecretStreamHandshake) {
  NoiseXX a(true, SeededKeyPair(1), SeededKeyPair(2));
  NoiseXX b(false, SeededKeyPair(3), SeededKeyPair(4));
  EXPECT_TRUE(a.my_turn());
  EXPECT_FALSE(b.my_turn());

  auto m1 = a.Write();
  ASSERT_TRUE(m1.ok());
  EXPECT_EQ(ToHex(*m1), "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394");
  ASSERT_TRUE(b.Read(*m1).ok());
  auto m2 = b.Write();
  ASSERT_TRUE(m2.ok());
  EXPECT_EQ(ToHex(*m2),
            "ca93ac1705187071d67b83c7ff0efe8108e8ec4530575d7726879333dbdabe7c"
            "4d9e7de3cc9a6378ec7fc7cfdae288cac5c0f41a9197adb9213804de129ddca0"
            "6a55cc9062361dd6ea395fe2f6c25fdd2204cd9188549881c1e0dfad769ddbcc");
  ASSERT_TRUE(a.Read(*m2).ok());
  auto m3 = a.Write();
  ASSERT_TRUE(m3.ok());
  EXPECT_EQ(ToHex(*m3),
            "4e7f5acd10d28ef757ccacec8caff9ca4f7f8b305f457914800d56c160e90fee"
            "d0e601ca181e4a2af39f2d3bb8020f7b0554bc91296be4be0ee974372b9c6013");
  ASSERT_TRUE(b.Read(*m3).ok());

  ASSERT_TRUE(a.complete());
  ASSERT_TRUE(b.complete());
  EXPECT_EQ(ToHex(a.split().tx), "da3ea403820846d555bdbbd22bd530d686fb57ae98daa541a15b5b4f12d02fae");
  EXPECT_EQ(ToHex(a.split().rx), "42fa8a7e955cb0bef6c9112e7743f70205a60b4b1d246b728ca36b04ab7ede61");
  EXPECT_EQ(ToHex(a.split().hash),
            "6c66d9f3b7da972c50ec4867d6866862a7386b3c2a0a24dacfb8d33ae0f2610f"
            "c0b1ec8c9fc89e93a50038a04149805775f30d4d6a3eb003328e907a3d312d0f");
  EXPECT_EQ(a.split().tx, b.split().rx);
  EXPECT_EQ(a.split().rx, b.split().tx);
  EXPECT_EQ(a.split().hash, b.split().hash);
  EXPECT_EQ(a.split().remote_public_key, SeededKeyPair(3).public_key);
  EXPECT_EQ(b.split().remote_public_key, SeededKeyPair(1).public_key);

  // The initiator's stream id: BLAKE2b-256 keyed with the handshake hash.
  Hash ns_initiator = Namespace("hyperswarm/secret-stream", 3)[0];
  EXPECT_EQ(ToHex(Blake2b256Keyed(a.split().hash, {ns_initiator})),
            "0d867f3dc1d7570dacc4a8dab51c6892596239adbce4554704894574b0fbc486");
}

TEST(NoiseXX, RandomEphemeralsAgree) {
  NoiseXX a(true, RandomKeyPair());
  NoiseXX b(false, RandomKeyPair());
  ASSERT_TRUE(b.Read(*a.Write()).ok());
  ASSERT_TRUE(a.Read(*b.Write()).ok());
  ASSERT_TRUE(b.Read(*a.Write()).ok());
  EXPECT_EQ(a.split().tx, b.split().rx);
  EXPECT_EQ(a.split().hash, b.split().hash);
}

TEST(NoiseXX, RefusesTamperingAndBadOrder) {
  NoiseXX a(true, RandomKeyPair());
  NoiseXX b(false, RandomKeyPair());
  EXPECT_EQ(b.Write().status().code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(b.Read(*a.Write()).ok());
  Bytes m2 = *b.Write();
  Bytes tampered = m2;
  tampered[40] ^= 1;  // inside the encrypted static key
  EXPECT_EQ(a.Read(tampered).code(), Status::Code::kVerificationFailed);
  // A failed handshake stays failed.
  EXPECT_FALSE(a.Read(m2).ok());
  EXPECT_FALSE(a.complete());

  NoiseXX c(true, RandomKeyPair());
  NoiseXX d(false, RandomKeyPair());
  ASSERT_TRUE(d.Read(*c.Write()).ok());
  Bytes short_m2 = *d.Write();
  short_m2.resize(50);
  EXPECT_EQ(c.Read(short_m2).code(), Status::Code::kMalformed);

  // A remote ephemeral that is not a point on the curve.
  NoiseXX e(false, RandomKeyPair());
  Bytes bad(32, 0);
  bad[0] = 1;  // the identity, a small-order point
  ASSERT_TRUE(e.Read(bad).ok());  // msg1 carries no DH
  EXPECT_EQ(e.Write().status().code(), Status::Code::kVerificationFailed);
}

TEST(SecretStream, RoundTripAndTamper) {
  FixedBytes<32> key;
  key.fill(7);
  SecretStreamPush push(key);
  SecretStreamPull pull(key, push.header());
  for (size_t n : {0, 1, 100, 70000}) {
    Bytes plain(n, static_cast<uint8_t>(n));
    Bytes cipher(n + kSecretStreamOverhead);
    push.Push(plain, cipher.data());
    Bytes out(n);
    ASSERT_TRUE(pull.Pull(cipher, out.data()).ok());
    EXPECT_EQ(out, plain);
  }
  Bytes cipher(5 + kSecretStreamOverhead);
  push.Push(AsBytes("hello"), cipher.data());
  Bytes replay = cipher;
  cipher[3] ^= 0x10;
  Bytes out(5);
  EXPECT_EQ(pull.Pull(cipher, out.data()).code(), Status::Code::kVerificationFailed);
  EXPECT_EQ(pull.Pull(Bytes(3), out.data()).code(), Status::Code::kMalformed);

  // In place, as the stream encrypts.
  SecretStreamPush push2(key);
  SecretStreamPull pull2(key, push2.header());
  Bytes buf(1 + 5 + 16);
  std::memcpy(buf.data() + 1, "world", 5);
  push2.Push(ByteView(buf.data() + 1, 5), buf.data());
  Bytes got(5);
  ASSERT_TRUE(pull2.Pull(buf, got.data()).ok());
  EXPECT_EQ(AsString(got), "world");
  // The same message twice does not pull twice.
  EXPECT_FALSE(pull2.Pull(buf, got.data()).ok());
}

// Byte for byte libsodium's construction, both ways, for every length class
// around the 16- and 64-byte edges, in place and not, and through a rekey.
TEST(SecretStream, MatchesLibsodium) {
  FixedBytes<32> key;
  for (size_t i = 0; i < key.size(); i++) key[i] = static_cast<uint8_t>(3 * i + 1);
  const size_t sizes[] = {0, 1, 15, 16, 17, 47, 48, 63, 64, 65, 1000, 65536 + 3};

  SecretStreamPush ours(key);
  crypto_secretstream_xchacha20poly1305_state theirs_pull;
  ASSERT_EQ(crypto_secretstream_xchacha20poly1305_init_pull(&theirs_pull, ours.header().data(),
                                                            key.data()),
            0);
  for (size_t n : sizes) {
    Bytes plain(n);
    for (size_t i = 0; i < n; i++) plain[i] = static_cast<uint8_t>(i * 7 + n);
    Bytes buf(n + kSecretStreamOverhead);
    std::memcpy(buf.data() + 1, plain.data(), n);
    if (n % 2) {
      ours.Push(ByteView(buf.data() + 1, n), buf.data());  // in place
    } else {
      ours.Push(plain, buf.data());
    }
    Bytes out(n + 1);
    unsigned char tag = 0xff;
    ASSERT_EQ(crypto_secretstream_xchacha20poly1305_pull(&theirs_pull, out.data(), nullptr, &tag,
                                                         buf.data(), buf.size(), nullptr, 0),
              0)
        << n;
    EXPECT_EQ(tag, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
    EXPECT_EQ(ToHex(ByteView(out).first(n)), ToHex(plain)) << n;
  }

  crypto_secretstream_xchacha20poly1305_state theirs_push;
  SecretStreamHeader header;
  crypto_secretstream_xchacha20poly1305_init_push(&theirs_push, header.data(), key.data());
  SecretStreamPull pull(key, header);
  auto push = [&](size_t n, unsigned char tag) {
    Bytes plain(n, static_cast<uint8_t>(n));
    Bytes cipher(n + kSecretStreamOverhead);
    crypto_secretstream_xchacha20poly1305_push(&theirs_push, cipher.data(), nullptr, plain.data(),
                                               n, nullptr, 0, tag);
    return std::make_pair(plain, cipher);
  };
  for (size_t n : sizes) {
    auto [plain, cipher] = push(n, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
    Bytes out(n);
    ASSERT_TRUE(pull.Pull(cipher, out.data()).ok()) << n;
    EXPECT_EQ(out, plain) << n;
    // In place, plaintext where the ciphertext was.
    auto [plain2, cipher2] = push(n, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
    ASSERT_TRUE(pull.Pull(cipher2, cipher2.data() + 1).ok()) << n;
    EXPECT_EQ(ToHex(ByteView(cipher2).subspan(1, n)), ToHex(plain2)) << n;
  }
  // A REKEY tag is refused (secret-stream sends only MESSAGE), but the state
  // follows libsodium's through the rekey, so the next message still pulls.
  auto [p1, c1] = push(10, crypto_secretstream_xchacha20poly1305_TAG_REKEY);
  Bytes out(10);
  EXPECT_EQ(pull.Pull(c1, out.data()).code(), Status::Code::kVerificationFailed);
  auto [p2, c2] = push(33, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  Bytes out2(33);
  ASSERT_TRUE(pull.Pull(c2, out2.data()).ok());
  EXPECT_EQ(out2, p2);
}

}  // namespace
}  // namespace shoal::crypto
