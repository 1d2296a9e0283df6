#include "cli/peers.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "blob/drive.h"
#include "node/peering.h"
#include "s3/service.h"

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
                  const std::vector<std::string>& peer_args, const std::string& bucket,
                  const std::string& user, int timeout_seconds) {
  auto key = FixedFromHex<32>(key_hex);
  if (!key) return Fail(io, Status::InvalidArgument("a log key is 64 hex digits, not '" + key_hex + "'"));
  auto peers = ParsePeers(peer_args);
  if (!peers.ok()) return Fail(io, peers.status());
  const bool drive = !bucket.empty();

  if (node::Peering* running = home.peering()) {
    auto log = drive ? running->FollowDrive(*key) : running->Follow(*key);
    if (!log.ok()) return Fail(io, log.status());
    if (drive) {
      Status s = home.s3()->AddReplica(bucket, user, *key);
      if (!s.ok()) return Fail(io, s);
    }
    for (const auto& p : *peers) running->AddPeer(p);
    io.out << "following " << key_hex << (drive ? " as bucket " + bucket : "") << "\n";
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
  if (drive) {
    auto service = s3::Service::Open(home.store(), [](std::string_view) { return std::nullopt; });
    if (!service.ok()) return Fail(io, service.status());
    Status s = (*service)->AddReplica(bucket, user, *key);
    if (!s.ok()) return Fail(io, s);
  }
  auto log = drive ? (*peering)->FollowDrive(*key) : (*peering)->Follow(*key);
  if (!log.ok()) return Fail(io, log.status());
  // Done when the log (and a drive's blobs log) is as long as a peer says
  // and all there.
  auto complete = [&](const std::shared_ptr<log::Log>& l) {
    std::optional<uint64_t> remote = RemoteLength(**peering, ToHex(l->key()));
    return remote && l->length() >= *remote && l->contiguous_length() == l->length();
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  std::shared_ptr<log::Log> blobs;
  while (true) {
    if (drive && !blobs && (*log)->manifest()) {
      auto b = home.store().OpenLogByKey(blob::ContentKey(*(*log)->manifest(), *key), true);
      if (b.ok()) blobs = *b;
    }
    if (complete(*log) && (!drive || (blobs && complete(blobs)))) break;
    if (std::chrono::steady_clock::now() > deadline) {
      io.err << "shoal: follow: timed out after " << timeout_seconds << " s with "
             << (*log)->contiguous_length() << " blocks of " << key_hex << "\n";
      return kExitError;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  io.out << key_hex << " " << (*log)->length() << " blocks";
  if (blobs) io.out << ", blobs " << ToHex(blobs->key()) << " " << blobs->length() << " blocks";
  io.out << "\n";
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

int BucketsCommand(Home& home, Io& io, bool json) {
  s3::Service* service = home.s3();
  std::unique_ptr<s3::Service> opened;
  if (service == nullptr) {
    Status s = home.Open();
    if (!s.ok()) return Fail(io, s);
    auto o = s3::Service::Open(home.store(), [](std::string_view) { return std::nullopt; });
    if (!o.ok()) return Fail(io, o.status());
    opened = std::move(*o);
    service = opened.get();
  }
  auto buckets = service->Buckets();
  if (!buckets.ok()) return Fail(io, buckets.status());
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const auto& b : *buckets) {
    if (json) {
      j.push_back({{"name", b.name}, {"owner", b.owner}, {"key", b.key}, {"replica", b.replica}});
    } else {
      io.out << b.name << " " << (b.key.empty() ? "-" : b.key) << " " << b.owner
             << (b.replica ? " replica" : "") << "\n";
    }
  }
  if (json) io.out << j.dump() << "\n";
  return kExitOk;
}

}  // namespace shoal::cli
