#include "mqtt/state_store.h"

#include <algorithm>
#include <map>

#include "base/encoding.h"
#include "mqtt/topic.h"

namespace shoal::mqtt {
namespace {

// Key prefixes (docs/formats/mqtt.md).
constexpr uint8_t kSessions = 0x20;
constexpr uint8_t kRetained = 0x21;
// Tags after `20 id`.
constexpr uint8_t kRecord = 0x00;
constexpr uint8_t kSubscription = 0x01;
constexpr uint8_t kEntry = 0x02;
constexpr uint8_t kDelivery = 0x03;
constexpr uint8_t kQos2 = 0x04;

// Session record flags.
constexpr uint64_t kHasUsername = 1;
constexpr uint64_t kHasWill = 2;
constexpr uint64_t kDisconnected = 4;
constexpr uint64_t kWillExpiry = 8;
// Stored message flags.
constexpr uint64_t kHasExpiry = 1;

Bytes SessionKey(uint64_t id, uint8_t tag, size_t extra = 0) {
  Bytes k(10, 0);
  k.reserve(10 + extra);
  k[0] = kSessions;
  PutU64BE(&k[1], id);
  k[9] = tag;
  return k;
}

Bytes SeqKey(uint64_t id, uint8_t tag, uint64_t seq) {
  Bytes k = SessionKey(id, tag, 8);
  k.resize(18);
  PutU64BE(&k[10], seq);
  return k;
}

Bytes Qos2Key(uint64_t id, uint16_t packet_id) {
  Bytes k = SessionKey(id, kQos2, 2);
  k.push_back(static_cast<uint8_t>(packet_id >> 8));
  k.push_back(static_cast<uint8_t>(packet_id));
  return k;
}

Bytes FilterKey(uint64_t id, std::string_view filter) {
  Bytes k = SessionKey(id, kSubscription, filter.size());
  k.insert(k.end(), filter.begin(), filter.end());
  return k;
}

Bytes RetainedKey(std::string_view topic) {
  Bytes k;
  k.reserve(1 + topic.size());
  k.push_back(kRetained);
  k.insert(k.end(), topic.begin(), topic.end());
  return k;
}

// A will's delay and Message Expiry Interval are kept beside it: both are
// intervals that start only when the will is published.
Bytes EncodeWill(const Will& w) {
  Publish p;
  p.qos = w.qos;
  p.retain = w.retain;
  p.topic = w.topic;
  p.properties = w.properties;
  p.properties.will_delay.reset();
  return EncodeStoredMessage(p, w.payload, std::nullopt);
}

Result<Will> DecodeWill(ByteView value, uint32_t delay, std::optional<uint32_t> expiry) {
  auto m = DecodeStoredMessage(value);
  if (!m.ok()) return m.status();
  Will w;
  w.topic = std::move(m->publish.topic);
  w.payload = std::move(m->publish.payload);
  w.qos = m->publish.qos;
  w.retain = m->publish.retain;
  w.properties = std::move(m->publish.properties);
  if (delay) w.properties.will_delay = delay;
  w.properties.message_expiry = expiry;
  return w;
}

Result<StoredSession> DecodeSession(uint64_t id, ByteView value) {
  enc::Decoder d(value);
  StoredSession s;
  s.id = id;
  uint64_t flags = d.Uint();
  uint8_t version = d.Uint8();
  s.expiry = d.Uint32();
  s.client_id = std::string(d.String());
  if (flags & kHasUsername) s.username = std::string(d.String());
  if (flags & kDisconnected) s.disconnected_ms = d.Int();
  uint32_t will_delay = 0;
  std::optional<uint32_t> will_expiry;
  ByteView will;
  if (flags & kHasWill) {
    will_delay = d.Uint32();
    if (flags & kWillExpiry) will_expiry = d.Uint32();
    will = d.Buffer();
  }
  if (Status st = d.Finish(); !st.ok()) return st;
  if (version < 3 || version > 5) return Status::Malformed("mqtt session: bad version");
  s.version = static_cast<Version>(version);
  if (flags & kHasWill) {
    auto w = DecodeWill(will, will_delay, will_expiry);
    if (!w.ok()) return w.status();
    s.will = std::move(*w);
  }
  return s;
}

Result<StoredEntry> DecodeEntry(uint64_t seq, ByteView value) {
  enc::Decoder d(value);
  StoredEntry e;
  e.seq = seq;
  e.qos = d.Uint8();
  e.retain = d.Bool();
  e.subscription_ids = d.Uint32Array();
  ByteView message = d.Raw();
  if (Status st = d.status(); !st.ok()) return st;
  if (e.qos < 1 || e.qos > 2) return Status::Malformed("mqtt entry: bad QoS");
  auto m = DecodeStoredMessage(message);
  if (!m.ok()) return m.status();
  e.message = std::move(*m);
  return e;
}

}  // namespace

Bytes EncodeStoredMessage(const Publish& header, ByteView payload,
                          std::optional<int64_t> expires_ms) {
  enc::Encoder e(header.topic.size() + payload.size() + 32);
  e.Uint(expires_ms ? kHasExpiry : 0);
  if (expires_ms) e.Int(*expires_ms);
  Publish p;
  p.qos = header.qos;
  p.retain = header.retain;
  p.topic = header.topic;
  p.packet_id = header.qos > 0 ? 1 : 0;
  p.properties = header.properties;
  p.properties.message_expiry.reset();
  p.properties.topic_alias.reset();
  p.properties.subscription_ids.clear();
  Bytes out = e.Take();
  EncodePublish(p, payload, Version::k5, &out);
  return out;
}

Result<StoredMessage> DecodeStoredMessage(ByteView value) {
  enc::Decoder d(value);
  StoredMessage m;
  uint64_t flags = d.Uint();
  if (flags & kHasExpiry) m.expires_ms = d.Int();
  ByteView packet = d.Raw();
  if (Status st = d.status(); !st.ok()) return st;
  auto frame = NextFrame(packet, kMaxRemainingLength + 5);
  if (!frame.ok() || !*frame || (*frame)->size != packet.size()) {
    return Status::Malformed("mqtt stored message: bad packet");
  }
  auto decoded = Decode(**frame, Version::k5);
  if (!decoded.ok()) return decoded.status();
  auto* p = std::get_if<Publish>(&*decoded);
  if (p == nullptr) return Status::Malformed("mqtt stored message: not a PUBLISH");
  m.publish = std::move(*p);
  // What a stored message never carries (EncodeStoredMessage leaves it out).
  m.publish.dup = false;
  m.publish.packet_id = 0;
  m.publish.properties.message_expiry.reset();
  m.publish.properties.topic_alias.reset();
  m.publish.properties.subscription_ids.clear();
  return m;
}

Result<StoredState> StateStore::Load() {
  StoredState state;
  storage::WriteBatch bad;
  auto drop = [&](ByteView key) {
    state.unreadable++;
    bad.Delete(key);
  };

  const uint8_t sessions_lo[] = {kSessions}, sessions_hi[] = {kSessions + 1};
  auto it = db_->NewIterator(sessions_lo, sessions_hi);
  // Sessions whose record is unreadable (or missing) are dropped whole.
  std::map<uint64_t, StoredState::Session> found;
  std::vector<uint64_t> orphans;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ByteView key = it->key(), value = it->value();
    if (key.size() < 10) {
      drop(key);
      continue;
    }
    uint64_t id = GetU64BE(&key[1]);
    uint8_t tag = key[9];
    ByteView rest = key.subspan(10);
    if (tag == kRecord && !rest.empty()) {  // not a record key: only it goes
      drop(key);
      continue;
    }
    if (tag == kRecord) {
      auto s = DecodeSession(id, value);
      if (!s.ok()) {
        drop(key);
        orphans.push_back(id);
        continue;
      }
      found[id].record = std::move(*s);
      continue;
    }
    auto f = found.find(id);
    if (f == found.end()) {  // no record came first: its contents go too
      drop(key);
      continue;
    }
    StoredState::Session& s = f->second;
    if (tag == kSubscription) {
      enc::Decoder d(value);
      SubOptions o;
      o.qos = d.Uint8();
      uint8_t flags = d.Uint8();
      o.no_local = flags & 1;
      o.retain_as_published = flags & 2;
      o.retain_handling = d.Uint8();
      uint64_t sub_id = d.Uint();
      o.subscription_id = static_cast<uint32_t>(sub_id);
      std::string filter(AsString(rest));
      auto shared = ParseShared(filter);
      if (!d.Finish().ok() || o.qos > 2 || o.retain_handling > 2 || sub_id > 268'435'455 ||
          !shared.ok() || !ValidTopicFilter(*shared ? (*shared)->filter : filter)) {
        drop(key);
        continue;
      }
      s.subscriptions.emplace_back(std::move(filter), o);
    } else if (tag == kEntry && rest.size() == 8) {
      auto e = DecodeEntry(GetU64BE(rest.data()), value);
      if (!e.ok()) {
        drop(key);
        continue;
      }
      s.entries.push_back(std::move(*e));
    } else if (tag == kDelivery && rest.size() == 8 && value.size() == 3) {
      uint64_t seq = GetU64BE(rest.data());
      uint16_t packet_id = static_cast<uint16_t>(value[0] << 8 | value[1]);
      bool released = value[2] & 1;
      // Entries sort before deliveries, so the entry (if any) is in place.
      auto pos = std::lower_bound(s.entries.begin(), s.entries.end(), seq,
                                  [](const StoredEntry& x, uint64_t v) { return x.seq < v; });
      StoredEntry* e = pos != s.entries.end() && pos->seq == seq ? &*pos : nullptr;
      if (packet_id == 0 || (e == nullptr && !released)) {
        drop(key);
        continue;
      }
      if (e == nullptr) {
        // A released QoS 2 message: only its packet id is left.
        StoredEntry r;
        r.seq = seq;
        r.qos = 2;
        r.packet_id = packet_id;
        r.released = true;
        s.entries.insert(pos, std::move(r));  // in seq order
      } else {
        e->packet_id = packet_id;
        e->released = released;
      }
    } else if (tag == kQos2 && rest.size() == 2 && value.empty()) {
      s.qos2_in.push_back(static_cast<uint16_t>(rest[0] << 8 | rest[1]));
    } else {
      drop(key);
    }
  }
  if (Status st = it->status(); !st.ok()) return st;
  for (uint64_t id : orphans) {
    found.erase(id);
    bad.DeleteRange(SessionKey(id, 0), SessionKey(id + 1, 0));
  }
  for (auto& [id, s] : found) state.sessions.push_back(std::move(s));

