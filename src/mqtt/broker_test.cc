// The broker's rules that depend on time and on several clients at once,
// driven through its public calls with links that keep what they are sent
// (the broker does no I/O; the TCP server and real clients are tested in
// tests/integration/mqtt.test.js).
#include "mqtt/broker.h"

#include <gtest/gtest.h>

#include <deque>

namespace shoal::mqtt {
namespace {

using namespace std::chrono_literals;

class MemoryLink : public Link {
 public:
  void Send(Bytes bytes) override { in_.insert(in_.end(), bytes.begin(), bytes.end()); }
  void Close() override { closed_ = true; }
  size_t backlog() const override { return backlog_; }

  // The packets sent so far, decoded for `version`, and forgotten.
  std::vector<Packet> Take(Version version) {
    std::vector<Packet> out;
    ByteView rest = in_;
    for (;;) {
      auto frame = NextFrame(rest, 1 << 30);
      if (!frame.ok() || !*frame) break;
      auto p = Decode(**frame, version);
      EXPECT_TRUE(p.ok()) << p.status().ToString();
      if (p.ok()) out.push_back(std::move(*p));
      rest = rest.subspan((*frame)->size);
    }
    in_.clear();
    return out;
  }

  bool closed() const { return closed_; }
  size_t backlog_ = 0;

 private:
  Bytes in_;
  bool closed_ = false;
};

// One client of the broker under test.
struct Client {
  std::shared_ptr<MemoryLink> link = std::make_shared<MemoryLink>();
  Broker::ConnId id = 0;
  Version version = Version::k5;
  std::vector<Packet> first;  // CONNACK and what came with it
};

class BrokerTest : public ::testing::Test {
 protected:
  BrokerTest() : broker_(Options(), now_) {}

  static BrokerOptions Options() {
    BrokerOptions o;
    o.sys_interval = 0s;
    o.receive_maximum = 3;
    return o;
  }

  void Write(Client& c, const Packet& p) {
    Bytes b;
    Encode(p, c.version, &b);
    broker_.Receive(c.id, b, now_);
  }

  Client Connect(std::string id, Version v = Version::k5, bool clean = true,
                 std::function<void(Connect&)> edit = {}) {
    Client c;
    c.version = v;
    c.id = broker_.Open(c.link, now_);
    mqtt::Connect connect;
    connect.version = v;
    connect.client_id = std::move(id);
    connect.clean_start = clean;
    if (edit) edit(connect);
    Write(c, connect);
    c.first = c.link->Take(v);
    EXPECT_FALSE(c.first.empty());
    if (!c.first.empty()) EXPECT_EQ(std::get<Connack>(c.first[0]).reason, reason::kSuccess);
    return c;
  }

  void Subscribe(Client& c, std::string filter, uint8_t qos) {
    Write(c, mqtt::Subscribe{1, {}, {{std::move(filter), qos}}});
    auto got = c.link->Take(c.version);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(std::get<Suback>(got[0]).reasons, std::vector<uint8_t>{qos});
  }

  void Advance(std::chrono::milliseconds d) {
    now_ += d;
    broker_.Tick(now_);
  }

