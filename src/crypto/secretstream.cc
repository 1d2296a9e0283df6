#include "crypto/secretstream.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <cstring>

#include "base/check.h"
#include "crypto/hash.h"

namespace shoal::crypto {
namespace {

constexpr uint8_t kTagMessage = 0;
constexpr uint8_t kTagRekey = 2;
constexpr size_t kMacBytes = 16;

// Fetched once: an implicit fetch on every init would cost more than a
// small message's encryption.
const EVP_CIPHER* ChaCha20() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20", nullptr);
  SHOAL_CHECK(cipher != nullptr);
  return cipher;
}

EVP_MAC* Poly1305() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "POLY1305", nullptr);
  SHOAL_CHECK(mac != nullptr);
  return mac;
}

void StoreLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

bool Overlap(const uint8_t* a, const uint8_t* b, size_t n) { return a < b + n && b < a + n; }

}  // namespace

// The state libsodium keeps (key, 32-bit counter, 64-bit inner nonce) and the
// steps push and pull share. Messages are authenticated as libsodium does:
// Poly1305 keyed by ChaCha20 block 0 over the 64-byte encrypted tag block
// (block 1), the ciphertext (blocks 2..), padding of (mlen mod 16) zero bytes
// and the little-endian lengths of the (empty) additional data and of
// 64 + mlen. The MAC is then folded into the inner nonce.
class SecretStreamCore {
 public:
  SecretStreamCore(const FixedBytes<32>& key, const SecretStreamHeader& header)
      : cipher_(EVP_CIPHER_CTX_new()), mac_(EVP_MAC_CTX_new(Poly1305())) {
    SHOAL_CHECK(cipher_ != nullptr && mac_ != nullptr);
    crypto_core_hchacha20(key_, header.data(), key.data(), nullptr);
    std::memcpy(nonce_ + 4, header.data() + 16, 8);
    ResetCounter();
    SHOAL_CHECK(EVP_EncryptInit_ex2(cipher_, ChaCha20(), key_, Iv(0), nullptr) == 1);
  }

  ~SecretStreamCore() {
    sodium_memzero(key_, sizeof(key_));
    EVP_CIPHER_CTX_free(cipher_);
    EVP_MAC_CTX_free(mac_);
  }

  // Starts a message: keys Poly1305 with block 0 and returns the tag block
  // (block 1 of `tag` XOR keystream) in `block`, which the caller finishes.
  void Begin(uint8_t tag, uint8_t block[64]) {
    uint8_t stream[128] = {};
    stream[64] = tag;
    Xor(0, stream, stream, sizeof(stream));
    SHOAL_CHECK(EVP_MAC_init(mac_, stream, 32, nullptr) == 1);
    std::memcpy(block, stream + 64, 64);
    sodium_memzero(stream, 64);
  }

  void MacBlocks(const uint8_t block[64], const uint8_t* cipher, size_t size, uint8_t mac[16]) {
    static const uint8_t kZeros[16] = {};
    uint8_t lengths[16];
    StoreLe64(lengths, 0);
    StoreLe64(lengths + 8, 64 + size);
    size_t out = 0;
    SHOAL_CHECK(EVP_MAC_update(mac_, block, 64) == 1 && EVP_MAC_update(mac_, cipher, size) == 1 &&
                EVP_MAC_update(mac_, kZeros, size & 0xf) == 1 &&
                EVP_MAC_update(mac_, lengths, sizeof(lengths)) == 1 &&
                EVP_MAC_final(mac_, mac, &out, kMacBytes) == 1 && out == kMacBytes);
  }

  // ChaCha20 (IETF, 32-bit block counter) from block `counter`.
  void Xor(uint32_t counter, const uint8_t* in, uint8_t* out, size_t size) {
    int len = 0;
    SHOAL_CHECK(EVP_EncryptInit_ex2(cipher_, nullptr, nullptr, Iv(counter), nullptr) == 1);
    SHOAL_CHECK(EVP_EncryptUpdate(cipher_, out, &len, in, static_cast<int>(size)) == 1);
  }

