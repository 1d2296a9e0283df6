#include "net/mux.h"

#include <gtest/gtest.h>

#include <deque>

namespace shoal::net {
namespace {

struct Recorder : ChannelHandler {
  std::vector<std::string> events;
  Status open_result;
  Status OnOpen(Channel& ch, ByteView handshake) override {
    events.push_back("open:" + std::string(AsString(handshake)));
    return open_result;
  }
  Status OnMessage(Channel& ch, uint64_t type, ByteView payload) override {
    events.push_back(std::to_string(type) + ":" + std::string(AsString(payload)));
    return Status::OK();
  }
  void OnClose(Channel& ch, bool by_remote) override {
    events.push_back(by_remote ? "close:remote" : "close:local");
  }
};

// A frame's parts, joined.
Bytes Join(std::span<const ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Two muxes joined by frame queues.
struct Link {
  std::deque<Bytes> to_a, to_b;
  Mux a{[this](std::span<const ByteView> f) { to_b.push_back(Join(f)); return Status::OK(); }};
  Mux b{[this](std::span<const ByteView> f) { to_a.push_back(Join(f)); return Status::OK(); }};
  size_t frames = 0;

  Status Pump() {
    while (!to_a.empty() || !to_b.empty()) {
      while (!to_b.empty()) {
        Bytes f = std::move(to_b.front());
        to_b.pop_front();
        frames++;
        SHOAL_RETURN_IF_ERROR(b.Receive(f));
      }
      while (!to_a.empty()) {
        Bytes f = std::move(to_a.front());
        to_a.pop_front();
        frames++;
        SHOAL_RETURN_IF_ERROR(a.Receive(f));
      }
    }
    return Status::OK();
  }
};

const std::optional<Bytes> kId = Bytes{0xab, 0xcd};

TEST(Mux, BothSidesOpen) {
  Link l;
  Recorder ra, rb;
  Channel* ca = l.a.Open("proto", kId, AsBytes("hs-a"), &ra);
  Channel* cb = l.b.Open("proto", kId, AsBytes("hs-b"), &rb);
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(cb, nullptr);
  EXPECT_EQ(l.a.Open("proto", kId, {}, &ra), nullptr);  // already open
  ASSERT_TRUE(l.Pump().ok());
  EXPECT_TRUE(ca->opened());
  ASSERT_TRUE(ca->Send(3, AsBytes("ping")).ok());
  ASSERT_TRUE(cb->Send(4, AsBytes("pong")).ok());
  ASSERT_TRUE(l.Pump().ok());
  EXPECT_EQ(ra.events, (std::vector<std::string>{"open:hs-b", "4:pong"}));
  EXPECT_EQ(rb.events, (std::vector<std::string>{"open:hs-a", "3:ping"}));
  ca->Close();
  ASSERT_TRUE(l.Pump().ok());
  EXPECT_EQ(ra.events.back(), "close:local");
  EXPECT_EQ(rb.events.back(), "close:remote");
  EXPECT_EQ(l.a.channel_count(), 0u);
  EXPECT_EQ(l.b.channel_count(), 0u);
}

TEST(Mux, PairHandlerAcceptsOrRejects) {
  Link l;
  Recorder ra, rb;
  std::vector<std::string> asked;
  l.b.SetPairHandler([&](std::string_view protocol, const std::optional<Bytes>& id) {
    asked.emplace_back(protocol);
    if (protocol == "yes") l.b.Open("yes", id, AsBytes("ok"), &rb);
  });
  Channel* yes = l.a.Open("yes", kId, AsBytes("hi"), &ra);
  Recorder rno;
  l.a.Open("no", kId, {}, &rno);
  ASSERT_TRUE(l.Pump().ok());
  EXPECT_EQ(asked, (std::vector<std::string>{"yes", "no"}));
  EXPECT_TRUE(yes->opened());
  EXPECT_EQ(rb.events, (std::vector<std::string>{"open:hi"}));
  EXPECT_EQ(rno.events, (std::vector<std::string>{"close:remote"}));  // rejected
  // The rejected id is free again; a new channel reuses it and works.
  Recorder r2, r2b;
  l.b.SetPairHandler([&](std::string_view p, const std::optional<Bytes>& id) { l.b.Open(std::string(p), id, {}, &r2b); });
  Channel* c2 = l.a.Open("again", std::nullopt, {}, &r2);
  ASSERT_TRUE(l.Pump().ok());
  EXPECT_TRUE(c2->opened());
  ASSERT_TRUE(c2->Send(0, AsBytes("x")).ok());
  ASSERT_TRUE(l.Pump().ok());
  EXPECT_EQ(r2b.events.back(), "0:x");
}

TEST(Mux, CorkedMessagesTravelAsOneBatch) {
  Link l;
  Recorder ra, rb, ra2, rb2;
  Channel* c1 = l.a.Open("p", Bytes{1}, {}, &ra);
  Channel* c2 = l.a.Open("p", Bytes{2}, {}, &ra2);
  l.b.Open("p", Bytes{1}, {}, &rb);
  l.b.Open("p", Bytes{2}, {}, &rb2);
  ASSERT_TRUE(l.Pump().ok());
  l.frames = 0;
  l.a.Cork();
  ASSERT_TRUE(c1->Send(1, AsBytes("a")).ok());
  ASSERT_TRUE(c1->Send(2, AsBytes("b")).ok());
  ASSERT_TRUE(c2->Send(1, AsBytes("c")).ok());
  ASSERT_TRUE(c1->Send(5, AsBytes("")).ok());
  EXPECT_TRUE(l.to_b.empty());
  l.a.Uncork();
  ASSERT_EQ(l.to_b.size(), 1u);
  ASSERT_TRUE(l.Pump().ok());
  EXPECT_EQ(rb.events, (std::vector<std::string>{"open:", "1:a", "2:b", "5:"}));
  EXPECT_EQ(rb2.events, (std::vector<std::string>{"open:", "1:c"}));
}

// Frames made by the npm protomux (the version in package-lock.json) for the
// same calls, checked byte for byte.
TEST(Mux, ProtomuxBytes) {
  std::vector<Bytes> sent;
  Mux m([&](std::span<const ByteView> f) { sent.push_back(Join(f)); return Status::OK(); });
  Recorder r, r2;
  Channel* ch = m.Open("hypercore/alpha", Bytes{0xaa, 0xbb}, Bytes{0x01, 0x02}, &r);
  Channel* ch2 = m.Open("p", Bytes{0x01}, {}, &r2);
  m.Cork();
  ASSERT_TRUE(ch->Send(0, AsBytes("a")).ok());
  ASSERT_TRUE(ch2->Send(1, AsBytes("bc")).ok());
  ASSERT_TRUE(ch->Send(0, ByteView()).ok());
  m.Uncork();
  ch->Close();
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(ToHex(sent[0]), "0001010f6879706572636f72652f616c70686102aabb0102");
  EXPECT_EQ(ToHex(sent[1]), "00010201700101");
  EXPECT_EQ(ToHex(sent[2]), "00000102006100020301626300010100");
  EXPECT_EQ(ToHex(sent[3]), "000301");
  EXPECT_EQ(r.events, (std::vector<std::string>{"close:local"}));

  // The remote opens "p"/01 with its id 1; then a batch of two messages to it.
  ASSERT_TRUE(m.Receive(*FromHex("000101" "0170" "0101" "ff")).ok());
  EXPECT_EQ(r2.events, (std::vector<std::string>{"open:\xff"}));
  ASSERT_TRUE(m.Receive(*FromHex("0000" "01" "02" "0761" "03" "086263")).ok());
  EXPECT_EQ(r2.events, (std::vector<std::string>{"open:\xff", "7:a", "8:bc"}));
  // Closed by the remote.
  ASSERT_TRUE(m.Receive(*FromHex("000301")).ok());
  EXPECT_EQ(r2.events.back(), "close:remote");
}

TEST(Mux, BadFrames) {
  auto fresh = [] {
    return std::make_unique<Mux>([](std::span<const ByteView>) { return Status::OK(); });
  };
  EXPECT_TRUE(fresh()->Receive({}).ok());  // empty frames are ignored
  EXPECT_EQ(fresh()->Receive(*FromHex("fd01")).code(), Status::Code::kMalformed);  // cut uint
  EXPECT_EQ(fresh()->Receive(*FromHex("0001")).code(), Status::Code::kMalformed);  // open, no body
  // An open that skips ids.
  EXPECT_EQ(fresh()->Receive(*FromHex("00010501700000")).code(), Status::Code::kMalformed);
  // A reject of a channel nobody opened.
  EXPECT_EQ(fresh()->Receive(*FromHex("000207")).code(), Status::Code::kMalformed);
  // A batch whose item runs past the end.
  EXPECT_EQ(fresh()->Receive(*FromHex("00000109")).code(), Status::Code::kMalformed);
  // Messages to unknown channels and unknown control types are ignored.
  EXPECT_TRUE(fresh()->Receive(*FromHex("0507aa")).ok());
  EXPECT_TRUE(fresh()->Receive(*FromHex("0009")).ok());
  // A second open on an id in use.
  auto m = fresh();
  Recorder r;
  m->SetPairHandler([&](std::string_view p, const std::optional<Bytes>& id) { m->Open(std::string(p), id, {}, &r); });
  ASSERT_TRUE(m->Receive(*FromHex("0001010170" "00")).ok());
  EXPECT_EQ(m->Receive(*FromHex("0001010171" "00")).code(), Status::Code::kMalformed);
}

TEST(Mux, OpenErrorIsReturnedByReceive) {
  Link l;
  Recorder ra, rb;
  rb.open_result = Status::VerificationFailed("bad capability");
  l.a.Open("p", kId, {}, &ra);
  l.b.Open("p", kId, {}, &rb);
  EXPECT_EQ(l.Pump().code(), Status::Code::kVerificationFailed);
}

TEST(Mux, CloseAllClosesEveryChannel) {
  Link l;
  Recorder ra, ra2;
  l.a.Open("p", Bytes{1}, {}, &ra);
  l.a.Open("p", Bytes{2}, {}, &ra2);
  l.a.CloseAll();
  EXPECT_EQ(ra.events, (std::vector<std::string>{"close:remote"}));
  EXPECT_EQ(ra2.events, (std::vector<std::string>{"close:remote"}));
  EXPECT_EQ(l.a.channel_count(), 0u);
}

}  // namespace
}  // namespace shoal::net