  Clock::time_point now_ = Clock::time_point() + 1000h;
  Broker broker_;
};

std::vector<std::string> Topics(const std::vector<Packet>& packets) {
  std::vector<std::string> out;
  for (const Packet& p : packets) {
    if (auto* pub = std::get_if<Publish>(&p)) out.push_back(pub->topic);
  }
  return out;
}

TEST_F(BrokerTest, KeepAliveIsOneAndAHalfPeriods) {
  Client watcher = Connect("watcher");
  Subscribe(watcher, "will/#", 0);
  Client c = Connect("sleepy", Version::k5, true, [](mqtt::Connect& m) {
    m.keep_alive = 10;
    m.will = Will{"will/sleepy", ToBytes("gone"), 0, false, {}};
  });
  Advance(14s);
  EXPECT_FALSE(c.link->closed());
  Write(c, Pingreq{});  // any packet resets the clock
  ASSERT_EQ(c.link->Take(Version::k5).size(), 1u);
  Advance(14s);
  EXPECT_FALSE(c.link->closed());
  Advance(2s);
  EXPECT_TRUE(c.link->closed());
  auto to_c = c.link->Take(Version::k5);
  ASSERT_EQ(to_c.size(), 1u);
  EXPECT_EQ(std::get<Disconnect>(to_c[0]).reason, reason::kKeepAliveTimeout);
  EXPECT_EQ(Topics(watcher.link->Take(Version::k5)), std::vector<std::string>{"will/sleepy"});
}

TEST_F(BrokerTest, WillDelayAndSessionEnd) {
  Client watcher = Connect("watcher");
  Subscribe(watcher, "will/#", 0);
  auto with_will = [](uint32_t delay, uint32_t expiry) {
    return [=](mqtt::Connect& m) {
      m.properties.session_expiry = expiry;
      m.will = Will{"will/x", ToBytes("bye"), 0, false, {}};
      m.will->properties.will_delay = delay;
    };
  };
  // The will waits for its delay...
  Client a = Connect("a", Version::k5, true, with_will(5, 100));
  broker_.Lost(a.id, now_);
  Advance(4s);
  EXPECT_TRUE(watcher.link->Take(Version::k5).empty());
  Advance(2s);
  EXPECT_EQ(Topics(watcher.link->Take(Version::k5)).size(), 1u);
  // ... or for the session's end, if that comes first ...
  Client b = Connect("b", Version::k5, true, with_will(50, 3));
  broker_.Lost(b.id, now_);
  Advance(4s);
  EXPECT_EQ(Topics(watcher.link->Take(Version::k5)).size(), 1u);
  // ... and not at all if the client comes back in time.
  Client c = Connect("c", Version::k5, true, with_will(5, 100));
  broker_.Lost(c.id, now_);
  Advance(2s);
  Connect("c", Version::k5, false);
  Advance(10s);
  EXPECT_TRUE(watcher.link->Take(Version::k5).empty());
}

TEST_F(BrokerTest, SessionsExpire) {
  Client sub = Connect("keeper", Version::k5, true,
                       [](mqtt::Connect& m) { m.properties.session_expiry = 10; });
  Subscribe(sub, "t", 1);
  broker_.Lost(sub.id, now_);
  Client pub = Connect("pub");
  Write(pub, Publish{false, 1, false, "t", 5, {}, ToBytes("one")});
  Advance(5s);
  Client back = Connect("keeper", Version::k5, false,
                        [](mqtt::Connect& m) { m.properties.session_expiry = 10; });
  EXPECT_TRUE(std::get<Connack>(back.first[0]).session_present);
  EXPECT_EQ(Topics(back.first), std::vector<std::string>{"t"});
  EXPECT_EQ(broker_.stats().sessions, 2u);  // "keeper" and "pub"
  broker_.Lost(back.id, now_);
  Advance(11s);
  EXPECT_EQ(broker_.stats().sessions, 1u);  // "keeper" is gone
  Client fresh = Connect("keeper", Version::k5, false);
  EXPECT_FALSE(std::get<Connack>(fresh.first[0]).session_present);
  Write(pub, Publish{false, 1, false, "t", 6, {}, ToBytes("two")});
  EXPECT_TRUE(Topics(fresh.link->Take(Version::k5)).empty());
}

TEST_F(BrokerTest, TakeoverAndReceiveMaximum) {
  Client first = Connect("same");
  Client second = Connect("same");
  EXPECT_TRUE(first.link->closed());
  auto got = first.link->Take(Version::k5);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<Disconnect>(got[0]).reason, reason::kSessionTakenOver);
  // Receive maximum 3: the fourth QoS 2 message awaiting PUBREL is too many.
  for (uint16_t id = 1; id <= 3; id++) {
    Write(second, Publish{false, 2, false, "t", id, {}, ToBytes("x")});
  }
  EXPECT_FALSE(second.link->closed());
  Write(second, Publish{false, 2, false, "t", 4, {}, ToBytes("x")});
  EXPECT_TRUE(second.link->closed());
  got = second.link->Take(Version::k5);
  EXPECT_EQ(std::get<Disconnect>(got.back()).reason, reason::kReceiveMaximumExceeded);
}

TEST_F(BrokerTest, ExpiredMessagesAreNotDelivered) {
  Client sub = Connect("sub", Version::k5, false,
                       [](mqtt::Connect& m) { m.properties.session_expiry = 100; });
  Subscribe(sub, "t", 1);
  broker_.Lost(sub.id, now_);
  Client pub = Connect("pub");
  Publish p{false, 1, false, "t", 1, {}, ToBytes("short")};
  p.properties.message_expiry = 2;
  Write(pub, p);
  p.packet_id = 2;
  p.properties.message_expiry = 60;
  p.payload = ToBytes("long");
  Write(pub, p);
  Advance(5s);
  Client back = Connect("sub", Version::k5, false,
                        [](mqtt::Connect& m) { m.properties.session_expiry = 100; });
  ASSERT_EQ(back.first.size(), 2u);
  const auto& delivered = std::get<Publish>(back.first[1]);
  EXPECT_EQ(AsString(delivered.payload), "long");
  // What is left of the 60 s goes with it.
  EXPECT_EQ(delivered.properties.message_expiry, 55u);
  EXPECT_EQ(broker_.stats().messages_dropped, 1u);
}

TEST_F(BrokerTest, SlowSubscriberDoesNotStallOthers) {
  Client slow = Connect("slow");
  Client fast = Connect("fast");
  Subscribe(slow, "t", 0);
  Subscribe(fast, "t", 0);
  slow.link->backlog_ = 100 << 20;  // its socket stopped draining
  Client pub = Connect("pub");
  for (int i = 0; i < 10; i++) Write(pub, Publish{false, 0, false, "t", 0, {}, ToBytes("m")});
  EXPECT_EQ(Topics(fast.link->Take(Version::k5)).size(), 10u);
  EXPECT_TRUE(Topics(slow.link->Take(Version::k5)).empty());
  EXPECT_EQ(broker_.stats().messages_dropped, 10u);
}

}  // namespace
}  // namespace shoal::mqtt
