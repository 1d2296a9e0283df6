#include "mqtt/broker.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <set>
#include <vector>

#include "mqtt/topic.h"

namespace shoal::mqtt {
namespace {

constexpr uint32_t kNeverExpires = 0xffffffff;

// The broker's own statistics: no client publishes there, and nothing there
// is stored (it is made again after a restart).
bool IsSys(std::string_view topic) { return topic == "$SYS" || topic.rfind("$SYS/", 0) == 0; }

}  // namespace

// A published message as the broker keeps it: once, shared by every queue
// and retained slot that holds it.
struct Broker::Message {
  std::string topic;
  Bytes payload;
  uint8_t qos = 0;
  bool retain = false;
  // The properties that travel with the message to subscribers (5.0).
  Properties properties;
  std::optional<Clock::time_point> expires;
  std::optional<int64_t> expires_ms;  // the same, Unix ms, for storage
  uint64_t publisher = 0;  // session id, for No Local; 0 for the broker's own
  mutable Bytes stored;    // its stored form, made on first use
};

// A session's record stays small, as most are those of idle connections:
// what only sessions that subscribe or take part in QoS 1 and 2 flows need
// is in Flows, made on first use, and a will is a pointer.
struct Broker::Session {
  uint64_t id = 0;
  std::string client_id;
  Connection* conn = nullptr;
  uint32_t expiry = 0;  // seconds after the connection ends; kNeverExpires
  Version version = Version::k311;
  bool stored = false;           // its record is in the database
  bool contents_stored = false;  // and its subscriptions and messages
  std::optional<Clock::time_point> expires_at;  // while disconnected
  std::optional<int64_t> disconnected_ms;  // Unix ms its connection ended
  std::optional<std::string> username;       // as signed in, for ACLs
  std::unique_ptr<Will> will;
  std::optional<Clock::time_point> will_at;  // a delayed will's time

  struct Out {
    std::shared_ptr<const Message> message;
    uint8_t qos = 0;
    bool retain = false;
    std::vector<uint32_t> subscription_ids;
    uint64_t seq = 0;  // delivery order: the order of sending and resending
  };
  struct Inflight {
    Out out;
    bool released = false;  // PUBREC came, PUBREL sent
  };
  // Messages waiting for the in-flight window, and the bytes of their
  // topics and payloads. Many sessions never queue anything, so the deque
  // (which allocates over half a KiB when made) is made on first use.
  class Queue {
   public:
    static size_t Cost(const Out& out) {
      return out.message ? out.message->topic.size() + out.message->payload.size() : 0;
    }
    bool empty() const { return !q_ || q_->empty(); }
    size_t size() const { return q_ ? q_->size() : 0; }
    size_t bytes() const { return bytes_; }
    void push_back(Out out) {
      if (!q_) q_ = std::make_unique<std::deque<Out>>();
      bytes_ += Cost(out);
      q_->push_back(std::move(out));
    }
    Out Take() {
      Out out = std::move(q_->front());
      q_->pop_front();
      bytes_ -= Cost(out);
      return out;
    }
    template <class F>
    void ForEach(F f) const {
      if (q_) for (const Out& out : *q_) f(out);
    }

   private:
    std::unique_ptr<std::deque<Out>> q_;
    size_t bytes_ = 0;
  };
  struct Flows {
    std::map<std::string, SubOptions> subscriptions;  // by filter as subscribed
    std::map<uint16_t, Inflight> inflight;
    Queue queue;
    std::set<uint16_t> qos2_in;  // QoS 2 packet ids received, PUBREL not yet
    uint64_t next_seq = 0;
    uint16_t next_packet_id = 1;
  };
  std::unique_ptr<Flows> flows;  // none until needed

  Flows& f() {
    if (!flows) flows = std::make_unique<Flows>();
    return *flows;
  }
};

struct Broker::Connection {
  ConnId id = 0;
  Link* link = nullptr;
  Bytes in;   // a packet not yet whole
  Bytes out;  // packets of this turn, sent together at its end
  bool connected = false;
  bool closed = false;
  bool problem_info = true;  // 5.0 Request Problem Information
  Version version = Version::k311;
  Session* session = nullptr;
  uint16_t keep_alive = 0;
  Clock::time_point last_packet;  // or when it opened, before CONNECT
  uint16_t receive_maximum = 65535;  // the client's
  uint32_t max_packet_size = kMaxRemainingLength + 5;  // the client's
  // Topic aliases, made on first use (most connections use none):
  // client → broker, and broker → client (5.0): the topics given an alias
  // so far, one each until the client's Topic Alias Maximum is reached.
  struct Aliases {
    std::unordered_map<uint16_t, std::string> in;
    std::unordered_map<std::string, uint16_t> out;
  };
  std::unique_ptr<Aliases> aliases;
  Aliases& alias_maps() {
    if (!aliases) aliases = std::make_unique<Aliases>();
    return *aliases;
  }
  uint16_t client_alias_maximum = 0;  // the client's Topic Alias Maximum

