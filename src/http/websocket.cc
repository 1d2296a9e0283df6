#include "http/websocket.h"

#include <algorithm>
#include <string>

#include "crypto/digest.h"

namespace shoal::http::ws {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether any `name` field of `h`, read as a comma-separated list, holds
// `token` (compared without case).
bool HasToken(const Headers& h, std::string_view name, std::string_view token) {
  for (const auto& [n, v] : h.fields()) {
    if (!EqualsIgnoreCase(n, name)) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      if (EqualsIgnoreCase(Trim(rest.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

}  // namespace

bool IsUpgrade(const Request& req) { return HasToken(req.headers, "upgrade", "websocket"); }

std::string AcceptKey(std::string_view key) {
  std::string s(key);
  s += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 §1.3
  return ToBase64(crypto::Sha1(AsBytes(s)));
}

Result<Headers> Accept(const Request& req, std::initializer_list<std::string_view> subprotocols) {
  if (req.method != "GET") return Status::InvalidArgument("a WebSocket handshake must be a GET");
  if (!IsUpgrade(req) || !HasToken(req.headers, "connection", "upgrade")) {
    return Status::InvalidArgument("not a WebSocket handshake (Upgrade and Connection)");
  }
  const std::string version = req.headers.Get("sec-websocket-version");
  if (Trim(version) != "13") {
    return Status::NotSupported("WebSocket version 13 is the one spoken here");
  }
  const std::string key_field = req.headers.Get("sec-websocket-key");
  std::string_view key = Trim(key_field);
  auto nonce = FromBase64(key);
  if (!nonce || nonce->size() != 16) {
    return Status::InvalidArgument("Sec-WebSocket-Key is not 16 bytes of base64");
  }
  const std::string_view* chosen = std::find_if(
      subprotocols.begin(), subprotocols.end(),
      [&](std::string_view p) { return HasToken(req.headers, "sec-websocket-protocol", p); });
  if (chosen == subprotocols.end()) {
    std::string names;
    for (std::string_view p : subprotocols) names += (names.empty() ? "" : " or ") + std::string(p);
    return Status::InvalidArgument("the WebSocket subprotocol must be " + names);
  }
  Headers h;
  h.Add("Upgrade", "websocket");
  h.Add("Connection", "Upgrade");
  h.Add("Sec-WebSocket-Accept", AcceptKey(key));
  h.Add("Sec-WebSocket-Protocol", std::string(*chosen));
  return h;
}

Status Decoder::Fail(uint16_t code, std::string_view why) {
  failed_ = true;
  close_code_ = code;
  return Status::InvalidArgument(std::string("websocket: ") + std::string(why));
}

Status Decoder::Feed(std::span<uint8_t> in, const Sink& sink) {
  if (closed_) return Status::OK();  // what follows a close frame is ignored
  if (failed_) return Status::InvalidArgument("websocket: the stream already failed");
  size_t at = 0;
  while (at < in.size()) {
    if (!in_payload_) {
      // Gather the header: 2 bytes, then the extended length and the mask.
      size_t take = std::min(header_need_ - header_have_, in.size() - at);
      std::copy_n(in.data() + at, take, header_ + header_have_);
      header_have_ += take;
      at += take;
      if (header_have_ < header_need_) break;
      if (header_need_ == 2) {
        uint8_t len7 = header_[1] & 0x7f;
        header_need_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
        if (!(header_[1] & 0x80)) return Fail(kProtocolError, "a client frame is not masked");
        if (header_[0] & 0x70) return Fail(kProtocolError, "reserved bits set");
        continue;
      }
      fin_ = header_[0] & 0x80;
      opcode_ = static_cast<Opcode>(header_[0] & 0x0f);
      uint8_t len7 = header_[1] & 0x7f;
      size_t p = 2;
      if (len7 == 126) {
        left_ = uint64_t{header_[2]} << 8 | header_[3];
        p = 4;
      } else if (len7 == 127) {
        left_ = 0;
        for (int i = 0; i < 8; i++) left_ = left_ << 8 | header_[2 + i];
        if (left_ >> 63) return Fail(kProtocolError, "a frame length over 2^63");
        p = 10;
      } else {
        left_ = len7;
      }
      std::copy_n(header_ + p, 4, mask_);
      mask_at_ = 0;
      header_have_ = 0;
      header_need_ = 2;
      switch (opcode_) {
        case Opcode::kText:
          if (binary_only) return Fail(kUnsupportedData, "a text frame");
          [[fallthrough]];
        case Opcode::kBinary:
          if (in_message_) return Fail(kProtocolError, "a new message inside a fragmented one");
          in_message_ = !fin_;
          break;
        case Opcode::kContinuation:
          if (!in_message_) return Fail(kProtocolError, "a continuation frame out of place");
          in_message_ = !fin_;
          break;
        case Opcode::kClose:
        case Opcode::kPing:
        case Opcode::kPong:
          if (!fin_ || left_ > 125) return Fail(kProtocolError, "a bad control frame");
          control_.clear();
          break;
        default:
          return Fail(kProtocolError, "an unknown opcode");
      }
      in_payload_ = true;
    }
    // The payload, unmasked in place.
    size_t take = static_cast<size_t>(std::min<uint64_t>(left_, in.size() - at));
    uint8_t* p = in.data() + at;
    for (size_t i = 0; i < take; i++) p[i] ^= mask_[(mask_at_ + i) & 3];
    mask_at_ = (mask_at_ + take) & 3;
    left_ -= take;
    at += take;
    const bool control = static_cast<uint8_t>(opcode_) >= 8;
    if (!control) {
      if (take > 0) sink(Event{Event::Kind::kData, ByteView(p, take), 0});
    } else {
      control_.insert(control_.end(), p, p + take);
    }
    if (left_ > 0) break;
    in_payload_ = false;
    if (!control) continue;
    if (opcode_ == Opcode::kClose) {
      if (control_.size() == 1) return Fail(kProtocolError, "a close frame of one byte");
      uint16_t code = control_.size() >= 2 ? static_cast<uint16_t>(control_[0] << 8 | control_[1]) : 1005;
      ByteView reason = control_.size() > 2 ? ByteView(control_).subspan(2) : ByteView();
      sink(Event{Event::Kind::kClose, reason, code});
      closed_ = true;  // nothing may follow a close frame
      return Status::OK();
    }
    sink(Event{opcode_ == Opcode::kPing ? Event::Kind::kPing : Event::Kind::kPong, control_, 0});
  }
  return Status::OK();
}

size_t HeaderSize(uint64_t length) { return length < 126 ? 2 : length <= 0xffff ? 4 : 10; }

void AppendHeader(Opcode opcode, uint64_t length, Bytes* out) {
  out->push_back(static_cast<uint8_t>(0x80 | static_cast<uint8_t>(opcode)));
  if (length < 126) {
    out->push_back(static_cast<uint8_t>(length));
  } else if (length <= 0xffff) {
    out->push_back(126);
    out->push_back(static_cast<uint8_t>(length >> 8));
    out->push_back(static_cast<uint8_t>(length));
  } else {
    out->push_back(127);
    for (int i = 7; i >= 0; i--) out->push_back(static_cast<uint8_t>(length >> (8 * i)));
  }
}

Bytes CloseFrame(uint16_t code) {
  Bytes out;
  AppendHeader(Opcode::kClose, 2, &out);
  out.push_back(static_cast<uint8_t>(code >> 8));
  out.push_back(static_cast<uint8_t>(code));
  return out;
}

}  // namespace shoal::http::ws