  const uint8_t retained_lo[] = {kRetained}, retained_hi[] = {kRetained + 1};
  it = db_->NewIterator(retained_lo, retained_hi);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto m = DecodeStoredMessage(it->value());
    if (!m.ok() || AsString(it->key().subspan(1)) != m->publish.topic) {
      drop(it->key());
      continue;
    }
    state.retained.push_back(std::move(*m));
  }
  if (Status st = it->status(); !st.ok()) return st;
  if (!bad.empty()) {
    if (Status st = db_->Write(bad); !st.ok()) return st;
  }
  return state;
}

void StateStore::PutSession(const StoredSession& s) {
  enc::Encoder e(64 + s.client_id.size());
  const bool will_expiry = s.will && s.will->properties.message_expiry;
  uint64_t flags = (s.username ? kHasUsername : 0) | (s.will ? kHasWill : 0) |
                   (s.disconnected_ms ? kDisconnected : 0) | (will_expiry ? kWillExpiry : 0);
  e.Uint(flags);
  e.Uint8(static_cast<uint8_t>(s.version));
  e.Uint32(s.expiry);
  e.String(s.client_id);
  if (s.username) e.String(*s.username);
  if (s.disconnected_ms) e.Int(*s.disconnected_ms);
  if (s.will) {
    e.Uint32(s.will->properties.will_delay.value_or(0));
    if (will_expiry) e.Uint32(*s.will->properties.message_expiry);
    e.Buffer(EncodeWill(*s.will));
  }
  batch_.Put(SessionKey(s.id, kRecord), e.bytes());
}

