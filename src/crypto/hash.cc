#include "crypto/hash.h"

#include <sodium.h>

#include "base/check.h"

namespace shoal::crypto {

void Init() {
  static const bool ok = sodium_init() >= 0;
  SHOAL_CHECK(ok);
}

Hash Blake2b256Keyed(ByteView key, std::initializer_list<ByteView> parts) {
  Blake2bState st(32, key);
  for (ByteView p : parts) st.Update(p.data(), p.size());
  Hash out;
  st.Final(out.data());
  return out;
}

Hash Blake2b256(std::initializer_list<ByteView> parts) { return Blake2b256Keyed({}, parts); }

Blake2b::Blake2b(ByteView key) : state_(32, key) {}

Hash Blake2b::Final() {
  Hash out;
  state_.Final(out.data());
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
