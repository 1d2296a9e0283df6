// Replicator: Hypercore replication of a store's logs over a Network.
//
// Give Callbacks() to the net::Network; every connection then carries one
// channel per log the two sides share (protocol "hypercore/alpha", id = the
// log's discovery key, HYPERCORE.md §2d.4, docs/protocols/replication.md §4):
//
//  * A remote that opens a channel for a discovery key this store has gets
//    a peer at once; one it does not have is rejected. So every local log is
//    served to whoever knows its key.
//  * Follow(log) opens the log's channel on every connection, now and later,
//    downloads every block and keeps up as the writer appends (live).
//  * Download(log, start, end) fetches a range of blocks (sparse).
//
// What the replicator does is what the JS replicator does, message for
// message: the capability check, sync with the acknowledged remote length,
// eager signed upgrades (with the manifest for a new replica), range and
// bitfield announcements, want/unwant, block requests whose `nodes` is what
// the local tree lacks, up to kWindow requests in flight per peer, spread
// over every peer that has the blocks (each block is asked of one peer at a
// time), cancellation, and answers to every request (data or noData).
//
// A peer that sends anything that does not verify — a proof, a signature, a
// capability — or a message that does not decode is dropped: its connection
// is closed, and nothing it sent is stored (Log::ApplyProof stores nothing
// unless all of a proof verifies). Other peers carry on.
//
// Threading: each peer runs on its connection's strand. Received proofs are
// verified and stored on one worker thread of the Replicator's, in the order
// they came, so hashing and storing run beside reading and decrypting; the
// result goes back to the peer's strand. Per-log scheduling (which blocks are
// in flight where) is under a per-log mutex. Follow, Download, Peers and
// Progress may be called from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "log/store.h"
#include "net/tcp.h"

namespace shoal::repl {

class LogState;
class Session;
class Worker;

struct ReplicatorOptions {
  // Requests in flight per peer and log (JS uses 48 over TCP).
  size_t window = 64;
};

// What one connection replicates, for `shoal peers`.
struct PeerInfo {
  struct Channel {
    std::string key;          // hex
    bool synced = false;      // the remote has sent its sync
    uint64_t remote_length = 0;
    uint64_t remote_contiguous = 0;
    uint64_t inflight = 0;
    uint64_t blocks_down = 0, bytes_down = 0;
    uint64_t blocks_up = 0, bytes_up = 0;
  };
  std::string public_key;     // hex, the remote's Noise static key
  std::string address;
  bool initiator = false;     // this node dialled
  uint64_t bytes_sent = 0, bytes_received = 0;
  std::vector<Channel> channels;
};

// Download progress of one log, for `shoal peers --json` and the dashboard.
struct LogProgress {
  std::string key;            // hex
  std::string name;           // the local name, empty for a replica
  bool writable = false;
  bool following = false;
  uint64_t length = 0;
  uint64_t contiguous_length = 0;
  uint64_t stored_blocks = 0;  // blocks present, in [0, length)
  uint64_t byte_length = 0;
  size_t peers = 0;
};

class Replicator {
 public:
  explicit Replicator(log::Store* store, ReplicatorOptions options = {});
  ~Replicator();
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // The callbacks a Network must be built with. The Replicator must outlive
  // the Network (destroy the Network first).
  net::NetworkCallbacks Callbacks();

  // Downloads all of `log`, live, from every peer that has it.
  void Follow(const std::shared_ptr<log::Log>& log);
  // Downloads the blocks [start, end) of `log`; `done` (optional) runs once
  // they are all stored, on a network or replication thread.
  void Download(const std::shared_ptr<log::Log>& log, uint64_t start, uint64_t end,
                std::function<void()> done = nullptr);

  std::vector<PeerInfo> Peers() const;
  std::vector<LogProgress> Progress() const;

 private:
  friend class Session;
  friend class Peer;
  std::shared_ptr<LogState> StateFor(const std::shared_ptr<log::Log>& log);
  std::shared_ptr<LogState> FindState(const log::Hash& discovery_key);
  void OnOpen(const std::shared_ptr<net::Connection>& conn);
  void OnClose(const std::shared_ptr<net::Connection>& conn);
  void OnDrain(const std::shared_ptr<net::Connection>& conn);
  // Opens `state`'s channel on every connection (on their strands).
  void OpenEverywhere(const std::shared_ptr<LogState>& state);

  log::Store* const store_;
  const ReplicatorOptions options_;
  std::unique_ptr<Worker> worker_;  // applies received proofs
  mutable std::mutex mu_;
  std::map<log::Hash, std::shared_ptr<LogState>> logs_;  // by discovery key
  std::set<std::shared_ptr<net::Connection>> connections_;
};

}  // namespace shoal::repl
