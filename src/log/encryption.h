// Hypercore's default block encryption (hypercore/lib/default-encryption.js).
//
//   block_key    = H(DEFAULT_ENCRYPTION || log key || encryption key)
//   blinding_key = H(block_key)
//   stored block = blinded fork (8 bytes) || XSalsa20(block_key, nonce, block)
//     blinded fork = u64le(fork) ^ XSalsa20(blinding_key, u64le(index) || 0^16)
//     nonce        = u64le(index) || blinded fork || 0^8
//
// The Merkle tree hashes the stored (encrypted) bytes, so a peer without the
// encryption key can still hold, verify and serve the blocks.
#pragma once

#include "base/result.h"
#include "log/caps.h"

namespace shoal::log {

class BlockEncryption {
 public:
  static constexpr size_t kPadding = 8;

  BlockEncryption(const Key& log_key, const FixedBytes<32>& encryption_key);

  Bytes Encrypt(uint64_t index, ByteView block, uint64_t fork) const;
  // Corruption if `stored` is shorter than the padding.
  Result<Bytes> Decrypt(uint64_t index, ByteView stored) const;

 private:
  FixedBytes<32> block_key_;
  FixedBytes<32> blinding_key_;
};

}  // namespace shoal::log
