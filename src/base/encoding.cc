#include "base/encoding.h"

#include <cstring>

namespace shoal::enc {

void Encoder::FixedLE(uint64_t n, int width) {
  for (int i = 0; i < width; i++) out_.push_back(static_cast<uint8_t>(n >> (8 * i)));
}

void Encoder::Uint(uint64_t n) {
  if (n <= 0xfc) {
    out_.push_back(static_cast<uint8_t>(n));
  } else if (n <= 0xffff) {
    out_.push_back(0xfd);
    FixedLE(n, 2);
  } else if (n <= 0xffffffff) {
    out_.push_back(0xfe);
    FixedLE(n, 4);
  } else {
    out_.push_back(0xff);
    FixedLE(n, 8);
  }
}

void Encoder::Int(int64_t n) {
  uint64_t u = static_cast<uint64_t>(n);
  Uint(n < 0 ? ((~u) << 1) | 1 : u << 1);
}

void Encoder::Float64(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  FixedLE(bits, 8);
}

void Encoder::Buffer(ByteView b) {
  Uint(b.size());
  Raw(b);
}

void Encoder::Uint32Array(std::span<const uint32_t> values) {
  Uint(values.size());
  for (uint32_t v : values) FixedLE(v, 4);
}

void Decoder::Fail(std::string_view why) {
  if (error_.empty()) error_ = why.empty() ? "malformed" : std::string(why);
  pos_ = in_.size();
}

ByteView Decoder::Take(size_t n) {
  if (!ok()) return {};
  if (n > remaining()) {
    Fail("unexpected end of input");
    return {};
  }
  ByteView out = in_.subspan(pos_, n);
  pos_ += n;
  return out;
}

uint64_t Decoder::FixedLE(int width) {
  ByteView b = Take(width);
  if (b.empty()) return 0;
  uint64_t v = 0;
  for (int i = width - 1; i >= 0; i--) v = (v << 8) | b[i];
  return v;
}

uint64_t Decoder::Uint64() {
  uint64_t v = FixedLE(8);
  if (v > kMaxSafeInteger) {
    Fail("integer above 2^53-1");
    return 0;
  }
  return v;
}

uint64_t Decoder::Uint() {
  uint8_t a = Uint8();
  if (a <= 0xfc) return a;
  if (a == 0xfd) return FixedLE(2);
  if (a == 0xfe) return FixedLE(4);
  return Uint64();
}

int64_t Decoder::Int() {
  uint64_t u = Uint();
  return (u & 1) ? -static_cast<int64_t>((u >> 1) + 1) : static_cast<int64_t>(u >> 1);
}

double Decoder::Float64() {
  uint64_t bits = FixedLE(8);
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

bool Decoder::Bool() {
  uint8_t b = Uint8();
  if (b > 1) Fail("bool out of range");
  return b == 1;
}

ByteView Decoder::Buffer() {
  uint64_t n = Uint();
  if (!ok()) return {};
  if (n > remaining()) {
    Fail("buffer length past end of input");
    return {};
  }
  return Take(static_cast<size_t>(n));
}

uint64_t Decoder::ArrayLength(size_t min_item_size) {
  uint64_t n = Uint();
  if (n > kMaxArrayLength) {
    Fail("array too long");
    return 0;
  }
  if (min_item_size > 0 && n > remaining() / min_item_size) {
    Fail("array length past end of input");
    return 0;
  }
  return n;
}

std::vector<uint32_t> Decoder::Uint32Array() {
  uint64_t n = ArrayLength(4);
  std::vector<uint32_t> out;
  out.reserve(n);
  for (uint64_t i = 0; i < n && ok(); i++) out.push_back(static_cast<uint32_t>(FixedLE(4)));
  return out;
}

Status Decoder::status() const {
  return ok() ? Status::OK() : Status::Malformed(error_);
}

Status Decoder::Finish() const {
  if (!ok()) return Status::Malformed(error_);
  if (!done()) return Status::Malformed("trailing bytes after message");
  return Status::OK();
}

}  // namespace shoal::enc
