// BLAKE2b-256 of many inputs at once: eight inputs of one length run in the
// eight 64-bit lanes of AVX-512 registers, one compression for all of them.
// Compiling the kernel for AVX-512 is per function (the target attribute),
// so nothing else in the binary needs the instructions, and the kernel only
// runs after the CPU has been asked.

#if defined(__x86_64__)
// GCC 12's AVX-512 headers start some results from _mm512_undefined_*,
// which -O3 reports as uninitialised.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <numeric>
#include <utility>

#include "base/check.h"
#include "crypto/hash.h"

namespace shoal::crypto {
namespace {

#if defined(__x86_64__)

constexpr size_t kLanes = 8;
constexpr size_t kBlockBytes = 128;

using blake2b_internal::kIv;
using blake2b_internal::kSigma;

#define SHOAL_AVX512 __attribute__((target("avx512f")))

SHOAL_AVX512 inline void G(__m512i& a, __m512i& b, __m512i& c, __m512i& d, __m512i x,
                           __m512i y) {
  a = _mm512_add_epi64(_mm512_add_epi64(a, b), x);
  d = _mm512_ror_epi64(_mm512_xor_si512(d, a), 32);
  c = _mm512_add_epi64(c, d);
  b = _mm512_ror_epi64(_mm512_xor_si512(b, c), 24);
  a = _mm512_add_epi64(_mm512_add_epi64(a, b), y);
  d = _mm512_ror_epi64(_mm512_xor_si512(d, a), 16);
  c = _mm512_add_epi64(c, d);
  b = _mm512_ror_epi64(_mm512_xor_si512(b, c), 63);
}

template <int R>
SHOAL_AVX512 inline void Round(__m512i* v, const __m512i* m) {
  constexpr const uint8_t* s = kSigma[R];
  G(v[0], v[4], v[8], v[12], m[s[0]], m[s[1]]);
  G(v[1], v[5], v[9], v[13], m[s[2]], m[s[3]]);
  G(v[2], v[6], v[10], v[14], m[s[4]], m[s[5]]);
  G(v[3], v[7], v[11], v[15], m[s[6]], m[s[7]]);
  G(v[0], v[5], v[10], v[15], m[s[8]], m[s[9]]);
  G(v[1], v[6], v[11], v[12], m[s[10]], m[s[11]]);
  G(v[2], v[7], v[8], v[13], m[s[12]], m[s[13]]);
  G(v[3], v[4], v[9], v[14], m[s[14]], m[s[15]]);
}

template <int... R>
SHOAL_AVX512 inline void Rounds(__m512i* v, const __m512i* m, std::integer_sequence<int, R...>) {
  (Round<R>(v, m), ...);
}

// One compression in every lane: lane j's 128-byte block is at block[j].
// `t` (bytes hashed once this block is in) and `last` are the same in every
// lane, since the lanes hold inputs of one length.
SHOAL_AVX512 void CompressX8(__m512i* h, const uint8_t* const* block, uint64_t t, bool last) {
  __m512i addr = _mm512_loadu_si512(block);
  __m512i m[16];
  for (int i = 0; i < 16; i++) {
    __m512i at = _mm512_add_epi64(addr, _mm512_set1_epi64(8 * i));
    m[i] = _mm512_i64gather_epi64(at, nullptr, 1);
  }
  __m512i v[16];
  for (int i = 0; i < 8; i++) v[i] = h[i];
  for (int i = 0; i < 8; i++) v[8 + i] = _mm512_set1_epi64(static_cast<long long>(kIv[i]));
  v[12] = _mm512_xor_si512(v[12], _mm512_set1_epi64(static_cast<long long>(t)));
  if (last) v[14] = _mm512_xor_si512(v[14], _mm512_set1_epi64(-1));
  Rounds(v, m, std::make_integer_sequence<int, 12>());
  for (int i = 0; i < 8; i++) h[i] = _mm512_xor_si512(h[i], _mm512_xor_si512(v[i], v[8 + i]));
}

// Up to eight inputs of the same total length `size`; unused lanes hash a
// block of zeros, and their digests are dropped.
SHOAL_AVX512 void HashX8(const Blake2bInput* in, size_t lanes, size_t size, Hash* out) {
  // The first block (prefix and the start of the body) and the last (which
  // is zero-padded) are assembled; the blocks between are read in place.
  alignas(64) uint8_t first[kLanes][kBlockBytes] = {};
  alignas(64) uint8_t last[kLanes][kBlockBytes] = {};
  const size_t blocks = std::max<size_t>(1, (size + kBlockBytes - 1) / kBlockBytes);
  const size_t last_bytes = size - (blocks - 1) * kBlockBytes;
  for (size_t j = 0; j < lanes; j++) {
    ByteView p = in[j].prefix, b = in[j].body;
    size_t take = std::min(b.size(), kBlockBytes - p.size());
    if (!p.empty()) std::memcpy(first[j], p.data(), p.size());
    if (take > 0) std::memcpy(first[j] + p.size(), b.data(), take);
    if (blocks > 1 && last_bytes > 0) {
      std::memcpy(last[j], b.data() + (blocks - 1) * kBlockBytes - p.size(), last_bytes);
    }
  }
  __m512i h[8];
  for (int i = 0; i < 8; i++) h[i] = _mm512_set1_epi64(static_cast<long long>(kIv[i]));
  h[0] = _mm512_xor_si512(h[0], _mm512_set1_epi64(0x01010000 ^ 32));

  const uint8_t* ptr[kLanes];
  for (size_t k = 0; k < blocks; k++) {
    for (size_t j = 0; j < kLanes; j++) {
      if (j >= lanes) {
        ptr[j] = first[j];
      } else if (k == 0) {
        ptr[j] = first[j];
      } else if (k == blocks - 1) {
        ptr[j] = last[j];
      } else {
        ptr[j] = in[j].body.data() + k * kBlockBytes - in[j].prefix.size();
      }
    }
    bool is_last = k == blocks - 1;
    CompressX8(h, ptr, is_last ? size : (k + 1) * kBlockBytes, is_last);
  }
  alignas(64) uint64_t words[4][kLanes];
  for (int i = 0; i < 4; i++) _mm512_store_si512(words[i], h[i]);
  for (size_t j = 0; j < lanes; j++) {
    for (int i = 0; i < 4; i++) {
      for (int b = 0; b < 8; b++) out[j][8 * i + b] = static_cast<uint8_t>(words[i][j] >> (8 * b));
    }
  }
}

#undef SHOAL_AVX512

bool HaveAvx512() {
  static const bool have = __builtin_cpu_supports("avx512f");
  return have;
}

#else

bool HaveAvx512() { return false; }

#endif

Hash HashOne(const Blake2bInput& in) {
  Blake2bState st(32, {});
  st.Update(in.prefix.data(), in.prefix.size());
  st.Update(in.body.data(), in.body.size());
  Hash out;
  st.Final(out.data());
  return out;
}

}  // namespace

void Blake2b256Many(std::span<const Blake2bInput> inputs, std::span<Hash> out, bool vector) {
  SHOAL_CHECK(out.size() == inputs.size());
  for (const Blake2bInput& in : inputs) SHOAL_CHECK(in.prefix.size() <= 128);
  if (!vector || !HaveAvx512() || inputs.size() < 2) {
    for (size_t i = 0; i < inputs.size(); i++) out[i] = HashOne(inputs[i]);
    return;
  }
#if defined(__x86_64__)
  // Group by length; each group goes through the lanes eight at a time.
  auto length = [&](size_t i) { return inputs[i].prefix.size() + inputs[i].body.size(); };
  std::vector<size_t> order(inputs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return length(a) < length(b); });
  Blake2bInput lane_in[kLanes];
  Hash lane_out[kLanes];
  for (size_t i = 0; i < order.size();) {
    size_t size = length(order[i]);
    size_t lanes = 0;
    while (i + lanes < order.size() && lanes < kLanes && length(order[i + lanes]) == size) {
      lane_in[lanes] = inputs[order[i + lanes]];
      lanes++;
    }
    if (lanes == 1) {
      out[order[i]] = HashOne(lane_in[0]);
    } else {
      HashX8(lane_in, lanes, size, lane_out);
      for (size_t j = 0; j < lanes; j++) out[order[i + j]] = lane_out[j];
    }
    i += lanes;
  }
#endif
}

}  // namespace shoal::crypto
