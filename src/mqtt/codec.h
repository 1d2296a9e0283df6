// The MQTT control packets of versions 3.1, 3.1.1 and 5.0: their structs,
// and the codec between them and bytes (docs/protocols/mqtt.md).
//
// Decoding checks everything the specifications make a Malformed Packet or a
// Protocol Error: reserved flag bits, the remaining length, UTF-8 strings
// (well formed, no U+0000, no surrogates), QoS 3, property types, properties
// a packet may not carry and ones repeated that may not be. It does not know
// about sessions: a PUBLISH topic with a wildcard, say, decodes, and the
// broker refuses it.
//
// Errors are Statuses whose code names the MQTT reason (ReasonFor):
//   Malformed        0x81 Malformed Packet
//   InvalidArgument  0x82 Protocol Error
//   NotSupported     0x84 Unsupported Protocol Version (CONNECT only)
//
// Everything here is a plain value; nothing is thread-safe or -unsafe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace shoal::mqtt {

// The protocol level byte of CONNECT.
enum class Version : uint8_t { k31 = 3, k311 = 4, k5 = 5 };

enum class PacketType : uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
  kAuth = 15,
};

// MQTT 5 reason codes (3.1.1's CONNACK return codes and SUBACK codes are
// translated to and from these when encoding for or decoding from it).
namespace reason {
constexpr uint8_t kSuccess = 0x00;  // also Normal Disconnection, Granted QoS 0
constexpr uint8_t kGrantedQos1 = 0x01;
constexpr uint8_t kGrantedQos2 = 0x02;
constexpr uint8_t kDisconnectWithWill = 0x04;
constexpr uint8_t kNoMatchingSubscribers = 0x10;
constexpr uint8_t kNoSubscriptionExisted = 0x11;
constexpr uint8_t kContinueAuthentication = 0x18;
constexpr uint8_t kReAuthenticate = 0x19;
constexpr uint8_t kUnspecifiedError = 0x80;
constexpr uint8_t kMalformedPacket = 0x81;
constexpr uint8_t kProtocolError = 0x82;
constexpr uint8_t kImplementationSpecificError = 0x83;
constexpr uint8_t kUnsupportedProtocolVersion = 0x84;
constexpr uint8_t kClientIdentifierNotValid = 0x85;
constexpr uint8_t kBadUserNameOrPassword = 0x86;
constexpr uint8_t kNotAuthorized = 0x87;
constexpr uint8_t kServerUnavailable = 0x88;
constexpr uint8_t kServerBusy = 0x89;
constexpr uint8_t kBanned = 0x8A;
constexpr uint8_t kServerShuttingDown = 0x8B;
constexpr uint8_t kBadAuthenticationMethod = 0x8C;
constexpr uint8_t kKeepAliveTimeout = 0x8D;
constexpr uint8_t kSessionTakenOver = 0x8E;
constexpr uint8_t kTopicFilterInvalid = 0x8F;
constexpr uint8_t kTopicNameInvalid = 0x90;
constexpr uint8_t kPacketIdentifierInUse = 0x91;
constexpr uint8_t kPacketIdentifierNotFound = 0x92;
constexpr uint8_t kReceiveMaximumExceeded = 0x93;
constexpr uint8_t kTopicAliasInvalid = 0x94;
constexpr uint8_t kPacketTooLarge = 0x95;
constexpr uint8_t kMessageRateTooHigh = 0x96;
constexpr uint8_t kQuotaExceeded = 0x97;
constexpr uint8_t kAdministrativeAction = 0x98;
constexpr uint8_t kPayloadFormatInvalid = 0x99;
constexpr uint8_t kRetainNotSupported = 0x9A;
constexpr uint8_t kQosNotSupported = 0x9B;
constexpr uint8_t kUseAnotherServer = 0x9C;
constexpr uint8_t kServerMoved = 0x9D;
constexpr uint8_t kSharedSubscriptionsNotSupported = 0x9E;
constexpr uint8_t kConnectionRateExceeded = 0x9F;
constexpr uint8_t kMaximumConnectTime = 0xA0;
constexpr uint8_t kSubscriptionIdentifiersNotSupported = 0xA1;
constexpr uint8_t kWildcardSubscriptionsNotSupported = 0xA2;
}  // namespace reason

