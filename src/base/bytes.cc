#include "base/bytes.h"

#include <cstring>

namespace shoal {

std::string ToHex(ByteView b) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(b.size() * 2, '0');
  for (size_t i = 0; i < b.size(); i++) {
    out[2 * i] = kDigits[b[i] >> 4];
    out[2 * i + 1] = kDigits[b[i] & 15];
  }
  return out;
}

static int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Bytes> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); i++) {
    int hi = HexDigit(hex[2 * i]);
    int lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

namespace {
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string ToBase64(ByteView b) {
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  for (size_t i = 0; i < b.size(); i += 3) {
    uint32_t n = uint32_t{b[i]} << 16;
    if (i + 1 < b.size()) n |= uint32_t{b[i + 1]} << 8;
    if (i + 2 < b.size()) n |= b[i + 2];
    out.push_back(kBase64[(n >> 18) & 63]);
    out.push_back(kBase64[(n >> 12) & 63]);
    out.push_back(i + 1 < b.size() ? kBase64[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < b.size() ? kBase64[n & 63] : '=');
  }
  return out;
}

std::optional<Bytes> FromBase64(std::string_view s) {
  auto value = [](char c) -> int {
    const char* p = std::strchr(kBase64, c);
    return c != '\0' && p ? static_cast<int>(p - kBase64) : -1;
  };
  if (s.size() % 4 != 0) return std::nullopt;
  Bytes out;
  out.reserve(s.size() / 4 * 3);
  for (size_t i = 0; i < s.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; k++) {
      char c = s[i + k];
      if (c == '=' && i + 4 == s.size() && k >= 2) {
        v[k] = 0;
        pad++;
      } else {
        if (pad) return std::nullopt;
        v[k] = value(c);
        if (v[k] < 0) return std::nullopt;
      }
    }
    uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<uint8_t>(n >> 16));
    if (pad < 2) out.push_back(static_cast<uint8_t>(n >> 8));
    if (pad < 1) out.push_back(static_cast<uint8_t>(n));
  }
  return out;
}

}  // namespace shoal
