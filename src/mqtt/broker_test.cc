// The broker's rules that depend on time and on several clients at once,
// and what it keeps across restarts, driven through its public calls with
// links that keep what they are sent (the broker does no I/O; the TCP server
// and real clients are tested in tests/integration/mqtt.test.js). Every
// broker here keeps its state in an in-memory database, so the tests that
// do not restart exercise the writes too.
#include "mqtt/broker.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>

namespace shoal::mqtt {
namespace {

using namespace std::chrono_literals;

// The node's database in memory, with writes that can be made to fail (a
// full disk).
class TestDb : public storage::Db {
 public:
  TestDb() {
    storage::Options o;
    o.in_memory = true;
    db_ = std::move(*storage::Db::Open("/mem/mqtt_broker_test", o));
  }
  Status Get(ByteView key, Bytes* value) override { return db_->Get(key, value); }
  Status Write(storage::WriteBatch& batch, bool sync) override {
    if (fail) return Status::IOError("no space left on device");
    return db_->Write(batch, sync);
  }
  std::unique_ptr<storage::Iterator> NewIterator(ByteView lower, ByteView upper) override {
    return db_->NewIterator(lower, upper);
  }
  Status CompactRange(ByteView begin, ByteView end) override {
    return db_->CompactRange(begin, end);
  }
  Status Flush() override { return db_->Flush(); }
  uint64_t DiskUsage() override { return db_->DiskUsage(); }

  bool fail = false;

 private:
  std::unique_ptr<storage::Db> db_;
};

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
  BrokerTest() { Restart(); }

  BrokerOptions Options() {
    BrokerOptions o;
    o.sys_interval = sys_interval_;
    o.receive_maximum = 3;
    o.max_queued = max_queued_;
    o.max_queued_bytes = max_queued_bytes_;
    o.db = &db_;
    o.wall_ms = [this] { return wall_ms_; };
    return o;
  }

  // Stops the broker (every connection is lost with it) and starts another
  // on the same database.
  void Restart() {
    broker_.reset();
    broker_ = std::make_unique<Broker>(Options(), now_);
    ASSERT_TRUE(broker_->Load(now_).ok());
  }

  void Write(Client& c, const Packet& p) {
    Bytes b;
    Encode(p, c.version, &b);
    broker_->Receive(c.id, b, now_);
  }

  Client Connect(std::string id, Version v = Version::k5, bool clean = true,
                 std::function<void(Connect&)> edit = {}) {
    Client c;
    c.version = v;
    links_.push_back(c.link);  // the broker may write to it after `c` is gone
    c.id = broker_->Open(c.link.get(), now_);
    mqtt::Connect connect;
    connect.version = v;
    connect.client_id = std::move(id);
    connect.clean_start = clean;
    if (edit) edit(connect);
    Write(c, connect);
    c.first = c.link->Take(v);
    EXPECT_FALSE(c.first.empty());
    if (!c.first.empty()) {
      EXPECT_EQ(std::get<Connack>(c.first[0]).reason, reason::kSuccess);
    }
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
    wall_ms_ += d.count();
    broker_->Tick(now_);
  }