// The reason code a decoding failure stands for (see the top of this file);
// kUnspecifiedError for anything else.
uint8_t ReasonFor(const Status& status);

// A short English description of a 5.0 failure reason code (0x80 and up),
// for a Reason String where the broker has nothing more specific to say;
// "" for the others.
std::string_view ReasonText(uint8_t code);

// MQTT 5 properties. Which packet may carry which is checked when decoding;
// encoding writes what is set (and nothing for 3.1/3.1.1).
struct Properties {
  std::optional<uint8_t> payload_format;             // 0x01
  std::optional<uint32_t> message_expiry;            // 0x02, seconds
  std::optional<std::string> content_type;           // 0x03
  std::optional<std::string> response_topic;         // 0x08
  std::optional<Bytes> correlation_data;             // 0x09
  std::vector<uint32_t> subscription_ids;            // 0x0B (several in PUBLISH)
  std::optional<uint32_t> session_expiry;            // 0x11, seconds
  std::optional<std::string> assigned_client_id;     // 0x12
  std::optional<uint16_t> server_keep_alive;         // 0x13
  std::optional<std::string> auth_method;            // 0x15
  std::optional<Bytes> auth_data;                    // 0x16
  std::optional<uint8_t> request_problem_info;       // 0x17
  std::optional<uint32_t> will_delay;                // 0x18, seconds
  std::optional<uint8_t> request_response_info;      // 0x19
  std::optional<std::string> response_info;          // 0x1A
  std::optional<std::string> server_reference;       // 0x1C
  std::optional<std::string> reason_string;          // 0x1F
  std::optional<uint16_t> receive_maximum;           // 0x21
  std::optional<uint16_t> topic_alias_maximum;       // 0x22
  std::optional<uint16_t> topic_alias;               // 0x23
  std::optional<uint8_t> maximum_qos;                // 0x24
  std::optional<uint8_t> retain_available;           // 0x25
  std::vector<std::pair<std::string, std::string>> user;  // 0x26
  std::optional<uint32_t> maximum_packet_size;       // 0x27
  std::optional<uint8_t> wildcard_available;         // 0x28
  std::optional<uint8_t> subscription_ids_available; // 0x29
  std::optional<uint8_t> shared_available;           // 0x2A

  bool operator==(const Properties&) const = default;
};

struct Will {
  std::string topic;
  Bytes payload;
  uint8_t qos = 0;
  bool retain = false;
  Properties properties;  // 5.0: the will properties

  bool operator==(const Will&) const = default;
};

struct Connect {
  Version version = Version::k311;
  bool clean_start = true;  // Clean Session in 3.1/3.1.1
  uint16_t keep_alive = 0;  // seconds
  Properties properties;
  std::string client_id;
  std::optional<Will> will;
  std::optional<std::string> username;
  std::optional<Bytes> password;

  bool operator==(const Connect&) const = default;
};

struct Connack {
  bool session_present = false;
  // A 5.0 reason code; encoded for 3.1/3.1.1 as the nearest return code
  // (0 accepted, 1 unacceptable version, 2 identifier rejected, 3 server
  // unavailable, 4 bad user name or password, 5 not authorized).
  uint8_t reason = reason::kSuccess;
  Properties properties;

  bool operator==(const Connack&) const = default;
};

struct Publish {
  bool dup = false;
  uint8_t qos = 0;
  bool retain = false;
  std::string topic;        // empty in 5.0 when a topic alias stands for it
  uint16_t packet_id = 0;   // QoS 1 and 2 only, never 0 then
  Properties properties;
  Bytes payload;

  bool operator==(const Publish&) const = default;
};

// PUBACK, PUBREC, PUBREL and PUBCOMP.
struct Ack {
  PacketType type = PacketType::kPuback;
  uint16_t packet_id = 0;
  uint8_t reason = reason::kSuccess;  // 5.0 only
  Properties properties;

