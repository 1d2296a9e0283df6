#include "crypto/sign.h"

#include <sodium.h>

#include "crypto/hash.h"

namespace shoal::crypto {

KeyPair KeyPairFromSeed(const Seed& seed) {
  Init();
  KeyPair kp;
  crypto_sign_seed_keypair(kp.public_key.data(), kp.secret_key.data(), seed.data());
  return kp;
}

KeyPair RandomKeyPair() {
  Init();
  KeyPair kp;
  crypto_sign_keypair(kp.public_key.data(), kp.secret_key.data());
  return kp;
}

Signature Sign(ByteView message, const SecretKey& secret_key) {
  Init();
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_key.data());
  return sig;
}

bool Verify(ByteView message, ByteView signature, const PublicKey& public_key) {
  Init();
  if (signature.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     public_key.data()) == 0;
}

void RandomBytes(std::span<uint8_t> out) {
  Init();
  randombytes_buf(out.data(), out.size());
}

void XSalsa20Xor(std::span<uint8_t> data, const FixedBytes<24>& nonce,
                 const FixedBytes<32>& key) {
  Init();
  crypto_stream_xor(data.data(), data.data(), data.size(), nonce.data(), key.data());
}

bool ConstantTimeEqual(ByteView a, ByteView b) {
  Init();
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace shoal::crypto