  std::chrono::seconds sys_interval_{0};
  size_t max_queued_ = 1000;
  size_t max_queued_bytes_ = 64 << 20;
  Clock::time_point now_ = Clock::time_point() + 1000h;
  int64_t wall_ms_ = 1'800'000'000'000;
  TestDb db_;
  std::vector<std::shared_ptr<MemoryLink>> links_;
  std::unique_ptr<Broker> broker_;
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
  broker_->Lost(a.id, now_);
  Advance(4s);
  EXPECT_TRUE(watcher.link->Take(Version::k5).empty());
  Advance(2s);
  EXPECT_EQ(Topics(watcher.link->Take(Version::k5)).size(), 1u);
  // ... or for the session's end, if that comes first ...
  Client b = Connect("b", Version::k5, true, with_will(50, 3));
  broker_->Lost(b.id, now_);
  Advance(4s);
  EXPECT_EQ(Topics(watcher.link->Take(Version::k5)).size(), 1u);
  // ... and not at all if the client comes back in time.
  Client c = Connect("c", Version::k5, true, with_will(5, 100));
  broker_->Lost(c.id, now_);
  Advance(2s);
  Connect("c", Version::k5, false);
  Advance(10s);
  EXPECT_TRUE(watcher.link->Take(Version::k5).empty());
}

TEST_F(BrokerTest, SessionsExpire) {
  Client sub = Connect("keeper", Version::k5, true,
                       [](mqtt::Connect& m) { m.properties.session_expiry = 10; });
  Subscribe(sub, "t", 1);
  broker_->Lost(sub.id, now_);
  Client pub = Connect("pub");
  Write(pub, Publish{false, 1, false, "t", 5, {}, ToBytes("one")});
  Advance(5s);
  Client back = Connect("keeper", Version::k5, false,
                        [](mqtt::Connect& m) { m.properties.session_expiry = 10; });
  EXPECT_TRUE(std::get<Connack>(back.first[0]).session_present);
  EXPECT_EQ(Topics(back.first), std::vector<std::string>{"t"});
  EXPECT_EQ(broker_->stats().sessions, 2u);  // "keeper" and "pub"
  broker_->Lost(back.id, now_);
  Advance(11s);
  EXPECT_EQ(broker_->stats().sessions, 1u);  // "keeper" is gone
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

TEST_F(BrokerTest, ASessionIsTakenOverOnlyByItsOwnUser) {
  auto as = [](const char* user, bool keep) {
    return [user, keep](mqtt::Connect& m) {
      if (user != nullptr) m.username = std::string(user);
      if (keep) m.properties.session_expiry = 600;
    };
  };
  // A CONNECT for "dev1" that is refused, with the reason 5.0 reads.
  auto refused = [&](const char* user, Version version, bool clean) {
    Client c;
    c.version = version;
    links_.push_back(c.link);
    c.id = broker_->Open(c.link.get(), now_);
    mqtt::Connect connect;
    connect.version = version;
    connect.client_id = "dev1";
    connect.clean_start = clean;
    as(user, false)(connect);
    Write(c, connect);
    auto got = c.link->Take(version);
    EXPECT_TRUE(c.link->closed());
    if (got.size() != 1) return std::string("no CONNACK");
    const auto& ack = std::get<Connack>(got[0]);
    EXPECT_EQ(ack.reason, reason::kClientIdentifierNotValid);
    return ack.properties.reason_string.value_or("");
  };
  Client alice = Connect("dev1", Version::k5, false, as("alice", true));
  Subscribe(alice, "alice/#", 1);
  // Another user, anonymous, or a 3.1.1 client under another name: refused,
  // and the session and its connection are left alone.
  EXPECT_EQ(refused("bob", Version::k5, true), "the client id is in use by another user's session");
  EXPECT_EQ(refused(nullptr, Version::k5, false),
            "the client id is in use by another user's session");
  EXPECT_EQ(refused("bob", Version::k311, true), "");
  EXPECT_FALSE(alice.link->closed());
  // The session is kept with its owner across a restart: still hers.
  Restart();
  refused("bob", Version::k5, false);
  Client back = Connect("dev1", Version::k5, false, as("alice", true));
  EXPECT_TRUE(std::get<Connack>(back.first[0]).session_present);
}

TEST_F(BrokerTest, ExpiredMessagesAreNotDelivered) {
  Client sub = Connect("sub", Version::k5, false,
                       [](mqtt::Connect& m) { m.properties.session_expiry = 100; });
  Subscribe(sub, "t", 1);
  broker_->Lost(sub.id, now_);
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
  EXPECT_EQ(broker_->stats().messages_dropped, 1u);
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
  EXPECT_EQ(broker_->stats().messages_dropped, 10u);
}


TEST_F(BrokerTest, FailuresCarryReasonStrings) {
  auto suback = [](Client& c) { return std::get<Suback>(c.link->Take(Version::k5).at(0)); };
  Client c = Connect("why");
  Write(c, mqtt::Subscribe{1, {}, {{"a/#/b", 1}, {"ok", 1}}});
  Suback s = suback(c);
  EXPECT_EQ(s.reasons, (std::vector<uint8_t>{reason::kTopicFilterInvalid, 1}));
  EXPECT_EQ(s.properties.reason_string, "not a topic filter: a/#/b");
  Write(c, Publish{false, 1, false, "$SYS/x", 5, {}, ToBytes("x")});
  auto got = c.link->Take(Version::k5);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<Ack>(got[0]).reason, reason::kNotAuthorized);
  EXPECT_EQ(std::get<Ack>(got[0]).properties.reason_string, "$SYS topics are the broker's own");
  // A long one is cut at 200 bytes, between characters.
  std::string filter = "x";
  for (int i = 0; i < 150; i++) filter += "\xC3\xA9";  // é
  filter += "/#/y";
  Write(c, mqtt::Subscribe{2, {}, {{filter, 0}}});
  std::string text = suback(c).properties.reason_string.value_or("");
  EXPECT_EQ(text.size(), 199u);
  EXPECT_TRUE(ValidString(text));

  // A client that asked for no problem information: only CONNACK and
  // DISCONNECT explain.
  Client quiet = Connect("quiet", Version::k5, true,
                         [](mqtt::Connect& m) { m.properties.request_problem_info = 0; });
  Write(quiet, mqtt::Subscribe{1, {}, {{"a/#/b", 1}}});
  EXPECT_FALSE(suback(quiet).properties.reason_string);
  mqtt::Connect again;
  again.client_id = "quiet";
  Write(quiet, again);
  got = quiet.link->Take(Version::k5);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<Disconnect>(got[0]).reason, reason::kProtocolError);
  EXPECT_EQ(std::get<Disconnect>(got[0]).properties.reason_string, "a second CONNECT");