  // After each message: fold the MAC into the inner nonce, count, and rekey
  // when asked or when the counter wraps.
  void Advance(const uint8_t mac[16], uint8_t tag) {
    for (int i = 0; i < 8; i++) nonce_[4 + i] ^= mac[i];
    uint32_t counter = LoadCounter() + 1;
    for (int i = 0; i < 4; i++) nonce_[i] = static_cast<uint8_t>(counter >> (8 * i));
    if ((tag & kTagRekey) != 0 || counter == 0) Rekey();
  }

 private:
  const uint8_t* Iv(uint32_t counter) {
    for (int i = 0; i < 4; i++) iv_[i] = static_cast<uint8_t>(counter >> (8 * i));
    std::memcpy(iv_ + 4, nonce_, 12);
    return iv_;
  }

  uint32_t LoadCounter() const {
    return nonce_[0] | (nonce_[1] << 8) | (nonce_[2] << 16) | (static_cast<uint32_t>(nonce_[3]) << 24);
  }

  void ResetCounter() {
    std::memset(nonce_, 0, 4);
    nonce_[0] = 1;
  }

  void Rekey() {
    uint8_t next[40];
    std::memcpy(next, key_, 32);
    std::memcpy(next + 32, nonce_ + 4, 8);
    Xor(0, next, next, sizeof(next));
    std::memcpy(key_, next, 32);
    std::memcpy(nonce_ + 4, next + 32, 8);
    sodium_memzero(next, sizeof(next));
    ResetCounter();
    SHOAL_CHECK(EVP_EncryptInit_ex2(cipher_, nullptr, key_, Iv(0), nullptr) == 1);
  }

  uint8_t key_[32];
  uint8_t nonce_[12];  // counter (LE32), then the inner nonce
  uint8_t iv_[16];
  EVP_CIPHER_CTX* cipher_;
  EVP_MAC_CTX* mac_;
};

SecretStreamPush::SecretStreamPush(const FixedBytes<32>& key) {
  Init();
  randombytes_buf(header_.data(), header_.size());
  core_ = std::make_unique<SecretStreamCore>(key, header_);
}

SecretStreamPush::~SecretStreamPush() = default;

void SecretStreamPush::Push(ByteView plain, uint8_t* out) {
  uint8_t* cipher = out + 1;
  const uint8_t* in = plain.data();
  if (in != cipher && Overlap(in, cipher, plain.size())) {
    std::memmove(cipher, in, plain.size());
    in = cipher;
  }
  uint8_t block[64];
  core_->Begin(kTagMessage, block);
  core_->Xor(2, in, cipher, plain.size());
  uint8_t* mac = cipher + plain.size();
  core_->MacBlocks(block, cipher, plain.size(), mac);
  out[0] = block[0];
  core_->Advance(mac, kTagMessage);
}

SecretStreamPull::SecretStreamPull(const FixedBytes<32>& key, const SecretStreamHeader& header) {
  Init();
  core_ = std::make_unique<SecretStreamCore>(key, header);
}

SecretStreamPull::~SecretStreamPull() = default;

Status SecretStreamPull::Pull(ByteView cipher, uint8_t* out) {
  if (cipher.size() < kSecretStreamOverhead) return Status::Malformed("secretstream: message too short");
  size_t size = cipher.size() - kSecretStreamOverhead;
  const uint8_t* body = cipher.data() + 1;
  uint8_t block[64];
  core_->Begin(0, block);
  // The tag byte's keystream is block[0]; the MAC covers the block with the
  // sender's encrypted tag byte in place of it.
  uint8_t tag = block[0] ^ cipher[0];
  block[0] = cipher[0];
  uint8_t mac[kMacBytes];
  core_->MacBlocks(block, body, size, mac);
  if (sodium_memcmp(mac, body + size, kMacBytes) != 0) {
    return Status::VerificationFailed("secretstream: message does not authenticate");
  }
  if (out != body && Overlap(out, body, size)) {
    std::memmove(out, body, size);
    body = out;
  }
  core_->Xor(2, body, out, size);
  core_->Advance(mac, tag);
  if (tag != kTagMessage) return Status::VerificationFailed("secretstream: unexpected tag");
  return Status::OK();
}

}  // namespace shoal::crypto
