#include "node/peering.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

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
  std::vector<log::Key> keys;
  if (!options.follows_path.empty()) {
    std::ifstream f(options.follows_path);
    if (f) {
      std::stringstream text;
      text << f.rdbuf();
      auto j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
      if (!j.is_object() || !j.contains("follows") || !j["follows"].is_array()) {
        return Status::Corruption(options.follows_path + " is not a follows file");
      }
      for (const auto& k : j["follows"]) {
        auto key = k.is_string() ? FixedFromHex<32>(k.get<std::string>()) : std::nullopt;
        if (!key) return Status::Corruption(options.follows_path + " holds a key that is not 64 hex digits");
        keys.push_back(*key);
      }
    }
  }
  p->replicator_ = std::make_unique<repl::Replicator>(store);
  p->network_ = std::make_unique<net::Network>(p->identity_, p->replicator_->Callbacks(), options.threads);
  if (options.listen) {
    SHOAL_ASSIGN_OR_RETURN(p->endpoint_, p->network_->Listen(*options.listen));
  }
  for (const log::Key& key : keys) SHOAL_RETURN_IF_ERROR(p->Follow(key).status());
  for (const net::Endpoint& peer : options.peers) p->AddPeer(peer);
  return p;
}

Peering::~Peering() {
  stopping_ = true;
  network_.reset();
  replicator_.reset();
}

Result<std::shared_ptr<log::Log>> Peering::Follow(const log::Key& key) {
  SHOAL_ASSIGN_OR_RETURN(std::shared_ptr<log::Log> log, store_->OpenLogByKey(key, /*create=*/true));
  if (log->writable()) return Status::InvalidArgument("log " + ToHex(key) + " is written by this node");
  {
    std::lock_guard lock(mu_);
    if (follows_.insert(ToHex(key)).second) SHOAL_RETURN_IF_ERROR(SaveFollows());
  }
  replicator_->Follow(log);
  return log;
}

std::vector<std::string> Peering::follows() const {
  std::lock_guard lock(mu_);
  return {follows_.begin(), follows_.end()};
}

Status Peering::SaveFollows() const {
  if (options_.follows_path.empty()) return Status::OK();
  nlohmann::json j;
  j["follows"] = nlohmann::json::array();
  for (const auto& k : follows_) j["follows"].push_back(k);
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
