#include "crypto/hash.h"

#include <sodium.h>

#include "base/check.h"

namespace shoal::crypto {

static_assert(sizeof(crypto_generichash_state) <= 384);

void Init() {
  static const bool ok = sodium_init() >= 0;
  SHOAL_CHECK(ok);
}

Hash Blake2b256Keyed(ByteView key, std::initializer_list<ByteView> parts) {
  Init();
  SHOAL_CHECK(key.size() <= crypto_generichash_KEYBYTES_MAX);
  crypto_generichash_state st;
  crypto_generichash_init(&st, key.empty() ? nullptr : key.data(), key.size(), 32);
  for (ByteView p : parts) crypto_generichash_update(&st, p.data(), p.size());
  Hash out;
  crypto_generichash_final(&st, out.data(), out.size());
  return out;
}

Hash Blake2b256(std::initializer_list<ByteView> parts) { return Blake2b256Keyed({}, parts); }

Blake2b::Blake2b(ByteView key) {
  Init();
  SHOAL_CHECK(key.size() <= crypto_generichash_KEYBYTES_MAX);
  crypto_generichash_init(reinterpret_cast<crypto_generichash_state*>(state_),
                          key.empty() ? nullptr : key.data(), key.size(), 32);
}

Blake2b& Blake2b::Update(ByteView data) {
  crypto_generichash_update(reinterpret_cast<crypto_generichash_state*>(state_), data.data(),
                            data.size());
  return *this;
}

Hash Blake2b::Final() {
  Hash out;
  crypto_generichash_final(reinterpret_cast<crypto_generichash_state*>(state_), out.data(),
                           out.size());
  return out;
}

std::vector<Hash> Namespace(std::string_view name, int count) {
  Hash ns = Blake2b256(AsBytes(name));
  std::vector<Hash> out;
  out.reserve(count);
  for (int i = 0; i < count; i++) {
    uint8_t id = static_cast<uint8_t>(i);
    out.push_back(Blake2b256({ns, ByteView(&id, 1)}));
  }
  return out;
}

}  // namespace shoal::crypto
