#include "log/encryption.h"

#include "crypto/hash.h"
#include "crypto/sign.h"

namespace shoal::log {

BlockEncryption::BlockEncryption(const Key& log_key, const FixedBytes<32>& encryption_key) {
  block_key_ = crypto::Blake2b256({GetCaps().default_encryption, log_key, encryption_key});
  blinding_key_ = crypto::Blake2b256(block_key_);
}

Bytes BlockEncryption::Encrypt(uint64_t index, ByteView block, uint64_t fork) const {
  Bytes out(kPadding + block.size());
  PutU64LE(out.data(), fork);
  FixedBytes<24> nonce{};
  PutU64LE(nonce.data(), index);
  crypto::XSalsa20Xor(std::span<uint8_t>(out.data(), kPadding), nonce, blinding_key_);
  std::memcpy(nonce.data() + 8, out.data(), kPadding);
  if (!block.empty()) std::memcpy(out.data() + kPadding, block.data(), block.size());
  crypto::XSalsa20Xor(std::span<uint8_t>(out.data() + kPadding, block.size()), nonce, block_key_);
  return out;
}

Result<Bytes> BlockEncryption::Decrypt(uint64_t index, ByteView stored) const {
  if (stored.size() < kPadding) return Status::Corruption("encrypted block shorter than its padding");
  FixedBytes<24> nonce{};
  PutU64LE(nonce.data(), index);
  std::memcpy(nonce.data() + 8, stored.data(), kPadding);
  Bytes out(stored.begin() + kPadding, stored.end());
  crypto::XSalsa20Xor(out, nonce, block_key_);
  return out;
}

}  // namespace shoal::log