  bool Congested(size_t limit) const { return link->backlog() + out.size() > limit; }
};

Broker::Broker(BrokerOptions options, Clock::time_point now)
    : options_(std::move(options)),
      started_(now),
      next_sys_(now),
      load_{{"publish/received", &BrokerStats::messages_received},
            {"publish/sent", &BrokerStats::messages_sent},
            {"publish/dropped", &BrokerStats::messages_dropped},
            {"bytes/received", &BrokerStats::bytes_received},
            {"bytes/sent", &BrokerStats::bytes_sent},
            {"sockets", &BrokerStats::sockets_opened},
            {"connections", &BrokerStats::connects}},
      load_at_(now),
      next_sweep_(now) {
  if (!options_.wall_ms) {
    options_.wall_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  if (options_.db != nullptr) store_ = std::make_unique<StateStore>(options_.db);
}

Status Broker::Load(Clock::time_point now) {
  if (!store_) return Status::OK();
  auto state = store_->Load();
  if (!state.ok()) return state.status();
  if (state->unreadable > 0 && options_.log) {
    options_.log("mqtt: left out " + std::to_string(state->unreadable) +
                 " unreadable records of the broker's state");
  }
  const int64_t wall = options_.wall_ms();
  auto steady = [&](int64_t ms) { return now + std::chrono::milliseconds(ms - wall); };
  auto message = [&](StoredMessage& sm) {
    auto m = std::make_shared<Message>();
    m->topic = std::move(sm.publish.topic);
    m->payload = std::move(sm.publish.payload);
    m->qos = sm.publish.qos;
    m->retain = sm.publish.retain;
    m->properties = std::move(sm.publish.properties);
    m->expires_ms = sm.expires_ms;
    if (sm.expires_ms) m->expires = steady(*sm.expires_ms);
    return m;
  };
  for (StoredMessage& sm : state->retained) {
    if (sm.expires_ms && *sm.expires_ms <= wall) {
      store_->DeleteRetained(sm.publish.topic);
      continue;
    }
    auto m = message(sm);
    retained_[m->topic] = std::move(m);
  }
  for (StoredState::Session& stored : state->sessions) {
    StoredSession& r = stored.record;
    if (FindSession(r.client_id) != nullptr) continue;  // one per client id
    auto s = std::make_unique<Session>();
    s->id = r.id;
    s->client_id = std::move(r.client_id);
    s->version = r.version;
    s->expiry = r.expiry;
    s->username = std::move(r.username);
    if (r.will) s->will = std::make_unique<Will>(std::move(*r.will));
    s->stored = true;
    s->contents_stored = s->expiry != 0;
    // A session that was connected when the node stopped lost its
    // connection now.
    const int64_t ended = r.disconnected_ms.value_or(wall);
    s->disconnected_ms = ended;
    if (s->expiry != kNeverExpires) s->expires_at = steady(ended + int64_t{s->expiry} * 1000);
    if (s->will) {
      uint32_t delay = std::min(s->will->properties.will_delay.value_or(0), s->expiry);
      s->will_at = steady(ended + int64_t{delay} * 1000);
    }
    for (auto& [filter, o] : stored.subscriptions) {
      auto shared = ParseShared(filter);
      if (!shared.ok()) continue;
      if (*shared) {
        tree_.Add((*shared)->filter, (*shared)->group, TreeKey(*s), o);
      } else {
        tree_.Add(filter, "", TreeKey(*s), o);
      }
      s->f().subscriptions[filter] = o;
    }
    for (StoredEntry& e : stored.entries) {
      Session::Out out;
      if (e.message) out.message = message(*e.message);
      out.qos = e.qos;
      out.retain = e.retain;
      out.subscription_ids = std::move(e.subscription_ids);
      out.seq = e.seq;
      s->f().next_seq = e.seq + 1;
      if (e.packet_id != 0) {
        s->f().inflight[e.packet_id] = Session::Inflight{std::move(out), e.released};
      } else {
        s->f().queue.push_back(std::move(out));
      }
    }
    if (!stored.qos2_in.empty()) {
      s->f().qos2_in.insert(stored.qos2_in.begin(), stored.qos2_in.end());
    }
    next_session_ = std::max(next_session_, s->id + 1);
    if (!r.disconnected_ms) StoreSession(*s);
    sessions_.insert(std::move(s));
  }
  stats_.sessions = sessions_.size();
  stats_.subscriptions = tree_.size();
  stats_.retained = retained_.size();
  return store_->Commit();
}

Broker::~Broker() = default;

size_t Broker::ClientIdHash::operator()(std::string_view client_id) const {
  return std::hash<std::string_view>()(client_id);
}

size_t Broker::ClientIdHash::operator()(const std::unique_ptr<Session>& s) const {
  return (*this)(std::string_view(s->client_id));
}

std::string_view Broker::ClientIdEqual::Id(const std::unique_ptr<Session>& s) {
  return s->client_id;
}

Broker::Session* Broker::FindSession(std::string_view client_id) {
  auto it = sessions_.find(client_id);
  return it == sessions_.end() ? nullptr : it->get();
}

Broker::ConnId Broker::Open(Link* link, Clock::time_point now) {
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(conns_.size());
    conns_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  auto c = std::make_unique<Connection>();
  c->id = (next_conn_++ << 32) | slot;
  c->link = link;
  c->last_packet = now;
  ConnId id = c->id;
  conns_[slot] = std::move(c);
  stats_.connections++;
  stats_.sockets_opened++;
  return id;
}

Broker::Connection* Broker::Find(ConnId id) {
  uint32_t slot = static_cast<uint32_t>(id);
  if (slot >= conns_.size() || !conns_[slot] || conns_[slot]->id != id) return nullptr;
  return conns_[slot].get();
}

void Broker::Receive(ConnId id, ByteView data, Clock::time_point now) {
  Connection* found = Find(id);
  if (found == nullptr || found->closed) return;
  Connection& c = *found;
  stats_.bytes_received += data.size();
  // Parse straight from `data` when nothing is pending; keep only the tail.
  ByteView input = data;
  if (!c.in.empty()) {
    c.in.insert(c.in.end(), data.begin(), data.end());
    input = c.in;
  }
  size_t used = 0;
  while (!c.closed) {
    auto frame = NextFrame(input.subspan(used), options_.max_packet_size);
    if (!frame.ok()) {
      Drop(c, frame.status().IsInvalidArgument() ? reason::kPacketTooLarge : reason::kMalformedPacket,
           false, now, frame.status().message());
      break;
    }
    if (!*frame) break;
    used += (*frame)->size;
    c.last_packet = now;
    uint8_t level = 0;
    auto packet = Decode(**frame, c.version, &level);
    if (!packet.ok()) {
      if (packet.status().code() == Status::Code::kNotSupported && !c.connected) {
        // Answer in the version the client can read, then close.
        c.version = level >= 5 ? Version::k5 : Version::k311;
        Connack refused{false, reason::kUnsupportedProtocolVersion, {}};
        refused.properties.reason_string = packet.status().message();
        Send(c, refused);
        Drop(c, reason::kSuccess, true, now);
        break;
      }
      // A CONNECT of an unknown version after the first is just a
      // protocol error.
      uint8_t why = packet.status().code() == Status::Code::kNotSupported
                        ? reason::kProtocolError
                        : ReasonFor(packet.status());
      Drop(c, why, false, now, packet.status().message());
      break;
    }
    OnPacket(c, std::move(*packet), now);
  }
  if (!c.closed) {
    if (input.data() == c.in.data()) {
      c.in.erase(c.in.begin(), c.in.begin() + used);
    } else {
      c.in.assign(input.begin() + used, input.end());
    }
  }
  Flush(now);
}

void Broker::OnPacket(Connection& c, Packet packet, Clock::time_point now) {
  if (!c.connected) {
    if (auto* connect = std::get_if<Connect>(&packet)) {
      OnConnect(c, std::move(*connect), now);
    } else {
      Drop(c, reason::kProtocolError, true, now);  // the first packet must be CONNECT
    }
    return;
  }
  std::visit(
      [&](auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Connect>) {
          Drop(c, reason::kProtocolError, false, now, "a second CONNECT");
        } else if constexpr (std::is_same_v<T, Publish>) {
          OnPublish(c, std::move(p), now);
        } else if constexpr (std::is_same_v<T, Ack>) {
          OnAck(c, p, now);
        } else if constexpr (std::is_same_v<T, Subscribe>) {
          OnSubscribe(c, p, now);
        } else if constexpr (std::is_same_v<T, Unsubscribe>) {
          OnUnsubscribe(c, p);
        } else if constexpr (std::is_same_v<T, Pingreq>) {
          Send(c, Pingresp{});
        } else if constexpr (std::is_same_v<T, Disconnect>) {
          OnDisconnect(c, p, now);
        } else {
          // CONNACK, SUBACK, UNSUBACK, PINGRESP are the server's to send;
          // AUTH: no enhanced authentication method is offered.
          Drop(c, reason::kProtocolError, false, now,
               std::is_same_v<T, Auth> ? "no enhanced authentication is offered"
                                       : "a packet only a server sends");
        }
      },
      packet);
}

void Broker::OnConnect(Connection& c, Connect connect, Clock::time_point now) {
  c.version = connect.version;
  const bool v5 = c.version == Version::k5;
  if (v5 && connect.properties.request_problem_info == 0) c.problem_info = false;
  Connack ack;
  if (options_.authenticate) {
    ack.reason = options_.authenticate(connect.username, connect.password);
  }
  // No enhanced authentication method is offered.
  if (ack.reason == reason::kSuccess && v5 && connect.properties.auth_method) {
    ack.reason = reason::kBadAuthenticationMethod;
    ack.properties.reason_string = "no enhanced authentication is offered";
  }
  if (ack.reason == reason::kSuccess && connect.will && !ValidTopicName(connect.will->topic)) {
    ack.reason = reason::kTopicNameInvalid;
    ack.properties.reason_string = "the will's topic name is not valid";
  }
  std::string client_id = connect.client_id;
  if (ack.reason == reason::kSuccess && client_id.empty()) {
    if (!connect.clean_start && !v5) {
      ack.reason = reason::kClientIdentifierNotValid;  // 3.1.1 §3.1.3-8
    } else {
      client_id = AssignClientId();
      if (v5) ack.properties.assigned_client_id = client_id;
    }
  }
  Session* existing = ack.reason == reason::kSuccess ? FindSession(client_id) : nullptr;
  if (existing != nullptr && existing->username != connect.username) {
    // A session belongs to the user who made it: no other may take it
    // over, end it, or receive what it subscribed to.
    ack.reason = reason::kClientIdentifierNotValid;
    ack.properties.reason_string = "the client id is in use by another user's session";
  }
  if (ack.reason != reason::kSuccess) {
    Send(c, ack);
    Drop(c, reason::kSuccess, true, now);
    return;
  }

  Session* s = nullptr;
  if (existing != nullptr) {
    s = existing;
    if (s->conn != nullptr) {
      // Taken over: the session goes on (unless this CONNECT cleans it
      // below) whatever its expiry said, and a will without delay goes out.
      s->expiry = kNeverExpires;
      Drop(*s->conn, reason::kSessionTakenOver, false, now);
    }
    // A new connection before the will's delay ran out: no will.
    s->will_at.reset();
    s->will.reset();
    if (connect.clean_start) {
      EndSession(*s);
      s = nullptr;
    }
  }
  ack.session_present = s != nullptr;
  if (s == nullptr) {
    auto fresh = std::make_unique<Session>();
    fresh->id = next_session_++;
    fresh->client_id = client_id;
    s = fresh.get();
    sessions_.insert(std::move(fresh));
  }
  s->version = c.version;
  s->conn = &c;
  s->expires_at.reset();
  s->disconnected_ms.reset();
  if (v5) {
    s->expiry = connect.properties.session_expiry.value_or(0);
  } else {
    s->expiry = connect.clean_start ? 0 : kNeverExpires;
  }
  s->will = connect.will ? std::make_unique<Will>(std::move(*connect.will)) : nullptr;
  s->username = connect.username;
  StoreSession(*s);
  StoreContents(*s);
  c.session = s;
  c.connected = true;
  c.keep_alive = connect.keep_alive;
  if (v5) {
    c.receive_maximum = connect.properties.receive_maximum.value_or(65535);
    c.client_alias_maximum = connect.properties.topic_alias_maximum.value_or(0);
    if (connect.properties.maximum_packet_size) {
      c.max_packet_size = *connect.properties.maximum_packet_size;
    }
    if (c.keep_alive > options_.max_keep_alive ||
        (c.keep_alive == 0 && options_.max_keep_alive < 65535)) {
      c.keep_alive = options_.max_keep_alive;
      ack.properties.server_keep_alive = c.keep_alive;
    }
    ack.properties.receive_maximum = options_.receive_maximum;
    ack.properties.maximum_packet_size = options_.max_packet_size;
    ack.properties.topic_alias_maximum = options_.topic_alias_maximum;
  }
  Send(c, ack);
  stats_.clients_connected++;
  stats_.connects++;
  stats_.sessions = sessions_.size();

  // What was in flight goes again, in the order it first went.
  std::vector<std::pair<uint64_t, uint16_t>> order;
  if (s->flows) {
    for (const auto& [id, f] : s->flows->inflight) order.emplace_back(f.out.seq, id);
  }
  std::sort(order.begin(), order.end());
  for (auto [seq, id] : order) {
    Session::Inflight& f = s->flows->inflight[id];
    if (f.released) {
      Send(c, Ack{PacketType::kPubrel, id, reason::kSuccess, {}});
    } else if (!SendPublish(c, *s, *f.out.message, f.out.qos, f.out.retain, true, id,
                            f.out.subscription_ids, now)) {
      if (s->contents_stored) {  // too large for this client now: dropped
        store_->DeleteEntry(s->id, f.out.seq);
        store_->DeleteDelivery(s->id, f.out.seq);
      }
      s->flows->inflight.erase(id);
    }
  }
  SendQueued(*s, now);
}

void Broker::Refuse(Connection& c, const Publish& p, std::string why) {
  if (p.qos == 0) return;
  Ack ack{p.qos == 1 ? PacketType::kPuback : PacketType::kPubrec, p.packet_id,
          reason::kNotAuthorized, {}};
  ack.properties.reason_string = std::move(why);
  Send(c, ack);
}

void Broker::OnPublish(Connection& c, Publish p, Clock::time_point now) {
  Session& s = *c.session;
  const bool v5 = c.version == Version::k5;
  if (v5 && p.properties.topic_alias) {
    uint16_t alias = *p.properties.topic_alias;
    if (alias == 0 || alias > options_.topic_alias_maximum) {
      Drop(c, reason::kTopicAliasInvalid, false, now,
           "topic alias " + std::to_string(alias) + " is not from 1 to " +
               std::to_string(options_.topic_alias_maximum));
      return;
    }
    if (p.topic.empty()) {
      auto& in = c.alias_maps().in;
      auto it = in.find(alias);
      if (it == in.end()) {
        Drop(c, reason::kProtocolError, false, now,
             "topic alias " + std::to_string(alias) + " was not set on this connection");
        return;
      }
      p.topic = it->second;
    } else {
      c.alias_maps().in[alias] = p.topic;
    }
    p.properties.topic_alias.reset();
  }
  if (!ValidTopicName(p.topic)) {
    Drop(c, reason::kTopicNameInvalid, false, now, "not a topic name for PUBLISH: " + p.topic);
    return;
  }
  stats_.messages_received++;
  if (IsSys(p.topic)) {
    // The broker's own statistics: acknowledged, never routed or retained.
    Refuse(c, p, "$SYS topics are the broker's own");
    return;
  }
  if (!Authorized(s, Access::kPublish, p.topic)) {
    // Refused: acknowledged (so the client's flow ends) and dropped.
    stats_.messages_dropped++;
    Refuse(c, p, "not authorized to publish to " + p.topic);
    return;
  }
  if (p.qos == 2) {
    if (s.f().qos2_in.count(p.packet_id)) {  // a resend: it was routed already
      Send(c, Ack{PacketType::kPubrec, p.packet_id, reason::kSuccess, {}});
      return;
    }
    if (s.flows->qos2_in.size() >= options_.receive_maximum) {
      Drop(c, reason::kReceiveMaximumExceeded, false, now,
           "more than " + std::to_string(options_.receive_maximum) +
               " QoS 2 messages awaiting PUBREL");
      return;
    }
  }
  if (!v5) p.properties = {};
  auto m = MakeMessage(std::move(p.topic), std::move(p.payload), p.qos, p.retain, s.id,
                       std::move(p.properties), now);
  Retain(m);
  size_t routed = Route(m, now);
  uint8_t result = v5 && routed == 0 ? reason::kNoMatchingSubscribers : reason::kSuccess;
  if (p.qos == 1) {
    Send(c, Ack{PacketType::kPuback, p.packet_id, result, {}});
  } else if (p.qos == 2) {
    s.f().qos2_in.insert(p.packet_id);
    if (s.contents_stored) store_->PutQos2(s.id, p.packet_id);
    Send(c, Ack{PacketType::kPubrec, p.packet_id, result, {}});
  }
}

size_t Broker::Route(const std::shared_ptr<const Message>& m, Clock::time_point now) {
  struct Hit {
    uint8_t qos = 0;
    bool retain = false;
    std::vector<uint32_t> ids;
  };
  // One copy per session for its plain subscriptions (the highest QoS and
  // every subscription identifier of those that match), one per share
  // group it was picked for.
  std::unordered_map<uint64_t, Hit> plain;
  std::vector<std::pair<uint64_t, Hit>> shared;
  tree_.Match(
      m->topic,
      [&](uint64_t sid) { return SessionAt(sid).conn != nullptr; },
      [&](uint64_t sid, const SubOptions& o, bool is_shared) {
        if (o.no_local && SessionAt(sid).id == m->publisher && !is_shared) return;
        Hit h;
        h.qos = std::min(m->qos, o.qos);
        h.retain = o.retain_as_published && m->retain;
        if (o.subscription_id) h.ids.push_back(o.subscription_id);
        if (is_shared) {
          shared.emplace_back(sid, std::move(h));
          return;
        }
        auto [it, added] = plain.try_emplace(sid, std::move(h));
        if (!added) {
          it->second.qos = std::max(it->second.qos, std::min(m->qos, o.qos));
          it->second.retain |= o.retain_as_published && m->retain;
          if (o.subscription_id) it->second.ids.push_back(o.subscription_id);
        }
      });
  for (auto& [sid, h] : plain) {
    Deliver(SessionAt(sid), m, h.qos, h.retain, std::move(h.ids), now);
  }
  for (auto& [sid, h] : shared) {
    Deliver(SessionAt(sid), m, h.qos, h.retain, std::move(h.ids), now);
  }
  return plain.size() + shared.size();
}

bool Broker::Authorized(const Session& s, Access access, std::string_view topic) const {
  return !options_.authorize || options_.authorize(s.username, s.client_id, access, topic);
}

void Broker::Deliver(Session& s, const std::shared_ptr<const Message>& m, uint8_t qos,
                     bool retain, std::vector<uint32_t> ids, Clock::time_point now) {
  if (m->expires && now >= *m->expires) {
    stats_.messages_dropped++;
    return;
  }
  if (!Authorized(s, Access::kReceive, m->topic)) return;
  Connection* c = s.conn;
  const bool ready = c != nullptr && !c->Congested(options_.max_backlog_bytes);
  if (qos == 0) {
    // Not kept for offline sessions, nor queued behind a slow socket.
    if (!ready || !SendPublish(*c, s, *m, 0, retain, false, 0, ids, now)) stats_.messages_dropped++;
    return;
  }
  Session::Flows& f = s.f();
  Session::Out out{m, qos, retain, std::move(ids), f.next_seq++};
  size_t window = c ? std::min<size_t>(options_.max_inflight, c->receive_maximum) : 0;
  if (ready && f.queue.empty() && f.inflight.size() < window) {
    uint16_t id = NextPacketId(s);
    if (SendPublish(*c, s, *m, qos, retain, false, id, out.subscription_ids, now)) {
      if (s.contents_stored) {
        StoreEntry(s, *m, out.seq, qos, retain, out.subscription_ids);
        store_->PutDelivery(s.id, out.seq, id, false);
      }
      f.inflight[id] = Session::Inflight{std::move(out), false};
    }
    return;
  }
  if (f.queue.size() >= options_.max_queued ||
      f.queue.bytes() + Session::Queue::Cost(out) > options_.max_queued_bytes) {
    stats_.messages_dropped++;
    return;
  }
  if (s.contents_stored) StoreEntry(s, *m, out.seq, qos, retain, out.subscription_ids);
  f.queue.push_back(std::move(out));
}

void Broker::SendQueued(Session& s, Clock::time_point now) {
  Connection* c = s.conn;
  if (c == nullptr || !s.flows) return;
  Session::Flows& f = *s.flows;
  size_t window = std::min<size_t>(options_.max_inflight, c->receive_maximum);
  while (!f.queue.empty() && f.inflight.size() < window &&
         !c->Congested(options_.max_backlog_bytes)) {
    Session::Out out = f.queue.Take();
    if (out.message->expires && now >= *out.message->expires) {
      stats_.messages_dropped++;
      if (s.contents_stored) store_->DeleteEntry(s.id, out.seq);
      continue;
    }
    uint16_t id = NextPacketId(s);
    if (SendPublish(*c, s, *out.message, out.qos, out.retain, false, id, out.subscription_ids,
                    now)) {
      if (s.contents_stored) store_->PutDelivery(s.id, out.seq, id, false);
      f.inflight[id] = Session::Inflight{std::move(out), false};
    } else if (s.contents_stored) {
      store_->DeleteEntry(s.id, out.seq);
    }
  }
}

bool Broker::SendPublish(Connection& c, Session& s, const Message& m, uint8_t qos, bool retain,
                         bool dup, uint16_t packet_id, const std::vector<uint32_t>& ids,
                         Clock::time_point now) {
  (void)s;
  Publish p;
  p.dup = dup;
  p.qos = qos;
  p.retain = retain;
  p.topic = m.topic;
  p.packet_id = packet_id;
  if (c.version == Version::k5) {
    p.properties = m.properties;
    p.properties.subscription_ids = ids;
    if (m.expires) {
      auto left = std::chrono::ceil<std::chrono::seconds>(*m.expires - now).count();
      p.properties.message_expiry = static_cast<uint32_t>(std::max<int64_t>(left, 1));
    }
  }
  // A topic the client has an alias for goes as the alias alone; a new one,
  // while aliases are left, goes whole with a new alias.
  std::optional<uint16_t> new_alias;
  if (c.client_alias_maximum > 0) {
    auto& out = c.alias_maps().out;
    if (auto it = out.find(m.topic); it != out.end()) {
      p.topic.clear();
      p.properties.topic_alias = it->second;
    } else if (out.size() < c.client_alias_maximum) {
      new_alias = static_cast<uint16_t>(out.size() + 1);
      p.properties.topic_alias = new_alias;
    }
  }
  size_t before = c.out.size();
  if (before == 0) dirty_.push_back(&c);
  size_t n = EncodePublish(p, m.payload, c.version, &c.out);
  if (n > c.max_packet_size) {  // the client said it cannot take it
    c.out.resize(before);
    stats_.messages_dropped++;
    return false;
  }
  if (new_alias) c.aliases->out.emplace(m.topic, *new_alias);
  stats_.messages_sent++;
  return true;
}

namespace {

// The longest Reason String sent, in bytes.
constexpr size_t kMaxReasonString = 200;

// The properties of a packet that reports a failure, and its first failure
// code; null for the others. `P` is Packet or const Packet.
template <class P>
auto Failure(P& p, uint8_t* code) -> decltype(&std::get<Connack>(p).properties) {
  using Result = decltype(&std::get<Connack>(p).properties);
  return std::visit(
      [code](auto& x) -> Result {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Connack> || std::is_same_v<T, Ack> ||
                      std::is_same_v<T, Disconnect>) {
          *code = x.reason;
          return x.reason >= reason::kUnspecifiedError ? &x.properties : nullptr;
        } else if constexpr (std::is_same_v<T, Suback> || std::is_same_v<T, Unsuback>) {
          for (uint8_t r : x.reasons) {
            if (r >= reason::kUnspecifiedError) {
              *code = r;
              return &x.properties;
            }
          }
          return nullptr;
        } else {
          return nullptr;
        }
      },
      p);
}

}  // namespace

