// StateStore: records read back as written, and damaged ones are left out
// without losing the rest.
#include "mqtt/state_store.h"

#include <gtest/gtest.h>

namespace shoal::mqtt {
namespace {

std::unique_ptr<storage::Db> OpenMem() {
  storage::Options o;
  o.in_memory = true;
  return std::move(*storage::Db::Open("/mem/mqtt_state_store_test", o));
}

Bytes Message(std::string topic, std::string payload, std::optional<int64_t> expires = {}) {
  Publish p;
  p.qos = 1;
  p.retain = true;
  p.topic = std::move(topic);
  p.properties.correlation_data = ToBytes("corr");
  p.properties.response_topic = "reply/here";
  p.properties.payload_format = 1;
  return EncodeStoredMessage(p, ToBytes(payload), expires);
}

TEST(StateStoreTest, MessagesRoundTrip) {
  auto m = DecodeStoredMessage(Message("a/b", "hello", 1234));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->publish.topic, "a/b");
  EXPECT_EQ(AsString(m->publish.payload), "hello");
  EXPECT_EQ(m->publish.qos, 1);
  EXPECT_TRUE(m->publish.retain);
  EXPECT_EQ(m->publish.properties.response_topic, "reply/here");
  EXPECT_EQ(m->publish.properties.correlation_data, ToBytes("corr"));
  EXPECT_EQ(m->expires_ms, 1234);
  Bytes bad = Message("a", "b");
  bad.pop_back();
  EXPECT_FALSE(DecodeStoredMessage(bad).ok());
  EXPECT_FALSE(DecodeStoredMessage({}).ok());
}

TEST(StateStoreTest, EverythingReadsBack) {
  auto db = OpenMem();
  StateStore store(db.get());
  StoredSession s;
  s.id = 7;
  s.client_id = "device-1";
  s.version = Version::k5;
  s.expiry = 3600;
  s.username = "alice";
  s.will = Will{"status/device-1", ToBytes("offline"), 1, true, {}};
  s.will->properties.will_delay = 30;
  s.will->properties.message_expiry = 600;
  s.disconnected_ms = 99;
  store.PutSession(s);
  store.PutSubscription(7, "a/+", SubOptions{2, true, true, 1, 42});
  store.PutSubscription(7, "$share/g/b", SubOptions{1, false, false, 0, 0});
  const uint32_t ids[] = {42};
  store.PutEntry(7, 1, 1, false, ids, Message("a/x", "one"));
  store.PutEntry(7, 2, 2, false, {}, Message("a/y", "two"));
  store.PutDelivery(7, 1, 10, false);
  store.PutDelivery(7, 0, 9, true);  // released: no entry left
  store.PutQos2(7, 300);
  store.PutRetained("a/b", Message("a/b", "kept"));
  ASSERT_TRUE(store.Commit().ok());

  auto state = store.Load();
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->unreadable, 0u);
  ASSERT_EQ(state->sessions.size(), 1u);
  const auto& got = state->sessions[0];
  EXPECT_EQ(got.record.client_id, "device-1");
  EXPECT_EQ(got.record.version, Version::k5);
  EXPECT_EQ(got.record.expiry, 3600u);
  EXPECT_EQ(got.record.username, "alice");
  EXPECT_EQ(got.record.disconnected_ms, 99);
  ASSERT_TRUE(got.record.will);
  EXPECT_EQ(*got.record.will, *s.will);
  ASSERT_EQ(got.subscriptions.size(), 2u);
  EXPECT_EQ(got.subscriptions[0].first, "$share/g/b");
  EXPECT_EQ(got.subscriptions[1].second, (SubOptions{2, true, true, 1, 42}));
  ASSERT_EQ(got.entries.size(), 3u);
  EXPECT_EQ(got.entries[0].seq, 0u);
  EXPECT_TRUE(got.entries[0].released);
  EXPECT_EQ(got.entries[0].packet_id, 9);
  EXPECT_FALSE(got.entries[0].message);
  EXPECT_EQ(got.entries[1].packet_id, 10);
  EXPECT_EQ(got.entries[1].subscription_ids, std::vector<uint32_t>{42});
  EXPECT_EQ(AsString(got.entries[1].message->publish.payload), "one");
  EXPECT_EQ(got.entries[2].packet_id, 0);  // queued
  EXPECT_EQ(got.qos2_in, std::vector<uint16_t>{300});
  ASSERT_EQ(state->retained.size(), 1u);
  EXPECT_EQ(AsString(state->retained[0].publish.payload), "kept");

  store.DeleteSession(7);
  ASSERT_TRUE(store.Commit().ok());
  state = store.Load();
  EXPECT_TRUE(state->sessions.empty());
}

TEST(StateStoreTest, DamagedRecordsAreLeftOut) {
  auto db = OpenMem();
  StateStore store(db.get());
  for (uint64_t id : {1, 2}) {
    StoredSession s;
    s.id = id;
    s.client_id = "c" + std::to_string(id);
    s.expiry = 60;
    store.PutSession(s);
    store.PutEntry(id, 0, 1, false, {}, Message("t", "m"));
  }
  store.PutRetained("good", Message("good", "g"));
  store.PutRetained("bad", Message("elsewhere", "b"));  // key and topic differ
  ASSERT_TRUE(store.Commit().ok());
  // Session 2's record is cut short, and session 1 gets an entry of noise.
  storage::WriteBatch b;
  Bytes record2 = {0x20, 0, 0, 0, 0, 0, 0, 0, 2, 0x00};
  b.Put(record2, Bytes{0x01});
  Bytes entry1 = {0x20, 0, 0, 0, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 0, 0, 0, 5};
  b.Put(entry1, Bytes{1, 0, 0, 0x30, 0xff});
  ASSERT_TRUE(db->Write(b).ok());

  auto state = store.Load();
  ASSERT_TRUE(state.ok());
  // Record 2 and the entry under it, the noise, and retained "bad".
  EXPECT_EQ(state->unreadable, 4u);
  ASSERT_EQ(state->sessions.size(), 1u);
  EXPECT_EQ(state->sessions[0].record.client_id, "c1");
  EXPECT_EQ(state->sessions[0].entries.size(), 1u);
  ASSERT_EQ(state->retained.size(), 1u);
  // They were deleted: the next load finds nothing wrong.
  state = store.Load();
  EXPECT_EQ(state->unreadable, 0u);
}

}  // namespace
}  // namespace shoal::mqtt
