// BLAKE2b (RFC 7693): digests of 1..64 bytes, optionally keyed.
//
// Shoal's own implementation, because BLAKE2b hashes every block that enters
// a log or arrives from a peer, and a plain scalar compression function
// compiled for this machine runs twice as fast here as libsodium's dispatch
// (see bench/README.md). Checked against libsodium and RFC 7693's vectors in
// crypto_test. Not thread-safe per object; separate objects are independent.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/bytes.h"

namespace shoal::crypto {

namespace blake2b_internal {

inline constexpr uint64_t kIv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

// RFC 7693 §2.7: the message word schedule of each round (rounds 10 and 11
// repeat rounds 0 and 1).
inline constexpr uint8_t kSigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

}  // namespace blake2b_internal

class Blake2bState {
 public:
  // `digest_size` in [1, 64]; `key` at most 64 bytes (empty: unkeyed).
  Blake2bState(size_t digest_size, ByteView key);

  void Update(const uint8_t* data, size_t size);
  // Writes digest_size() bytes to `out`. Call once.
  void Final(uint8_t* out);

  size_t digest_size() const { return digest_size_; }

 private:
  void Compress(const uint8_t* block, bool last);

  uint64_t h_[8];
  uint64_t t_[2] = {0, 0};
  uint8_t buf_[128];
  size_t buf_len_ = 0;
  size_t digest_size_;
};

}  // namespace shoal::crypto
