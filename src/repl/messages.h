// The messages of Hypercore's replication channel (hypercore lib/messages.js,
// `wire.*`), as the payloads of protomux messages on a channel opened with
// protocol "hypercore/alpha" and id = the log's discovery key.
//
// The message type is its position in the channel's message list:
//   0 sync, 1 request, 2 cancel, 3 data, 4 noData, 5 want, 6 unwant,
//   7 bitfield, 8 range, 9 extension.
// `data` is log::Proof (log/proof.h, EncodeProof/DecodeProof). Byte layouts
// are in docs/protocols/replication.md §4.3. As in JS, decoders ignore bytes
// after a message.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "log/caps.h"
#include "log/proof.h"

namespace shoal::repl {

inline constexpr std::string_view kProtocol = "hypercore/alpha";

enum MessageType : uint64_t {
  kSync = 0,
  kRequest = 1,
  kCancel = 2,
  kData = 3,
  kNoData = 4,
  kWant = 5,
  kUnwant = 6,
  kBitfield = 7,
  kRange = 8,
  kExtension = 9,
};

// The channel's open handshake: uint flags (1 = seeks), fixed32 capability.
struct Handshake {
  bool seeks = false;
  log::Hash capability{};
};

// uint flags, uint fork, uint length, uint remoteLength.
struct Sync {
  uint64_t fork = 0;
  uint64_t length = 0;
  uint64_t remote_length = 0;  // the sender's view of the receiver's length
  bool can_upgrade = false;    // 1: the sender can prove a longer signed length
  bool uploading = false;      // 2
  bool downloading = false;    // 4
  bool has_manifest = false;   // 8
  bool allow_push = false;     // 16
};

struct Request {
  uint64_t id = 0;
  uint64_t fork = 0;
  log::ProofRequest proof;  // block, hash, seek, upgrade
  bool manifest = false;    // 16: send the manifest too
  uint64_t priority = 0;    // 32 when non-zero
};

struct NoData {
  enum Reason : uint64_t { kUnspecified = 0, kNotAvailable = 1, kInvalidRequest = 2 };
  uint64_t request = 0;
  uint64_t reason = kUnspecified;
};

// want and unwant: a block range, and `any` (flag 1, a trailing uint).
struct Want {
  uint64_t start = 0;
  uint64_t length = 0;
  bool any = false;
};

// uint start, uint32array bits: bit i of word j is block start + 32j + i.
struct Bitfield {
  uint64_t start = 0;
  std::vector<uint32_t> words;
};

// uint flags (1 drop, 2 length is 1), uint start, [uint length].
struct Range {
  bool drop = false;
  uint64_t start = 0;
  uint64_t length = 0;
};

struct Extension {
  std::string name;
  Bytes message;
};

Bytes EncodeHandshake(const Handshake& m);
Bytes EncodeSync(const Sync& m);
Bytes EncodeRequest(const Request& m);
Bytes EncodeCancel(uint64_t request);
Bytes EncodeNoData(const NoData& m);
Bytes EncodeWant(const Want& m);
Bytes EncodeBitfield(const Bitfield& m);
Bytes EncodeRange(const Range& m);
Bytes EncodeExtension(const Extension& m);

Result<Handshake> DecodeHandshake(ByteView b);
Result<Sync> DecodeSync(ByteView b);
Result<Request> DecodeRequest(ByteView b);
Result<uint64_t> DecodeCancel(ByteView b);
Result<NoData> DecodeNoData(ByteView b);
Result<Want> DecodeWant(ByteView b);
Result<Bitfield> DecodeBitfield(ByteView b);
Result<Range> DecodeRange(ByteView b);
Result<Extension> DecodeExtension(ByteView b);

}  // namespace shoal::repl
