// Byte strings and views, and their hex form.
//
// Bytes owns its contents; ByteView borrows them and must not outlive the
// owner. Fixed-size values (keys, hashes, signatures) are std::arrays so the
// size is part of the type.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shoal {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

template <size_t N>
using FixedBytes = std::array<uint8_t, N>;

inline ByteView AsBytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string_view AsString(ByteView b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline bool Equal(ByteView a, ByteView b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

// Lower-case hex of `b`.
std::string ToHex(ByteView b);
// Parses hex (either case). Returns nullopt on odd length or a non-hex digit.
std::optional<Bytes> FromHex(std::string_view hex);

// Standard base64 (RFC 4648 §4, with '=' padding) of `b`, and back; the
// decoder refuses a length that is not a multiple of 4, a character outside
// the alphabet, and padding anywhere but at the end.
std::string ToBase64(ByteView b);
std::optional<Bytes> FromBase64(std::string_view s);

// Parses exactly N bytes of hex.
template <size_t N>
std::optional<FixedBytes<N>> FixedFromHex(std::string_view hex) {
  auto bytes = FromHex(hex);
  if (!bytes || bytes->size() != N) return std::nullopt;
  FixedBytes<N> out;
  std::memcpy(out.data(), bytes->data(), N);
  return out;
}

// Little-endian fixed-width integers.
inline void PutU64LE(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint64_t GetU64LE(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
// Big-endian, for storage keys that must sort numerically.
inline void PutU64BE(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}
inline uint64_t GetU64BE(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

}  // namespace shoal
