// Ed25519 key pairs, signatures and randomness (libsodium underneath).
//
// Signatures are deterministic: the same key and message give the same bytes,
// which is what lets Shoal and the JS hypercore agree byte for byte.
// All functions are thread-safe.
#pragma once

#include "base/bytes.h"

namespace shoal::crypto {

using PublicKey = FixedBytes<32>;
using SecretKey = FixedBytes<64>;  // libsodium layout: seed || public key
using Seed = FixedBytes<32>;
using Signature = FixedBytes<64>;

struct KeyPair {
  PublicKey public_key{};
  SecretKey secret_key{};
};

// crypto_sign_seed_keypair: the key pair a 32-byte seed determines.
KeyPair KeyPairFromSeed(const Seed& seed);
KeyPair RandomKeyPair();

Signature Sign(ByteView message, const SecretKey& secret_key);
bool Verify(ByteView message, ByteView signature, const PublicKey& public_key);

// Fills `out` with cryptographically secure random bytes.
void RandomBytes(std::span<uint8_t> out);
template <size_t N>
FixedBytes<N> RandomFixed() {
  FixedBytes<N> out;
  RandomBytes(out);
  return out;
}

// XSalsa20 (libsodium crypto_stream_xor): data ^= keystream(nonce, key),
// in place. Hypercore's default block encryption is built on it.
void XSalsa20Xor(std::span<uint8_t> data, const FixedBytes<24>& nonce, const FixedBytes<32>& key);

// Compares in constant time.
bool ConstantTimeEqual(ByteView a, ByteView b);

}  // namespace shoal::crypto