  // None that would pass the client's maximum packet size.
  Client small = Connect("small", Version::k5, true,
                         [](mqtt::Connect& m) { m.properties.maximum_packet_size = 20; });
  Write(small, mqtt::Subscribe{1, {}, {{"a/#/b", 1}}});
  s = suback(small);
  EXPECT_EQ(s.reasons, std::vector<uint8_t>{reason::kTopicFilterInvalid});
  EXPECT_FALSE(s.properties.reason_string);
}

TEST_F(BrokerTest, SysTopicsCountAndAverageTheLoad) {
  sys_interval_ = 10s;
  Restart();
  Client watcher = Connect("watcher");
  Subscribe(watcher, "$SYS/broker/#", 0);
  Client pub = Connect("pub");
  for (int i = 0; i < 60; i++) Write(pub, Publish{false, 0, false, "t", 0, {}, ToBytes("x")});
  auto sys = [&] {
    std::map<std::string, std::string> out;
    for (const Packet& p : watcher.link->Take(Version::k5)) {
      if (auto* m = std::get_if<Publish>(&p)) out[m->topic] = std::string(AsString(m->payload));
    }
    return out;
  };
  Advance(10s);
  auto got = sys();
  EXPECT_EQ(got["$SYS/broker/publish/messages/received"], "60");
  EXPECT_EQ(got["$SYS/broker/clients/connected"], "2");
  // 60 in 10 s is 360 a minute; after 10 s, each average has moved towards
  // it by 1 - e^(-10 s / its span).
  EXPECT_EQ(got["$SYS/broker/load/publish/received/1min"], "55.27");
  EXPECT_EQ(got["$SYS/broker/load/publish/received/5min"], "11.80");
  EXPECT_EQ(got["$SYS/broker/load/publish/received/15min"], "3.98");
  EXPECT_EQ(got["$SYS/broker/load/connections/1min"], "1.84");  // 2 in 10 s
  EXPECT_NE(got["$SYS/broker/load/bytes/received/1min"], "0.00");
  // Ten quiet seconds: they decay.
  Advance(10s);
  got = sys();
  EXPECT_EQ(got["$SYS/broker/load/publish/received/1min"], "46.78");
  EXPECT_EQ(got["$SYS/broker/publish/messages/received"], "60");
}

