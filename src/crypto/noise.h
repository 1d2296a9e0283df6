// The Noise XX handshake as Hypercore's secret-stream runs it:
// Noise_XX_Ed25519_ChaChaPoly_BLAKE2b, empty prologue, empty payloads.
//
// It differs from stock Noise in two ways, and a stock library does not
// interoperate (HYPERCORE.md §2d.1):
//  * DH is done on the Edwards curve: both the static and the ephemeral keys
//    are Ed25519 signing key pairs, and DH(sk, P) is P multiplied by the
//    clamped scalar of sk (crypto_scalarmult_ed25519_noclamp);
//  * the ChaCha20-Poly1305 nonce holds a 32-bit counter at byte 4.
// Hash and HKDF are BLAKE2b-512 and HMAC-BLAKE2b (128-byte blocks).
//
// The handshake is three messages: initiator → e; responder → e, ee, s, es;
// initiator → s, se (32, 96 and 64 bytes). Each side calls Write when it is
// its turn and Read with what the other side sent; after the third message
// both are complete() and split() gives the transport keys.
//
// Not thread-safe; one handshake per connection.
#pragma once

#include <optional>

#include "base/result.h"
#include "crypto/sign.h"

namespace shoal::crypto {

using HandshakeHash = FixedBytes<64>;

// What a finished handshake yields.
struct NoiseSplit {
  FixedBytes<32> tx{};             // this side's sending key
  FixedBytes<32> rx{};             // this side's receiving key
  HandshakeHash hash{};            // the final handshake hash
  PublicKey remote_public_key{};   // the other side's static key
};

// Ed25519 DH as noise-curve-ed does it: `remote` times the clamped scalar
// SHA-512(seed)[0..32] of `local`. VerificationFailed if `remote` is not a
// valid point or the result is the identity.
Result<FixedBytes<32>> Ed25519Dh(const PublicKey& remote, const KeyPair& local);

// HMAC with BLAKE2b-512 (block size 128) over the concatenation of `parts`.
FixedBytes<64> HmacBlake2b512(ByteView key, std::initializer_list<ByteView> parts);

class NoiseXX {
 public:
  // `ephemeral` fixes the ephemeral key pair (tests); otherwise it is random.
  NoiseXX(bool initiator, const KeyPair& static_key,
          std::optional<KeyPair> ephemeral = std::nullopt);
  ~NoiseXX();
  NoiseXX(const NoiseXX&) = delete;
  NoiseXX& operator=(const NoiseXX&) = delete;

  bool initiator() const { return initiator_; }
  // True when it is this side's turn to Write.
  bool my_turn() const;
  bool complete() const { return step_ == 3; }

  // The next handshake message. InvalidArgument when it is not this side's turn.
  Result<Bytes> Write();
  // Takes the other side's message. Malformed if it is short;
  // VerificationFailed if a tag or a DH fails. The handshake cannot go on
  // after an error.
  Status Read(ByteView message);

  // The transport keys and handshake hash; only once complete().
  const NoiseSplit& split() const;

 private:
  void MixHash(ByteView data);
  void MixKey(ByteView input_key_material);
  Bytes EncryptAndHash(ByteView plaintext);
  Result<Bytes> DecryptAndHash(ByteView ciphertext);
  void Finish();

  const bool initiator_;
  const KeyPair s_;
  KeyPair e_;
  PublicKey re_{};
  PublicKey rs_{};
  FixedBytes<64> h_{};
  FixedBytes<64> ck_{};
  std::optional<FixedBytes<32>> k_;
  uint64_t n_ = 0;
  int step_ = 0;  // messages exchanged so far
  bool failed_ = false;
  NoiseSplit split_;
};

}  // namespace shoal::crypto
