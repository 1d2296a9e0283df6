// BLAKE2b-256, plain and keyed, and Hypercore's namespaces.
//
// The only hash Hypercore's tree, keys and capabilities use, computed by
// Blake2bState (blake2b.h). All functions are thread-safe.
#pragma once

#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "crypto/blake2b.h"

namespace shoal::crypto {

using Hash = FixedBytes<32>;

// Makes sure libsodium is initialised. Every function in crypto/ that uses
// libsodium calls it; callers never need to, but may call it early to take
// the one-time cost up front.
void Init();

// BLAKE2b with a 32-byte digest over the concatenation of `parts`.
Hash Blake2b256(std::initializer_list<ByteView> parts);
inline Hash Blake2b256(ByteView data) { return Blake2b256({data}); }

// The same, keyed with `key` (1..64 bytes).
Hash Blake2b256Keyed(ByteView key, std::initializer_list<ByteView> parts);

// One input of Blake2b256Many: the digest is of prefix || body, and the
// prefix is at most 128 bytes.
struct Blake2bInput {
  ByteView prefix;
  ByteView body;
};

// out[i] = Blake2b256({inputs[i].prefix, inputs[i].body}) for every i.
// Inputs of equal length are hashed eight at a time in the lanes of AVX-512
// registers where the CPU has AVX-512F (and `vector` is true, which only
// tests turn off); the rest one at a time. Needs out.size() == inputs.size().
void Blake2b256Many(std::span<const Blake2bInput> inputs, std::span<Hash> out,
                    bool vector = true);

// Incremental BLAKE2b-256 for inputs built in pieces.
class Blake2b {
 public:
  explicit Blake2b(ByteView key = {});
  Blake2b(const Blake2b&) = delete;
  Blake2b& operator=(const Blake2b&) = delete;

  Blake2b& Update(ByteView data) {
    state_.Update(data.data(), data.size());
    return *this;
  }
  Hash Final();

 private:
  Blake2bState state_;
};

// Hypercore's namespace constants (hypercore-crypto `namespace`):
// ns = H(name), constant i = H(ns || byte(i)), for i in [0, count).
std::vector<Hash> Namespace(std::string_view name, int count);

}  // namespace shoal::crypto
