// Peering: a node's place in the swarm. It owns the node's peer identity,
// the Network (net/tcp.h) and the Replicator (repl/replicator.h), the logs
// the node follows, and the peers it keeps dialling.
//
//  * Identity: an Ed25519 key pair derived from the store's master seed
//    (BLAKE2b-256 keyed with the seed over "shoal/peer-identity"), so a node
//    keeps its public key across restarts.
//  * Follows: `Follow(key)` replicates a log read-only, live, from every
//    peer that has it, and records the key in the follows file (JSON, written
//    whole and renamed), so the node follows it again after a restart.
//    `FollowDrive(key)` does the same for a drive (a bucket): its db log, and
//    its blobs log as soon as the db log's manifest, which gives the blobs
//    log's key, has arrived.
//  * Static peers: `AddPeer(endpoint)` dials the peer and dials again after
//    1, 2, 4 … 30 s whenever the dial fails or the connection ends.
//  * Discovery (discovery/discovery.h), when configured: the node announces
//    on the DHT the discovery key of every log it has (listed again every
//    minute, without opening the logs), including those it follows, and looks up the ones it
//    follows, and dials every node found there or on the LAN as a peer.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "discovery/discovery.h"
#include "log/store.h"
#include "net/tcp.h"
#include "repl/replicator.h"

namespace shoal::node {

struct PeeringOptions {
  // Where to listen for peers; none: dial out only.
  std::optional<net::Endpoint> listen;
  // Peers to keep connected to.
  std::vector<net::Endpoint> peers;
  // The follows file; empty: follows are not remembered.
  std::string follows_path;
  int threads = 1;  // network threads
  // DHT and LAN discovery (peer_port and node_key are filled in).
  discovery::Options discovery;
};

// The peer identity a store's seed gives.
crypto::KeyPair PeerIdentity(const crypto::Seed& seed);

class Peering {
 public:
  static Result<std::unique_ptr<Peering>> Start(log::Store* store, const PeeringOptions& options);
  ~Peering();  // stops the network, then the replicator

  // The listening endpoint (port 0 resolved), if any.
  const std::optional<net::Endpoint>& endpoint() const { return endpoint_; }
  const crypto::PublicKey& public_key() const { return identity_.public_key; }

  // Follows the log with this key: a read-only replica, downloaded whole and
  // kept up to date. InvalidArgument for a log this node writes.
  Result<std::shared_ptr<log::Log>> Follow(const log::Key& key);
  // Follows the drive whose db log has this key, and its blobs log.
  Result<std::shared_ptr<log::Log>> FollowDrive(const log::Key& db_key);
  // Keeps a connection to `peer` (once per endpoint).
  void AddPeer(const net::Endpoint& peer);

  // The DHT node's endpoint, when one runs.
  std::optional<net::Endpoint> dht_endpoint() const;

  // Keys followed, in hex.
  std::vector<std::string> follows() const;
  std::vector<repl::PeerInfo> Peers() const { return replicator_->Peers(); }
  std::vector<repl::LogProgress> Progress() const { return replicator_->Progress(); }
  repl::Replicator& replicator() { return *replicator_; }
  net::Network& network() { return *network_; }

 private:
  Peering(log::Store* store, const PeeringOptions& options);
  void Dial(const net::Endpoint& peer, int attempt);
  void OnFound(const discovery::Found& found);
  // Announces every log in the store, and again every minute.
  void AnnounceAll();
  Result<std::shared_ptr<log::Log>> FollowLog(const log::Key& key, bool drive);
  // Follows the drive's blobs log once its db log has a manifest.
  void MaybeFollowBlobs(const std::shared_ptr<log::Log>& db);
  Status SaveFollows() const;  // with mu_ held

  log::Store* const store_;
  const PeeringOptions options_;
  const crypto::KeyPair identity_;
  std::unique_ptr<repl::Replicator> replicator_;
  std::unique_ptr<net::Network> network_;
  std::unique_ptr<discovery::Discovery> discovery_;
  std::optional<net::Endpoint> endpoint_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;
  std::map<std::string, bool> follows_;  // hex key → is a drive
  // Subscriptions to followed drives' db logs, for their blobs logs.
  std::map<std::string, std::pair<std::shared_ptr<log::Log>, uint64_t>> watches_;
  std::set<std::string> blobs_followed_;
  std::set<std::string> dialled_;  // endpoints
};

}  // namespace shoal::node