// A session kept for 100 s after its connection ends, resumed.
void Keep(mqtt::Connect& m) { m.properties.session_expiry = 100; }

TEST_F(BrokerTest, QueuesAreBoundedInMessagesAndBytes) {
  max_queued_ = 3;
  max_queued_bytes_ = 100;
  Restart();
  Client sub = Connect("sub", Version::k5, false, Keep);
  Subscribe(sub, "q", 1);
  broker_->Lost(sub.id, now_);
  Client pub = Connect("pub");
  // 41 bytes each (topic and payload): the third would pass 100 bytes.
  for (uint16_t i = 0; i < 4; i++) {
    Write(pub, Publish{false, 1, false, "q", uint16_t(i + 1), {}, Bytes(40, uint8_t('a' + i))});
  }
  EXPECT_EQ(broker_->stats().messages_dropped, 2u);
  Client back = Connect("sub", Version::k5, false, Keep);
  ASSERT_EQ(back.first.size(), 3u);
  EXPECT_EQ(std::get<Publish>(back.first[1]).payload, Bytes(40, 'a'));
  EXPECT_EQ(std::get<Publish>(back.first[2]).payload, Bytes(40, 'b'));
  // Sent, they no longer count: two of 41 bytes fit again, and small ones
  // meet the bound of 3 messages.
  broker_->Lost(back.id, now_);
  Write(pub, Publish{false, 1, false, "q", 10, {}, Bytes(40, 'c')});
  Write(pub, Publish{false, 1, false, "q", 11, {}, Bytes(40, 'd')});
  for (uint16_t i = 0; i < 3; i++) {
    Write(pub, Publish{false, 1, false, "q", uint16_t(i + 12), {}, Bytes(1, uint8_t('0' + i))});
  }
  EXPECT_EQ(broker_->stats().messages_dropped, 4u);
  Client again = Connect("sub", Version::k5, false, Keep);
  // The two unacknowledged before, then the three kept.
  std::vector<std::string> got;
  for (size_t i = 1; i < again.first.size(); i++) {
    got.emplace_back(AsString(std::get<Publish>(again.first[i]).payload).substr(0, 1));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c", "d", "0"}));
}

TEST_F(BrokerTest, QueuedMessagesAndRetainedOnesSurviveARestart) {
  Client sub = Connect("sub", Version::k5, false, Keep);
  Subscribe(sub, "t/#", 2);
  broker_->Lost(sub.id, now_);
  Client pub = Connect("pub");
  Publish one{false, 1, false, "t/1", 1, {}, ToBytes("one")};
  one.properties.content_type = "text/plain";
  one.properties.user = {{"k", "v"}};
  Write(pub, one);
  Write(pub, Publish{false, 2, false, "t/2", 2, {}, ToBytes("two")});
  Write(pub, Publish{false, 1, true, "r", 3, {}, ToBytes("kept")});
  Write(pub, Publish{false, 1, true, "gone", 4, {}, ToBytes("x")});
  Write(pub, Publish{false, 1, true, "gone", 5, {}, {}});  // cleared
  Restart();
  EXPECT_EQ(broker_->stats().sessions, 1u);  // "pub" was a clean one
  EXPECT_EQ(broker_->stats().retained, 1u);
  Client back = Connect("sub", Version::k5, false, Keep);
  EXPECT_TRUE(std::get<Connack>(back.first[0]).session_present);
  ASSERT_EQ(back.first.size(), 3u);
  const auto& a = std::get<Publish>(back.first[1]);
  const auto& b = std::get<Publish>(back.first[2]);
  EXPECT_EQ(a.topic, "t/1");
  EXPECT_EQ(a.qos, 1);
  EXPECT_EQ(AsString(a.payload), "one");
  EXPECT_EQ(a.properties.content_type, "text/plain");
  EXPECT_EQ(a.properties.user, one.properties.user);
  EXPECT_EQ(b.topic, "t/2");
  EXPECT_EQ(b.qos, 2);
  // The subscription came back too.
  Client pub2 = Connect("pub2");
  Write(pub2, Publish{false, 0, false, "t/3", 0, {}, ToBytes("three")});
  EXPECT_EQ(Topics(back.link->Take(Version::k5)), std::vector<std::string>{"t/3"});
  Client reader = Connect("reader");
  Write(reader, mqtt::Subscribe{1, {}, {{"#", 1}}});
  auto got = reader.link->Take(Version::k5);
  EXPECT_EQ(Topics(got), std::vector<std::string>{"r"});
}

TEST_F(BrokerTest, InflightPacketIdsSurviveARestart) {
  Client sub = Connect("sub", Version::k5, false, Keep);
  Subscribe(sub, "t", 2);
  Client pub = Connect("pub");
  Write(pub, Publish{false, 1, false, "t", 1, {}, ToBytes("one")});
  Write(pub, Publish{false, 2, false, "t", 2, {}, ToBytes("two")});
  Write(pub, Publish{false, 2, false, "t", 3, {}, ToBytes("three")});
  auto got = sub.link->Take(Version::k5);
  ASSERT_EQ(got.size(), 3u);
  uint16_t id1 = std::get<Publish>(got[0]).packet_id;
  uint16_t id2 = std::get<Publish>(got[1]).packet_id;
  uint16_t id3 = std::get<Publish>(got[2]).packet_id;
  Write(sub, Ack{PacketType::kPubrec, id2, reason::kSuccess, {}});  // "two" is released
  got = sub.link->Take(Version::k5);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<Ack>(got[0]).type, PacketType::kPubrel);
  Restart();
  Client back = Connect("sub", Version::k5, false, Keep);
  // In the order they first went, with the ids they had: "one" and "three"
  // again (DUP), and the PUBREL of "two".
  ASSERT_EQ(back.first.size(), 4u);
  const auto& p1 = std::get<Publish>(back.first[1]);
  EXPECT_EQ(p1.packet_id, id1);
  EXPECT_TRUE(p1.dup);
  EXPECT_EQ(AsString(p1.payload), "one");
  const auto& rel = std::get<Ack>(back.first[2]);
  EXPECT_EQ(rel.type, PacketType::kPubrel);
  EXPECT_EQ(rel.packet_id, id2);
  const auto& p3 = std::get<Publish>(back.first[3]);
  EXPECT_EQ(p3.packet_id, id3);
  EXPECT_EQ(AsString(p3.payload), "three");
  // Acknowledged, they are gone for good.
  Write(back, Ack{PacketType::kPuback, id1, reason::kSuccess, {}});
  Write(back, Ack{PacketType::kPubcomp, id2, reason::kSuccess, {}});
  Write(back, Ack{PacketType::kPubrec, id3, reason::kSuccess, {}});
  Write(back, Ack{PacketType::kPubcomp, id3, reason::kSuccess, {}});
  back.link->Take(Version::k5);
  Restart();
  Client again = Connect("sub", Version::k5, false, Keep);
  EXPECT_TRUE(std::get<Connack>(again.first[0]).session_present);
  EXPECT_EQ(again.first.size(), 1u);
}

