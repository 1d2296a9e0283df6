// libsodium's crypto_secretstream_xchacha20poly1305, as sodium-secretstream
// wraps it for Hypercore's secret-stream: one Push per sending direction, one
// Pull per receiving direction, every message tagged MESSAGE.
//
// A pushed message is its plaintext length + 17 bytes (one encrypted tag
// byte, the ciphertext, a 16-byte MAC). Messages must be pulled in the order
// they were pushed: the state advances with each one, so a dropped, repeated,
// reordered or altered message fails to pull.
//
// The construction is libsodium's, byte for byte (crypto_test checks it
// against libsodium for every length class); the ChaCha20 and Poly1305 under
// it are OpenSSL's, whose vector code runs 2-3x faster than libsodium's here.
//
// Not thread-safe: one object per direction of one connection.
#pragma once

#include <memory>

#include "base/bytes.h"
#include "base/result.h"

namespace shoal::crypto {

constexpr size_t kSecretStreamHeaderBytes = 24;
constexpr size_t kSecretStreamOverhead = 17;

using SecretStreamHeader = FixedBytes<kSecretStreamHeaderBytes>;

class SecretStreamCore;

class SecretStreamPush {
 public:
  // Starts a stream under `key` with a random header, which the receiver
  // needs before it can pull.
  explicit SecretStreamPush(const FixedBytes<32>& key);
  ~SecretStreamPush();
  SecretStreamPush(const SecretStreamPush&) = delete;
  SecretStreamPush& operator=(const SecretStreamPush&) = delete;

  const SecretStreamHeader& header() const { return header_; }
  // Encrypts `plain` into `out`, which must hold plain.size() + 17 bytes.
  // `out` may overlap `plain`; one byte before it (the tag byte goes first
  // and the ciphertext then lands where the plaintext was) costs no copy.
  void Push(ByteView plain, uint8_t* out);

 private:
  std::unique_ptr<SecretStreamCore> core_;
  SecretStreamHeader header_{};
};

class SecretStreamPull {
 public:
  SecretStreamPull(const FixedBytes<32>& key, const SecretStreamHeader& header);
  ~SecretStreamPull();
  SecretStreamPull(const SecretStreamPull&) = delete;
  SecretStreamPull& operator=(const SecretStreamPull&) = delete;

  // Decrypts `cipher` into `out` (cipher.size() - 17 bytes; may overlap).
  // Malformed if shorter than 17 bytes; VerificationFailed if it does not
  // authenticate or is not tagged MESSAGE. A failed pull leaves the stream
  // unusable, as in libsodium: nothing after it can be trusted.
  Status Pull(ByteView cipher, uint8_t* out);

 private:
  std::unique_ptr<SecretStreamCore> core_;
};

}  // namespace shoal::crypto
