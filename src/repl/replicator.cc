#include "repl/replicator.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <optional>
#include <thread>

#include "repl/block_set.h"
#include "repl/messages.h"

namespace shoal::repl {
namespace {

// A want covers one batch of blocks, as JS asks (WANT_BATCH in COMPAT mode).
constexpr uint64_t kWantBatch = uint64_t{1} << 21;
// After this many noData answers of one reason, a peer gets no more requests
// on this channel (JS pauses such a peer too).
constexpr int kMaxNoData = 32;
// After this many requests that cannot be answered, the connection closes.
constexpr int kMaxInvalidRequests = 64;
// Requests wait while more than this much output is queued for the socket.
constexpr size_t kServeBacklog = 8 << 20;
// A claim looks at most at this many missing blocks.
constexpr uint64_t kMaxScan = 1 << 16;
// Missing blocks looked up under one lock of the log while claiming.
constexpr size_t kScanChunk = 256;

bool IsPeerFault(const Status& st) {
  return st.IsVerificationFailed() || st.IsMalformed();
}

}  // namespace

// One thread that applies received proofs, in the order they came: the
// hashing and storing of blocks runs beside the connection's thread, which
// goes on reading, decrypting and requesting.
struct LogState;

// A proof for the worker to apply, and what to do with the outcome (called
// on the worker).
struct ApplyJob {
  std::shared_ptr<LogState> state;
  log::Proof proof;
  std::function<void(const Status&)> done;
};

// The thread that verifies and stores proofs, in the order they arrived.
// It takes what has queued up to kApplyBatch at a time, so one log's blocks
// are hashed together (Log::ApplyProofs).
class Worker {
 public:
  Worker() : thread_([this] { Run(); }) {}
  // Applies what is queued, then stops.
  ~Worker() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Post(ApplyJob job) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  static constexpr size_t kApplyBatch = 16;

  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ApplyJob> queue_;
  bool stop_ = false;
  std::thread thread_;
};

class Peer;

// What every connection replicating one log shares: which blocks are in
// flight (each is asked of one peer at a time), whether an upgrade is, and
// which ranges this node wants.
class LogState {
 public:
  explicit LogState(std::shared_ptr<log::Log> l) : log(std::move(l)) {}

  const std::shared_ptr<log::Log> log;
  uint64_t subscription = 0;

  std::mutex mu;
  bool following = false;
  struct Range {
    uint64_t start, end;
    std::function<void()> done;
  };
  std::vector<Range> ranges;
  std::set<uint64_t> claimed;
  bool upgrading = false;
  std::vector<std::weak_ptr<Peer>> peers;

  bool Downloading() {
    std::lock_guard lock(mu);
    return following || !ranges.empty();
  }

  // The next block to ask a peer for: wanted, in [0, limit), not stored, not
  // in flight, and one the peer has. `*lacking` gets the first wanted block
  // the peer does not have, so the caller can send a want.
  std::optional<uint64_t> Claim(const BlockSet& remote, uint64_t limit,
                                std::optional<uint64_t>* lacking) {
    std::lock_guard lock(mu);
    std::vector<std::pair<uint64_t, uint64_t>> targets;
    if (following) targets.emplace_back(0, limit);
    for (const Range& r : ranges) targets.emplace_back(r.start, std::min(r.end, limit));
    for (auto [start, end] : targets) {
      uint64_t scanned = 0;
      for (uint64_t from = start; from < end && scanned < kMaxScan;) {
        std::vector<uint64_t> missing = log->Missing(from, end, kScanChunk);
        if (missing.empty()) break;
        for (uint64_t i : missing) {
          if (scanned++ == kMaxScan) break;
          if (claimed.count(i)) continue;
          if (!remote.Has(i)) {
            if (!*lacking) *lacking = i;
            continue;
          }
          claimed.insert(i);
          return i;
        }
        from = missing.back() + 1;
      }
    }
    return std::nullopt;
  }

  // Gives back a request's claim: the upgrade, or block `index`.
  void Unclaim(bool upgrade, uint64_t index) {
    std::lock_guard lock(mu);
    if (upgrade) {
      upgrading = false;
    } else {
      claimed.erase(index);
    }
  }

