// Broker: MQTT's sessions, subscriptions, retained messages, wills and QoS
// flows, without I/O.
//
// A transport (the TCP and WebSocket listeners) opens a connection with a
// Link to write to, feeds it the bytes it reads, and says when it is gone;
// the broker answers by writing encoded packets to the Links and closing
// them. Time comes in as arguments, so tests can move it.
//
//   Broker broker(options);
//   auto id = broker.Open(link, now);
//   broker.Receive(id, bytes, now);      // any number of times
//   broker.Lost(id, now);                // the socket closed
//   broker.Tick(now);                    // about once a second
//
// A session that outlives its connection (clean start false, or a session
// expiry interval) keeps its subscriptions and queues QoS 1 and 2 messages
// until it comes back or expires. Given a database (BrokerOptions::db), the
// broker keeps those sessions, wills and retained messages in it
// (StateStore) and takes them back with Load() after a restart; every
// change of a turn is written before any packet of that turn is sent.
//
// Not thread-safe: one thread runs the broker and every Link call it makes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/bytes.h"
#include "mqtt/codec.h"
#include "mqtt/state_store.h"
#include "mqtt/topic_tree.h"

namespace shoal::mqtt {

using Clock = std::chrono::steady_clock;

// What a client asks to do with a topic, for BrokerOptions::authorize.
enum class Access {
  kPublish,    // publish to a topic name (or have its will published there)
  kSubscribe,  // subscribe to a topic filter (the filter inside a $share)
  kReceive,    // be sent a message published to a topic name
};

struct BrokerOptions {
  // The largest packet accepted, header included; larger ones close the
  // connection (5.0: DISCONNECT 0x95). Also sent in CONNACK.
  uint32_t max_packet_size = 16 << 20;
  // QoS 1 and 2 PUBLISHes a client may have unacknowledged towards the
  // broker (5.0 Receive Maximum; exceeding it is DISCONNECT 0x93).
  uint16_t receive_maximum = 1024;
  // QoS 1 and 2 messages in flight towards one client at a time, at most
  // (the client's own Receive Maximum may lower it).
  uint16_t max_inflight = 100;
  // Messages kept for one client beyond those in flight, and the bytes of
  // their topics and payloads, at most; a message over either is dropped.
  size_t max_queued = 1000;
  size_t max_queued_bytes = 64 << 20;
  // Output bytes queued for one connection above which QoS 0 messages to it
  // are dropped and QoS 1 and 2 ones wait in its session instead.
  size_t max_backlog_bytes = 8 << 20;
  // Topic aliases a 5.0 client may set towards the broker.
  uint16_t topic_alias_maximum = 64;
  // Keep-alives above this are lowered (5.0: Server Keep Alive).
  uint16_t max_keep_alive = 65535;
  // A connection that sends no CONNECT in this long is closed.
  std::chrono::seconds connect_timeout{10};
  // How often $SYS/broker/... is published (0: never).
  std::chrono::seconds sys_interval{10};
  std::string version = "shoal";
  // Where sessions, wills and retained messages are kept across restarts;
  // none: in memory only. Not owned; must outlive the broker.
  storage::Db* db = nullptr;
  // Unix time in milliseconds: stored times (disconnections, message
  // expiry) are wall-clock, so they mean the same after a restart.
  std::function<int64_t()> wall_ms;
  // Told of failures the broker cannot answer with a packet (a write to the
  // database failing). Unset: they go unreported.
  std::function<void(const std::string&)> log;
  // Decides a CONNECT's credentials (absent ones are nullopt): kSuccess,
  // kBadUserNameOrPassword or kNotAuthorized. Unset: everyone is let in.
  std::function<uint8_t(const std::optional<std::string>& username,
                        const std::optional<Bytes>& password)>
      authenticate;
  // Whether the client `client_id`, signed in as `username` (nullopt:
  // anonymous), may do `access` with `topic`; mqtt::Acl decides it from
  // rules. Unset: everything is allowed. A refused PUBLISH
  // is dropped (5.0 QoS 1 and 2: acknowledged with 0x87); a refused
  // subscription gets 0x87 in its SUBACK (3.x: 0x80); a message the
  // subscriber may not receive is not sent to it, though its subscription
  // matches (a filter may cover topics it is denied).
  std::function<bool(const std::optional<std::string>& username, std::string_view client_id,
                     Access access, std::string_view topic)>
      authorize;
};

// What the broker writes to and closes. Implemented by the transports.
class Link {
 public:
  virtual ~Link() = default;
  // Queues bytes for the socket, in order.
  virtual void Send(Bytes bytes) = 0;
  // Closes the connection once what is queued is written. The broker calls
  // nothing on the Link after this.
  virtual void Close() = 0;
  // Bytes queued and not yet written.
  virtual size_t backlog() const = 0;
};

struct BrokerStats {
  uint64_t connections = 0;       // open sockets, CONNECTed or not
  uint64_t sockets_opened = 0;    // since start
  uint64_t connects = 0;          // CONNECTs accepted since start
  uint64_t clients_connected = 0;
  uint64_t sessions = 0;          // connected or kept
  uint64_t subscriptions = 0;
  uint64_t retained = 0;
  uint64_t messages_received = 0;  // PUBLISH packets in
  uint64_t messages_sent = 0;      // PUBLISH packets out
  uint64_t messages_dropped = 0;   // queues full, backlog, expiry, size
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t storage_errors = 0;     // failed writes of the broker's state
};

class Broker {
 public:
  using ConnId = uint64_t;