void Broker::Send(Connection& c, const Packet& p) {
  if (c.closed) return;
  if (c.out.empty()) dirty_.push_back(&c);
  if (c.version != Version::k5) {
    Encode(p, c.version, &c.out);
    return;
  }
  uint8_t code = 0;
  if (Failure(p, &code) == nullptr) {
    Encode(p, c.version, &c.out);
    return;
  }
  // Only failures are copied, to be explained.
  Packet explained = p;
  Properties* props = Failure(explained, &code);
  // A client that asked for no problem information gets Reason Strings on
  // CONNACK and DISCONNECT only (MQTT 5.0 §3.1.2.11.7).
  const bool allowed = c.problem_info || std::holds_alternative<Connack>(explained) ||
                       std::holds_alternative<Disconnect>(explained);
  if (!allowed) {
    props->reason_string.reset();
  } else if (!props->reason_string) {
    props->reason_string = std::string(ReasonText(code));
  } else if (props->reason_string->size() > kMaxReasonString) {
    // One that quotes a long topic is cut, on a character's boundary.
    std::string& text = *props->reason_string;
    size_t end = kMaxReasonString;
    while (end > 0 && (static_cast<uint8_t>(text[end]) & 0xC0) == 0x80) end--;
    text.resize(end);
  }
  const size_t before = c.out.size();
  size_t n = Encode(explained, c.version, &c.out);
  if (n > c.max_packet_size && props->reason_string) {
    // Not past what the client can take (§3.4.2.2.2 and the like).
    c.out.resize(before);
    props->reason_string.reset();
    Encode(explained, c.version, &c.out);
  }
}

