// Verifies arbitrary proofs against a real 23-block log, from an empty
// replica and from a replica that already has the whole tree. A proof that
// verifies must be one the writer could have made: its upgrade must land on
// the writer's tree hash, and a block it carries must be the writer's block.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "base/check.h"
#include "log/merkle.h"

using namespace shoal;
using namespace shoal::log;

namespace {

class MapReader : public NodeReader {
 public:
  Result<Node> GetNode(uint64_t index) override {
    auto it = nodes.find(index);
    if (it == nodes.end()) return Status::NotFound("node");
    return it->second;
  }
  std::map<uint64_t, Node> nodes;
};

class EmptyReader : public NodeReader {
 public:
  Result<Node> GetNode(uint64_t) override { return Status::NotFound("node"); }
};

struct Fixture {
  Fixture() {
    crypto::Seed seed{};
    key_pair = crypto::KeyPairFromSeed(seed);
    manifest = DefaultSignerManifest(key_pair.public_key);
    verifier.emplace(*Verifier::Create(ManifestHash(manifest), manifest));
    TreeBatch batch(TreeState{});
    for (int i = 0; i < 23; i++) {
      blocks.push_back("block " + std::to_string(i));
      batch.Append(AsBytes(blocks.back()));
    }
    for (const Node& n : batch.nodes()) reader.nodes[n.index] = n;
    state = batch.state();
    state.signature = *verifier->Sign(state.TreeHash(), state.length, state.fork, key_pair);
  }

  crypto::KeyPair key_pair;
  Manifest manifest;
  std::optional<Verifier> verifier;
  std::vector<std::string> blocks;
  MapReader reader;
  TreeState state;
};

Fixture& Get() {
  static Fixture f;
  return f;
}

void CheckVerified(const Fixture& f, const Proof& proof, const VerifiedProof& v) {
  if (v.upgraded) SHOAL_CHECK(v.state.TreeHash() == f.state.TreeHash());
  if (proof.block) {
    SHOAL_CHECK(proof.block->index < f.blocks.size());
    SHOAL_CHECK(AsString(proof.block->value) == f.blocks[proof.block->index]);
  }
}

}  // namespace

// Input: a mode byte. Odd: the rest is a proof's bytes. Even: four bytes pick
// a request the writer answers, and the rest are (position, xor) pairs applied
// to the encoded answer, so mutations start from proofs that verify.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = Get();
  if (size == 0) return 0;
  Bytes bytes;
  if (data[0] & 1 || size < 5) {
    bytes.assign(data + 1, data + size);
  } else {
    ProofRequest req;
    uint64_t n = f.state.length;
    uint8_t what = data[1];
    if (what & 1) req.block = ProofRequest::Indexed{data[2] % n, static_cast<uint64_t>(data[3] % 6)};
    else if (what & 2) req.hash = ProofRequest::Indexed{data[2] % (2 * n), static_cast<uint64_t>(data[3] % 6)};
    if (what & 4) req.seek = ProofRequest::Seek{static_cast<uint64_t>(data[4] % 200), 0};
    if (what & 8) {
      uint64_t start = (what & 16) ? 0 : data[3] % n;
      req.upgrade = ProofRequest::Upgrade{start, n - start};
    }
    auto made = GenerateProof(f.state, f.reader, req);
    if (!made.ok()) return 0;
    if (made->block) made->block->value = ToBytes(f.blocks[made->block->index]);
    if (what & 32) made->manifest = f.manifest;
    bytes = EncodeProof(*made);
    for (size_t i = 5; i + 1 < size; i += 2) bytes[data[i] % bytes.size()] ^= data[i + 1];
  }
  auto proof = DecodeProof(bytes);
  if (!proof.ok()) return 0;
  EmptyReader empty;
  auto fresh = VerifyProof(TreeState{}, empty, *proof, *f.verifier);
  if (fresh.ok()) CheckVerified(f, *proof, *fresh);
  auto full = VerifyProof(f.state, f.reader, *proof, *f.verifier);
  if (full.ok()) CheckVerified(f, *proof, *full);
  return 0;
}