  explicit Broker(BrokerOptions options = {}, Clock::time_point now = Clock::now());
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Takes back what the database holds: retained messages, and sessions,
  // all disconnected (their wills are due as if their connections ended at
  // the restart, or when they did if they had ended before). Call once,
  // before the first Open. Fails only if the database cannot be read.
  Status Load(Clock::time_point now);

  // A new connection writing to `link`, which must live until the broker
  // closes it (Link::Close) or is told it is Lost, whichever comes first.
  ConnId Open(Link* link, Clock::time_point now);
  void Receive(ConnId id, ByteView data, Clock::time_point now);
  // The socket closed or failed: publish the will (as its delay says) and
  // keep or end the session.
  void Lost(ConnId id, Clock::time_point now);
  // A connection's backlog went down: send what waited for it.
  void Drained(ConnId id, Clock::time_point now);
  // Keep-alive and CONNECT timeouts, delayed wills, expired sessions, $SYS.
  void Tick(Clock::time_point now);

  const BrokerStats& stats() const { return stats_; }

 private:
  struct Message;
  struct Session;
  struct Connection;

  Connection* Find(ConnId id);
  Session* FindSession(std::string_view client_id);
  // options_.authorize's answer for the session's client; true if unset.
  bool Authorized(const Session& s, Access access, std::string_view topic) const;
  // The subscription tree knows a session by its address.
  static TopicTree::SessionId TreeKey(const Session& s) {
    return reinterpret_cast<uintptr_t>(&s);
  }
  static Session& SessionAt(TopicTree::SessionId key) { return *reinterpret_cast<Session*>(key); }

  void OnPacket(Connection& c, Packet packet, Clock::time_point now);
  void OnConnect(Connection& c, Connect connect, Clock::time_point now);
  void OnPublish(Connection& c, Publish publish, Clock::time_point now);
  void OnAck(Connection& c, const Ack& ack, Clock::time_point now);
  void OnSubscribe(Connection& c, const Subscribe& s, Clock::time_point now);
  void OnUnsubscribe(Connection& c, const Unsubscribe& u);
  void OnDisconnect(Connection& c, const Disconnect& d, Clock::time_point now);

