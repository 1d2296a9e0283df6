#include "net/mux.h"

namespace shoal::net {
namespace {

constexpr uint64_t kBatch = 0, kOpen = 1, kReject = 2, kClose = 3;

}  // namespace

Status Channel::Send(uint64_t type, std::span<const ByteView> payload) {
  return mux_->SendFrame(local_id_, type, payload);
}

void Channel::Close() { mux_->CloseLocal(this); }

Mux::Mux(SendFn send) : send_(std::move(send)) {}

Mux::~Mux() = default;

std::string Mux::Key(std::string_view protocol, const std::optional<Bytes>& id) {
  std::string key(protocol);
  key += "##";
  if (id) key += ToHex(*id);
  return key;
}

Channel* Mux::Open(std::string protocol, std::optional<Bytes> id, ByteView handshake,
                   ChannelHandler* handler) {
  std::string key = Key(protocol, id);
  if (by_key_.count(key)) return nullptr;
  uint64_t local_id;
  if (!free_.empty()) {
    local_id = free_.back();
    free_.pop_back();
  } else {
    local_.push_back(nullptr);
    local_id = local_.size();
  }
  auto owned = std::unique_ptr<Channel>(new Channel(this, protocol, id, handler));
  Channel* ch = owned.get();
  ch->local_id_ = local_id;
  local_[local_id - 1] = ch;
  by_key_[key] = std::move(owned);

  enc::Encoder e;
  e.Uint(local_id);
  e.String(protocol);
  e.OptionalBuffer(id ? &*id : nullptr);
  e.Raw(handshake);
  Status st = SendFrame(0, kOpen, e.Take());

  auto pending = pending_.find(key);
  if (pending != pending_.end()) {
    Pending p = std::move(pending->second);
    pending_.erase(pending);
    if (st.ok()) st = Pair(ch, p.remote_id, p.handshake);
  } else {
    outgoing_[key].push_back(local_id);
  }
  if (!st.ok() && deferred_.ok()) deferred_ = st;
  return ch;
}

Status Mux::Pair(Channel* ch, uint64_t remote_id, ByteView handshake) {
  ch->remote_id_ = remote_id;
  remote_[remote_id - 1] = ch;
  remote_open_++;
  return ch->handler_->OnOpen(*ch, handshake);
}

void Mux::Drop(Channel* ch, bool by_remote) {
  if (ch->remote_id_ != 0) {
    remote_[ch->remote_id_ - 1] = nullptr;
    remote_open_--;
    free_.push_back(ch->local_id_);
  }
  local_[ch->local_id_ - 1] = nullptr;
  auto it = by_key_.find(Key(ch->protocol_, ch->id_));
  std::unique_ptr<Channel> owned = std::move(it->second);
  by_key_.erase(it);
  ch->handler_->OnClose(*ch, by_remote);
}

void Mux::CloseLocal(Channel* ch) {
  (void)SendControl(kClose, ch->local_id_);
  Drop(ch, false);
}

void Mux::CloseAll() {
  while (!by_key_.empty()) Drop(by_key_.begin()->second.get(), true);
  outgoing_.clear();
  pending_.clear();
}

Status Mux::Receive(ByteView frame) {
  if (frame.empty()) return Status::OK();  // protomux ignores empty frames
  enc::Decoder d(frame);
  uint64_t channel = d.Uint();
  uint64_t type = d.Uint();
  SHOAL_RETURN_IF_ERROR(d.status());
  Status st = channel == 0 ? Control(type, d) : Dispatch(channel, type, d.Raw());
  if (st.ok() && !deferred_.ok()) st = std::exchange(deferred_, Status::OK());
  return st;
}

Status Mux::Control(uint64_t type, enc::Decoder& d) {
  switch (type) {
    case kBatch:
      return OnBatch(d);
    case kOpen:
      return OnOpenMessage(d);
    case kReject: {
      uint64_t local_id = d.Uint();
      SHOAL_RETURN_IF_ERROR(d.status());
      return OnReject(local_id);
    }
    case kClose: {
      uint64_t remote_id = d.Uint();
      SHOAL_RETURN_IF_ERROR(d.status());
      OnCloseMessage(remote_id);
      return Status::OK();
    }
    default:
      return Status::OK();  // unknown control messages are ignored, as in protomux
  }
}

Status Mux::OnBatch(enc::Decoder& d) {
  uint64_t channel = d.Uint();
  SHOAL_RETURN_IF_ERROR(d.status());
  // Replies to a batch go out as one batch.
  Cork();
  Status st;
  while (st.ok() && !d.done()) {
    uint64_t len = d.Uint();
    if (len == 0) {
      channel = d.Uint();
      st = d.status();
      continue;
    }
    ByteView item = d.Take(len);
    st = d.status();
    if (!st.ok()) break;
    enc::Decoder di(item);
    uint64_t type = di.Uint();
    st = di.status();
    if (!st.ok()) break;
    st = channel == 0 ? Control(type, di) : Dispatch(channel, type, di.Raw());
  }
  Uncork();
  return st;
}

Status Mux::Dispatch(uint64_t remote_id, uint64_t type, ByteView payload) {
  Channel* ch = remote_id <= remote_.size() ? remote_[remote_id - 1] : nullptr;
  if (ch == nullptr) return Status::OK();  // closed or never opened: ignored
  return ch->handler_->OnMessage(*ch, type, payload);
}

Status Mux::OnOpenMessage(enc::Decoder& d) {
  uint64_t remote_id = d.Uint();
  std::string protocol(d.String());
  ByteView id_bytes = d.Buffer();
  ByteView handshake = d.Raw();
  SHOAL_RETURN_IF_ERROR(d.status());
  std::optional<Bytes> id;
  if (!id_bytes.empty()) id = Bytes(id_bytes.begin(), id_bytes.end());

  if (remote_id == 0) return Status::OK();  // the control channel cannot be opened: ignored
  if (remote_id == remote_.size() + 1) remote_.push_back(nullptr);
  if (remote_id > remote_.size() || remote_[remote_id - 1] != nullptr) {
    return Status::Malformed("protomux: an open on a channel id already in use");
  }
  if (remote_open_ >= kMaxChannels) return Status::Malformed("protomux: too many channels");

  std::string key = Key(protocol, id);
  auto out = outgoing_.find(key);
  if (out != outgoing_.end()) {
    uint64_t local_id = out->second.front();
    out->second.pop_front();
    if (out->second.empty()) outgoing_.erase(out);
    Channel* ch = local_[local_id - 1];
    if (ch == nullptr) {  // closed here before the remote answered
      free_.push_back(local_id);
      return Status::OK();
    }
    return Pair(ch, remote_id, handshake);
  }

  if (pending_.count(key)) return Status::Malformed("protomux: a second open of the same channel");
  pending_[key] = Pending{remote_id, Bytes(handshake.begin(), handshake.end())};
  if (pair_) pair_(protocol, id);
  auto still = pending_.find(key);
  if (still == pending_.end()) return Status::OK();  // accepted
  pending_.erase(still);
  return SendControl(kReject, remote_id);
}

Status Mux::OnReject(uint64_t local_id) {
  for (auto it = outgoing_.begin(); it != outgoing_.end(); ++it) {
    auto& ids = it->second;
    for (auto pos = ids.begin(); pos != ids.end(); ++pos) {
      if (*pos != local_id) continue;
      ids.erase(pos);
      if (ids.empty()) outgoing_.erase(it);
      free_.push_back(local_id);
      if (Channel* ch = local_[local_id - 1]) Drop(ch, true);
      return Status::OK();
    }
  }
  return Status::Malformed("protomux: a reject for a channel that is not waiting");
}

void Mux::OnCloseMessage(uint64_t remote_id) {
  if (remote_id == 0 || remote_id > remote_.size()) return;
  if (Channel* ch = remote_[remote_id - 1]) Drop(ch, true);
}

Status Mux::SendControl(uint64_t type, uint64_t value) {
  enc::Encoder e;
  e.Uint(value);
  return SendFrame(0, type, e.Take());
}

Status Mux::SendFrame(uint64_t local_id, uint64_t type, std::span<const ByteView> payload) {
  size_t size = 0;
  for (ByteView part : payload) size += part.size();
  if (corked_ > 0 && size >= kBatchFlush) {
    // Too big to wait in a batch: what is batched goes first, then this.
    SHOAL_RETURN_IF_ERROR(FlushBatch());
  } else if (corked_ > 0) {
    if (batch_.empty()) {
      enc::Encoder e;
      e.Uint(0);
      e.Uint(kBatch);
      e.Uint(local_id);
      batch_ = e.Take();
      batch_channel_ = local_id;
    } else if (batch_channel_ != local_id) {
      enc::Encoder e;
      e.Uint(0);
      e.Uint(local_id);
      Bytes b = e.Take();
      batch_.insert(batch_.end(), b.begin(), b.end());
      batch_channel_ = local_id;
    }
    enc::Encoder e;
    e.Uint(enc::UintSize(type) + size);
    e.Uint(type);
    Bytes head = e.Take();
    batch_.insert(batch_.end(), head.begin(), head.end());
    for (ByteView part : payload) batch_.insert(batch_.end(), part.begin(), part.end());
    if (batch_.size() >= kBatchFlush) return FlushBatch();
    return Status::OK();
  }
  enc::Encoder e(18);
  e.Uint(local_id);
  e.Uint(type);
  Bytes head = e.Take();
  std::vector<ByteView> frame;
  frame.reserve(1 + payload.size());
  frame.push_back(head);
  frame.insert(frame.end(), payload.begin(), payload.end());
  return send_(frame);
}

Status Mux::FlushBatch() {
  if (batch_.empty()) return Status::OK();
  Bytes batch = std::move(batch_);
  batch_.clear();
  ByteView view = batch;
  return send_(std::span<const ByteView>(&view, 1));
}

void Mux::Cork() { corked_++; }

void Mux::Uncork() {
  if (corked_ > 0 && --corked_ == 0) {
    Status st = FlushBatch();
    if (!st.ok() && deferred_.ok()) deferred_ = st;
  }
}

}  // namespace shoal::net
