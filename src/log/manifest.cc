#include "log/manifest.h"

namespace shoal::log {
namespace {

constexpr uint64_t kFlagPatch = 1, kFlagPrologue = 2, kFlagLinked = 4, kFlagUserData = 8;

void EncodeSigner(enc::Encoder& e, const Signer& s) {
  e.Uint(0);  // ed25519
  e.Fixed(s.ns);
  e.Fixed(s.public_key);
}

Signer DecodeSigner(enc::Decoder& d) {
  if (d.Uint() != 0) d.Fail("unknown signature type");
  Signer s;
  s.ns = d.Fixed<32>();
  s.public_key = d.Fixed<32>();
  return s;
}

std::vector<Signer> DecodeSigners(enc::Decoder& d) {
  uint64_t n = d.ArrayLength(65);
  std::vector<Signer> out;
  for (uint64_t i = 0; i < n && d.ok(); i++) out.push_back(DecodeSigner(d));
  return out;
}

void EncodeNode(enc::Encoder& e, const Node& n) {
  e.Uint(n.index);
  e.Uint(n.size);
  e.Fixed(n.hash);
}

Node DecodeNode(enc::Decoder& d) {
  Node n;
  n.index = d.Uint();
  n.size = d.Uint();
  n.hash = d.Fixed<32>();
  return n;
}

}  // namespace

Manifest DefaultSignerManifest(const crypto::PublicKey& public_key) {
  Manifest m;
  m.signers.push_back(Signer{GetCaps().default_namespace, public_key});
  return m;
}

void EncodeManifest(enc::Encoder& e, const Manifest& m) {
  e.Uint(m.version);
  if (m.version == 0) {
    e.Uint(0);  // blake2b
    if (m.prologue && m.signers.empty()) {
      e.Uint(0);
      e.Fixed(m.prologue->hash);
    } else if (m.quorum == 1 && m.signers.size() == 1 && !m.allow_patch) {
      e.Uint(1);
      EncodeSigner(e, m.signers[0]);
    } else {
      e.Uint(2);
      e.Uint(m.allow_patch ? 1 : 0);
      e.Uint(m.quorum);
      e.Uint(m.signers.size());
      for (const Signer& s : m.signers) EncodeSigner(e, s);
    }
    return;
  }
  uint64_t flags = (m.allow_patch ? kFlagPatch : 0) | (m.prologue ? kFlagPrologue : 0) |
                   (m.linked ? kFlagLinked : 0) | (m.user_data ? kFlagUserData : 0);
  e.Uint(flags);
  e.Uint(0);  // blake2b
  e.Uint(m.quorum);
  e.Uint(m.signers.size());
  for (const Signer& s : m.signers) EncodeSigner(e, s);
  if (m.prologue) {
    e.Fixed(m.prologue->hash);
    e.Uint(m.prologue->length);
  }
  if (m.linked) {
    e.Uint(m.linked->size());
    for (const Key& k : *m.linked) e.Fixed(k);
  }
  if (m.user_data) e.Buffer(*m.user_data);
}

Bytes EncodeManifest(const Manifest& m) {
  enc::Encoder e(128);
  EncodeManifest(e, m);
  return e.Take();
}

Manifest DecodeManifest(enc::Decoder& d) {
  Manifest m;
  m.version = d.Uint();
  if (m.version == 0) {
    if (d.Uint() != 0) d.Fail("unknown manifest hash");
    uint64_t type = d.Uint();
    if (type == 0) {
      m.quorum = 0;
      m.prologue = Prologue{d.Fixed<32>(), 0};
    } else if (type == 1) {
      m.signers.push_back(DecodeSigner(d));
    } else if (type == 2) {
      m.allow_patch = (d.Uint() & 1) != 0;
      m.quorum = d.Uint();
      m.signers = DecodeSigners(d);
    } else {
      d.Fail("unknown manifest type");
    }
    return d.ok() ? m : Manifest{};
  }
  if (m.version > 3) {
    d.Fail("unknown manifest version");
    return {};
  }
  uint64_t flags = d.Uint();
  if (d.Uint() != 0) d.Fail("unknown manifest hash");
  m.allow_patch = (flags & kFlagPatch) != 0;
  m.quorum = d.Uint();
  m.signers = DecodeSigners(d);
  if (flags & kFlagPrologue) {
    Prologue p;
    p.hash = d.Fixed<32>();
    p.length = d.Uint();
    m.prologue = p;
  }
  if (flags & kFlagLinked) {
    uint64_t n = d.ArrayLength(32);
    std::vector<Key> linked;
    for (uint64_t i = 0; i < n && d.ok(); i++) linked.push_back(d.Fixed<32>());
    m.linked = std::move(linked);
  }
  if (flags & kFlagUserData) {
    ByteView u = d.Buffer();
    m.user_data = Bytes(u.begin(), u.end());
  }
  return d.ok() ? m : Manifest{};
}

Result<Manifest> DecodeManifest(ByteView bytes) {
  enc::Decoder d(bytes);
  Manifest m = DecodeManifest(d);
  SHOAL_RETURN_IF_ERROR(d.Finish().WithContext("manifest"));
  return m;
}

Key ManifestHash(const Manifest& m) {
  Bytes encoded = EncodeManifest(m);
  return crypto::Blake2b256({GetCaps().manifest, encoded});
}

Bytes EncodeMultiSignature(const MultiSignature& s) {
  enc::Encoder e(80);
  e.Uint(s.proofs.size());
  for (const auto& p : s.proofs) {
    e.Uint(p.signer);
    e.Fixed(p.signature);
    e.Uint(p.patch);
  }
  e.Uint(s.patch.size());
  for (const Node& n : s.patch) EncodeNode(e, n);
  return e.Take();
}

Result<MultiSignature> DecodeMultiSignature(ByteView bytes) {
  enc::Decoder d(bytes);
  MultiSignature s;
  uint64_t n = d.ArrayLength(66);
  for (uint64_t i = 0; i < n && d.ok(); i++) {
    MultiSignature::Input in;
    in.signer = d.Uint();
    in.signature = d.Fixed<64>();
    in.patch = d.Uint();
    s.proofs.push_back(in);
  }
  uint64_t m = d.ArrayLength(34);
  for (uint64_t i = 0; i < m && d.ok(); i++) s.patch.push_back(DecodeNode(d));
  SHOAL_RETURN_IF_ERROR(d.Finish().WithContext("multisig envelope"));
  return s;
}

Result<Verifier> Verifier::Create(const Key& key, const Manifest& manifest) {
  Verifier v;
  v.key_ = key;
  v.manifest_ = manifest;
  if (ManifestHash(manifest) == key) {
    v.compat_ = false;
  } else if (manifest.signers.size() == 1 && manifest.signers[0].public_key == key) {
    v.compat_ = true;
  } else {
    return Status::VerificationFailed("manifest does not hash to the log key");
  }
  if (!v.compat_ && manifest.quorum > manifest.signers.size()) {
    return Status::InvalidArgument("manifest quorum above its number of signers");
  }
  return v;
}

Verifier Verifier::Compat(const crypto::PublicKey& public_key) {
  Verifier v;
  v.key_ = public_key;
  v.manifest_.version = 0;
  v.manifest_.signers.push_back(Signer{GetCaps().default_namespace, public_key});
  v.compat_ = true;
  return v;
}

Bytes Verifier::Signable(size_t signer, const Hash& tree_hash, uint64_t length,
                         uint64_t fork) const {
  if (compat_) {
    auto s = TreeSignableCompat(tree_hash, length, fork);
    return Bytes(s.begin(), s.end());
  }
  // Version 0 manifests sign under the signer's namespace, later ones under
  // the manifest hash (the key).
  const Hash& ctx = manifest_.version == 0 ? manifest_.signers[signer].ns : key_;
  auto s = TreeSignable(ctx, tree_hash, length, fork);
  return Bytes(s.begin(), s.end());
}

bool Verifier::Verify(const Hash& tree_hash, uint64_t length, uint64_t fork,
                      ByteView signature) const {
  const Manifest& m = manifest_;
  if (compat_ || (m.version == 0 && m.signers.size() == 1 && !m.allow_patch)) {
    if (m.signers.empty()) return false;
    return crypto::Verify(Signable(0, tree_hash, length, fork), signature,
                          m.signers[0].public_key);
  }
  if (m.prologue && length <= m.prologue->length) {
    return length == m.prologue->length && tree_hash == m.prologue->hash;
  }
  if (m.version == 0 || m.quorum == 0) return false;  // v0 multisig: not supported
  auto envelope = DecodeMultiSignature(signature);
  if (!envelope.ok() || envelope->proofs.size() < m.quorum) return false;
  std::vector<bool> tried(m.signers.size(), false);
  for (uint64_t i = 0; i < m.quorum; i++) {
    const auto& in = envelope->proofs[i];
    // Patched signatures cover another length; they need the patch nodes to
    // be checked and are refused until multi-writer logs arrive.
    if (in.patch != 0) return false;
    if (in.signer >= m.signers.size() || tried[in.signer]) return false;
    tried[in.signer] = true;
    if (!crypto::Verify(Signable(in.signer, tree_hash, length, fork), in.signature,
                        m.signers[in.signer].public_key)) {
      return false;
    }
  }
  return true;
}

Result<Bytes> Verifier::Sign(const Hash& tree_hash, uint64_t length, uint64_t fork,
                             const crypto::KeyPair& key_pair) const {
  for (size_t i = 0; i < manifest_.signers.size(); i++) {
    if (manifest_.signers[i].public_key != key_pair.public_key) continue;
    crypto::Signature sig = crypto::Sign(Signable(i, tree_hash, length, fork), key_pair.secret_key);
    if (compat_ || manifest_.version == 0 || manifest_.signers.size() != 1) {
      if (manifest_.signers.size() != 1 && !compat_) {
        return Status::NotSupported("multi-signer logs cannot be signed yet");
      }
      return Bytes(sig.begin(), sig.end());
    }
    MultiSignature env;
    env.proofs.push_back({0, sig, 0});
    return EncodeMultiSignature(env);
  }
  return Status::ReadOnly("key pair is not a signer of this log");
}

}  // namespace shoal::log
