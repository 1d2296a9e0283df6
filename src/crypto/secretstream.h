// libsodium's crypto_secretstream_xchacha20poly1305, as sodium-secretstream
// wraps it for Hypercore's secret-stream: one Push per sending direction, one
// Pull per receiving direction, every message tagged MESSAGE.
//
// A pushed message is its plaintext length + 17 bytes (one encrypted tag
// byte, the ciphertext, a 16-byte MAC). Messages must be pulled in the order
// they were pushed: the state advances with each one, so a dropped, repeated,
// reordered or altered message fails to pull.
//
// Not thread-safe: one object per direction of one connection.
#pragma once

#include "base/bytes.h"
#include "base/result.h"

namespace shoal::crypto {

constexpr size_t kSecretStreamHeaderBytes = 24;
constexpr size_t kSecretStreamOverhead = 17;

using SecretStreamHeader = FixedBytes<kSecretStreamHeaderBytes>;

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
  // `out` may overlap `plain` only if it starts at the same address or one
  // byte before it (the tag byte goes first; the ciphertext then lands where
  // the plaintext was).
  void Push(ByteView plain, uint8_t* out);

 private:
  alignas(16) unsigned char state_[64];
  SecretStreamHeader header_{};
};

class SecretStreamPull {
 public:
  SecretStreamPull(const FixedBytes<32>& key, const SecretStreamHeader& header);
  ~SecretStreamPull();
  SecretStreamPull(const SecretStreamPull&) = delete;
  SecretStreamPull& operator=(const SecretStreamPull&) = delete;

  // Decrypts `cipher` into `out` (cipher.size() - 17 bytes). Malformed if
  // shorter than 17 bytes; VerificationFailed if it does not authenticate
  // or is not tagged MESSAGE.
  Status Pull(ByteView cipher, uint8_t* out);

 private:
  alignas(16) unsigned char state_[64];
};

}  // namespace shoal::crypto
