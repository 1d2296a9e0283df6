#include "node/peering.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "blob/drive.h"
#include "crypto/hash.h"

namespace shoal::node {

crypto::KeyPair PeerIdentity(const crypto::Seed& seed) {
  return crypto::KeyPairFromSeed(crypto::Blake2b256Keyed(seed, {AsBytes("shoal/peer-identity")}));
}

Peering::Peering(log::Store* store, const PeeringOptions& options)
    : store_(store), options_(options), identity_(PeerIdentity(store->seed())) {}

Result<std::unique_ptr<Peering>> Peering::Start(log::Store* store, const PeeringOptions& options) {
  std::unique_ptr<Peering> p(new Peering(store, options));
  // The follows file first: a node resumes what it followed.
  std::vector<std::pair<log::Key, bool>> keys;
  if (!options.follows_path.empty()) {
    std::ifstream f(options.follows_path);
    if (f) {
      std::stringstream text;
      text << f.rdbuf();
      auto j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
      if (!j.is_object() || !j.contains("follows") || !j["follows"].is_array()) {
        return Status::Corruption(options.follows_path + " is not a follows file");
      }
      for (const auto& f : j["follows"]) {
        std::optional<log::Key> key;
        if (f.is_object() && f.contains("key") && f["key"].is_string()) {
          key = FixedFromHex<32>(f["key"].get<std::string>());
        }
        if (!key) return Status::Corruption(options.follows_path + " holds an entry without a key");
        keys.emplace_back(*key, f.value("drive", false));
      }
    }
  }
  p->replicator_ = std::make_unique<repl::Replicator>(store);
  p->network_ = std::make_unique<net::Network>(p->identity_, p->replicator_->Callbacks(), options.threads);
  if (options.listen) {
    SHOAL_ASSIGN_OR_RETURN(p->endpoint_, p->network_->Listen(*options.listen));
  }
  if (options.discovery.dht_listen || options.discovery.lan) {
    discovery::Options d = options.discovery;
    d.peer_port = p->endpoint_ ? p->endpoint_->port : 0;
    d.node_key = p->identity_.public_key;
    Peering* raw = p.get();
    SHOAL_ASSIGN_OR_RETURN(p->discovery_, discovery::Discovery::Start(d, [raw](const discovery::Found& f) {
                             raw->OnFound(f);
                           }));
    p->AnnounceAll();
  }
  for (const auto& [key, drive] : keys) SHOAL_RETURN_IF_ERROR(p->FollowLog(key, drive).status());
  for (const net::Endpoint& peer : options.peers) p->AddPeer(peer);
  return p;
}

Peering::~Peering() {
  stopping_ = true;
  discovery_.reset();
  // No notification may reach the network once it is gone.
  std::map<std::string, std::pair<std::shared_ptr<log::Log>, uint64_t>> watches;
  {
    std::lock_guard lock(mu_);
    watches.swap(watches_);
  }
  for (auto& [hex, watch] : watches) watch.first->Unsubscribe(watch.second);
  network_.reset();
  replicator_.reset();
}

Result<std::shared_ptr<log::Log>> Peering::Follow(const log::Key& key) { return FollowLog(key, false); }

Result<std::shared_ptr<log::Log>> Peering::FollowDrive(const log::Key& db_key) {
  return FollowLog(db_key, true);
}

Result<std::shared_ptr<log::Log>> Peering::FollowLog(const log::Key& key, bool drive) {
  SHOAL_ASSIGN_OR_RETURN(std::shared_ptr<log::Log> log, store_->OpenLogByKey(key, /*create=*/true));
  if (log->writable()) return Status::InvalidArgument("log " + ToHex(key) + " is written by this node");
  {
    std::lock_guard lock(mu_);
    auto [it, added] = follows_.emplace(ToHex(key), drive);
    if (added || (drive && !it->second)) {
      it->second = it->second || drive;
      SHOAL_RETURN_IF_ERROR(SaveFollows());
    }
  }
  replicator_->Follow(log);
  if (discovery_) {
    discovery_->Announce(log->discovery_key());
    discovery_->Lookup(log->discovery_key());
  }
  if (drive) {
    std::weak_ptr<log::Log> weak = log;
    bool watching;
    {
      std::lock_guard lock(mu_);
      watching = watches_.count(ToHex(key)) > 0;
    }
    if (!watching) {
      uint64_t id = log->Subscribe([this, weak] {
        if (stopping_) return;
        // Not from inside the log's notification: on a network thread.
        network_->RunAfter(std::chrono::milliseconds(0), [this, weak] {
          if (auto db = weak.lock()) MaybeFollowBlobs(db);
        });
      });
      std::lock_guard lock(mu_);
      watches_.emplace(ToHex(key), std::make_pair(log, id));
    }
    MaybeFollowBlobs(log);
  }
  return log;
}

void Peering::MaybeFollowBlobs(const std::shared_ptr<log::Log>& db) {
  if (stopping_) return;
  auto manifest = db->manifest();
  if (!manifest) return;
  {
    std::lock_guard lock(mu_);
    if (!blobs_followed_.insert(ToHex(db->key())).second) return;
  }
  auto blobs = store_->OpenLogByKey(blob::ContentKey(*manifest, db->key()), /*create=*/true);
  if (!blobs.ok()) return;
  replicator_->Follow(*blobs);
  if (discovery_) {
    discovery_->Announce((*blobs)->discovery_key());
    discovery_->Lookup((*blobs)->discovery_key());
  }
}

std::optional<net::Endpoint> Peering::dht_endpoint() const {
  return discovery_ ? discovery_->dht_endpoint() : std::nullopt;
}

void Peering::OnFound(const discovery::Found& found) {
  if (stopping_) return;
  // Our own announcement, seen from the DHT.
  if (endpoint_ && found.endpoint.port == endpoint_->port &&
      (found.endpoint.host == endpoint_->host || found.endpoint.host == "127.0.0.1" ||
       found.endpoint.host == "::1")) {
    return;
  }
  AddPeer(found.endpoint);
}

void Peering::AnnounceAll() {
  if (stopping_ || !discovery_) return;
  auto keys = store_->ListDiscoveryKeys();
  if (keys.ok()) {
    for (const log::Hash& dk : *keys) discovery_->Announce(dk);
  }
  network_->RunAfter(std::chrono::seconds(60), [this] { AnnounceAll(); });
}

std::vector<std::string> Peering::follows() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (auto& [k, drive] : follows_) out.push_back(k);
  return out;
}

Status Peering::SaveFollows() const {
  if (options_.follows_path.empty()) return Status::OK();
  nlohmann::json j;
  j["follows"] = nlohmann::json::array();
  for (const auto& [k, drive] : follows_) j["follows"].push_back({{"key", k}, {"drive", drive}});
  std::string tmp = options_.follows_path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << j.dump(2) << "\n";
    f.flush();
    if (!f) return Status::IOError("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), options_.follows_path.c_str()) != 0) {
    return Status::IOError("cannot rename " + tmp);
  }
  return Status::OK();
}

void Peering::AddPeer(const net::Endpoint& peer) {
  {
    std::lock_guard lock(mu_);
    if (!dialled_.insert(peer.ToString()).second) return;
  }
  Dial(peer, 0);
}

void Peering::Dial(const net::Endpoint& peer, int attempt) {
  if (stopping_) return;
  network_->Connect(peer, [this, peer, attempt](const Status&) {
    if (stopping_) return;
    // 1, 2, 4, … 30 s between dials.
    int seconds = std::min(30, 1 << std::min(attempt, 5));
    network_->RunAfter(std::chrono::seconds(seconds), [this, peer, attempt] { Dial(peer, attempt + 1); });
  });
}

}  // namespace shoal::node
