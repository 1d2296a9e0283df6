#include "mqtt/codec.h"

#include <gtest/gtest.h>

namespace shoal::mqtt {
namespace {

Bytes Hex(std::string_view hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size();) {
    if (hex[i] == ' ') {
      i++;
      continue;
    }
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

Result<Packet> DecodeAll(ByteView bytes, Version v, uint32_t max = kMaxRemainingLength + 5) {
  auto frame = NextFrame(bytes, max);
  if (!frame.ok()) return frame.status();
  if (!*frame) return Status::Malformed("incomplete");
  EXPECT_EQ((*frame)->size, bytes.size());
  return Decode(**frame, v);
}

Packet RoundTrip(const Packet& p, Version v) {
  Bytes out;
  size_t n = Encode(p, v, &out);
  EXPECT_EQ(n, out.size());
  auto back = DecodeAll(out, v);
  EXPECT_TRUE(back.ok()) << back.status().ToString();
  return back.ok() ? *back : Packet(Pingreq{});
}

// The bytes mosquitto_pub -V mqttv311 -i a -k 60 sends first.
TEST(Codec, Connect311KnownBytes) {
  Bytes bytes = Hex("10 0d 0004 4d515454 04 02 003c 0001 61");
  auto p = DecodeAll(bytes, Version::k311);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const auto& c = std::get<Connect>(*p);
  EXPECT_EQ(c.version, Version::k311);
  EXPECT_TRUE(c.clean_start);
  EXPECT_EQ(c.keep_alive, 60);
  EXPECT_EQ(c.client_id, "a");
  EXPECT_FALSE(c.will);
  Bytes again;
  Encode(*p, Version::k311, &again);
  EXPECT_EQ(again, bytes);
}

TEST(Codec, Connect5WithProperties) {
  // Session expiry 300 and receive maximum 10.
  Bytes bytes = Hex("10 16 0004 4d515454 05 02 003c 08 11 0000012c 21 000a 0001 61");
  auto p = DecodeAll(bytes, Version::k5);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const auto& c = std::get<Connect>(*p);
  EXPECT_EQ(c.version, Version::k5);
  EXPECT_EQ(c.properties.session_expiry, 300u);
  EXPECT_EQ(c.properties.receive_maximum, 10);
  Bytes again;
  Encode(*p, Version::k5, &again);
  EXPECT_EQ(again, bytes);
}

TEST(Codec, EveryPacketRoundTrips) {
  Properties props;
  props.reason_string = "because";
  props.user = {{"k", "v"}, {"k", "w"}};
  Properties user_only;  // SUBSCRIBE and UNSUBSCRIBE carry no reason string
  user_only.user = props.user;

  Connect connect;
  connect.version = Version::k5;
  connect.clean_start = false;
  connect.keep_alive = 30;
  connect.client_id = "client-1";
  connect.properties.session_expiry = 3600;
  connect.properties.maximum_packet_size = 1 << 20;
  connect.properties.topic_alias_maximum = 5;
  connect.will = Will{"will/topic", ToBytes("gone"), 1, true, {}};
  connect.will->properties.will_delay = 10;
  connect.will->properties.content_type = "text/plain";
  connect.username = "user";
  connect.password = ToBytes("secret");

  Publish publish;
  publish.qos = 2;
  publish.dup = true;
  publish.retain = true;
  publish.topic = "a/b";
  publish.packet_id = 7;
  publish.payload = Bytes(300, 'x');
  publish.properties.message_expiry = 60;
  publish.properties.response_topic = "reply/here";
  publish.properties.correlation_data = ToBytes("corr");
  publish.properties.subscription_ids = {1, 268435455};
  publish.properties.payload_format = 1;
  publish.properties.user = props.user;

  Subscribe subscribe;
  subscribe.packet_id = 9;
  subscribe.properties.subscription_ids = {42};
  subscribe.subscriptions = {{"a/+", 1, true, true, 2}, {"b/#", 2, false, false, 0}};

  Connack connack;
  connack.session_present = true;
  connack.properties.assigned_client_id = "auto-1";
  connack.properties.receive_maximum = 100;
  connack.properties.maximum_qos = 1;
  connack.properties.retain_available = 1;
  connack.properties.shared_available = 0;
  connack.properties.server_keep_alive = 20;

  const Packet v5[] = {
      connect,
      connack,
      publish,
      Ack{PacketType::kPuback, 7, 0, {}},
      Ack{PacketType::kPubrec, 7, reason::kNoMatchingSubscribers, {}},
      Ack{PacketType::kPubrel, 7, reason::kPacketIdentifierNotFound, props},
      Ack{PacketType::kPubcomp, 7, 0, props},
      subscribe,
      Suback{9, props, {0, 1, 2, reason::kNotAuthorized}},
      Unsubscribe{10, user_only, {"a/+", "b/#"}},
      Unsuback{10, props, {0, reason::kNoSubscriptionExisted}},
      Pingreq{},
      Pingresp{},
      Disconnect{},
      Disconnect{reason::kDisconnectWithWill, props},
      Auth{reason::kContinueAuthentication, props},
  };
  for (const Packet& p : v5) {
    EXPECT_EQ(RoundTrip(p, Version::k5), p) << "type " << static_cast<int>(TypeOf(p));
  }

  // 3.1.1 and 3.1 carry neither properties nor these reason codes.
  for (Version v : {Version::k311, Version::k31}) {
    Connect c = connect;
    c.version = v;
    c.properties = {};
    c.will->properties = {};
    EXPECT_EQ(RoundTrip(c, v), Packet(c));
    Publish p = publish;
    p.properties = {};
    EXPECT_EQ(RoundTrip(p, v), Packet(p));
    Subscribe s{9, {}, {{"a/+", 1}, {"b/#", 2}}};
    EXPECT_EQ(RoundTrip(s, v), Packet(s));
    EXPECT_EQ(RoundTrip(Suback{9, {}, {0, 1, 2, 0x80}}, v), Packet(Suback{9, {}, {0, 1, 2, 0x80}}));
    EXPECT_EQ(RoundTrip(Unsuback{3, {}, {}}, v), Packet(Unsuback{3, {}, {}}));
    EXPECT_EQ(RoundTrip(Ack{PacketType::kPubrel, 4, 0, {}}, v), Packet(Ack{PacketType::kPubrel, 4, 0, {}}));
    EXPECT_EQ(RoundTrip(Disconnect{}, v), Packet(Disconnect{}));
  }
}

TEST(Codec, VersionTranslations) {
  // A 5.0 reason becomes the nearest 3.1.1 CONNACK return code.
  const std::pair<uint8_t, uint8_t> connack[] = {
      {reason::kSuccess, 0},          {reason::kUnsupportedProtocolVersion, 1},
      {reason::kClientIdentifierNotValid, 2}, {reason::kServerUnavailable, 3},
      {reason::kBadUserNameOrPassword, 4},    {reason::kNotAuthorized, 5},
      {reason::kServerBusy, 3}};
  for (auto [r, code] : connack) {
    Bytes out;
    Encode(Connack{false, r, {}}, Version::k311, &out);
    Bytes want = Hex("20 02 00");
    want.push_back(code);
    EXPECT_EQ(out, want) << int(r);
  }
  // Every SUBACK failure is 0x80 in 3.1.1.
  Bytes out;
  Encode(Suback{1, {}, {1, reason::kTopicFilterInvalid}}, Version::k311, &out);
  EXPECT_EQ(out, Hex("90 04 0001 01 80"));
  // A 5.0 ack with reason 0 and no properties is two bytes; DISCONNECT none.
  out.clear();
  Encode(Ack{PacketType::kPuback, 5, 0, {}}, Version::k5, &out);
  EXPECT_EQ(out, Hex("40 02 0005"));
  out.clear();
  Encode(Disconnect{}, Version::k5, &out);
  EXPECT_EQ(out, Hex("e0 00"));
  // ... and a reason without properties is three.
  auto ack = DecodeAll(Hex("50 03 0005 10"), Version::k5);
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ(std::get<Ack>(*ack).reason, reason::kNoMatchingSubscribers);
}

TEST(Codec, Framing) {
  Bytes two = Hex("c0 00 d0 00");  // PINGREQ, PINGRESP
  auto f = NextFrame(two, 100);
  ASSERT_TRUE(f.ok() && *f);
  EXPECT_EQ((*f)->size, 2u);
  EXPECT_EQ(NextFrame(ByteView(two).first(1), 100).value(), std::nullopt);
  // A remaining length split over reads waits for the rest.
  Bytes big = Hex("30 80 01");
  EXPECT_EQ(NextFrame(ByteView(big).first(2), 1000).value(), std::nullopt);
  EXPECT_EQ(NextFrame(big, 1000).value(), std::nullopt);  // body not here yet
  // Five length bytes are malformed; the limit is known from the header.
  EXPECT_EQ(NextFrame(Hex("30 ff ff ff ff 01"), 1 << 30).status().code(), Status::Code::kMalformed);
  auto large = NextFrame(Hex("30 ff ff 03"), 1000);
  EXPECT_EQ(large.status().code(), Status::Code::kInvalidArgument);
  // Exactly at the limit is allowed.
  Bytes at = Hex("30 03 0001 61");
  EXPECT_TRUE(NextFrame(at, 5).value().has_value());
  EXPECT_FALSE(NextFrame(at, 4).ok());
}

TEST(Codec, RefusesWhatTheSpecificationsForbid) {
  struct Case {
    const char* what;
    const char* hex;
    Version version;
    Status::Code code;
  };
  const Case cases[] = {
      {"CONNECT reserved flag", "10 0d 0004 4d515454 04 03 003c 0001 61", Version::k311, Status::Code::kMalformed},
      {"will QoS without will", "10 0d 0004 4d515454 04 0a 003c 0001 61", Version::k311, Status::Code::kMalformed},
      {"password without user in 3.1.1", "10 0f 0004 4d515454 04 42 003c 0001 61 0000", Version::k311, Status::Code::kMalformed},
      {"bytes after CONNECT", "10 0e 0004 4d515454 04 02 003c 0001 61 00", Version::k311, Status::Code::kMalformed},
      {"unknown level", "10 0d 0004 4d515454 06 02 003c 0001 61", Version::k311, Status::Code::kNotSupported},
      {"unknown name", "10 0d 0004 4d515458 04 02 003c 0001 61", Version::k311, Status::Code::kNotSupported},
      {"CONNECT with flags", "11 0d 0004 4d515454 04 02 003c 0001 61", Version::k311, Status::Code::kMalformed},
      {"QoS 3 publish", "36 05 0001 61 0001", Version::k311, Status::Code::kMalformed},
      {"DUP on QoS 0", "38 03 0001 61", Version::k311, Status::Code::kMalformed},
      {"packet id 0", "32 05 0001 61 0000", Version::k311, Status::Code::kMalformed},
      {"U+0000 in a topic", "30 03 0001 00", Version::k311, Status::Code::kMalformed},
      {"overlong UTF-8", "30 04 0002 c0 80", Version::k311, Status::Code::kMalformed},
      {"a surrogate", "30 05 0003 ed a0 80", Version::k311, Status::Code::kMalformed},
      {"truncated UTF-8", "30 03 0001 e2", Version::k311, Status::Code::kMalformed},
      {"string past the end", "30 03 0005 61", Version::k311, Status::Code::kMalformed},
      {"SUBSCRIBE flags 0", "80 06 0001 0001 61 00", Version::k311, Status::Code::kMalformed},
      {"SUBSCRIBE QoS 3", "82 06 0001 0001 61 03", Version::k311, Status::Code::kMalformed},
      {"3.1.1 option bits", "82 06 0001 0001 61 04", Version::k311, Status::Code::kMalformed},
      {"retain handling 3", "82 07 0001 00 0001 61 30", Version::k5, Status::Code::kMalformed},
      {"empty SUBSCRIBE", "82 02 0001", Version::k311, Status::Code::kInvalidArgument},
      {"empty UNSUBSCRIBE", "a2 02 0001", Version::k311, Status::Code::kInvalidArgument},
      {"PUBREL flags 0", "60 02 0001", Version::k311, Status::Code::kMalformed},
      {"ping with body", "c0 01 00", Version::k311, Status::Code::kMalformed},
      {"DISCONNECT body in 3.1.1", "e0 01 00", Version::k311, Status::Code::kMalformed},
      {"AUTH in 3.1.1", "f0 00", Version::k311, Status::Code::kMalformed},
      {"type 0", "00 00", Version::k5, Status::Code::kMalformed},
      {"topic alias in CONNECT", "10 11 0004 4d515454 05 02 003c 03 23 0001 0001 61", Version::k5, Status::Code::kInvalidArgument},
      {"repeated property", "10 14 0004 4d515454 05 02 003c 06 21 0001 21 0001 0001 61", Version::k5, Status::Code::kInvalidArgument},
      {"unknown property", "10 11 0004 4d515454 05 02 003c 03 7f 0001 0001 61", Version::k5, Status::Code::kMalformed},
      {"receive maximum 0", "10 11 0004 4d515454 05 02 003c 03 21 0000 0001 61", Version::k5, Status::Code::kInvalidArgument},
      {"payload format 2", "30 06 0001 61 02 01 02", Version::k5, Status::Code::kInvalidArgument},
      {"subscription id 0", "82 09 0001 02 0b 00 0001 61 00", Version::k5, Status::Code::kInvalidArgument},
      {"properties past the end", "30 05 0001 61 09 01", Version::k5, Status::Code::kMalformed},
  };
  for (const Case& c : cases) {
    auto p = DecodeAll(Hex(c.hex), c.version);
    EXPECT_EQ(p.status().code(), c.code) << c.what << ": " << p.status().ToString();
  }
  // 3.1 clients may set DUP on a resent SUBSCRIBE, UNSUBSCRIBE or PUBREL.
  for (const char* hex : {"8a 06 0001 0001 61 00", "aa 05 0001 0001 61", "6a 02 0001"}) {
    EXPECT_TRUE(DecodeAll(Hex(hex), Version::k31).ok()) << hex;
    EXPECT_EQ(DecodeAll(Hex(hex), Version::k311).status().code(), Status::Code::kMalformed) << hex;
  }
  uint8_t level = 0;
  Bytes six = Hex("10 0d 0004 4d515454 06 02 003c 0001 61");
  auto frame = NextFrame(six, 1000);
  EXPECT_EQ(Decode(**frame, Version::k311, &level).status().code(), Status::Code::kNotSupported);
  EXPECT_EQ(level, 6);
  EXPECT_EQ(ReasonFor(Status::Malformed("x")), reason::kMalformedPacket);
  EXPECT_EQ(ReasonFor(Status::InvalidArgument("x")), reason::kProtocolError);
}

TEST(Codec, ValidString) {
  EXPECT_TRUE(ValidString(""));
  EXPECT_TRUE(ValidString("sensors/\xc3\xa9t\xc3\xa9/\xf0\x9f\x90\x9f"));
  EXPECT_FALSE(ValidString(std::string("a\0b", 3)));
  EXPECT_FALSE(ValidString("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(ValidString("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(ValidString("\xff"));
  EXPECT_FALSE(ValidString(std::string(65536, 'a')));
}

}  // namespace
}  // namespace shoal::mqtt