void Broker::StoreSession(Session& s) {
  if (!store_) return;
  if (s.expiry == 0 && !s.will) {
    if (s.stored || s.contents_stored) store_->DeleteSession(s.id);
    s.stored = s.contents_stored = false;
    return;
  }
  StoredSession r;
  r.id = s.id;
  r.client_id = s.client_id;
  r.version = s.version;
  r.expiry = s.expiry;
  r.username = s.username;
  if (s.will) r.will = *s.will;
  if (s.conn == nullptr) r.disconnected_ms = s.disconnected_ms.value_or(options_.wall_ms());
  store_->PutSession(r);
  s.stored = true;
}

void Broker::StoreContents(Session& s) {
  if (!store_ || (s.expiry != 0) == s.contents_stored) return;
  if (s.expiry == 0) {
    store_->DeleteSessionContents(s.id);
    s.contents_stored = false;
    return;
  }
  s.contents_stored = true;
  if (!s.flows) return;
  const Session::Flows& flows = *s.flows;
  for (const auto& [filter, o] : flows.subscriptions) store_->PutSubscription(s.id, filter, o);
  flows.queue.ForEach([&](const Session::Out& out) {
    StoreEntry(s, *out.message, out.seq, out.qos, out.retain, out.subscription_ids);
  });
  for (const auto& [id, f] : flows.inflight) {
    if (!f.released) {
      StoreEntry(s, *f.out.message, f.out.seq, f.out.qos, f.out.retain, f.out.subscription_ids);
    }
    store_->PutDelivery(s.id, f.out.seq, id, f.released);
  }
  for (uint16_t id : flows.qos2_in) store_->PutQos2(s.id, id);
}

