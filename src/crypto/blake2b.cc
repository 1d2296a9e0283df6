#include "crypto/blake2b.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "base/check.h"

namespace shoal::crypto {
namespace {

using blake2b_internal::kIv;
using blake2b_internal::kSigma;

inline uint64_t Rotr(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

// The mixing function G on columns or diagonals a, b, c, d with words x, y.
#define SHOAL_BLAKE2B_G(a, b, c, d, x, y) \
  do {                                    \
    a = a + b + (x);                      \
    d = Rotr(d ^ a, 32);                  \
    c = c + d;                            \
    b = Rotr(b ^ c, 24);                  \
    a = a + b + (y);                      \
    d = Rotr(d ^ a, 16);                  \
    c = c + d;                            \
    b = Rotr(b ^ c, 63);                  \
  } while (0)

// One round; R is a constant so every message index is known when compiled
// and the sixteen state words stay in registers.
template <int R>
inline void Round(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3, uint64_t& v4,
                  uint64_t& v5, uint64_t& v6, uint64_t& v7, uint64_t& v8, uint64_t& v9,
                  uint64_t& v10, uint64_t& v11, uint64_t& v12, uint64_t& v13, uint64_t& v14,
                  uint64_t& v15, const uint64_t* m) {
  constexpr const uint8_t* s = kSigma[R];
  SHOAL_BLAKE2B_G(v0, v4, v8, v12, m[s[0]], m[s[1]]);
  SHOAL_BLAKE2B_G(v1, v5, v9, v13, m[s[2]], m[s[3]]);
  SHOAL_BLAKE2B_G(v2, v6, v10, v14, m[s[4]], m[s[5]]);
  SHOAL_BLAKE2B_G(v3, v7, v11, v15, m[s[6]], m[s[7]]);
  SHOAL_BLAKE2B_G(v0, v5, v10, v15, m[s[8]], m[s[9]]);
  SHOAL_BLAKE2B_G(v1, v6, v11, v12, m[s[10]], m[s[11]]);
  SHOAL_BLAKE2B_G(v2, v7, v8, v13, m[s[12]], m[s[13]]);
  SHOAL_BLAKE2B_G(v3, v4, v9, v14, m[s[14]], m[s[15]]);
}

#undef SHOAL_BLAKE2B_G

}  // namespace

Blake2bState::Blake2bState(size_t digest_size, ByteView key) : digest_size_(digest_size) {
  SHOAL_CHECK(digest_size >= 1 && digest_size <= 64);
  SHOAL_CHECK(key.size() <= 64);
  for (int i = 0; i < 8; i++) h_[i] = kIv[i];
  // Parameter block: digest length, key length, fanout 1, depth 1.
  h_[0] ^= 0x01010000ULL ^ (static_cast<uint64_t>(key.size()) << 8) ^ digest_size;
  if (!key.empty()) {
    std::memset(buf_, 0, sizeof(buf_));
    std::memcpy(buf_, key.data(), key.size());
    buf_len_ = sizeof(buf_);
  }
}

void Blake2bState::Compress(const uint8_t* block, bool last) {
  uint64_t m[16];
  for (int i = 0; i < 16; i++) m[i] = Load64(block + 8 * i);
  uint64_t v0 = h_[0], v1 = h_[1], v2 = h_[2], v3 = h_[3];
  uint64_t v4 = h_[4], v5 = h_[5], v6 = h_[6], v7 = h_[7];
  uint64_t v8 = kIv[0], v9 = kIv[1], v10 = kIv[2], v11 = kIv[3];
  uint64_t v12 = kIv[4] ^ t_[0], v13 = kIv[5] ^ t_[1];
  uint64_t v14 = last ? ~kIv[6] : kIv[6], v15 = kIv[7];
#define SHOAL_ROUND(r) \
  Round<r>(v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, m)
  SHOAL_ROUND(0);
  SHOAL_ROUND(1);
  SHOAL_ROUND(2);
  SHOAL_ROUND(3);
  SHOAL_ROUND(4);
  SHOAL_ROUND(5);
  SHOAL_ROUND(6);
  SHOAL_ROUND(7);
  SHOAL_ROUND(8);
  SHOAL_ROUND(9);
  SHOAL_ROUND(10);
  SHOAL_ROUND(11);
#undef SHOAL_ROUND
  h_[0] ^= v0 ^ v8;
  h_[1] ^= v1 ^ v9;
  h_[2] ^= v2 ^ v10;
  h_[3] ^= v3 ^ v11;
  h_[4] ^= v4 ^ v12;
  h_[5] ^= v5 ^ v13;
  h_[6] ^= v6 ^ v14;
  h_[7] ^= v7 ^ v15;
}

void Blake2bState::Update(const uint8_t* data, size_t size) {
  if (size == 0) return;
  // The last block is compressed by Final with the last-block flag, so a
  // full buffer is only compressed once more input follows it.
  if (buf_len_ > 0) {
    size_t take = std::min(size, sizeof(buf_) - buf_len_);
    std::memcpy(buf_ + buf_len_, data, take);
    buf_len_ += take;
    data += take;
    size -= take;
    if (size == 0) return;
    t_[0] += sizeof(buf_);
    t_[1] += t_[0] < sizeof(buf_);
    Compress(buf_, false);
    buf_len_ = 0;
  }
  while (size > sizeof(buf_)) {
    t_[0] += sizeof(buf_);
    t_[1] += t_[0] < sizeof(buf_);
    Compress(data, false);
    data += sizeof(buf_);
    size -= sizeof(buf_);
  }
  std::memcpy(buf_, data, size);
  buf_len_ = size;
}

void Blake2bState::Final(uint8_t* out) {
  t_[0] += buf_len_;
  t_[1] += t_[0] < buf_len_;
  std::memset(buf_ + buf_len_, 0, sizeof(buf_) - buf_len_);
  Compress(buf_, true);
  uint8_t full[64];
  for (int i = 0; i < 8; i++) {
    uint64_t w = h_[i];
    for (int j = 0; j < 8; j++) full[8 * i + j] = static_cast<uint8_t>(w >> (8 * j));
  }
  std::memcpy(out, full, digest_size_);
}

}  // namespace shoal::crypto