void StateStore::DeleteSession(uint64_t id) {
  batch_.DeleteRange(SessionKey(id, kRecord), SessionKey(id + 1, kRecord));
}

void StateStore::DeleteSessionContents(uint64_t id) {
  batch_.DeleteRange(SessionKey(id, kSubscription), SessionKey(id + 1, kRecord));
}

void StateStore::PutSubscription(uint64_t id, std::string_view filter, const SubOptions& o) {
  enc::Encoder e(8);
  e.Uint8(o.qos);
  e.Uint8(static_cast<uint8_t>((o.no_local ? 1 : 0) | (o.retain_as_published ? 2 : 0)));
  e.Uint8(o.retain_handling);
  e.Uint(o.subscription_id);
  batch_.Put(FilterKey(id, filter), e.bytes());
}

void StateStore::DeleteSubscription(uint64_t id, std::string_view filter) {
  batch_.Delete(FilterKey(id, filter));
}

void StateStore::PutEntry(uint64_t id, uint64_t seq, uint8_t qos, bool retain,
                          std::span<const uint32_t> subscription_ids, ByteView message) {
  enc::Encoder e(8 + 5 * subscription_ids.size());
  e.Uint8(qos);
  e.Bool(retain);
  e.Uint32Array(subscription_ids);
  batch_.Put(SeqKey(id, kEntry, seq), e.bytes(), message);
}

void StateStore::DeleteEntry(uint64_t id, uint64_t seq) { batch_.Delete(SeqKey(id, kEntry, seq)); }

void StateStore::PutDelivery(uint64_t id, uint64_t seq, uint16_t packet_id, bool released) {
  const uint8_t v[3] = {static_cast<uint8_t>(packet_id >> 8), static_cast<uint8_t>(packet_id),
                        static_cast<uint8_t>(released ? 1 : 0)};
  batch_.Put(SeqKey(id, kDelivery, seq), v);
}

void StateStore::DeleteDelivery(uint64_t id, uint64_t seq) {
  batch_.Delete(SeqKey(id, kDelivery, seq));
}

void StateStore::PutQos2(uint64_t id, uint16_t packet_id) {
  batch_.Put(Qos2Key(id, packet_id), ByteView());
}

void StateStore::DeleteQos2(uint64_t id, uint16_t packet_id) {
  batch_.Delete(Qos2Key(id, packet_id));
}

void StateStore::PutRetained(std::string_view topic, ByteView message) {
  batch_.Put(RetainedKey(topic), message);
}

void StateStore::DeleteRetained(std::string_view topic) { batch_.Delete(RetainedKey(topic)); }

Status StateStore::Commit() {
  if (batch_.empty()) return Status::OK();
  Status st = db_->Write(batch_);
  batch_.Clear();
  return st;
}

}  // namespace shoal::mqtt
