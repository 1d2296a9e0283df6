// WebSocket handshake and framing against RFC 6455's own examples, fed whole
// and a byte at a time, and every violation the decoder must refuse.
#include "http/websocket.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shoal::http::ws {
namespace {

struct Collected {
  std::vector<std::string> data;  // one entry per Data event
  std::vector<std::string> pings, pongs;
  std::vector<uint16_t> closes;

  std::string all() const {
    std::string s;
    for (const auto& d : data) s += d;
    return s;
  }
};

Status FeedAll(Decoder& d, Bytes in, Collected* c, bool byte_at_a_time = false) {
  auto sink = [c](const Decoder::Event& e) {
    std::string s(AsString(e.data));
    switch (e.kind) {
      case Decoder::Event::Kind::kData: c->data.push_back(s); break;
      case Decoder::Event::Kind::kPing: c->pings.push_back(s); break;
      case Decoder::Event::Kind::kPong: c->pongs.push_back(s); break;
      case Decoder::Event::Kind::kClose: c->closes.push_back(e.close_code); break;
    }
  };
  if (!byte_at_a_time) return d.Feed(in, sink);
  for (size_t i = 0; i < in.size(); i++) {
    Status st = d.Feed(std::span<uint8_t>(&in[i], 1), sink);
    if (!st.ok()) return st;
  }
  return Status::OK();
}

// A masked client frame.
Bytes Frame(uint8_t first, std::string_view payload, FixedBytes<4> mask = {1, 2, 3, 4}) {
  Bytes out;
  out.push_back(first);
  if (payload.size() < 126) {
    out.push_back(static_cast<uint8_t>(0x80 | payload.size()));
  } else if (payload.size() <= 0xffff) {
    out.push_back(0x80 | 126);
    out.push_back(static_cast<uint8_t>(payload.size() >> 8));
    out.push_back(static_cast<uint8_t>(payload.size()));
  } else {
    out.push_back(0x80 | 127);
    for (int i = 7; i >= 0; i--) out.push_back(static_cast<uint8_t>(uint64_t{payload.size()} >> (8 * i)));
  }
  out.insert(out.end(), mask.begin(), mask.end());
  for (size_t i = 0; i < payload.size(); i++) out.push_back(payload[i] ^ mask[i & 3]);
  return out;
}

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(WebSocket, AcceptKeyOfRfc6455) {
  EXPECT_EQ(AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");  // §1.3
}

TEST(WebSocket, Handshake) {
  Request r;
  r.method = "GET";
  r.headers.Add("Host", "localhost");
  r.headers.Add("Upgrade", "websocket");
  r.headers.Add("Connection", "keep-alive, Upgrade");
  r.headers.Add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  r.headers.Add("Sec-WebSocket-Version", "13");
  r.headers.Add("Sec-WebSocket-Protocol", "mqttv3.1, mqtt");
  ASSERT_TRUE(IsUpgrade(r));
  auto h = Accept(r, {"mqtt"});
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->Get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(h->Get("sec-websocket-protocol"), "mqtt");

  Request wrong_protocol = r;
  wrong_protocol.headers.Set("Sec-WebSocket-Protocol", "chat");
  EXPECT_TRUE(Accept(wrong_protocol, {"mqtt"}).status().IsInvalidArgument());
  Request old = r;
  old.headers.Set("Sec-WebSocket-Version", "8");
  EXPECT_EQ(Accept(old, {"mqtt"}).status().code(), Status::Code::kNotSupported);
  Request bad_key = r;
  bad_key.headers.Set("Sec-WebSocket-Key", "c2hvcnQ=");
  EXPECT_FALSE(Accept(bad_key, {"mqtt"}).ok());
  Request post = r;
  post.method = "POST";
  EXPECT_FALSE(Accept(post, {"mqtt"}).ok());
  Request plain;
  plain.method = "GET";
  EXPECT_FALSE(IsUpgrade(plain));
}

TEST(WebSocket, DecodesTheRfcExamplesWholeAndByteByByte) {
  // §5.7: a masked text "Hello", a ping "Hello", then fragmented text.
  const Bytes hello = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  for (bool bytewise : {false, true}) {
    Decoder d;
    d.binary_only = false;
    Collected c;
    ASSERT_TRUE(FeedAll(d, Cat({hello, Frame(0x89, "Hello"), Frame(0x01, "Hel"), Frame(0x80, "lo")}),
                        &c, bytewise)
                    .ok());
    EXPECT_EQ(c.all(), "HelloHello");
    EXPECT_EQ(c.pings, std::vector<std::string>{"Hello"});
  }
}

TEST(WebSocket, BinaryOfEveryLengthClass) {
  for (size_t n : {0, 1, 125, 126, 65535, 65536, 200000}) {
    std::string payload(n, '\0');
    for (size_t i = 0; i < n; i++) payload[i] = static_cast<char>(i * 7);
    for (bool bytewise : {false, true}) {
      if (bytewise && n > 70000) continue;
      Decoder d;
      Collected c;
      ASSERT_TRUE(FeedAll(d, Cat({Frame(0x82, payload), Frame(0x8a, "p")}), &c, bytewise).ok()) << n;
      EXPECT_EQ(c.all(), payload) << n;
      EXPECT_EQ(c.pongs, std::vector<std::string>{"p"});
    }
  }
}

TEST(WebSocket, CloseEndsTheStream) {
  Decoder d;
  Collected c;
  Bytes close = Frame(0x88, std::string("\x03\xe8", 2) + "bye");
  ASSERT_TRUE(FeedAll(d, Cat({close, Frame(0x82, "after")}), &c).ok());
  EXPECT_EQ(c.closes, std::vector<uint16_t>{1000});
  EXPECT_TRUE(c.data.empty());
  Decoder empty;
  Collected c2;
  ASSERT_TRUE(FeedAll(empty, Frame(0x88, ""), &c2).ok());
  EXPECT_EQ(c2.closes, std::vector<uint16_t>{1005});
}

TEST(WebSocket, Violations) {
  struct Case {
    const char* what;
    Bytes in;
    uint16_t code;
  };
  Bytes unmasked = {0x82, 0x01, 'x'};
  Bytes long_ping = Frame(0x89, std::string(126, 'p'));
  std::vector<Case> cases = {
      {"unmasked", unmasked, kProtocolError},
      {"reserved bit", Frame(0xc2, "x"), kProtocolError},
      {"unknown opcode", Frame(0x83, "x"), kProtocolError},
      {"text", Frame(0x81, "x"), kUnsupportedData},
      {"fragmented ping", Frame(0x09, "x"), kProtocolError},
      {"long ping", long_ping, kProtocolError},
      {"lone continuation", Frame(0x80, "x"), kProtocolError},
      {"new message inside one", Cat({Frame(0x02, "a"), Frame(0x82, "b")}), kProtocolError},
      {"one-byte close", Frame(0x88, "x"), kProtocolError},
  };
  for (const Case& t : cases) {
    Decoder d;
    Collected c;
    Status st = FeedAll(d, t.in, &c);
    EXPECT_TRUE(st.IsInvalidArgument()) << t.what;
    EXPECT_EQ(d.close_code(), t.code) << t.what;
    // Nothing is decoded after an error.
    EXPECT_FALSE(FeedAll(d, Frame(0x82, "more"), &c).ok()) << t.what;
  }
}

TEST(WebSocket, ServerFrames) {
  for (uint64_t n : {0, 125, 126, 65535, 65536}) {
    Bytes out;
    AppendHeader(Opcode::kBinary, n, &out);
    EXPECT_EQ(out.size(), HeaderSize(n));
    EXPECT_EQ(out[0], 0x82);
  }
  Bytes h;
  AppendHeader(Opcode::kBinary, 300, &h);
  EXPECT_EQ(h, (Bytes{0x82, 126, 0x01, 0x2c}));
  EXPECT_EQ(CloseFrame(1000), (Bytes{0x88, 0x02, 0x03, 0xe8}));
}

}  // namespace
}  // namespace shoal::http::ws