void Broker::StoreEntry(Session& s, const Message& m, uint64_t seq, uint8_t qos, bool retain,
                        const std::vector<uint32_t>& ids) {
  store_->PutEntry(s.id, seq, qos, retain, ids, Stored(m));
}

bool Broker::Commit() {
  if (store_ && store_->pending()) {
    Status st = store_->Commit();
    if (!st.ok()) {
      failed_turn_ = true;
      stats_.storage_errors++;
      if (options_.log) options_.log("mqtt: cannot keep the broker's state: " + st.ToString());
    }
  }
  return !failed_turn_;
}

ByteView Broker::Stored(const Message& m) {
  if (m.stored.empty()) {
    Publish header;
    header.qos = m.qos;
    header.retain = m.retain;
    header.topic = m.topic;
    header.properties = m.properties;
    m.stored = EncodeStoredMessage(header, m.payload, m.expires_ms);
  }
  return m.stored;
}

void Broker::Flush(Clock::time_point now) {
  // If what this turn changed could not be written, the connections with
  // output are closed unanswered instead (their clients resend what was not
  // acknowledged when they reconnect). Closing them may give others output
  // (wills), so this repeats until none is left.
  Commit();
  while (failed_turn_ && !dirty_.empty()) {
    std::vector<Connection*> dirty;
    dirty.swap(dirty_);
    for (Connection* c : dirty) {
      if (c->closed) continue;
      c->out.clear();
      Drop(*c, reason::kSuccess, false, now);
    }
  }
  failed_turn_ = false;
  for (Connection* c : dirty_) {
    if (c->closed || c->out.empty()) continue;
    stats_.bytes_sent += c->out.size();
    c->link->Send(std::move(c->out));
    c->out.clear();
  }
  dirty_.clear();
  for (ConnId id : dead_) {
    uint32_t slot = static_cast<uint32_t>(id);
    conns_[slot].reset();
    free_slots_.push_back(slot);
    stats_.connections--;
  }
  dead_.clear();
}

