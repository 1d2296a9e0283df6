#include "crypto/noise.h"

#include <sodium.h>

#include <string_view>

#include "base/check.h"
#include "crypto/hash.h"

namespace shoal::crypto {
namespace {

constexpr std::string_view kProtocolName = "Noise_XX_Ed25519_ChaChaPoly_BLAKE2b";
constexpr size_t kMacBytes = crypto_aead_chacha20poly1305_ietf_ABYTES;
constexpr size_t kBlockLen = 128;

FixedBytes<64> Blake2b512(std::initializer_list<ByteView> parts) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 64);
  for (ByteView p : parts) crypto_generichash_update(&st, p.data(), p.size());
  FixedBytes<64> out;
  crypto_generichash_final(&st, out.data(), out.size());
  return out;
}

// noise-handshake/cipher.js: 12-byte nonce, u32le counter at offset 4.
FixedBytes<12> CipherNonce(uint64_t n) {
  FixedBytes<12> nonce{};
  for (int i = 0; i < 4; i++) nonce[4 + i] = static_cast<uint8_t>(n >> (8 * i));
  return nonce;
}

// HKDF (RFC 5869) on HMAC-BLAKE2b-512 with empty info, two outputs.
std::pair<FixedBytes<64>, FixedBytes<64>> Hkdf2(ByteView salt, ByteView ikm) {
  FixedBytes<64> prk = HmacBlake2b512(salt, {ikm});
  uint8_t one = 1, two = 2;
  FixedBytes<64> t1 = HmacBlake2b512(prk, {ByteView(&one, 1)});
  FixedBytes<64> t2 = HmacBlake2b512(prk, {t1, ByteView(&two, 1)});
  sodium_memzero(prk.data(), prk.size());
  return {t1, t2};
}

FixedBytes<32> First32(const FixedBytes<64>& in) {
  FixedBytes<32> out;
  std::memcpy(out.data(), in.data(), 32);
  return out;
}

}  // namespace

FixedBytes<64> HmacBlake2b512(ByteView key, std::initializer_list<ByteView> parts) {
  Init();
  FixedBytes<kBlockLen> k{};
  if (key.size() > kBlockLen) {
    FixedBytes<64> hk = Blake2b512({key});
    std::memcpy(k.data(), hk.data(), hk.size());
  } else if (!key.empty()) {
    std::memcpy(k.data(), key.data(), key.size());
  }
  FixedBytes<kBlockLen> ipad, opad;
  for (size_t i = 0; i < kBlockLen; i++) {
    ipad[i] = k[i] ^ 0x36;
    opad[i] = k[i] ^ 0x5c;
  }
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 64);
  crypto_generichash_update(&st, ipad.data(), ipad.size());
  for (ByteView p : parts) crypto_generichash_update(&st, p.data(), p.size());
  FixedBytes<64> inner;
  crypto_generichash_final(&st, inner.data(), inner.size());
  FixedBytes<64> out = Blake2b512({opad, inner});
  sodium_memzero(k.data(), k.size());
  sodium_memzero(ipad.data(), ipad.size());
  sodium_memzero(opad.data(), opad.size());
  return out;
}

Result<FixedBytes<32>> Ed25519Dh(const PublicKey& remote, const KeyPair& local) {
  Init();
  uint8_t sk[64];
  crypto_hash_sha512(sk, local.secret_key.data(), 32);
  sk[0] &= 248;
  sk[31] &= 127;
  sk[31] |= 64;
  FixedBytes<32> out;
  int rc = crypto_scalarmult_ed25519_noclamp(out.data(), sk, remote.data());
  sodium_memzero(sk, sizeof(sk));
  if (rc != 0) return Status::VerificationFailed("noise: the remote key is not a usable Ed25519 point");
  return out;
}

NoiseXX::NoiseXX(bool initiator, const KeyPair& static_key, std::optional<KeyPair> ephemeral)
    : initiator_(initiator), s_(static_key), e_(ephemeral ? *ephemeral : RandomKeyPair()) {
  Init();
  static_assert(kProtocolName.size() <= 64);
  std::memcpy(h_.data(), kProtocolName.data(), kProtocolName.size());
  ck_ = h_;
  MixHash({});  // the empty prologue
}

NoiseXX::~NoiseXX() {
  sodium_memzero(e_.secret_key.data(), e_.secret_key.size());
  sodium_memzero(ck_.data(), ck_.size());
  if (k_) sodium_memzero(k_->data(), k_->size());
}

bool NoiseXX::my_turn() const {
  if (failed_ || complete()) return false;
  // Messages 0 and 2 are the initiator's, message 1 the responder's.
  return (step_ % 2 == 0) == initiator_;
}

void NoiseXX::MixHash(ByteView data) { h_ = Blake2b512({h_, data}); }

void NoiseXX::MixKey(ByteView ikm) {
  auto [ck, temp_k] = Hkdf2(ck_, ikm);
  ck_ = ck;
  k_ = First32(temp_k);
  n_ = 0;
}

Bytes NoiseXX::EncryptAndHash(ByteView plaintext) {
  Bytes out;
  if (!k_) {
    out.assign(plaintext.begin(), plaintext.end());
  } else {
    out.resize(plaintext.size() + kMacBytes);
    FixedBytes<12> nonce = CipherNonce(n_++);
    unsigned long long len = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), &len, plaintext.data(), plaintext.size(),
                                              h_.data(), h_.size(), nullptr, nonce.data(),
                                              k_->data());
  }
  MixHash(out);
  return out;
}