  // Runs the `done` of every range now wholly stored.
  void FinishRanges() {
    std::vector<std::function<void()>> done;
    {
      std::lock_guard lock(mu);
      uint64_t contiguous = log->contiguous_length();
      for (auto it = ranges.begin(); it != ranges.end();) {
        bool complete = it->end <= contiguous ||
                        log->Missing(std::max(it->start, contiguous), it->end, 1).empty();
        if (complete) {
          if (it->done) done.push_back(std::move(it->done));
          it = ranges.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& fn : done) fn();
  }

  // Tells every peer of this log to look at it again (on its strand).
  void NotifyPeers();
};

void Worker::Run() {
  for (;;) {
    std::vector<ApplyJob> jobs;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      while (!queue_.empty() && jobs.size() < kApplyBatch) {
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    for (size_t i = 0; i < jobs.size();) {
      size_t end = i;
      std::vector<const log::Proof*> proofs;
      for (; end < jobs.size() && jobs[end].state == jobs[i].state; end++) {
        proofs.push_back(&jobs[end].proof);
      }
      std::vector<Status> results = jobs[i].state->log->ApplyProofs(proofs);
      for (size_t k = i; k < end; k++) jobs[k].done(results[k - i]);
      i = end;
    }
  }
}

class Session;

// One log replicated over one connection: a channel, and what the remote
// has told us. Everything but the atomics runs on the connection's strand.
class Peer : public net::ChannelHandler, public std::enable_shared_from_this<Peer> {
 public:
  Peer(std::shared_ptr<LogState> state, std::weak_ptr<net::Connection> conn, Session* session,
       Worker* worker, size_t window)
      : state_(std::move(state)),
        conn_(std::move(conn)),
        session_(session),
        worker_(worker),
        window_(window) {}

  Status OnOpen(net::Channel& channel, ByteView handshake) override;
  Status OnMessage(net::Channel& channel, uint64_t type, ByteView payload) override;
  void OnClose(net::Channel& channel, bool by_remote) override;

  // Our log changed (or a claim was released): announce and request.
  void OnLocalChange();
  // The socket drained: serve requests that waited.
  void OnDrain();
  // The worker has applied a proof this peer sent (`status`), on the strand.
  void OnApplied(bool upgrade, uint64_t index, const Status& status, bool block, size_t bytes);
  // What Peers() shows; on the strand, like everything else here.
  PeerInfo::Channel Info() const;

  const std::shared_ptr<LogState>& state() const { return state_; }
  std::weak_ptr<net::Connection> connection() const { return conn_; }
  std::atomic<bool> change_posted{false};

 private:
  struct Inflight {
    bool upgrade;
    uint64_t index;
  };

  Status OnSync(ByteView payload);
  Status OnRequest(ByteView payload);
  Status OnData(ByteView payload);
  Status OnNoData(ByteView payload);
  Status OnWant(ByteView payload);
  Status OnRange(ByteView payload);
  Status OnBitfield(ByteView payload);
  Status Serve(const Request& request);
  void Update();
  void SendSync();
  void Send(MessageType type, ByteView payload);
  bool CanUpgrade(uint64_t remote_length);
  // Forgets request `id`'s claim on the block or the upgrade.
  void Unclaim(const Inflight& req);
  uint64_t Clamp(uint64_t start, uint64_t length) const;

  const std::shared_ptr<LogState> state_;
  const std::weak_ptr<net::Connection> conn_;
  Session* const session_;
  Worker* const worker_;
  const size_t window_;
  size_t applying_ = 0;  // proofs received and not applied yet
  net::Channel* channel_ = nullptr;
  bool open_ = false;
  bool paused_ = false;

  // The remote, from its sync, range and bitfield messages.
  bool synced_ = false;
  uint64_t remote_fork_ = 0;
  uint64_t remote_length_ = 0;
  uint64_t length_acked_ = 0;
  bool remote_can_upgrade_ = false;
  bool remote_has_manifest_ = false;
  BlockSet remote_blocks_;
  std::optional<uint64_t> upgrade_refused_at_;  // remote length it said noData to

  std::map<uint64_t, Inflight> inflight_;
  uint64_t next_id_ = 1;
  std::set<uint64_t> wants_sent_;  // want batches
  std::deque<Request> waiting_;    // requests held while the socket is backed up
  int nodata_[3] = {0, 0, 0};
  int invalid_requests_ = 0;

  uint64_t last_sync_length_ = UINT64_MAX;
  uint64_t last_sync_fork_ = UINT64_MAX;
  uint64_t last_sync_remote_ = UINT64_MAX;
  uint64_t last_range_ = 0;
  std::optional<std::pair<uint64_t, bool>> can_upgrade_cache_;  // remote length, answer

  uint64_t blocks_down_ = 0, bytes_down_ = 0, blocks_up_ = 0, bytes_up_ = 0;
};

// The replication state of one connection, kept in its user_data.
class Session {
 public:
  Session(Replicator* r, std::weak_ptr<net::Connection> conn) : replicator_(r), conn_(std::move(conn)) {}

  // Strand only.
  void OpenChannel(const std::shared_ptr<LogState>& state);
  void OnPair(std::string_view protocol, const std::optional<Bytes>& id);
  void Forget(const log::Hash& discovery_key) {
    std::lock_guard lock(mu_);
    peers_.erase(discovery_key);
  }
  std::vector<std::shared_ptr<Peer>> peers() const {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<Peer>> out;
    for (auto& [dk, p] : peers_) out.push_back(p);
    return out;
  }

 private:
  Replicator* const replicator_;
  const std::weak_ptr<net::Connection> conn_;
  mutable std::mutex mu_;  // peers_ is changed on the strand, read by Peers()
  std::map<log::Hash, std::shared_ptr<Peer>> peers_;
};

void LogState::NotifyPeers() {
  std::vector<std::shared_ptr<Peer>> live;
  {
    std::lock_guard lock(mu);
    for (auto it = peers.begin(); it != peers.end();) {
      if (auto p = it->lock()) {
        live.push_back(std::move(p));
        ++it;
      } else {
        it = peers.erase(it);
      }
    }
  }
  for (auto& peer : live) {
    if (peer->change_posted.exchange(true)) continue;
    auto conn = peer->connection().lock();
    if (!conn) continue;
    conn->Post([peer] {
      peer->change_posted = false;
      peer->OnLocalChange();
    });
  }
}

// --- Peer -------------------------------------------------------------------

void Peer::Send(MessageType type, ByteView payload) {
  if (channel_ != nullptr) (void)channel_->Send(type, payload);
}

Status Peer::OnOpen(net::Channel& channel, ByteView handshake) {
  auto conn = conn_.lock();
  if (!conn) return Status::Aborted("connection gone");
  SHOAL_ASSIGN_OR_RETURN(Handshake hs, DecodeHandshake(handshake));
  const log::Log& log = *state_->log;
  log::Hash expected = log::ReplicateCapability(!conn->initiator(), log.key(), conn->handshake_hash());
  if (hs.capability != expected) {
    return Status::VerificationFailed("the peer's replication capability for log " +
                                      ToHex(log.discovery_key()) + " is wrong");
  }
  channel_ = &channel;
  open_ = true;
  {
    std::lock_guard lock(state_->mu);
    state_->peers.push_back(weak_from_this());
  }
  channel.mux().Cork();
  SendSync();
  uint64_t contiguous = std::min(log.contiguous_length(), log.length());
  if (contiguous > 0) {
    Send(kRange, EncodeRange({false, 0, contiguous}));
    last_range_ = contiguous;
  }
  channel.mux().Uncork();
  Update();
  return Status::OK();
}

void Peer::OnClose(net::Channel&, bool) {
  auto self = shared_from_this();  // the session's reference goes below
  open_ = false;
  channel_ = nullptr;
  bool released = !inflight_.empty();
  for (auto& [id, req] : inflight_) Unclaim(req);
  inflight_.clear();
  waiting_.clear();
  session_->Forget(state_->log->discovery_key());
  // Blocks this peer had in flight can go to the others now.
  if (released) state_->NotifyPeers();
}

void Peer::Unclaim(const Inflight& req) { state_->Unclaim(req.upgrade, req.index); }

Status Peer::OnMessage(net::Channel&, uint64_t type, ByteView payload) {
  if (!open_) return Status::OK();
  switch (type) {
    case kSync:
      return OnSync(payload);
    case kRequest:
      return OnRequest(payload);
    case kCancel: {
      SHOAL_ASSIGN_OR_RETURN(uint64_t id, DecodeCancel(payload));
      for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
        if (it->id == id) {
          waiting_.erase(it);
          break;
        }
      }
      return Status::OK();
    }
    case kData:
      return OnData(payload);
    case kNoData:
      return OnNoData(payload);
    case kWant:
      return OnWant(payload);
    case kUnwant:
      return DecodeWant(payload).status();  // nothing is kept per want
    case kBitfield:
      return OnBitfield(payload);
    case kRange:
      return OnRange(payload);
    case kExtension:
      return DecodeExtension(payload).status();  // no extensions are registered
    default:
      return Status::OK();  // unknown types are ignored, as in protomux
  }
}

bool Peer::CanUpgrade(uint64_t remote_length) {
  log::Log& log = *state_->log;
  uint64_t length = log.length();
  if (remote_fork_ != log.fork()) return false;
  if (remote_length == 0) return true;
  if (remote_length >= length) return false;
  if (log.writable()) return true;
  if (can_upgrade_cache_ && can_upgrade_cache_->first == remote_length) {
    return can_upgrade_cache_->second;
  }
  log::ProofRequest probe;
  probe.upgrade = log::ProofRequest::Upgrade{remote_length, length - remote_length};
  bool ok = log.MakeProof(probe).ok();
  can_upgrade_cache_ = {remote_length, ok};
  return ok;
}

void Peer::SendSync() {
  log::Log& log = *state_->log;
  uint64_t fork = log.fork();
  Sync m;
  m.fork = fork;
  m.length = log.length();
  m.remote_length = fork == remote_fork_ ? remote_length_ : 0;
  m.can_upgrade = CanUpgrade(remote_length_);
  m.uploading = true;
  m.downloading = state_->Downloading();
  m.has_manifest = log.manifest().has_value() && !log.compat();
  Send(kSync, EncodeSync(m));
  last_sync_length_ = m.length;
  last_sync_fork_ = fork;
  last_sync_remote_ = m.remote_length;
}

Status Peer::OnSync(ByteView payload) {
  SHOAL_ASSIGN_OR_RETURN(Sync m, DecodeSync(payload));
  log::Log& log = *state_->log;
  if (m.length != remote_length_) can_upgrade_cache_.reset();
  synced_ = true;
  remote_fork_ = m.fork;
  remote_length_ = m.length;
  remote_can_upgrade_ = m.can_upgrade;
  remote_has_manifest_ = m.has_manifest;
  length_acked_ = m.fork == log.fork() ? m.remote_length : 0;
  // Answer a shorter peer, so it learns we heard its length (JS needs the
  // echo before it asks for an upgrade).
  if (m.fork == log.fork() && log.length() > m.length) SendSync();
  Update();
  return Status::OK();
}

uint64_t Peer::Clamp(uint64_t start, uint64_t length) const {
  // Nobody has blocks past the longest length either side has announced.
  uint64_t limit = std::max(remote_length_, state_->log->length());
  if (start >= limit) return start;
  return start + std::min(length, limit - start);
}

Status Peer::OnRange(ByteView payload) {
  SHOAL_ASSIGN_OR_RETURN(Range m, DecodeRange(payload));
  uint64_t end = m.start == 0 && !m.drop ? m.start + m.length : Clamp(m.start, m.length);
  remote_blocks_.SetRange(m.start, end, !m.drop);
  if (!m.drop) Update();
  return Status::OK();
}

Status Peer::OnBitfield(ByteView payload) {
  SHOAL_ASSIGN_OR_RETURN(Bitfield m, DecodeBitfield(payload));
  if (remote_blocks_.SetWords(m.start, m.words)) {
    Update();
  }
  return Status::OK();
}

Status Peer::OnWant(ByteView payload) {
  SHOAL_ASSIGN_OR_RETURN(Want m, DecodeWant(payload));
  if (m.length > kWantBatch || paused_) return Status::OK();  // JS ignores these too
  log::Log& log = *state_->log;
  uint64_t length = log.length();
  uint64_t contiguous = std::min(log.contiguous_length(), length);
  channel_->mux().Cork();
  if (contiguous > 0) Send(kRange, EncodeRange({false, 0, contiguous}));
  // What lies past the contiguous part, as bitfield words (none when
  // everything is contiguous: a bitfield over the prefix would only make JS
  // lower its view of it).
  uint64_t start = std::max(m.start, contiguous) & ~uint64_t{31};
  uint64_t end = std::min(m.start + m.length, length);
  if (contiguous < length && start < end) {
    Bitfield bits;
    bits.start = start;
    bits.words.assign((end - start + 31) / 32, 0);
    for (uint64_t i = start; i < end; i++) {
      if (log.Has(i)) bits.words[(i - start) / 32] |= uint32_t{1} << ((i - start) % 32);
    }
    Send(kBitfield, EncodeBitfield(bits));
  }
  channel_->mux().Uncork();
  return Status::OK();
}

Status Peer::OnRequest(ByteView payload) {
  SHOAL_ASSIGN_OR_RETURN(Request m, DecodeRequest(payload));
  auto conn = conn_.lock();
  if (conn && (conn->pending_output() > kServeBacklog || !waiting_.empty())) {
    for (auto& w : waiting_) {
      if (w.id == m.id) {  // a repeated id replaces the request
        w = m;
        return Status::OK();
      }
    }
    waiting_.push_back(std::move(m));
    return Status::OK();
  }
  return Serve(m);
}

void Peer::OnDrain() {
  auto conn = conn_.lock();
  while (open_ && conn && !waiting_.empty() && conn->pending_output() <= kServeBacklog) {
    Request m = std::move(waiting_.front());
    waiting_.pop_front();
    Status st = Serve(m);
    if (!st.ok()) {
      conn->Close(st);
      return;
    }
  }
}

Status Peer::Serve(const Request& m) {
  log::Log& log = *state_->log;
  // A compat log's manifest is never sent, as in JS.
  std::optional<log::Manifest> manifest =
      m.manifest && !log.compat() ? log.manifest() : std::nullopt;
  auto not_available = [&] {
    if (manifest) {
      log::Proof only;
      only.fork = m.fork;
      only.manifest = manifest;
      Send(kData, log::EncodeProof(only, m.id));
    } else {
      Send(kNoData, EncodeNoData({m.id, NoData::kNotAvailable}));
    }
    return Status::OK();
  };
  if (m.fork != log.fork()) return not_available();
  if (m.proof.block && !log.Has(m.proof.block->index)) return not_available();

  const log::ProofRequest& p = m.proof;
  Result<log::Proof> proof = log::Proof{};
  if (p.block || p.hash || p.seek || p.upgrade) proof = log.MakeProof(p);
  if (!proof.ok()) {
    if (proof.status().IsNotFound()) return not_available();
    if (++invalid_requests_ >= kMaxInvalidRequests) {
      return Status::InvalidArgument("the peer sent " + std::to_string(kMaxInvalidRequests) +
                                     " requests that cannot be answered");
    }
    Send(kNoData, EncodeNoData({m.id, NoData::kInvalidRequest}));
    return Status::OK();
  }
  proof->fork = m.fork;
  if (manifest) proof->manifest = manifest;
  if (proof->block) {
    blocks_up_++;
    bytes_up_ += proof->block->value.size();
  }
  // The block's bytes go from the proof to the output buffer in one copy.
  Bytes head, tail;
  ByteView value = log::EncodeProofParts(*proof, m.id, &head, &tail);
  const ByteView parts[] = {head, value, tail};
  if (channel_ != nullptr) (void)channel_->Send(kData, parts);
  return Status::OK();
}

Status Peer::OnData(ByteView payload) {
  uint64_t id = 0;
  SHOAL_ASSIGN_OR_RETURN(log::Proof proof, log::DecodeProof(payload, &id));
  auto it = inflight_.find(id);
  if (it == inflight_.end()) return Status::OK();  // not asked for: ignored, as JS does
  Inflight req = it->second;
  inflight_.erase(it);
  bool matches = req.upgrade ? proof.upgrade.has_value()
                             : (proof.block && proof.block->index == req.index && !proof.upgrade);
  if (!matches) {
    // Another block, or an upgrade not asked for: as if it were noData.
    Unclaim(req);
    if (!req.upgrade) remote_blocks_.SetRange(req.index, req.index + 1, false);
    state_->NotifyPeers();
    return Status::OK();
  }
  // Verified and stored on the worker; the answer comes back to the strand.
  applying_++;
  bool block = proof.block.has_value();
  size_t bytes = block ? proof.block->value.size() : 0;
  worker_->Post({state_, std::move(proof),
                 [self = weak_from_this(), state = state_, conn = conn_, req, block,
                  bytes](const Status& st) {
                   state->Unclaim(req.upgrade, req.index);
                   if (st.ok() && block) state->FinishRanges();
                   // Every peer looks again: the block is here (a range
                   // announces it), or it is free to ask elsewhere.
                   state->NotifyPeers();
                   auto c = conn.lock();
                   if (!c) return;
                   c->Post([self, req, st, block, bytes] {
                     if (auto p = self.lock()) p->OnApplied(req.upgrade, req.index, st, block, bytes);
                   });
                 }});
  return Status::OK();
}

void Peer::OnApplied(bool upgrade, uint64_t index, const Status& st, bool block, size_t bytes) {
  applying_--;
  if (!open_) return;
  if (!st.ok()) {
    auto conn = conn_.lock();
    if (IsPeerFault(st)) {
      if (conn) conn->Close(st.WithContext("log " + ToHex(state_->log->discovery_key()) + ": the peer's data"));
      return;
    }
    // A fork change or a storage error: try again later, maybe elsewhere.
    spdlog::warn("replication of {}: {}", ToHex(state_->log->discovery_key()), st.ToString());
    if (!upgrade) remote_blocks_.SetRange(index, index + 1, false);
  } else if (block) {
    blocks_down_++;
    bytes_down_ += bytes;
  }
  Update();
}

Status Peer::OnNoData(ByteView payload) {
  SHOAL_ASSIGN_OR_RETURN(NoData m, DecodeNoData(payload));
  auto it = inflight_.find(m.request);
  if (it == inflight_.end()) return Status::OK();
  Inflight req = it->second;
  inflight_.erase(it);
  Unclaim(req);
  if (req.upgrade) {
    upgrade_refused_at_ = remote_length_;
  } else {
    remote_blocks_.SetRange(req.index, req.index + 1, false);
  }
  if ((m.reason == NoData::kNotAvailable || m.reason == NoData::kInvalidRequest) &&
      ++nodata_[m.reason] >= kMaxNoData) {
    paused_ = true;
  }
  state_->NotifyPeers();  // another peer may have it
  return Status::OK();
}

void Peer::OnLocalChange() {
  if (!open_) return;
  log::Log& log = *state_->log;
  uint64_t length = log.length(), fork = log.fork();
  channel_->mux().Cork();
  if (length != last_sync_length_ || fork != last_sync_fork_) SendSync();
  uint64_t contiguous = std::min(log.contiguous_length(), length);
  if (contiguous > last_range_) {
    Send(kRange, EncodeRange({false, 0, contiguous}));
    last_range_ = contiguous;
  }
  channel_->mux().Uncork();
  Update();
}

void Peer::Update() {
  if (!open_ || paused_) return;
  log::Log& log = *state_->log;
  uint64_t length = log.length(), fork = log.fork();

  // Upgrade eagerly, as JS does, when a peer that can prove a longer signed
  // length has heard ours.
  if (!log.writable() && synced_ && remote_can_upgrade_ && remote_length_ > length &&
      length_acked_ == length && (length == 0 || remote_fork_ == fork) &&
      upgrade_refused_at_ != remote_length_) {
    bool mine = false;
    {
      std::lock_guard lock(state_->mu);
      if (!state_->upgrading) mine = state_->upgrading = true;
    }
    if (mine) {
      Request r;
      r.id = next_id_++;
      r.fork = remote_fork_;
      r.proof.upgrade = log::ProofRequest::Upgrade{length, remote_length_ - length};
      r.manifest = !log.manifest() && remote_has_manifest_;
      inflight_[r.id] = Inflight{true, 0};
      Send(kRequest, EncodeRequest(r));
    }
  }

  if (remote_fork_ != fork || !state_->Downloading()) {
    return;
  }
  uint64_t limit = std::min(length, remote_length_);
  std::optional<uint64_t> lacking;
  bool corked = false;
  while (inflight_.size() + applying_ < window_) {
    std::optional<uint64_t> index = state_->Claim(remote_blocks_, limit, &lacking);
    if (!index) break;
    if (!corked) {
      channel_->mux().Cork();
      corked = true;
    }
    Request r;
    r.id = next_id_++;
    r.fork = fork;
    Result<uint64_t> nodes = log.MissingNodes(*index);
    r.proof.block = log::ProofRequest::Indexed{*index, nodes.ok() ? *nodes : 0};
    inflight_[r.id] = Inflight{false, *index};
    Send(kRequest, EncodeRequest(r));
  }
  // Ask for what the remote has not said it has, a batch at a time.
  if (lacking && *lacking >= remote_blocks_.contiguous()) {
    uint64_t batch = *lacking / kWantBatch;
    if (wants_sent_.insert(batch).second) {
      Send(kWant, EncodeWant({batch * kWantBatch, kWantBatch, false}));
    }
  }
  if (corked) channel_->mux().Uncork();
}

PeerInfo::Channel Peer::Info() const {
  PeerInfo::Channel c;
  c.key = ToHex(state_->log->key());
  c.synced = synced_;
  c.remote_length = remote_length_;
  c.remote_contiguous = remote_blocks_.contiguous();
  c.inflight = inflight_.size() + applying_;
  c.blocks_down = blocks_down_;
  c.bytes_down = bytes_down_;
  c.blocks_up = blocks_up_;
  c.bytes_up = bytes_up_;
  return c;
}

// --- Session ----------------------------------------------------------------

void Session::OpenChannel(const std::shared_ptr<LogState>& state) {
  auto conn = conn_.lock();
  if (!conn || !conn->open()) return;
  const log::Log& log = *state->log;
  {
    std::lock_guard lock(mu_);
    if (peers_.count(log.discovery_key())) return;
  }
  auto peer = std::make_shared<Peer>(state, conn_, this, replicator_->worker_.get(),
                                     replicator_->options_.window);
  {
    std::lock_guard lock(mu_);
    peers_[log.discovery_key()] = peer;
  }
  Handshake hs;
  hs.seeks = true;
  hs.capability = log::ReplicateCapability(conn->initiator(), log.key(), conn->handshake_hash());
  const log::Hash& dk = log.discovery_key();
  net::Channel* channel = conn->mux().Open(std::string(kProtocol), Bytes(dk.begin(), dk.end()),
                                           EncodeHandshake(hs), peer.get());
  if (channel == nullptr) Forget(dk);
}

void Session::OnPair(std::string_view protocol, const std::optional<Bytes>& id) {
  if (protocol != kProtocol || !id || id->size() != 32) return;  // rejected
  log::Hash dk;
  std::memcpy(dk.data(), id->data(), dk.size());
  std::shared_ptr<LogState> state = replicator_->FindState(dk);
  if (!state) {
    auto log = replicator_->store_->OpenLogByDiscoveryKey(dk);
    if (!log.ok()) return;  // not a log of ours: rejected
    state = replicator_->StateFor(*log);
  }
  OpenChannel(state);
}

// --- Replicator -------------------------------------------------------------

Replicator::Replicator(log::Store* store, ReplicatorOptions options)
    : store_(store), options_(options), worker_(std::make_unique<Worker>()) {}

Replicator::~Replicator() {
  worker_.reset();  // applies what it holds first
  std::map<log::Hash, std::shared_ptr<LogState>> logs;
  {
    std::lock_guard lock(mu_);
    logs.swap(logs_);
  }
  for (auto& [dk, state] : logs) state->log->Unsubscribe(state->subscription);
}

net::NetworkCallbacks Replicator::Callbacks() {
  net::NetworkCallbacks cb;
  cb.on_open = [this](const std::shared_ptr<net::Connection>& conn) { OnOpen(conn); };
  cb.on_close = [this](const std::shared_ptr<net::Connection>& conn, const Status& why) {
    if (!why.ok() && why.code() != Status::Code::kAborted) {
      spdlog::info("peer {} closed: {}", conn->remote_address(), why.ToString());
    }
    OnClose(conn);
  };
  cb.on_drain = [this](const std::shared_ptr<net::Connection>& conn) { OnDrain(conn); };
  return cb;
}

std::shared_ptr<LogState> Replicator::FindState(const log::Hash& dk) {
  std::lock_guard lock(mu_);
  auto it = logs_.find(dk);
  return it == logs_.end() ? nullptr : it->second;
}

std::shared_ptr<LogState> Replicator::StateFor(const std::shared_ptr<log::Log>& log) {
  std::lock_guard lock(mu_);
  auto& slot = logs_[log->discovery_key()];
  if (!slot) {
    slot = std::make_shared<LogState>(log);
    std::weak_ptr<LogState> weak = slot;
    slot->subscription = log->Subscribe([weak] {
      if (auto s = weak.lock()) s->NotifyPeers();
    });
  }
  return slot;
}

void Replicator::OnOpen(const std::shared_ptr<net::Connection>& conn) {
  auto session = std::make_shared<Session>(this, conn);
  conn->user_data = session;
  Session* s = session.get();
  conn->mux().SetPairHandler(
      [s](std::string_view protocol, const std::optional<Bytes>& id) { s->OnPair(protocol, id); });
  std::vector<std::shared_ptr<LogState>> active;
  {
    std::lock_guard lock(mu_);
    connections_.insert(conn);
    for (auto& [dk, state] : logs_) {
      if (state->Downloading()) active.push_back(state);
    }
  }
  conn->mux().Cork();
  for (auto& state : active) s->OpenChannel(state);
  conn->mux().Uncork();
}

void Replicator::OnClose(const std::shared_ptr<net::Connection>& conn) {
  std::lock_guard lock(mu_);
  connections_.erase(conn);
}

void Replicator::OnDrain(const std::shared_ptr<net::Connection>& conn) {
  auto session = std::static_pointer_cast<Session>(conn->user_data);
  if (!session) return;
  for (auto& peer : session->peers()) peer->OnDrain();
}

void Replicator::OpenEverywhere(const std::shared_ptr<LogState>& state) {
  std::vector<std::shared_ptr<net::Connection>> conns;
  {
    std::lock_guard lock(mu_);
    conns.assign(connections_.begin(), connections_.end());
  }
  for (auto& conn : conns) {
    std::weak_ptr<net::Connection> weak = conn;
    conn->Post([weak, state] {
      auto c = weak.lock();
      if (!c) return;
      if (auto session = std::static_pointer_cast<Session>(c->user_data)) session->OpenChannel(state);
    });
  }
  state->NotifyPeers();  // channels already open start downloading
}

void Replicator::Follow(const std::shared_ptr<log::Log>& log) {
  auto state = StateFor(log);
  {
    std::lock_guard lock(state->mu);
    state->following = true;
  }
  OpenEverywhere(state);
}

void Replicator::Download(const std::shared_ptr<log::Log>& log, uint64_t start, uint64_t end,
                          std::function<void()> done) {
  auto state = StateFor(log);
  {
    std::lock_guard lock(state->mu);
    state->ranges.push_back({start, end, std::move(done)});
  }
  state->FinishRanges();  // it may be stored already
  OpenEverywhere(state);
}

std::vector<PeerInfo> Replicator::Peers() const {
  std::vector<std::shared_ptr<net::Connection>> conns;
  {
    std::lock_guard lock(mu_);
    conns.assign(connections_.begin(), connections_.end());
  }
  std::vector<PeerInfo> out;
  for (auto& conn : conns) {
    auto info = std::make_shared<std::promise<PeerInfo>>();
    auto result = info->get_future();
    std::weak_ptr<net::Connection> weak = conn;
    conn->Post([weak, info] {
      PeerInfo p;
      if (auto c = weak.lock()) {
        p.public_key = ToHex(c->remote_public_key());
        p.address = c->remote_address();
        p.initiator = c->initiator();
        p.bytes_sent = c->bytes_sent();
        p.bytes_received = c->bytes_received();
        if (auto session = std::static_pointer_cast<Session>(c->user_data)) {
          for (auto& peer : session->peers()) p.channels.push_back(peer->Info());
        }
      }
      info->set_value(std::move(p));
    });
    if (result.wait_for(std::chrono::seconds(2)) == std::future_status::ready) {
      out.push_back(result.get());
    }
  }
  return out;
}

std::vector<LogProgress> Replicator::Progress() const {
  std::vector<std::shared_ptr<LogState>> states;
  {
    std::lock_guard lock(mu_);
    for (auto& [dk, s] : logs_) states.push_back(s);
  }
  std::vector<LogProgress> out;
  for (auto& s : states) {
    LogProgress p;
    const log::Log& log = *s->log;
    p.key = ToHex(log.key());
    p.name = log.name();
    p.writable = log.writable();
    p.length = log.length();
    p.contiguous_length = log.contiguous_length();
    p.stored_blocks = log.stored_blocks();
    p.byte_length = log.byte_length();
    {
      std::lock_guard lock(s->mu);
      p.following = s->following;
      for (auto& w : s->peers) p.peers += w.expired() ? 0 : 1;
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace shoal::repl