void Broker::Drop(Connection& c, uint8_t why, bool clean, Clock::time_point now,
                  std::string text) {
  if (c.closed) return;
  if (c.connected && c.version == Version::k5 && why != reason::kSuccess) {
    Disconnect d{why, {}};
    if (!text.empty()) d.properties.reason_string = std::move(text);
    Send(c, d);
  }
  if (!c.out.empty() && Commit()) {
    stats_.bytes_sent += c.out.size();
    c.link->Send(std::move(c.out));
  }
  c.out.clear();
  c.link->Close();
  c.closed = true;
  dead_.push_back(c.id);
  Session* s = c.session;
  c.session = nullptr;
  if (s == nullptr) return;
  s->conn = nullptr;
  if (c.connected && stats_.clients_connected > 0) stats_.clients_connected--;
  if (clean) s->will.reset();
  if (s->will) {
    uint32_t delay = s->will->properties.will_delay.value_or(0);
    if (delay == 0 || s->expiry == 0) {
      PublishWill(*s, now);
    } else {
      s->will_at = now + std::chrono::seconds(std::min(delay, s->expiry));
    }
  }
  if (s->expiry == 0) {
    EndSession(*s);
    return;
  }
  if (s->expiry != kNeverExpires) s->expires_at = now + std::chrono::seconds(s->expiry);
  s->disconnected_ms = options_.wall_ms();
  StoreSession(*s);
}

void Broker::PublishWill(Session& s, Clock::time_point now) {
  if (!s.will) return;
  Will w = std::move(*s.will);
  s.will.reset();
  s.will_at.reset();
  if (s.stored) StoreSession(s);
  if (!ValidTopicName(w.topic)) return;
  if (!Authorized(s, Access::kPublish, w.topic)) return;
  auto m = MakeMessage(std::move(w.topic), std::move(w.payload), w.qos, w.retain, s.id,
                       std::move(w.properties), now);
  Retain(m);
  stats_.messages_received++;
  Route(m, now);
}

std::shared_ptr<const Broker::Message> Broker::MakeMessage(std::string topic, Bytes payload,
                                                           uint8_t qos, bool retain,
                                                           uint64_t publisher, Properties in,
                                                           Clock::time_point now) {
  auto m = std::make_shared<Message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->qos = qos;
  m->retain = retain;
  m->publisher = publisher;
  // What travels on to subscribers; the rest was for the broker.
  m->properties.payload_format = in.payload_format;
  m->properties.content_type = std::move(in.content_type);
  m->properties.response_topic = std::move(in.response_topic);
  m->properties.correlation_data = std::move(in.correlation_data);
  m->properties.user = std::move(in.user);
  if (in.message_expiry) {
    m->expires = now + std::chrono::seconds(*in.message_expiry);
    m->expires_ms = options_.wall_ms() + int64_t{*in.message_expiry} * 1000;
  }
  return m;
}

