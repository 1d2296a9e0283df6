#include "cli/peers.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "node/peering.h"

namespace shoal::cli {
namespace {

int Fail(Io& io, const Status& s) {
  io.err << "shoal: " << s.ToString() << "\n";
  return s.IsInvalidArgument() ? kExitUsage : kExitError;
}

Result<std::vector<net::Endpoint>> ParsePeers(const std::vector<std::string>& peers) {
  std::vector<net::Endpoint> out;
  for (const auto& p : peers) {
    SHOAL_ASSIGN_OR_RETURN(net::Endpoint ep, net::ParseEndpoint(p));
    out.push_back(ep);
  }
  return out;
}

nlohmann::ordered_json PeersJson(const node::Peering& peering) {
  nlohmann::ordered_json j;
  j["running"] = true;
  j["publicKey"] = ToHex(peering.public_key());
  j["listen"] = peering.endpoint() ? nlohmann::ordered_json(peering.endpoint()->ToString())
                                   : nlohmann::ordered_json(nullptr);
  j["peers"] = nlohmann::ordered_json::array();
  for (const auto& p : peering.Peers()) {
    nlohmann::ordered_json pj;
    pj["publicKey"] = p.public_key;
    pj["address"] = p.address;
    pj["initiator"] = p.initiator;
    pj["bytesSent"] = p.bytes_sent;
    pj["bytesReceived"] = p.bytes_received;
    pj["logs"] = nlohmann::ordered_json::array();
    for (const auto& c : p.channels) {
      pj["logs"].push_back({{"key", c.key},
                            {"remoteLength", c.remote_length},
                            {"remoteContiguousLength", c.remote_contiguous},
                            {"inflight", c.inflight},
                            {"blocksDownloaded", c.blocks_down},
                            {"bytesDownloaded", c.bytes_down},
                            {"blocksUploaded", c.blocks_up},
                            {"bytesUploaded", c.bytes_up}});
    }
    j["peers"].push_back(std::move(pj));
  }
  j["logs"] = nlohmann::ordered_json::array();
  for (const auto& l : peering.Progress()) {
    j["logs"].push_back({{"key", l.key},
                         {"name", l.name},
                         {"writable", l.writable},
                         {"following", l.following},
                         {"length", l.length},
                         {"contiguousLength", l.contiguous_length},
                         {"storedBlocks", l.stored_blocks},
                         {"byteLength", l.byte_length},
                         {"peers", l.peers},
                         {"progress", l.length == 0 ? 1.0 : double(l.stored_blocks) / double(l.length)}});
  }
  return j;
}

// The longest length a connected peer has announced for `key`, once one has.
std::optional<uint64_t> RemoteLength(const node::Peering& peering, const std::string& key_hex) {
  std::optional<uint64_t> best;
  for (const auto& p : peering.Peers()) {
    for (const auto& c : p.channels) {
      if (c.key == key_hex && c.synced) best = std::max(best.value_or(0), c.remote_length);
    }
  }
  return best;
}

}  // namespace

int FollowCommand(Home& home, Io& io, const std::string& key_hex,
                  const std::vector<std::string>& peer_args, int timeout_seconds) {
  auto key = FixedFromHex<32>(key_hex);
  if (!key) return Fail(io, Status::InvalidArgument("a log key is 64 hex digits, not '" + key_hex + "'"));
  auto peers = ParsePeers(peer_args);
  if (!peers.ok()) return Fail(io, peers.status());

  if (node::Peering* running = home.peering()) {
    auto log = running->Follow(*key);
    if (!log.ok()) return Fail(io, log.status());
    for (const auto& p : *peers) running->AddPeer(p);
    io.out << "following " << key_hex << "\n";
    return kExitOk;
  }

  if (peers->empty()) {
    return Fail(io, Status::InvalidArgument(
                        "shoal serve is not running here: give --peer HOST:PORT to download from"));
  }
  Status s = home.Open();
  if (!s.ok()) return Fail(io, s);
  node::PeeringOptions options;
  options.peers = *peers;
  options.follows_path = home.follows_path();
  auto peering = node::Peering::Start(&home.store(), options);
  if (!peering.ok()) return Fail(io, peering.status());
  auto log = (*peering)->Follow(*key);
  if (!log.ok()) return Fail(io, log.status());
  const std::string hex = ToHex(*key);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (true) {
    std::optional<uint64_t> remote = RemoteLength(**peering, hex);
    if (remote && (*log)->length() >= *remote && (*log)->contiguous_length() == (*log)->length()) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      io.err << "shoal: follow: timed out after " << timeout_seconds << " s with "
             << (*log)->contiguous_length() << " of "
             << (remote ? std::to_string(*remote) : std::string("an unknown number of")) << " blocks\n";
      return kExitError;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  io.out << hex << " " << (*log)->length() << " blocks\n";
  return kExitOk;
}

int PeersCommand(Home& home, Io& io, bool json) {
  node::Peering* peering = home.peering();
  if (peering == nullptr) {
    if (json) {
      io.out << nlohmann::ordered_json({{"running", false}, {"peers", nlohmann::json::array()}}).dump()
             << "\n";
    } else {
      io.out << "no peers: shoal serve is not running on " << home.dir() << "\n";
    }
    return kExitOk;
  }
  nlohmann::ordered_json j = PeersJson(*peering);
  if (json) {
    io.out << j.dump() << "\n";
    return kExitOk;
  }
  io.out << "node " << j["publicKey"].get<std::string>();
  if (!j["listen"].is_null()) io.out << " listening on " << j["listen"].get<std::string>();
  io.out << "\n";
  for (const auto& p : j["peers"]) {
    io.out << "peer " << p["publicKey"].get<std::string>() << " " << p["address"].get<std::string>()
           << (p["initiator"].get<bool>() ? " (dialled)" : " (accepted)") << "\n";
    for (const auto& l : p["logs"]) {
      io.out << "  log " << l["key"].get<std::string>() << " remote length "
             << l["remoteLength"].get<uint64_t>() << ", down " << l["blocksDownloaded"].get<uint64_t>()
             << " blocks, up " << l["blocksUploaded"].get<uint64_t>() << " blocks\n";
    }
  }
  for (const auto& l : j["logs"]) {
    io.out << "log " << l["key"].get<std::string>() << " " << l["storedBlocks"].get<uint64_t>()
           << "/" << l["length"].get<uint64_t>() << " blocks"
           << (l["following"].get<bool>() ? " following" : "")
           << (l["writable"].get<bool>() ? " (writer)" : "") << "\n";
  }
  return kExitOk;
}

}  // namespace shoal::cli