Result<Bytes> NoiseXX::DecryptAndHash(ByteView ciphertext) {
  Bytes out;
  if (!k_) {
    out.assign(ciphertext.begin(), ciphertext.end());
  } else {
    if (ciphertext.size() < kMacBytes) return Status::Malformed("noise: message too short");
    out.resize(ciphertext.size() - kMacBytes);
    FixedBytes<12> nonce = CipherNonce(n_++);
    unsigned long long len = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out.data(), &len, nullptr, ciphertext.data(),
                                                  ciphertext.size(), h_.data(), h_.size(),
                                                  nonce.data(), k_->data()) != 0) {
      return Status::VerificationFailed("noise: handshake message does not authenticate");
    }
  }
  MixHash(ciphertext);
  return out;
}

Result<Bytes> NoiseXX::Write() {
  if (!my_turn()) return Status::InvalidArgument("noise: not this side's turn to write");
  Bytes out;
  auto append = [&out](ByteView b) { out.insert(out.end(), b.begin(), b.end()); };
  auto dh = [this](const PublicKey& remote, const KeyPair& local) -> Status {
    SHOAL_ASSIGN_OR_RETURN(FixedBytes<32> shared, Ed25519Dh(remote, local));
    MixKey(shared);
    sodium_memzero(shared.data(), shared.size());
    return Status::OK();
  };
  Status st;
  if (step_ == 0) {  // -> e
    MixHash(e_.public_key);
    append(e_.public_key);
  } else if (step_ == 1) {  // <- e, ee, s, es
    MixHash(e_.public_key);
    append(e_.public_key);
    st = dh(re_, e_);
    if (st.ok()) append(EncryptAndHash(s_.public_key));
    if (st.ok()) st = dh(re_, s_);  // es: the responder's static, the initiator's ephemeral
  } else {  // -> s, se
    append(EncryptAndHash(s_.public_key));
    st = dh(re_, s_);  // se: the initiator's static, the responder's ephemeral
  }
  if (!st.ok()) {
    failed_ = true;
    return st;
  }
  append(EncryptAndHash({}));  // the empty payload
  if (++step_ == 3) Finish();
  return out;
}

Status NoiseXX::Read(ByteView message) {
  if (failed_ || complete() || my_turn()) {
    return Status::InvalidArgument("noise: not expecting a handshake message");
  }
  failed_ = true;  // until this message has been taken whole
  size_t pos = 0;
  auto take = [&](size_t n, ByteView* out) -> bool {
    if (message.size() - pos < n) return false;
    *out = message.subspan(pos, n);
    pos += n;
    return true;
  };
  auto read_key = [&](PublicKey* key, bool encrypted) -> Status {
    ByteView raw;
    size_t n = 32 + (encrypted && k_ ? kMacBytes : 0);
    if (!take(n, &raw)) return Status::Malformed("noise: handshake message too short");
    if (!encrypted) {
      MixHash(raw);
      std::memcpy(key->data(), raw.data(), 32);
      return Status::OK();
    }
    SHOAL_ASSIGN_OR_RETURN(Bytes plain, DecryptAndHash(raw));
    std::memcpy(key->data(), plain.data(), 32);
    return Status::OK();
  };
  auto dh = [this](const PublicKey& remote, const KeyPair& local) -> Status {
    SHOAL_ASSIGN_OR_RETURN(FixedBytes<32> shared, Ed25519Dh(remote, local));
    MixKey(shared);
    sodium_memzero(shared.data(), shared.size());
    return Status::OK();
  };
  if (step_ == 0) {  // e
    SHOAL_RETURN_IF_ERROR(read_key(&re_, false));
  } else if (step_ == 1) {  // e, ee, s, es
    SHOAL_RETURN_IF_ERROR(read_key(&re_, false));
    SHOAL_RETURN_IF_ERROR(dh(re_, e_));
    SHOAL_RETURN_IF_ERROR(read_key(&rs_, true));
    SHOAL_RETURN_IF_ERROR(dh(rs_, e_));
  } else {  // s, se
    SHOAL_RETURN_IF_ERROR(read_key(&rs_, true));
    SHOAL_RETURN_IF_ERROR(dh(rs_, e_));
  }
  // The rest is the payload; Shoal sends none and ignores any it is given.
  SHOAL_ASSIGN_OR_RETURN(Bytes payload, DecryptAndHash(message.subspan(pos)));
  (void)payload;
  failed_ = false;
  if (++step_ == 3) Finish();
  return Status::OK();
}

void NoiseXX::Finish() {
  auto [k1, k2] = Hkdf2(ck_, {});
  split_.tx = First32(initiator_ ? k1 : k2);
  split_.rx = First32(initiator_ ? k2 : k1);
  split_.hash = h_;
  split_.remote_public_key = rs_;
  sodium_memzero(k1.data(), k1.size());
  sodium_memzero(k2.data(), k2.size());
}

const NoiseSplit& NoiseXX::split() const {
  SHOAL_CHECK(complete());
  return split_;
}

}  // namespace shoal::crypto