void Broker::Retain(const std::shared_ptr<const Message>& m) {
  if (!m->retain) return;
  const bool keep = store_ && !IsSys(m->topic);
  if (m->payload.empty()) {
    // An empty retained message clears the topic.
    if (retained_.erase(m->topic) && keep) store_->DeleteRetained(m->topic);
  } else {
    retained_[m->topic] = m;
    if (keep) store_->PutRetained(m->topic, Stored(*m));
  }
  stats_.retained = retained_.size();
}

bool Broker::RemoveSubscription(Session& s, const std::string& filter) {
  auto shared = ParseShared(filter);
  if (shared.ok() && *shared) {
    return tree_.Remove((*shared)->filter, (*shared)->group, TreeKey(s));
  }
  return tree_.Remove(filter, "", TreeKey(s));
}

void Broker::EndSession(Session& s) {
  if (s.stored || s.contents_stored) store_->DeleteSession(s.id);
  if (s.flows) {
    for (const auto& [filter, o] : s.flows->subscriptions) RemoveSubscription(s, filter);
  }
  stats_.subscriptions = tree_.size();
  sessions_.erase(sessions_.find(std::string_view(s.client_id)));  // destroys s
  stats_.sessions = sessions_.size();
}

std::string Broker::AssignClientId() {
  // Random, so that it does not name a session a client chose itself.
  static constexpr char kDigits[] = "0123456789abcdef";
  for (;;) {
    std::string id = "shoal-";
    for (int i = 0; i < 16; i++) id += kDigits[random_() & 15];
    if (FindSession(id) == nullptr) return id;
  }
}

uint16_t Broker::NextPacketId(Session& s) {
  // The caller keeps the window far below 65,535, so a free id exists.
  for (;;) {
    Session::Flows& f = s.f();
    uint16_t id = f.next_packet_id++;
    if (f.next_packet_id == 0) f.next_packet_id = 1;
    if (id != 0 && !f.inflight.count(id)) return id;
  }
}

void Broker::OnAck(Connection& c, const Ack& ack, Clock::time_point now) {
  Session& s = *c.session;
  Session::Flows& f = s.f();
  const bool v5 = c.version == Version::k5;
  switch (ack.type) {
    case PacketType::kPuback: {
      auto it = f.inflight.find(ack.packet_id);
      if (it != f.inflight.end() && it->second.out.qos == 1) {
        if (s.contents_stored) {
          store_->DeleteEntry(s.id, it->second.out.seq);
          store_->DeleteDelivery(s.id, it->second.out.seq);
        }
        f.inflight.erase(it);
      }
      break;
    }
    case PacketType::kPubrec: {
      auto it = f.inflight.find(ack.packet_id);
      if (it == f.inflight.end() || it->second.out.qos != 2) {
        Send(c, Ack{PacketType::kPubrel, ack.packet_id,
                    v5 ? reason::kPacketIdentifierNotFound : reason::kSuccess, {}});
        break;
      }
      if (s.contents_stored) store_->DeleteEntry(s.id, it->second.out.seq);
      if (v5 && ack.reason >= 0x80) {  // the client refused it: done
        if (s.contents_stored) store_->DeleteDelivery(s.id, it->second.out.seq);
        f.inflight.erase(it);
        break;
      }
      it->second.released = true;
      it->second.out.message.reset();  // only the id is needed from here
      if (s.contents_stored) store_->PutDelivery(s.id, it->second.out.seq, ack.packet_id, true);
      Send(c, Ack{PacketType::kPubrel, ack.packet_id, reason::kSuccess, {}});
      break;
    }
    case PacketType::kPubrel: {
      bool known = f.qos2_in.erase(ack.packet_id) > 0;
      if (known && s.contents_stored) store_->DeleteQos2(s.id, ack.packet_id);
      Send(c, Ack{PacketType::kPubcomp, ack.packet_id,
                  known || !v5 ? reason::kSuccess : reason::kPacketIdentifierNotFound, {}});
      break;
    }
    case PacketType::kPubcomp: {
      auto it = f.inflight.find(ack.packet_id);
      if (it != f.inflight.end() && it->second.released) {
        if (s.contents_stored) store_->DeleteDelivery(s.id, it->second.out.seq);
        f.inflight.erase(it);
      }
      break;
    }
    default:
      break;
  }
  SendQueued(s, now);
}

void Broker::OnSubscribe(Connection& c, const Subscribe& sub, Clock::time_point now) {
  Session& s = *c.session;
  const bool v5 = c.version == Version::k5;
  Suback ack;
  ack.packet_id = sub.packet_id;
  uint32_t sub_id = sub.properties.subscription_ids.empty() ? 0 : sub.properties.subscription_ids[0];
  struct Retained {
    std::string filter;
    SubOptions options;
  };
  std::vector<Retained> retained;
  for (const Subscription& want : sub.subscriptions) {
    // A SUBACK has one Reason String: that of its first failure.
    auto refuse = [&](uint8_t code, const std::string& why) {
      ack.reasons.push_back(code);
      if (!ack.properties.reason_string) ack.properties.reason_string = why + want.filter;
    };
    auto shared = ParseShared(want.filter);
    if (!shared.ok()) {
      refuse(reason::kTopicFilterInvalid, "not a shared subscription: ");
      continue;
    }
    std::string inner = *shared ? (*shared)->filter : want.filter;
    std::string group = *shared ? (*shared)->group : "";
    if (!ValidTopicFilter(inner)) {
      refuse(reason::kTopicFilterInvalid, "not a topic filter: ");
      continue;
    }
    if (!Authorized(s, Access::kSubscribe, inner)) {
      refuse(reason::kNotAuthorized, "not authorized to subscribe to ");
      continue;
    }
    if (v5 && want.no_local && !group.empty()) {
      Drop(c, reason::kProtocolError, false, now,  // MQTT 5.0 §3.8.3.1
           "No Local on a shared subscription");
      return;
    }
    SubOptions o{want.qos, want.no_local, want.retain_as_published, want.retain_handling, sub_id};
    bool added = tree_.Add(inner, group, TreeKey(s), o);
    s.f().subscriptions[want.filter] = o;
    if (s.contents_stored) store_->PutSubscription(s.id, want.filter, o);
    ack.reasons.push_back(want.qos);
    if (group.empty() && (o.retain_handling == 0 || (o.retain_handling == 1 && added))) {
      retained.push_back({inner, o});
    }
  }
  stats_.subscriptions = tree_.size();
  Send(c, ack);
  for (const Retained& r : retained) SendRetained(s, r.filter, r.options, now);
}

