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