TEST_F(BrokerTest, ReceivedQos2IdsSurviveARestart) {
  Client sub = Connect("sub");
  Subscribe(sub, "t", 0);
  Client pub = Connect("pub", Version::k5, false, Keep);
  Write(pub, Publish{false, 2, false, "t", 7, {}, ToBytes("once")});
  auto got = pub.link->Take(Version::k5);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<Ack>(got[0]).type, PacketType::kPubrec);
  EXPECT_EQ(Topics(sub.link->Take(Version::k5)).size(), 1u);
  Restart();
  Client sub2 = Connect("sub");
  Subscribe(sub2, "t", 0);
  Client back = Connect("pub", Version::k5, false, Keep);
  // The PUBREC was lost: the client sends the PUBLISH again. It is not
  // routed twice, and its PUBREL finds the id.
  Write(back, Publish{true, 2, false, "t", 7, {}, ToBytes("once")});
  Write(back, Ack{PacketType::kPubrel, 7, reason::kSuccess, {}});
  got = back.link->Take(Version::k5);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(std::get<Ack>(got[0]).type, PacketType::kPubrec);
  EXPECT_EQ(std::get<Ack>(got[1]).type, PacketType::kPubcomp);
  EXPECT_EQ(std::get<Ack>(got[1]).reason, reason::kSuccess);
  EXPECT_TRUE(Topics(sub2.link->Take(Version::k5)).empty());
}

