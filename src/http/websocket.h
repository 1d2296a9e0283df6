// WebSocket (RFC 6455), server side: the opening handshake, checked on an
// http::Request, and the framing, as a decoder and an encoder that do no
// I/O. A service that speaks WebSocket answers the handshake with 101
// through the ResponseWriter, takes the connection over
// (ResponseWriter::TakeOver) and runs the framing on its own socket, the
// way the MQTT broker does at /mqtt.
//
//   auto headers = ws::Accept(req, {"mqtt"});    // 101's headers, or why not
//   w.Send(101, *headers, "");
//   auto conn = w.TakeOver();
//   ws::Decoder d;                               // then, for bytes read:
//   Status st = d.Feed(bytes, on_event);         // data, ping, pong, close
//   ws::AppendHeader(ws::Opcode::kBinary, n, &out);  // before n bytes sent
//
// No extensions (permessage-deflate is not offered), so the reserved bits
// must be clear. Plain values; nothing here is shared between threads.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "http/server.h"

namespace shoal::http::ws {

// Whether `req` asks for a WebSocket (Upgrade: websocket).
bool IsUpgrade(const Request& req);

// Checks the handshake of `req` (RFC 6455 §4.2.1) and returns the headers of
// the 101 answer, which names the first of `subprotocols` that the client
// offers in Sec-WebSocket-Protocol. InvalidArgument, with the reason, when
// `req` is not a valid handshake or offers none of them (answer 400);
// NotSupported for a Sec-WebSocket-Version other than 13 (answer 426 with
// Sec-WebSocket-Version: 13).
Result<Headers> Accept(const Request& req, std::initializer_list<std::string_view> subprotocols);

// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (§4.2.2).
std::string AcceptKey(std::string_view key);

enum class Opcode : uint8_t {
  kContinuation = 0,
  kText = 1,
  kBinary = 2,
  kClose = 8,
  kPing = 9,
  kPong = 10,
};

// Close codes (§7.4.1).
constexpr uint16_t kNormalClosure = 1000;
constexpr uint16_t kProtocolError = 1002;
constexpr uint16_t kUnsupportedData = 1003;

// Decodes what a client sends. Data frames (binary, and the continuation
// frames of a fragmented one) are handed on in pieces as their bytes come,
// unmasked, without waiting for the end of the frame or message: a stream
// protocol such as MQTT needs no message boundaries. Control frames are
// handed on whole.
class Decoder {
 public:
  struct Event {
    enum class Kind { kData, kPing, kPong, kClose } kind;
    ByteView data;        // the payload (piece); for kClose, the reason text
    uint16_t close_code;  // kClose only; 1005 (none given) when absent
  };
  using Sink = std::function<void(const Event&)>;

  // Unmasks `in` in place and calls `sink` for each event. Stops at the
  // first violation and returns it as InvalidArgument, with close_code()
  // set to the code to close with: kProtocolError (an unmasked frame,
  // reserved bits, an unknown opcode, a control frame fragmented or over
  // 125 bytes, a continuation out of place) or kUnsupportedData (a text
  // frame, when binary_only). Nothing is decoded after an error, and
  // nothing after a close frame (the input is ignored, and OK returned).
  Status Feed(std::span<uint8_t> in, const Sink& sink);

  // Text frames are refused (MQTT over WebSocket is binary, MQTT 5.0 §6).
  bool binary_only = true;
  uint16_t close_code() const { return close_code_; }

 private:
  Status Fail(uint16_t code, std::string_view why);

  uint8_t header_[14] = {};
  size_t header_have_ = 0;
  size_t header_need_ = 2;
  bool in_payload_ = false;
  Opcode opcode_ = Opcode::kBinary;
  bool fin_ = true;
  uint64_t left_ = 0;  // payload bytes of the current frame still to come
  uint8_t mask_[4] = {};
  size_t mask_at_ = 0;
  bool in_message_ = false;  // a fragmented data message is under way
  Bytes control_;            // a control frame's payload so far
  uint16_t close_code_ = 0;
  bool failed_ = false;
  bool closed_ = false;  // a close frame came
};

// Bytes of the header of an unmasked frame with `length` bytes of payload.
size_t HeaderSize(uint64_t length);
// Appends the header of a final, unmasked (server) frame of `length` bytes.
void AppendHeader(Opcode opcode, uint64_t length, Bytes* out);
// A whole close frame with `code` and no reason.
Bytes CloseFrame(uint16_t code);

}  // namespace shoal::http::ws
