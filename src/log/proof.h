// Proofs: what one log holder sends another so it can check a block, a tree
// node, a byte offset or a newer signed length against the log's key.
//
// A Proof is exactly the body of Hypercore's `data` wire message
// (hypercore lib/messages.js `wire.data`), and EncodeProof/DecodeProof produce
// and read those bytes:
//   uint flags (1 block, 2 hash, 4 seek, 8 upgrade, 16 manifest), uint request,
//   uint fork, [block: uint index, buffer value, array node],
//   [hash: uint index, array node], [seek: uint bytes, array node],
//   [upgrade: uint start, uint length, array node nodes,
//             array node additionalNodes, optionalBuffer signature],
//   [manifest]
// where node = uint index, uint size, fixed32 hash.
//
// A ProofRequest is the matching part of the `request` message: which block
// or node, how many of its ancestors the asker lacks (`nodes`), a byte offset
// to seek, and an upgrade range.
#pragma once

#include <optional>
#include <vector>

#include "base/result.h"
#include "log/caps.h"
#include "log/manifest.h"

namespace shoal::log {

struct ProofRequest {
  struct Indexed {
    uint64_t index = 0;  // block index for `block`, flat tree index for `hash`
    uint64_t nodes = 0;  // ancestors the asker is missing (0 = it has none)
  };
  struct Seek {
    uint64_t bytes = 0;
    uint64_t padding = 0;
  };
  struct Upgrade {
    uint64_t start = 0;
    uint64_t length = 0;
  };
  std::optional<Indexed> block;
  std::optional<Indexed> hash;
  std::optional<Seek> seek;
  std::optional<Upgrade> upgrade;
};

struct Proof {
  struct Block {
    uint64_t index = 0;
    Bytes value;
    std::vector<Node> nodes;
  };
  struct HashNodes {
    uint64_t index = 0;
    std::vector<Node> nodes;
  };
  struct Seek {
    uint64_t bytes = 0;
    std::vector<Node> nodes;
  };
  struct Upgrade {
    uint64_t start = 0;
    uint64_t length = 0;
    std::vector<Node> nodes;
    std::vector<Node> additional_nodes;
    Bytes signature;
  };

  uint64_t fork = 0;
  std::optional<Block> block;
  std::optional<HashNodes> hash;
  std::optional<Seek> seek;
  std::optional<Upgrade> upgrade;
  std::optional<Manifest> manifest;
};

void EncodeNodes(enc::Encoder& e, const std::vector<Node>& nodes);
std::vector<Node> DecodeNodes(enc::Decoder& d);

// The `data` message body. `request` is the id of the request it answers.
// As in JS, bytes after the message are ignored when decoding.
Bytes EncodeProof(const Proof& proof, uint64_t request = 0);
// The same bytes in three parts, so a block's value need not be copied:
// `head`, then the block's value (the view returned, empty without a
// block), then `tail`. The view points into `proof`.
ByteView EncodeProofParts(const Proof& proof, uint64_t request, Bytes* head, Bytes* tail);
Result<Proof> DecodeProof(ByteView bytes, uint64_t* request = nullptr);

}  // namespace shoal::log