TEST_F(BrokerTest, WillsAndExpiryRunOnAfterARestart) {
  Client watcher = Connect("watcher", Version::k5, false, Keep);
  Subscribe(watcher, "will/#", 1);
  broker_->Lost(watcher.id, now_);
  // Connected when the node stops: its connection ends with the restart.
  Connect("device", Version::k5, true, [](mqtt::Connect& m) {
    m.properties.session_expiry = 10;
    m.will = Will{"will/device", ToBytes("offline"), 1, true, {}};
    m.will->properties.will_delay = 5;
  });
  Advance(3s);
  Restart();
  Advance(4s);
  EXPECT_EQ(broker_->stats().retained, 0u);  // not yet: 5 s from the restart
  Advance(2s);
  EXPECT_EQ(broker_->stats().retained, 1u);
  EXPECT_EQ(broker_->stats().sessions, 2u);
  Restart();  // the will going out did not move the session's end
  Advance(5s);
  EXPECT_EQ(broker_->stats().sessions, 1u);  // "device" expired 10 s after
  Client back = Connect("watcher", Version::k5, false, Keep);
  EXPECT_EQ(Topics(back.first), std::vector<std::string>{"will/device"});
  // Time spent stopped counts: the watcher's session, left to expire in
  // 100 s, is gone after a stop of 200 s.
  broker_->Lost(back.id, now_);
  broker_.reset();
  now_ += 200s;
  wall_ms_ += 200'000;
  Restart();
  Advance(1s);
  EXPECT_EQ(broker_->stats().sessions, 0u);
}

TEST_F(BrokerTest, ExpiredRetainedMessagesGo) {
  Client pub = Connect("pub");
  Publish p{false, 1, true, "r/short", 1, {}, ToBytes("x")};
  p.properties.message_expiry = 5;
  Write(pub, p);
  Write(pub, Publish{false, 1, true, "r/long", 2, {}, ToBytes("y")});
  EXPECT_EQ(broker_->stats().retained, 2u);
  Advance(11s);
  EXPECT_EQ(broker_->stats().retained, 1u);
  Restart();
  EXPECT_EQ(broker_->stats().retained, 1u);
}

TEST_F(BrokerTest, CleanSessionsAreNotKept) {
  Client a = Connect("a");
  Subscribe(a, "t", 1);
  Client b = Connect("b", Version::k311, true);
  Restart();
  EXPECT_EQ(broker_->stats().sessions, 0u);
  EXPECT_EQ(broker_->stats().subscriptions, 0u);
}

TEST_F(BrokerTest, AFailedWriteAcknowledgesNothing) {
  Client sub = Connect("sub", Version::k5, false, Keep);
  Subscribe(sub, "t", 1);
  broker_->Lost(sub.id, now_);
  Client pub = Connect("pub");
  Client bystander = Connect("bystander");
  db_.fail = true;
  Write(pub, Publish{false, 1, false, "t", 1, {}, ToBytes("lost")});
  // No PUBACK: the client will send it again.
  EXPECT_TRUE(pub.link->closed());
  EXPECT_TRUE(pub.link->Take(Version::k5).empty());
  EXPECT_EQ(broker_->stats().storage_errors, 1u);
  EXPECT_FALSE(bystander.link->closed());
  db_.fail = false;
  Client pub2 = Connect("pub2");
  Write(pub2, Publish{false, 1, false, "t", 1, {}, ToBytes("kept")});
  auto got = pub2.link->Take(Version::k5);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<Ack>(got[0]).type, PacketType::kPuback);
  Restart();
  Client back = Connect("sub", Version::k5, false, Keep);
  ASSERT_EQ(back.first.size(), 2u);
  EXPECT_EQ(AsString(std::get<Publish>(back.first[1]).payload), "kept");
}

}  // namespace
}  // namespace shoal::mqtt
