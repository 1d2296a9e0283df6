// SHA-256, HMAC-SHA256 and MD5, for the S3 API: SigV4 signs with
// HMAC-SHA256 over SHA-256 digests, and S3's ETags are MD5 digests. SHA-1,
// for the WebSocket handshake (RFC 6455 §4.2.2) and nothing else.
// Backed by OpenSSL (libcrypto); this header does not include it.
// All functions are thread-safe; each hasher object is used by one thread.
#pragma once

#include <memory>
#include <string_view>

#include "base/bytes.h"

namespace shoal::crypto {

FixedBytes<32> Sha256(ByteView data);
FixedBytes<32> HmacSha256(ByteView key, ByteView data);
FixedBytes<16> Md5(ByteView data);
FixedBytes<20> Sha1(ByteView data);

// Incremental SHA-256 or MD5, for bodies that arrive in pieces.
class StreamingDigest {
 public:
  enum class Kind { kSha256, kMd5, kSha1 };
  explicit StreamingDigest(Kind kind);
  ~StreamingDigest();
  StreamingDigest(const StreamingDigest&) = delete;
  StreamingDigest& operator=(const StreamingDigest&) = delete;

  void Update(ByteView data);
  // The digest (32 bytes for SHA-256, 16 for MD5, 20 for SHA-1). Once only.
  Bytes Final();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace shoal::crypto