void Broker::SendRetained(Session& s, std::string_view filter, const SubOptions& o,
                          Clock::time_point now) {
  for (const auto& [topic, m] : retained_) {
    if (!Matches(filter, topic)) continue;
    std::vector<uint32_t> ids;
    if (o.subscription_id) ids.push_back(o.subscription_id);
    Deliver(s, m, std::min(m->qos, o.qos), true, std::move(ids), now);
  }
}

void Broker::OnUnsubscribe(Connection& c, const Unsubscribe& u) {
  Session& s = *c.session;
  Unsuback ack;
  ack.packet_id = u.packet_id;
  for (const std::string& filter : u.filters) {
    bool removed = s.flows && s.flows->subscriptions.erase(filter) > 0 &&
                   RemoveSubscription(s, filter);
    if (removed && s.contents_stored) store_->DeleteSubscription(s.id, filter);
    ack.reasons.push_back(removed ? reason::kSuccess : reason::kNoSubscriptionExisted);
  }
  stats_.subscriptions = tree_.size();
  Send(c, ack);
}

void Broker::OnDisconnect(Connection& c, const Disconnect& d, Clock::time_point now) {
  Session& s = *c.session;
  if (c.version == Version::k5 && d.properties.session_expiry) {
    if (s.expiry == 0 && *d.properties.session_expiry != 0) {
      Drop(c, reason::kProtocolError, false, now,  // MQTT 5.0 §3.14.2.2.2
           "a session expiry on DISCONNECT after CONNECT set none");
      return;
    }
    s.expiry = *d.properties.session_expiry;
  }
  // Only a normal disconnection (0x00) discards the will (MQTT 5.0
  // §3.1.2.5); 0x04 asks for it, and so does any error a client reports.
  Drop(c, reason::kSuccess, d.reason == reason::kSuccess, now);
}

void Broker::Lost(ConnId id, Clock::time_point now) {
  Connection* found = Find(id);
  if (found == nullptr) return;
  Connection& c = *found;
  if (!c.closed) {
    c.out.clear();  // nowhere to write it
    Drop(c, reason::kSuccess, false, now);
  }
  Flush(now);
}

void Broker::Drained(ConnId id, Clock::time_point now) {
  Connection* c = Find(id);
  if (c == nullptr || c->closed || c->session == nullptr) return;
  SendQueued(*c->session, now);
  Flush(now);
}

void Broker::Tick(Clock::time_point now) {
  for (auto& c : conns_) {
    if (!c || c->closed) continue;
    if (!c->connected) {
      if (now - c->last_packet > options_.connect_timeout) Drop(*c, reason::kSuccess, true, now);
      continue;
    }
    // MQTT: one and a half keep-alive periods without a packet end it.
    if (c->keep_alive > 0 && now - c->last_packet > std::chrono::milliseconds(1500) * c->keep_alive) {
      Drop(*c, reason::kKeepAliveTimeout, false, now);
    }
  }
  std::vector<Session*> ended;
  for (auto& s : sessions_) {
    if (s->conn != nullptr) continue;
    if (s->will_at && now >= *s->will_at) PublishWill(*s, now);
    if (s->expires_at && now >= *s->expires_at) ended.push_back(s.get());
  }
  for (Session* s : ended) {
    PublishWill(*s, now);  // the session's end is the will's latest time
    EndSession(*s);
  }
  if (now >= next_sweep_) {
    // Retained messages past their expiry go, from memory and from disk
    // (a subscriber never gets them either way: Deliver checks).
    for (auto it = retained_.begin(); it != retained_.end();) {
      if (it->second->expires && now >= *it->second->expires) {
        if (store_ && !IsSys(it->first)) store_->DeleteRetained(it->first);
        it = retained_.erase(it);
      } else {
        ++it;
      }
    }
    stats_.retained = retained_.size();
    next_sweep_ = now + std::chrono::seconds(10);
  }
  if (options_.sys_interval.count() > 0 && now >= next_sys_) {
    PublishSys(now);
    next_sys_ = now + options_.sys_interval;
  }
  Flush(now);
}

void Broker::PublishSys(Clock::time_point now) {
  auto publish = [&](const std::string& topic, const std::string& value) {
    auto m = MakeMessage("$SYS/broker/" + topic, Bytes(value.begin(), value.end()), 0, true, 0, {},
                         now);
    Retain(m);
    Route(m, now);
  };
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(now - started_).count();
  const double elapsed = std::chrono::duration<double>(now - load_at_).count();
  static constexpr int kMinutes[3] = {1, 5, 15};
  for (LoadAverage& l : load_) {
    const uint64_t value = stats_.*l.counter;
    if (elapsed > 0) {
      const double rate = static_cast<double>(value - l.last) * 60 / elapsed;
      for (int i = 0; i < 3; i++) {
        const double keep = std::exp(-elapsed / (60.0 * kMinutes[i]));
        l.per_minute[i] = rate + keep * (l.per_minute[i] - rate);
      }
    }
    l.last = value;
    for (int i = 0; i < 3; i++) {
      char text[32];
      std::snprintf(text, sizeof(text), "%.2f", l.per_minute[i]);
      publish("load/" + std::string(l.topic) + "/" + std::to_string(kMinutes[i]) + "min", text);
    }
  }
  load_at_ = now;
  publish("version", options_.version);
  publish("uptime", std::to_string(secs) + " seconds");
  publish("clients/connected", std::to_string(stats_.clients_connected));
  publish("clients/total", std::to_string(stats_.sessions));
  publish("messages/received", std::to_string(stats_.messages_received));
  publish("messages/sent", std::to_string(stats_.messages_sent));
  publish("publish/messages/received", std::to_string(stats_.messages_received));
  publish("publish/messages/sent", std::to_string(stats_.messages_sent));
  publish("publish/messages/dropped", std::to_string(stats_.messages_dropped));
  publish("subscriptions/count", std::to_string(stats_.subscriptions));
  publish("bytes/received", std::to_string(stats_.bytes_received));
  publish("bytes/sent", std::to_string(stats_.bytes_sent));
  publish("retained messages/count", std::to_string(stats_.retained));
}

}  // namespace shoal::mqtt
