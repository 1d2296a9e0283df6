// Manifests: a log's signing policy, whose hash is the log's key; and the
// Verifier that checks a signed tree state against it (HYPERCORE.md §2b;
// hypercore lib/verifier.js, lib/multisig.js, lib/messages.js).
//
// A default single-writer log has the v1 manifest
//   {version 1, hash blake2b, quorum 1, signers [{ed25519, DEFAULT_NAMESPACE, publicKey}]}
// which encodes to 70 bytes; key = H(MANIFEST || encoding). Its signatures are
// multisig envelopes (68 bytes for one signer). A compat log has no manifest:
// its key is the public key and it signs the 80-byte compat signable with a
// raw 64-byte signature.
//
// Pure values; thread-safe.
#pragma once

#include <optional>
#include <vector>

#include "base/encoding.h"
#include "base/result.h"
#include "crypto/sign.h"
#include "log/caps.h"

namespace shoal::log {

struct Signer {
  Hash ns{};  // "namespace" in JS
  crypto::PublicKey public_key{};
  bool operator==(const Signer&) const = default;
};

struct Prologue {
  Hash hash{};
  uint64_t length = 0;
  bool operator==(const Prologue&) const = default;
};

struct Manifest {
  uint64_t version = 1;
  bool allow_patch = false;
  uint64_t quorum = 1;
  std::vector<Signer> signers;
  std::optional<Prologue> prologue;
  std::optional<std::vector<Key>> linked;  // v2
  std::optional<Bytes> user_data;          // v2
  bool operator==(const Manifest&) const = default;
};

// The manifest hypercore and corestore give a log with one writer.
Manifest DefaultSignerManifest(const crypto::PublicKey& public_key);

void EncodeManifest(enc::Encoder& e, const Manifest& m);
Bytes EncodeManifest(const Manifest& m);
// Reads a manifest; on bad input sets d's error and returns an empty manifest.
Manifest DecodeManifest(enc::Decoder& d);
Result<Manifest> DecodeManifest(ByteView bytes);

// H(MANIFEST || encode(m)).
Key ManifestHash(const Manifest& m);

// The multisig envelope of a v1+ signature.
struct MultiSignature {
  struct Input {
    uint64_t signer = 0;
    crypto::Signature signature{};
    uint64_t patch = 0;
  };
  std::vector<Input> proofs;
  std::vector<Node> patch;
};
Bytes EncodeMultiSignature(const MultiSignature& s);
Result<MultiSignature> DecodeMultiSignature(ByteView bytes);

// Checks and makes signatures over (tree hash, length, fork) for one log.
class Verifier {
 public:
  // The verifier of `key`: `manifest` must hash to `key`, or be a single
  // signer whose public key is `key` (compat).
  static Result<Verifier> Create(const Key& key, const Manifest& manifest);
  // A compat log (key = public key, no manifest on the wire).
  static Verifier Compat(const crypto::PublicKey& public_key);

  bool compat() const { return compat_; }
  const Manifest& manifest() const { return manifest_; }

  bool Verify(const Hash& tree_hash, uint64_t length, uint64_t fork, ByteView signature) const;
  // The signature bytes as stored and sent: a raw signature for compat and
  // v0 single-signer logs, else a multisig envelope. Fails unless key_pair is
  // one of the signers.
  Result<Bytes> Sign(const Hash& tree_hash, uint64_t length, uint64_t fork,
                     const crypto::KeyPair& key_pair) const;

 private:
  Verifier() = default;
  Bytes Signable(size_t signer, const Hash& tree_hash, uint64_t length, uint64_t fork) const;

  Key key_{};
  Manifest manifest_;
  bool compat_ = false;
};

}  // namespace shoal::log