  bool operator==(const Ack&) const = default;
};

struct Subscription {
  std::string filter;
  uint8_t qos = 0;
  bool no_local = false;             // 5.0
  bool retain_as_published = false;  // 5.0
  uint8_t retain_handling = 0;       // 5.0: 0 send, 1 send if new, 2 do not send

  bool operator==(const Subscription&) const = default;
};

struct Subscribe {
  uint16_t packet_id = 0;
  Properties properties;
  std::vector<Subscription> subscriptions;  // at least one

  bool operator==(const Subscribe&) const = default;
};

struct Suback {
  uint16_t packet_id = 0;
  Properties properties;
  // One per subscription: granted QoS 0-2 or a failure code; 3.1.1 has only
  // 0x80 for failures, which every failure becomes there.
  std::vector<uint8_t> reasons;

  bool operator==(const Suback&) const = default;
};

struct Unsubscribe {
  uint16_t packet_id = 0;
  Properties properties;
  std::vector<std::string> filters;  // at least one

  bool operator==(const Unsubscribe&) const = default;
};

struct Unsuback {
  uint16_t packet_id = 0;
  Properties properties;
  std::vector<uint8_t> reasons;  // 5.0 only, one per filter

  bool operator==(const Unsuback&) const = default;
};

struct Pingreq {
  bool operator==(const Pingreq&) const = default;
};
struct Pingresp {
  bool operator==(const Pingresp&) const = default;
};

struct Disconnect {
  uint8_t reason = reason::kSuccess;  // 5.0 only
  Properties properties;

  bool operator==(const Disconnect&) const = default;
};

struct Auth {  // 5.0 only
  uint8_t reason = reason::kSuccess;
  Properties properties;

  bool operator==(const Auth&) const = default;
};

using Packet = std::variant<Connect, Connack, Publish, Ack, Subscribe, Suback, Unsubscribe,
                            Unsuback, Pingreq, Pingresp, Disconnect, Auth>;

PacketType TypeOf(const Packet& packet);

// The most a remaining length can say (four bytes of varint).
constexpr uint32_t kMaxRemainingLength = 268'435'455;

// One packet's place in a byte stream.
struct Frame {
  uint8_t first_byte = 0;  // type << 4 | flags
  ByteView body;           // the remaining-length bytes after the header
  size_t size = 0;         // header and body
};

// The packet at the start of `data`: nullopt while it is incomplete (more
// bytes are needed); Malformed for a remaining length over four bytes;
// InvalidArgument when the whole packet would exceed `max_packet_size`
// (reason 0x95 Packet Too Large for the caller to send), which it can tell
// from the header alone.
Result<std::optional<Frame>> NextFrame(ByteView data, uint32_t max_packet_size);

// Decodes one framed packet. `version` is the session's (CONNECT decodes
// whatever version it names: read Connect::version). NotSupported for a
// CONNECT of an unknown protocol name or level; the level it named is then
// in *unsupported_level when given, so the broker can answer in kind.
Result<Packet> Decode(const Frame& frame, Version version, uint8_t* unsupported_level = nullptr);

// Appends the packet, encoded for `version`, to `out`. Fields the version
// cannot carry are left out (properties before 5.0; reason codes of acks,
// UNSUBACK and DISCONNECT before 5.0). Returns the bytes appended, so a
// caller can take back a packet too large for its peer (out->resize).
size_t Encode(const Packet& packet, Version version, Bytes* out);

// Encode for a PUBLISH whose payload is `payload` (p.payload is not read):
// a broker sends one stored payload to many subscribers without copying it
// into a Publish for each.
size_t EncodePublish(const Publish& p, ByteView payload, Version version, Bytes* out);

// Whether `s` is a valid MQTT UTF-8 string: well formed, no U+0000, no
// surrogate code points, at most 65,535 bytes.
bool ValidString(std::string_view s);

}  // namespace shoal::mqtt
