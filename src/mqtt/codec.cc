#include "mqtt/codec.h"

#include <cstring>

namespace shoal::mqtt {
namespace {

// ---- where a property may appear ----

enum Scope : uint16_t {
  kInConnect = 1 << 0,
  kInConnack = 1 << 1,
  kInPublish = 1 << 2,
  kInWill = 1 << 3,
  kInAck = 1 << 4,  // PUBACK, PUBREC, PUBREL, PUBCOMP
  kInSubscribe = 1 << 5,
  kInSuback = 1 << 6,
  kInUnsubscribe = 1 << 7,
  kInUnsuback = 1 << 8,
  kInDisconnect = 1 << 9,
  kInAuth = 1 << 10,
};

enum class Kind : uint8_t { kByte, kU16, kU32, kVarInt, kString, kBinary, kPair };

struct PropertyInfo {
  Kind kind;
  uint16_t scopes;  // 0: not a property
};

constexpr uint16_t kReasonStringScopes =
    kInConnack | kInAck | kInSuback | kInUnsuback | kInDisconnect | kInAuth;
constexpr uint16_t kEveryScope = 0x7ff;

constexpr PropertyInfo Info(uint8_t id) {
  switch (id) {
    case 0x01: return {Kind::kByte, kInPublish | kInWill};
    case 0x02: return {Kind::kU32, kInPublish | kInWill};
    case 0x03: return {Kind::kString, kInPublish | kInWill};
    case 0x08: return {Kind::kString, kInPublish | kInWill};
    case 0x09: return {Kind::kBinary, kInPublish | kInWill};
    case 0x0B: return {Kind::kVarInt, kInPublish | kInSubscribe};
    case 0x11: return {Kind::kU32, kInConnect | kInConnack | kInDisconnect};
    case 0x12: return {Kind::kString, kInConnack};
    case 0x13: return {Kind::kU16, kInConnack};
    case 0x15: return {Kind::kString, kInConnect | kInConnack | kInAuth};
    case 0x16: return {Kind::kBinary, kInConnect | kInConnack | kInAuth};
    case 0x17: return {Kind::kByte, kInConnect};
    case 0x18: return {Kind::kU32, kInWill};
    case 0x19: return {Kind::kByte, kInConnect};
    case 0x1A: return {Kind::kString, kInConnack};
    case 0x1C: return {Kind::kString, kInConnack | kInDisconnect};
    case 0x1F: return {Kind::kString, kReasonStringScopes};
    case 0x21: return {Kind::kU16, kInConnect | kInConnack};
    case 0x22: return {Kind::kU16, kInConnect | kInConnack};
    case 0x23: return {Kind::kU16, kInPublish};
    case 0x24: return {Kind::kByte, kInConnack};
    case 0x25: return {Kind::kByte, kInConnack};
    case 0x26: return {Kind::kPair, kEveryScope};
    case 0x27: return {Kind::kU32, kInConnect | kInConnack};
    case 0x28: return {Kind::kByte, kInConnack};
    case 0x29: return {Kind::kByte, kInConnack};
    case 0x2A: return {Kind::kByte, kInConnack};
    default: return {Kind::kByte, 0};
  }
}

// ---- reading ----

// Reads big-endian MQTT fields from a borrowed view. The first failure is
// kept and every later read returns zero or empty.
class Reader {
 public:
  explicit Reader(ByteView data) : data_(data) {}

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  size_t remaining() const { return ok() ? data_.size() - pos_ : 0; }
  bool empty() const { return remaining() == 0; }

  void Fail(Status s) {
    if (status_.ok()) status_ = std::move(s);
  }

