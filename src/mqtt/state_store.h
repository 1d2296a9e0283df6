// StateStore: what the broker keeps across restarts, in the node's database.
//
// Retained messages, and every session that must outlive its connection
// (a session expiry interval, or 3.x Clean Session 0) or that has a will:
// its record, subscriptions, queued and in-flight QoS 1 and 2 messages with
// their packet ids, and the QoS 2 packet ids it has received and not seen
// released. The keys and values are in docs/formats/mqtt.md; they sit under
// the prefixes 20 (sessions) and 21 (retained messages) of the store-wide
// key space (docs/formats/log.md §1).
//
// Writes collect in one batch that Commit() writes atomically. The broker
// commits at the end of every turn, before any packet of that turn goes to a
// socket, so an acknowledgement never leaves before what it acknowledges is
// in the write-ahead log: a killed process loses no acknowledged message.
//
//   StateStore store(&db);
//   auto state = store.Load();          // once, at start
//   store.PutRetained(topic, message);  // any number of changes
//   Status st = store.Commit();
//
// Not thread-safe: the broker's thread owns it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "mqtt/codec.h"
#include "mqtt/topic_tree.h"
#include "storage/db.h"

namespace shoal::mqtt {

// A message as stored: a PUBLISH (topic, QoS, retain, the properties that
// travel with it except Message Expiry, and the payload) and when it expires.
struct StoredMessage {
  Publish publish;
  std::optional<int64_t> expires_ms;  // Unix time, milliseconds
};

// The stored bytes of a message. `header` gives everything but the payload;
// its dup, packet id, topic alias and message expiry are not kept.
Bytes EncodeStoredMessage(const Publish& header, ByteView payload,
                          std::optional<int64_t> expires_ms);
// Malformed when `value` is not such bytes.
Result<StoredMessage> DecodeStoredMessage(ByteView value);

struct StoredSession {
  uint64_t id = 0;  // the broker's session id: the key's middle
  std::string client_id;
  Version version = Version::k311;
  uint32_t expiry = 0;  // seconds after disconnection; 0xffffffff never
  std::optional<std::string> username;
  std::optional<Will> will;  // will_delay included in its properties
  // When its connection ended (Unix ms); none while it was connected.
  std::optional<int64_t> disconnected_ms;
};

// A QoS 1 or 2 message for a session, queued or in flight.
struct StoredEntry {
  uint64_t seq = 0;  // the session's delivery order
  uint8_t qos = 1;
  bool retain = false;
  std::vector<uint32_t> subscription_ids;
  // The message; none once a QoS 2 one is released (PUBREC came).
  std::optional<StoredMessage> message;
  uint16_t packet_id = 0;  // 0: queued, not sent yet
  bool released = false;   // PUBREL sent
};

struct StoredState {
  struct Session {
    StoredSession record;
    std::vector<std::pair<std::string, SubOptions>> subscriptions;
    std::vector<StoredEntry> entries;  // in seq order
    std::vector<uint16_t> qos2_in;
  };
  std::vector<StoredMessage> retained;
  std::vector<Session> sessions;
  // Records that did not decode and were left out (and deleted).
  size_t unreadable = 0;
};

class StateStore {
 public:
  explicit StateStore(storage::Db* db) : db_(db) {}
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // Everything stored. Records that do not decode are counted, deleted and
  // left out rather than failing the whole load; a failing read is an error.
  Result<StoredState> Load();

  // Changes, written by the next Commit().
  void PutSession(const StoredSession& s);
  // The record and everything under it.
  void DeleteSession(uint64_t id);
  // Everything under the session but its record.
  void DeleteSessionContents(uint64_t id);
  void PutSubscription(uint64_t id, std::string_view filter, const SubOptions& o);
  void DeleteSubscription(uint64_t id, std::string_view filter);
  // `message` as EncodeStoredMessage made it.
  void PutEntry(uint64_t id, uint64_t seq, uint8_t qos, bool retain,
                std::span<const uint32_t> subscription_ids, ByteView message);
  void DeleteEntry(uint64_t id, uint64_t seq);
  void PutDelivery(uint64_t id, uint64_t seq, uint16_t packet_id, bool released);
  void DeleteDelivery(uint64_t id, uint64_t seq);
  void PutQos2(uint64_t id, uint16_t packet_id);
  void DeleteQos2(uint64_t id, uint16_t packet_id);
  void PutRetained(std::string_view topic, ByteView message);
  void DeleteRetained(std::string_view topic);

  bool pending() const { return !batch_.empty(); }
  // Writes every change since the last Commit in one atomic batch. On an
  // error the changes are dropped.
  Status Commit();

 private:
  storage::Db* db_;
  storage::WriteBatch batch_;
};

}  // namespace shoal::mqtt
