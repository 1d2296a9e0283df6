// compact-encoding: the byte encoding of every Hypercore message and record.
//
// Byte layouts (HYPERCORE.md §2d.3, npm compact-encoding 3.5.2):
//   uint      n <= 0xfc: 1 byte; <= 0xffff: fd u16le; <= 0xffffffff: fe u32le;
//             else ff u64le. Decoding refuses values above 2^53-1, as JS does.
//   int       zig-zag over uint.
//   uintN     N/8 bytes little-endian (uint8 .. uint64); uint64 must be <= 2^53-1.
//   buffer    uint length || bytes.  optionalBuffer: length 0 means none.
//   string    uint byte length || UTF-8.
//   fixedN    N raw bytes (fixed32, fixed64).
//   array     uint count || items; a count above 0x100000 is refused.
//   bool      1 byte, 0 or 1.
//   uint32array  uint count || count x u32le.
//   raw       the rest of the input.
// Messages are plain concatenations; optional fields hang off a leading
// `uint flags`.
//
// Encoder appends to a byte vector it owns. Decoder reads from a borrowed view
// and never reads past its end: the first failure sets a sticky error, every
// later read returns zero/empty, and the caller checks ok() (or status()) once
// at the end. Neither is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace shoal::enc {

constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;
constexpr uint64_t kMaxArrayLength = 0x100000;

// Bytes the uint encoding of n takes.
inline size_t UintSize(uint64_t n) {
  return n <= 0xfc ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9;
}

class Encoder {
 public:
  Encoder() = default;
  explicit Encoder(size_t reserve) { out_.reserve(reserve); }

  void Uint(uint64_t n);
  void Int(int64_t n);
  void Uint8(uint8_t n) { out_.push_back(n); }
  void Uint16(uint16_t n) { FixedLE(n, 2); }
  void Uint24(uint32_t n) { FixedLE(n, 3); }
  void Uint32(uint32_t n) { FixedLE(n, 4); }
  void Uint64(uint64_t n) { FixedLE(n, 8); }
  void Float64(double d);
  void Bool(bool b) { out_.push_back(b ? 1 : 0); }
  void Buffer(ByteView b);
  void OptionalBuffer(const Bytes* b) { Buffer(b ? ByteView(*b) : ByteView()); }
  void String(std::string_view s) { Buffer(AsBytes(s)); }
  void Fixed(ByteView b) { Raw(b); }
  void Raw(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void Uint32Array(std::span<const uint32_t> values);

  size_t size() const { return out_.size(); }
  const Bytes& bytes() const { return out_; }
  Bytes Take() { return std::move(out_); }

 private:
  void FixedLE(uint64_t n, int width);

  Bytes out_;
};

class Decoder {
 public:
  explicit Decoder(ByteView in) : in_(in) {}

  uint64_t Uint();
  int64_t Int();
  uint8_t Uint8() { return static_cast<uint8_t>(FixedLE(1)); }
  uint16_t Uint16() { return static_cast<uint16_t>(FixedLE(2)); }
  uint32_t Uint24() { return static_cast<uint32_t>(FixedLE(3)); }
  uint32_t Uint32() { return static_cast<uint32_t>(FixedLE(4)); }
  uint64_t Uint64();
  double Float64();
  bool Bool();
  // The returned views borrow the input.
  ByteView Buffer();
  std::string_view String() { return AsString(Buffer()); }
  template <size_t N>
  FixedBytes<N> Fixed() {
    FixedBytes<N> out{};
    ByteView b = Take(N);
    if (!b.empty()) std::memcpy(out.data(), b.data(), N);
    return out;
  }
  ByteView Raw() { return Take(remaining()); }
  // An array count, refused above kMaxArrayLength or above what the remaining
  // bytes could hold at `min_item_size` bytes per item.
  uint64_t ArrayLength(size_t min_item_size = 1);
  std::vector<uint32_t> Uint32Array();

  // Takes exactly n bytes, or fails.
  ByteView Take(size_t n);

  // Sets the sticky error (first one wins).
  void Fail(std::string_view why);

  bool ok() const { return error_.empty(); }
  bool done() const { return pos_ == in_.size(); }
  size_t remaining() const { return in_.size() - pos_; }
  size_t position() const { return pos_; }
  // OK, or Malformed with the first error.
  Status status() const;
  // Like status(), and also fails if bytes are left over.
  Status Finish() const;

 private:
  uint64_t FixedLE(int width);

  ByteView in_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace shoal::enc