  uint8_t Byte() {
    if (!Need(1)) return 0;
    return data_[pos_++];
  }
  uint16_t U16() {
    if (!Need(2)) return 0;
    uint16_t v = static_cast<uint16_t>(data_[pos_] << 8 | data_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t U32() {
    if (!Need(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v = v << 8 | data_[pos_ + i];
    pos_ += 4;
    return v;
  }
  uint32_t VarInt() {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
      uint8_t b = Byte();
      v |= static_cast<uint32_t>(b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0) return v;
    }
    Fail(Status::Malformed("mqtt: variable byte integer longer than four bytes"));
    return 0;
  }
  ByteView View(size_t n) {
    if (!Need(n)) return {};
    ByteView v = data_.subspan(pos_, n);
    pos_ += n;
    return v;
  }
  Bytes Binary() {
    ByteView v = View(U16());
    return Bytes(v.begin(), v.end());
  }
  std::string String() {
    ByteView v = View(U16());
    std::string s(v.begin(), v.end());
    if (ok() && !ValidString(s)) Fail(Status::Malformed("mqtt: a string is not valid UTF-8"));
    return s;
  }
  ByteView Rest() { return View(remaining()); }

 private:
  bool Need(size_t n) {
    if (!ok()) return false;
    if (data_.size() - pos_ < n) {
      Fail(Status::Malformed("mqtt: packet shorter than its fields"));
      return false;
    }
    return true;
  }

  ByteView data_;
  size_t pos_ = 0;
  Status status_;
};

Status ProtocolError(std::string_view what) {
  return Status::InvalidArgument(std::string("mqtt: ") + std::string(what));
}

// A byte property that may only be 0 or 1.
void ReadFlag(Reader& r, std::optional<uint8_t>* out, std::string_view name) {
  uint8_t v = r.Byte();
  if (v > 1) r.Fail(ProtocolError(std::string(name) + " must be 0 or 1"));
  *out = v;
}

void ReadProperties(Reader& r, uint16_t scope, Properties* p) {
  uint32_t length = r.VarInt();
  if (!r.ok()) return;
  if (length > r.remaining()) {
    r.Fail(Status::Malformed("mqtt: properties longer than the packet"));
    return;
  }
  Reader in(r.View(length));
  uint64_t seen = 0;
  while (in.ok() && !in.empty()) {
    uint8_t id = in.Byte();
    PropertyInfo info = Info(id);
    if (info.scopes == 0) {
      in.Fail(Status::Malformed("mqtt: unknown property " + std::to_string(id)));
      break;
    }
    if ((info.scopes & scope) == 0) {
      in.Fail(ProtocolError("property " + std::to_string(id) + " is not allowed in this packet"));
      break;
    }
    bool repeatable = id == 0x26 || (id == 0x0B && scope == kInPublish);
    if (!repeatable && ((seen >> id) & 1)) {
      in.Fail(ProtocolError("property " + std::to_string(id) + " appears twice"));
      break;
    }
    seen |= uint64_t{1} << id;
    switch (id) {
      case 0x01: ReadFlag(in, &p->payload_format, "payload format indicator"); break;
      case 0x02: p->message_expiry = in.U32(); break;
      case 0x03: p->content_type = in.String(); break;
      case 0x08: p->response_topic = in.String(); break;
      case 0x09: p->correlation_data = in.Binary(); break;
      case 0x0B: {
        uint32_t v = in.VarInt();
        if (in.ok() && v == 0) in.Fail(ProtocolError("subscription identifier 0"));
        p->subscription_ids.push_back(v);
        break;
      }
      case 0x11: p->session_expiry = in.U32(); break;
      case 0x12: p->assigned_client_id = in.String(); break;
      case 0x13: p->server_keep_alive = in.U16(); break;
      case 0x15: p->auth_method = in.String(); break;
      case 0x16: p->auth_data = in.Binary(); break;
      case 0x17: ReadFlag(in, &p->request_problem_info, "request problem information"); break;
      case 0x18: p->will_delay = in.U32(); break;
      case 0x19: ReadFlag(in, &p->request_response_info, "request response information"); break;
      case 0x1A: p->response_info = in.String(); break;
      case 0x1C: p->server_reference = in.String(); break;
      case 0x1F: p->reason_string = in.String(); break;
      case 0x21:
        p->receive_maximum = in.U16();
        if (in.ok() && *p->receive_maximum == 0) in.Fail(ProtocolError("receive maximum 0"));
        break;
      case 0x22: p->topic_alias_maximum = in.U16(); break;
      case 0x23: p->topic_alias = in.U16(); break;
      case 0x24: ReadFlag(in, &p->maximum_qos, "maximum QoS"); break;
      case 0x25: ReadFlag(in, &p->retain_available, "retain available"); break;
      case 0x26: {
        std::string key = in.String();
        std::string value = in.String();
        p->user.emplace_back(std::move(key), std::move(value));
        break;
      }
      case 0x27:
        p->maximum_packet_size = in.U32();
        if (in.ok() && *p->maximum_packet_size == 0) in.Fail(ProtocolError("maximum packet size 0"));
        break;
      case 0x28: ReadFlag(in, &p->wildcard_available, "wildcard subscription available"); break;
      case 0x29:
        ReadFlag(in, &p->subscription_ids_available, "subscription identifier available");
        break;
      case 0x2A: ReadFlag(in, &p->shared_available, "shared subscription available"); break;
    }
  }
  if (!in.ok()) r.Fail(in.status());
}

// ---- writing ----

void PutByte(Bytes* out, uint8_t v) { out->push_back(v); }
void PutU16(Bytes* out, uint16_t v) {
  out->push_back(static_cast<uint8_t>(v >> 8));
  out->push_back(static_cast<uint8_t>(v));
}
void PutU32(Bytes* out, uint32_t v) {
  for (int i = 3; i >= 0; i--) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutVarInt(Bytes* out, uint32_t v) {
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    out->push_back(v ? (b | 0x80) : b);
  } while (v);
}
void PutBinary(Bytes* out, ByteView v) {
  SHOAL_CHECK(v.size() <= 0xffff);
  PutU16(out, static_cast<uint16_t>(v.size()));
  out->insert(out->end(), v.begin(), v.end());
}
void PutString(Bytes* out, std::string_view s) { PutBinary(out, AsBytes(s)); }

void PutProperties(Bytes* out, const Properties& p) {
  // Built aside, as its length goes first; a packet's property blocks are
  // written one after another, never nested.
  thread_local Bytes b;
  b.clear();
  auto byte = [&](uint8_t id, const std::optional<uint8_t>& v) {
    if (v) PutByte(&b, id), PutByte(&b, *v);
  };
  auto u16 = [&](uint8_t id, const std::optional<uint16_t>& v) {
    if (v) PutByte(&b, id), PutU16(&b, *v);
  };
  auto u32 = [&](uint8_t id, const std::optional<uint32_t>& v) {
    if (v) PutByte(&b, id), PutU32(&b, *v);
  };
  auto str = [&](uint8_t id, const std::optional<std::string>& v) {
    if (v) PutByte(&b, id), PutString(&b, *v);
  };
  auto bin = [&](uint8_t id, const std::optional<Bytes>& v) {
    if (v) PutByte(&b, id), PutBinary(&b, *v);
  };
  byte(0x01, p.payload_format);
  u32(0x02, p.message_expiry);
  str(0x03, p.content_type);
  str(0x08, p.response_topic);
  bin(0x09, p.correlation_data);
  for (uint32_t id : p.subscription_ids) PutByte(&b, 0x0B), PutVarInt(&b, id);
  u32(0x11, p.session_expiry);
  str(0x12, p.assigned_client_id);
  u16(0x13, p.server_keep_alive);
  str(0x15, p.auth_method);
  bin(0x16, p.auth_data);
  byte(0x17, p.request_problem_info);
  u32(0x18, p.will_delay);
  byte(0x19, p.request_response_info);
  str(0x1A, p.response_info);
  str(0x1C, p.server_reference);
  str(0x1F, p.reason_string);
  u16(0x21, p.receive_maximum);
  u16(0x22, p.topic_alias_maximum);
  u16(0x23, p.topic_alias);
  byte(0x24, p.maximum_qos);
  byte(0x25, p.retain_available);
  for (const auto& [k, v] : p.user) PutByte(&b, 0x26), PutString(&b, k), PutString(&b, v);
  u32(0x27, p.maximum_packet_size);
  byte(0x28, p.wildcard_available);
  byte(0x29, p.subscription_ids_available);
  byte(0x2A, p.shared_available);
  PutVarInt(out, static_cast<uint32_t>(b.size()));
  out->insert(out->end(), b.begin(), b.end());
}

bool HasProperties(const Properties& p) { return p != Properties{}; }

uint8_t ConnackReturnCode(uint8_t reason) {
  switch (reason) {
    case reason::kSuccess: return 0;
    case reason::kUnsupportedProtocolVersion: return 1;
    case reason::kClientIdentifierNotValid: return 2;
    case reason::kBadUserNameOrPassword: return 4;
    case reason::kNotAuthorized:
    case reason::kBadAuthenticationMethod:
    case reason::kBanned: return 5;
    default: return 3;  // server unavailable
  }
}

uint8_t ConnackReason(uint8_t code) {
  static constexpr uint8_t kReasons[] = {
      reason::kSuccess,           reason::kUnsupportedProtocolVersion,
      reason::kClientIdentifierNotValid, reason::kServerUnavailable,
      reason::kBadUserNameOrPassword,    reason::kNotAuthorized};
  return kReasons[code];
}

// ---- decoding, one function per packet ----

Status CheckFlags(const Frame& f, uint8_t want) {
  if ((f.first_byte & 0x0f) != want) return Status::Malformed("mqtt: reserved flag bits are set");
  return Status::OK();
}

// PUBREL, SUBSCRIBE and UNSUBSCRIBE carry flags 0010. MQTT 3.1 had no
// reserved bits there, and its clients set DUP (1000) on a resend.
Status CheckQos1Flags(const Frame& f, Version v) {
  uint8_t flags = f.first_byte & 0x0f;
  if (flags == 0x02 || (v == Version::k31 && flags == 0x0a)) return Status::OK();
  return Status::Malformed("mqtt: reserved flag bits are set");
}

Result<Packet> DecodeConnect(Reader& r, uint8_t* unsupported_level) {
  std::string name = r.String();
  uint8_t level = r.Byte();
  SHOAL_RETURN_IF_ERROR(r.status());
  bool known = (name == "MQTT" && (level == 4 || level == 5)) || (name == "MQIsdp" && level == 3);
  if (!known) {
    if (unsupported_level) *unsupported_level = level;
    return Status::NotSupported("mqtt: unsupported protocol " + name + " level " +
                                std::to_string(level));
  }
  Connect c;
  c.version = static_cast<Version>(level);
  uint8_t flags = r.Byte();
  c.keep_alive = r.U16();
  SHOAL_RETURN_IF_ERROR(r.status());
  if (flags & 0x01) return Status::Malformed("mqtt: CONNECT reserved flag is set");
  bool will = flags & 0x04;
  uint8_t will_qos = (flags >> 3) & 3;
  bool will_retain = flags & 0x20;
  bool password = flags & 0x40;
  bool username = flags & 0x80;
  if (!will && (will_qos != 0 || will_retain)) {
    return Status::Malformed("mqtt: will QoS or retain without a will");
  }
  if (will_qos == 3) return Status::Malformed("mqtt: will QoS 3");
  if (password && !username && c.version != Version::k5) {
    return Status::Malformed("mqtt: a password without a user name");
  }
  c.clean_start = flags & 0x02;
  if (c.version == Version::k5) ReadProperties(r, kInConnect, &c.properties);
  c.client_id = r.String();
  if (will) {
    Will w;
    w.qos = will_qos;
    w.retain = will_retain;
    if (c.version == Version::k5) ReadProperties(r, kInWill, &w.properties);
    w.topic = r.String();
    w.payload = r.Binary();
    c.will = std::move(w);
  }
  if (username) c.username = r.String();
  if (password) c.password = r.Binary();
  SHOAL_RETURN_IF_ERROR(r.status());
  if (!r.empty()) return Status::Malformed("mqtt: bytes after the CONNECT payload");
  return Packet(std::move(c));
}

Result<Packet> DecodeConnack(Reader& r, Version v) {
  Connack c;
  uint8_t flags = r.Byte();
  uint8_t code = r.Byte();
  SHOAL_RETURN_IF_ERROR(r.status());
  if (flags & 0xfe) return Status::Malformed("mqtt: CONNACK reserved flags are set");
  c.session_present = flags & 1;
  if (v == Version::k5) {
    c.reason = code;
    ReadProperties(r, kInConnack, &c.properties);
  } else {
    if (code > 5) return Status::Malformed("mqtt: CONNACK return code above 5");
    c.reason = ConnackReason(code);
  }
  SHOAL_RETURN_IF_ERROR(r.status());
  if (!r.empty()) return Status::Malformed("mqtt: bytes after CONNACK");
  return Packet(std::move(c));
}

Result<Packet> DecodePublish(Reader& r, uint8_t flags, Version v) {
  Publish p;
  p.dup = flags & 0x08;
  p.qos = (flags >> 1) & 3;
  p.retain = flags & 0x01;
  if (p.qos == 3) return Status::Malformed("mqtt: PUBLISH with QoS 3");
  if (p.dup && p.qos == 0) return Status::Malformed("mqtt: DUP set on a QoS 0 PUBLISH");
  p.topic = r.String();
  if (p.qos > 0) {
    p.packet_id = r.U16();
    if (r.ok() && p.packet_id == 0) return Status::Malformed("mqtt: packet identifier 0");
  }
  if (v == Version::k5) ReadProperties(r, kInPublish, &p.properties);
  ByteView payload = r.Rest();
  SHOAL_RETURN_IF_ERROR(r.status());
  p.payload.assign(payload.begin(), payload.end());
  return Packet(std::move(p));
}

Result<Packet> DecodeAck(Reader& r, PacketType type, Version v) {
  Ack a;
  a.type = type;
  a.packet_id = r.U16();
  SHOAL_RETURN_IF_ERROR(r.status());
  if (a.packet_id == 0) return Status::Malformed("mqtt: packet identifier 0");
  if (v == Version::k5) {
    if (!r.empty()) a.reason = r.Byte();
    if (!r.empty()) ReadProperties(r, kInAck, &a.properties);
  }
  SHOAL_RETURN_IF_ERROR(r.status());
  if (!r.empty()) return Status::Malformed("mqtt: bytes after an acknowledgement");
  return Packet(std::move(a));
}

Result<Packet> DecodeSubscribe(Reader& r, Version v) {
  Subscribe s;
  s.packet_id = r.U16();
  if (r.ok() && s.packet_id == 0) return Status::Malformed("mqtt: packet identifier 0");
  if (v == Version::k5) {
    ReadProperties(r, kInSubscribe, &s.properties);
  }
  while (r.ok() && !r.empty()) {
    Subscription sub;
    sub.filter = r.String();
    uint8_t options = r.Byte();
    SHOAL_RETURN_IF_ERROR(r.status());
    sub.qos = options & 3;
    if (sub.qos == 3) return Status::Malformed("mqtt: subscription with QoS 3");
    if (v == Version::k5) {
      if (options & 0xc0) return Status::Malformed("mqtt: reserved subscription option bits");
      sub.no_local = options & 0x04;
      sub.retain_as_published = options & 0x08;
      sub.retain_handling = (options >> 4) & 3;
      if (sub.retain_handling == 3) return Status::Malformed("mqtt: retain handling 3");
    } else if (options & 0xfc) {
      return Status::Malformed("mqtt: reserved subscription option bits");
    }
    s.subscriptions.push_back(std::move(sub));
  }
  SHOAL_RETURN_IF_ERROR(r.status());
  if (s.subscriptions.empty()) return ProtocolError("SUBSCRIBE without a topic filter");
  return Packet(std::move(s));
}

Result<Packet> DecodeSuback(Reader& r, Version v) {
  Suback s;
  s.packet_id = r.U16();
  if (v == Version::k5) ReadProperties(r, kInSuback, &s.properties);
  ByteView codes = r.Rest();
  SHOAL_RETURN_IF_ERROR(r.status());
  for (uint8_t c : codes) {
    if (v != Version::k5 && c > 2 && c != 0x80) return Status::Malformed("mqtt: SUBACK return code");
    s.reasons.push_back(c);
  }
  return Packet(std::move(s));
}

Result<Packet> DecodeUnsubscribe(Reader& r, Version v) {
  Unsubscribe u;
  u.packet_id = r.U16();
  if (r.ok() && u.packet_id == 0) return Status::Malformed("mqtt: packet identifier 0");
  if (v == Version::k5) ReadProperties(r, kInUnsubscribe, &u.properties);
  while (r.ok() && !r.empty()) u.filters.push_back(r.String());
  SHOAL_RETURN_IF_ERROR(r.status());
  if (u.filters.empty()) return ProtocolError("UNSUBSCRIBE without a topic filter");
  return Packet(std::move(u));
}

Result<Packet> DecodeUnsuback(Reader& r, Version v) {
  Unsuback u;
  u.packet_id = r.U16();
  if (v == Version::k5) {
    ReadProperties(r, kInUnsuback, &u.properties);
    ByteView codes = r.Rest();
    u.reasons.assign(codes.begin(), codes.end());
  }
  SHOAL_RETURN_IF_ERROR(r.status());
  if (!r.empty()) return Status::Malformed("mqtt: bytes after UNSUBACK");
  return Packet(std::move(u));
}

// DISCONNECT and AUTH in 5.0: an empty body means reason 0.
template <typename T>
Result<Packet> DecodeReasonAndProperties(Reader& r, uint16_t scope) {
  T t;
  if (!r.empty()) t.reason = r.Byte();
  if (!r.empty()) ReadProperties(r, scope, &t.properties);
  SHOAL_RETURN_IF_ERROR(r.status());
  if (!r.empty()) return Status::Malformed("mqtt: bytes after the properties");
  return Packet(std::move(t));
}

// ---- encoding ----

// The part of a packet after the fixed header, except a PUBLISH payload,
// which Encode appends without copying it here first.
// A PUBLISH's variable header (its payload is appended by the caller).
void EncodePublishHeader(const Publish& p, Version v, Bytes* b) {
  PutString(b, p.topic);
  if (p.qos > 0) PutU16(b, p.packet_id);
  if (v == Version::k5) PutProperties(b, p.properties);
}

uint8_t PublishFirstByte(const Publish& p) {
  return static_cast<uint8_t>(PacketType::kPublish) << 4 | (p.dup ? 0x08 : 0) |
         static_cast<uint8_t>(p.qos << 1) | (p.retain ? 1 : 0);
}

void EncodeBody(const Packet& packet, Version v, Bytes* b) {
  const bool v5 = v == Version::k5;
  std::visit(
      [&](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Connect>) {
          PutString(b, p.version == Version::k31 ? "MQIsdp" : "MQTT");
          PutByte(b, static_cast<uint8_t>(p.version));
          uint8_t flags = p.clean_start ? 0x02 : 0;
          if (p.will) {
            flags |= 0x04 | static_cast<uint8_t>(p.will->qos << 3) | (p.will->retain ? 0x20 : 0);
          }
          if (p.password) flags |= 0x40;
          if (p.username) flags |= 0x80;
          PutByte(b, flags);
          PutU16(b, p.keep_alive);
          const bool c5 = p.version == Version::k5;
          if (c5) PutProperties(b, p.properties);
          PutString(b, p.client_id);
          if (p.will) {
            if (c5) PutProperties(b, p.will->properties);
            PutString(b, p.will->topic);
            PutBinary(b, p.will->payload);
          }
          if (p.username) PutString(b, *p.username);
          if (p.password) PutBinary(b, *p.password);
        } else if constexpr (std::is_same_v<T, Connack>) {
          PutByte(b, p.session_present ? 1 : 0);
          PutByte(b, v5 ? p.reason : ConnackReturnCode(p.reason));
          if (v5) PutProperties(b, p.properties);
        } else if constexpr (std::is_same_v<T, Publish>) {
          EncodePublishHeader(p, v, b);
        } else if constexpr (std::is_same_v<T, Ack>) {
          PutU16(b, p.packet_id);
          if (v5 && (p.reason != reason::kSuccess || HasProperties(p.properties))) {
            PutByte(b, p.reason);
            if (HasProperties(p.properties)) PutProperties(b, p.properties);
          }
        } else if constexpr (std::is_same_v<T, Subscribe>) {
          PutU16(b, p.packet_id);
          if (v5) PutProperties(b, p.properties);
          for (const Subscription& s : p.subscriptions) {
            PutString(b, s.filter);
            uint8_t options = s.qos;
            if (v5) {
              options |= (s.no_local ? 0x04 : 0) | (s.retain_as_published ? 0x08 : 0) |
                         static_cast<uint8_t>(s.retain_handling << 4);
            }
            PutByte(b, options);
          }
        } else if constexpr (std::is_same_v<T, Suback>) {
          PutU16(b, p.packet_id);
          if (v5) PutProperties(b, p.properties);
          for (uint8_t c : p.reasons) PutByte(b, v5 || c <= 2 ? c : 0x80);
        } else if constexpr (std::is_same_v<T, Unsubscribe>) {
          PutU16(b, p.packet_id);
          if (v5) PutProperties(b, p.properties);
          for (const std::string& f : p.filters) PutString(b, f);
        } else if constexpr (std::is_same_v<T, Unsuback>) {
          PutU16(b, p.packet_id);
          if (v5) {
            PutProperties(b, p.properties);
            for (uint8_t c : p.reasons) PutByte(b, c);
          }
        } else if constexpr (std::is_same_v<T, Disconnect> || std::is_same_v<T, Auth>) {
          if (v5 && (p.reason != reason::kSuccess || HasProperties(p.properties))) {
            PutByte(b, p.reason);
            if (HasProperties(p.properties)) PutProperties(b, p.properties);
          }
        }
      },
      packet);
}

uint8_t FirstByte(const Packet& packet) {
  uint8_t type = static_cast<uint8_t>(TypeOf(packet)) << 4;
  if (const auto* p = std::get_if<Publish>(&packet)) return PublishFirstByte(*p);
  switch (TypeOf(packet)) {
    case PacketType::kPubrel:
    case PacketType::kSubscribe:
    case PacketType::kUnsubscribe: return type | 0x02;
    default: return type;
  }
}

}  // namespace

uint8_t ReasonFor(const Status& status) {
  switch (status.code()) {
    case Status::Code::kMalformed: return reason::kMalformedPacket;
    case Status::Code::kInvalidArgument: return reason::kProtocolError;
    case Status::Code::kNotSupported: return reason::kUnsupportedProtocolVersion;
    default: return reason::kUnspecifiedError;
  }
}

std::string_view ReasonText(uint8_t code) {
  switch (code) {
    case reason::kUnspecifiedError: return "unspecified error";
    case reason::kMalformedPacket: return "malformed packet";
    case reason::kProtocolError: return "protocol error";
    case reason::kImplementationSpecificError: return "refused by this broker";
    case reason::kUnsupportedProtocolVersion: return "unsupported protocol version";
    case reason::kClientIdentifierNotValid: return "client identifier not valid";
    case reason::kBadUserNameOrPassword: return "bad user name or password";
    case reason::kNotAuthorized: return "not authorized";
    case reason::kServerUnavailable: return "server unavailable";
    case reason::kServerBusy: return "server busy";
    case reason::kBanned: return "banned";
    case reason::kServerShuttingDown: return "server shutting down";
    case reason::kBadAuthenticationMethod: return "authentication method not supported";
    case reason::kKeepAliveTimeout: return "nothing received within 1.5 keep-alive periods";
    case reason::kSessionTakenOver: return "another connection took the session over";
    case reason::kTopicFilterInvalid: return "topic filter not valid";
    case reason::kTopicNameInvalid: return "topic name not valid";
    case reason::kPacketIdentifierInUse: return "packet identifier in use";
    case reason::kPacketIdentifierNotFound: return "packet identifier not found";
    case reason::kReceiveMaximumExceeded: return "receive maximum exceeded";
    case reason::kTopicAliasInvalid: return "topic alias not valid";
    case reason::kPacketTooLarge: return "packet too large";
    case reason::kMessageRateTooHigh: return "message rate too high";
    case reason::kQuotaExceeded: return "quota exceeded";
    case reason::kAdministrativeAction: return "administrative action";
    case reason::kPayloadFormatInvalid: return "payload format not valid";
    case reason::kRetainNotSupported: return "retain not supported";
    case reason::kQosNotSupported: return "QoS not supported";
    case reason::kUseAnotherServer: return "use another server";
    case reason::kServerMoved: return "server moved";
    case reason::kSharedSubscriptionsNotSupported: return "shared subscriptions not supported";
    case reason::kConnectionRateExceeded: return "connection rate exceeded";
    case reason::kMaximumConnectTime: return "maximum connect time";
    case reason::kSubscriptionIdentifiersNotSupported: return "subscription identifiers not supported";
    case reason::kWildcardSubscriptionsNotSupported: return "wildcard subscriptions not supported";
    default: return "";
  }
}

PacketType TypeOf(const Packet& packet) {
  static constexpr PacketType kTypes[] = {
      PacketType::kConnect,     PacketType::kConnack,  PacketType::kPublish,
      PacketType::kPuback,      PacketType::kSubscribe, PacketType::kSuback,
      PacketType::kUnsubscribe, PacketType::kUnsuback, PacketType::kPingreq,
      PacketType::kPingresp,    PacketType::kDisconnect, PacketType::kAuth};
  if (const auto* a = std::get_if<Ack>(&packet)) return a->type;
  return kTypes[packet.index()];
}

bool ValidString(std::string_view s) {
  if (s.size() > 0xffff) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c == 0) return false;
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (p[i + k] & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

Result<std::optional<Frame>> NextFrame(ByteView data, uint32_t max_packet_size) {
  if (data.size() < 2) return std::optional<Frame>();
  uint32_t length = 0;
  size_t header = 1;
  for (int i = 0;; i++) {
    if (i == 4) return Status::Malformed("mqtt: remaining length longer than four bytes");
    if (header >= data.size()) return std::optional<Frame>();
    uint8_t b = data[header++];
    length |= static_cast<uint32_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) break;
  }
  if (uint64_t{header} + length > max_packet_size) {
    return Status::InvalidArgument("mqtt: packet of " + std::to_string(header + length) +
                                   " bytes is over the maximum of " +
                                   std::to_string(max_packet_size));
  }
  if (data.size() < header + length) return std::optional<Frame>();
  return std::optional<Frame>(Frame{data[0], data.subspan(header, length), header + length});
}

Result<Packet> Decode(const Frame& frame, Version version, uint8_t* unsupported_level) {
  Reader r(frame.body);
  auto type = static_cast<PacketType>(frame.first_byte >> 4);
  const bool v5 = version == Version::k5;
  switch (type) {
    case PacketType::kConnect:
      SHOAL_RETURN_IF_ERROR(CheckFlags(frame, 0));
      return DecodeConnect(r, unsupported_level);
    case PacketType::kConnack:
      SHOAL_RETURN_IF_ERROR(CheckFlags(frame, 0));
      return DecodeConnack(r, version);
    case PacketType::kPublish:
      return DecodePublish(r, frame.first_byte & 0x0f, version);
    case PacketType::kPuback:
    case PacketType::kPubrec:
    case PacketType::kPubcomp:
      SHOAL_RETURN_IF_ERROR(CheckFlags(frame, 0));
      return DecodeAck(r, type, version);
    case PacketType::kPubrel:
      SHOAL_RETURN_IF_ERROR(CheckQos1Flags(frame, version));
      return DecodeAck(r, type, version);
    case PacketType::kSubscribe:
      SHOAL_RETURN_IF_ERROR(CheckQos1Flags(frame, version));
      return DecodeSubscribe(r, version);
    case PacketType::kSuback:
      SHOAL_RETURN_IF_ERROR(CheckFlags(frame, 0));
      return DecodeSuback(r, version);
    case PacketType::kUnsubscribe:
      SHOAL_RETURN_IF_ERROR(CheckQos1Flags(frame, version));
      return DecodeUnsubscribe(r, version);
    case PacketType::kUnsuback:
      SHOAL_RETURN_IF_ERROR(CheckFlags(frame, 0));
      return DecodeUnsuback(r, version);
    case PacketType::kPingreq:
    case PacketType::kPingresp:
      SHOAL_RETURN_IF_ERROR(CheckFlags(frame, 0));
      if (!frame.body.empty()) return Status::Malformed("mqtt: a ping with a body");
      if (type == PacketType::kPingreq) return Packet(Pingreq{});
      return Packet(Pingresp{});
    case PacketType::kDisconnect:
      SHOAL_RETURN_IF_ERROR(CheckFlags(frame, 0));
      if (!v5) {
        if (!frame.body.empty()) return Status::Malformed("mqtt: DISCONNECT with a body");
        return Packet(Disconnect{});
      }
      return DecodeReasonAndProperties<Disconnect>(r, kInDisconnect);
    case PacketType::kAuth:
      if (!v5) return Status::Malformed("mqtt: AUTH before MQTT 5");
      SHOAL_RETURN_IF_ERROR(CheckFlags(frame, 0));
      return DecodeReasonAndProperties<Auth>(r, kInAuth);
  }
  return Status::Malformed("mqtt: packet type 0 is reserved");
}

namespace {

// The fixed header, then `body` and `payload`.
size_t AppendPacket(uint8_t first_byte, ByteView body, ByteView payload, Bytes* out) {
  size_t start = out->size();
  size_t remaining = body.size() + payload.size();
  SHOAL_CHECK(remaining <= kMaxRemainingLength);
  out->reserve(start + 5 + remaining);
  PutByte(out, first_byte);
  PutVarInt(out, static_cast<uint32_t>(remaining));
  out->insert(out->end(), body.begin(), body.end());
  out->insert(out->end(), payload.begin(), payload.end());
  return out->size() - start;
}

}  // namespace

size_t Encode(const Packet& packet, Version version, Bytes* out) {
  thread_local Bytes body;
  body.clear();
  EncodeBody(packet, version, &body);
  ByteView payload;
  if (const auto* p = std::get_if<Publish>(&packet)) payload = p->payload;
  return AppendPacket(FirstByte(packet), body, payload, out);
}

size_t EncodePublish(const Publish& p, ByteView payload, Version version, Bytes* out) {
  thread_local Bytes body;
  body.clear();
  EncodePublishHeader(p, version, &body);
  return AppendPacket(PublishFirstByte(p), body, payload, out);
}

}  // namespace shoal::mqtt
