#include "crypto/digest.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>

namespace shoal::crypto {

struct StreamingDigest::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

StreamingDigest::StreamingDigest(Kind kind) : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  // Failing here means OpenSSL cannot allocate or lacks the algorithm:
  // nothing sensible can go on.
  const EVP_MD* md = kind == Kind::kSha256 ? EVP_sha256() : kind == Kind::kMd5 ? EVP_md5() : EVP_sha1();
  if (!ctx_->md || EVP_DigestInit_ex(ctx_->md, md, nullptr) != 1) {
    std::abort();
  }
}

StreamingDigest::~StreamingDigest() = default;

void StreamingDigest::Update(ByteView data) {
  if (!data.empty()) EVP_DigestUpdate(ctx_->md, data.data(), data.size());
}

Bytes StreamingDigest::Final() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_->md, out, &n);
  return Bytes(out, out + n);
}

namespace {

template <size_t N>
FixedBytes<N> OneShot(StreamingDigest::Kind kind, ByteView data) {
  StreamingDigest d(kind);
  d.Update(data);
  Bytes b = d.Final();
  FixedBytes<N> out{};
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

}  // namespace

FixedBytes<32> Sha256(ByteView data) { return OneShot<32>(StreamingDigest::Kind::kSha256, data); }
FixedBytes<16> Md5(ByteView data) { return OneShot<16>(StreamingDigest::Kind::kMd5, data); }

FixedBytes<20> Sha1(ByteView data) { return OneShot<20>(StreamingDigest::Kind::kSha1, data); }

FixedBytes<32> HmacSha256(ByteView key, ByteView data) {
  FixedBytes<32> out{};
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
       out.data(), &n);
  return out;
}

}  // namespace shoal::crypto