  // Routes a message to every matching subscription; returns how many.
  size_t Route(const std::shared_ptr<const Message>& m, Clock::time_point now);
  void Deliver(Session& s, const std::shared_ptr<const Message>& m, uint8_t qos, bool retain,
               std::vector<uint32_t> subscription_ids, Clock::time_point now);
  void SendQueued(Session& s, Clock::time_point now);
  bool SendPublish(Connection& c, Session& s, const Message& m, uint8_t qos, bool retain,
                   bool dup, uint16_t packet_id, const std::vector<uint32_t>& ids,
                   Clock::time_point now);
  void SendRetained(Session& s, std::string_view filter, const SubOptions& o,
                    Clock::time_point now);
  // Queues a packet for the connection. A 5.0 packet that reports a
  // failure (a reason code of 0x80 or more) without a Reason String gets
  // ReasonText's, if the client accepts them and it fits its maximum
  // packet size.
  void Send(Connection& c, const Packet& p);
  // Answers a QoS 1 or 2 PUBLISH the broker will not take with 0x87 and
  // `why` (nothing for QoS 0).
  void Refuse(Connection& c, const Publish& p, std::string why);
  // Ends the connection: a connected 5.0 client gets DISCONNECT `reason`
  // first unless it is kSuccess, with `text` as its Reason String (or
  // ReasonText's); the will is published unless `clean`.
  void Drop(Connection& c, uint8_t reason, bool clean, Clock::time_point now,
            std::string text = {});
  void PublishWill(Session& s, Clock::time_point now);
  // A message from a PUBLISH or a will, with the properties that go on to
  // subscribers.
  std::shared_ptr<const Message> MakeMessage(std::string topic, Bytes payload, uint8_t qos,
                                             bool retain, uint64_t publisher, Properties in,
                                             Clock::time_point now);
  // Keeps, replaces or (empty payload) clears the topic's retained message.
  void Retain(const std::shared_ptr<const Message>& m);
  bool RemoveSubscription(Session& s, const std::string& filter);
  void EndSession(Session& s);
  void PublishSys(Clock::time_point now);
  uint16_t NextPacketId(Session& s);
  // Persistence (no-ops without a database). A session's record is kept
  // while it outlives its connection or has a will; its subscriptions and
  // messages while it outlives its connection (Session::contents_stored).
  // StoreSession writes the record as it is now, or deletes the session;
  // StoreContents starts or stops keeping the contents as the session's
  // expiry now says.
  void StoreSession(Session& s);
  void StoreContents(Session& s);
  void StoreEntry(Session& s, const Message& m, uint64_t seq, uint8_t qos, bool retain,
                  const std::vector<uint32_t>& ids);
  ByteView Stored(const Message& m);
  // Writes what this turn changed. False if that failed, now or earlier in
  // the turn: then nothing of the turn may be sent, as it could acknowledge
  // what a restart would not have.
  bool Commit();
  std::string AssignClientId();
  // Hands each connection's output of this turn to its Link, and forgets
  // the connections that closed. Every public entry point ends with it.
  void Flush(Clock::time_point now);

  BrokerOptions options_;
  Clock::time_point started_;
  Clock::time_point next_sys_;
  // $SYS/broker/load/...: each counter's rate per minute, averaged over 1,
  // 5 and 15 minutes (exponentially weighted, as Mosquitto does), and its
  // value when they were last updated.
  struct LoadAverage {
    const char* topic;
    uint64_t BrokerStats::*counter;
    uint64_t last = 0;
    double per_minute[3] = {0, 0, 0};
  };
  std::vector<LoadAverage> load_;
  Clock::time_point load_at_;
  Clock::time_point next_sweep_;  // of expired retained messages
  BrokerStats stats_;
  TopicTree tree_;
  ConnId next_conn_ = 1;
  uint64_t next_session_ = 1;
  std::mt19937_64 random_{std::random_device{}()};
  // Connections by slot: a ConnId is its Connection's slot (low 32 bits)
  // and a serial number (high 32), so an id outlives nothing it named.
  std::vector<std::unique_ptr<Connection>> conns_;
  std::vector<uint32_t> free_slots_;
  // Sessions by client id (looked up by string_view).
  struct ClientIdHash {
    using is_transparent = void;
    size_t operator()(std::string_view client_id) const;
    size_t operator()(const std::unique_ptr<Session>& s) const;
  };
  struct ClientIdEqual {
    using is_transparent = void;
    bool operator()(const auto& a, const auto& b) const { return Id(a) == Id(b); }
    static std::string_view Id(std::string_view client_id) { return client_id; }
    static std::string_view Id(const std::unique_ptr<Session>& s);
  };
  std::unordered_set<std::unique_ptr<Session>, ClientIdHash, ClientIdEqual> sessions_;
  std::map<std::string, std::shared_ptr<const Message>> retained_;
  std::vector<Connection*> dirty_;  // with output this turn
  std::vector<ConnId> dead_;        // closed this turn
  std::unique_ptr<StateStore> store_;
  bool failed_turn_ = false;  // a write failed this turn
};

}  // namespace shoal::mqtt
