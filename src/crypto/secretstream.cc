#include "crypto/secretstream.h"

#include <sodium.h>

#include "crypto/hash.h"

namespace shoal::crypto {
namespace {

static_assert(sizeof(crypto_secretstream_xchacha20poly1305_state) <= 64);
static_assert(crypto_secretstream_xchacha20poly1305_HEADERBYTES == kSecretStreamHeaderBytes);
static_assert(crypto_secretstream_xchacha20poly1305_ABYTES == kSecretStreamOverhead);

crypto_secretstream_xchacha20poly1305_state* AsState(unsigned char* p) {
  return reinterpret_cast<crypto_secretstream_xchacha20poly1305_state*>(p);
}

}  // namespace

SecretStreamPush::SecretStreamPush(const FixedBytes<32>& key) {
  Init();
  crypto_secretstream_xchacha20poly1305_init_push(AsState(state_), header_.data(), key.data());
}

SecretStreamPush::~SecretStreamPush() { sodium_memzero(state_, sizeof(state_)); }

void SecretStreamPush::Push(ByteView plain, uint8_t* out) {
  crypto_secretstream_xchacha20poly1305_push(AsState(state_), out, nullptr, plain.data(),
                                             plain.size(), nullptr, 0,
                                             crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
}

SecretStreamPull::SecretStreamPull(const FixedBytes<32>& key, const SecretStreamHeader& header) {
  Init();
  crypto_secretstream_xchacha20poly1305_init_pull(AsState(state_), header.data(), key.data());
}

SecretStreamPull::~SecretStreamPull() { sodium_memzero(state_, sizeof(state_)); }

Status SecretStreamPull::Pull(ByteView cipher, uint8_t* out) {
  if (cipher.size() < kSecretStreamOverhead) return Status::Malformed("secretstream: message too short");
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(AsState(state_), out, nullptr, &tag, cipher.data(),
                                                 cipher.size(), nullptr, 0) != 0) {
    return Status::VerificationFailed("secretstream: message does not authenticate");
  }
  if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
    return Status::VerificationFailed("secretstream: unexpected tag");
  }
  return Status::OK();
}

}  // namespace shoal::crypto
