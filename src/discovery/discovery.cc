#include "discovery/discovery.h"

#include <opendht/default_types.h>
#include <opendht/dhtrunner.h>
#include <opendht/peer_discovery.h>

#include <map>
#include <mutex>
#include <set>

namespace shoal::discovery {
namespace {

constexpr const char* kLanService = "shoal";

dht::InfoHash TopicHash(const log::Hash& topic) {
  std::vector<uint8_t> data;
  const std::string prefix = "shoal/discovery";
  data.insert(data.end(), prefix.begin(), prefix.end());
  data.insert(data.end(), topic.begin(), topic.end());
  return dht::InfoHash::get(data);
}

// What a node publishes on the LAN.
struct LanAnnouncement {
  uint16_t port = 0;
  std::vector<uint8_t> key;
  MSGPACK_DEFINE_MAP(port, key)
};

}  // namespace

struct Discovery::Impl {
  Options options;
  FoundFn found;
  std::unique_ptr<dht::DhtRunner> dht;
  std::shared_ptr<dht::PeerDiscovery> lan;
  std::mutex mu;
  std::set<log::Hash> announced;
  std::map<log::Hash, std::shared_future<size_t>> listening;

  void Report(const dht::SockAddr& addr, uint16_t port, const char* via) {
    if (!addr) return;
    Found f;
    f.endpoint.host = addr.toString();
    // SockAddr::toString gives "ip:port" (or "[v6]:port"); keep the address.
    if (auto ep = net::ParseEndpoint(f.endpoint.host); ep.ok()) f.endpoint.host = ep->host;
    f.endpoint.port = port;
    f.via = via;
    if (found) found(f);
  }
};

Discovery::Discovery(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Discovery>> Discovery::Start(const Options& options, FoundFn found) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->found = std::move(found);
  try {
    if (options.dht_listen) {
      impl->dht = std::make_unique<dht::DhtRunner>();
      dht::DhtRunner::Config config;
      config.threaded = true;
      auto bind = dht::SockAddr::resolve(options.dht_listen->host, std::to_string(options.dht_listen->port));
      if (bind.empty()) {
        return Status::InvalidArgument("discovery: cannot resolve " + options.dht_listen->ToString());
      }
      (bind.front().getFamily() == AF_INET6 ? config.bind6 : config.bind4) = bind.front();
      impl->dht->run(config, dht::DhtRunner::Context{});
      for (const net::Endpoint& b : options.dht_bootstrap) {
        impl->dht->bootstrap(b.host, std::to_string(b.port));
      }
    }
    if (options.lan) {
      impl->lan = std::make_shared<dht::PeerDiscovery>(options.lan_port);
      LanAnnouncement me;
      me.port = options.peer_port;
      me.key.assign(options.node_key.begin(), options.node_key.end());
      Impl* raw = impl.get();
      const crypto::PublicKey own = options.node_key;
      impl->lan->startDiscovery<LanAnnouncement>(
          kLanService, [raw, own](LanAnnouncement&& a, dht::SockAddr&& from) {
            if (a.key.size() == own.size() && std::equal(a.key.begin(), a.key.end(), own.begin())) {
              return;  // ourselves
            }
            raw->Report(from, a.port, "lan");
          });
      impl->lan->startPublish(kLanService, me);
    }
  } catch (const std::exception& e) {
    return Status::IOError(std::string("discovery: ") + e.what());
  }
  return std::unique_ptr<Discovery>(new Discovery(std::move(impl)));
}

Discovery::~Discovery() {
  if (impl_->lan) {
    impl_->lan->stop();
    impl_->lan.reset();
  }
  if (impl_->dht) {
    impl_->dht->join();
    impl_->dht.reset();
  }
}

void Discovery::Announce(const log::Hash& topic) {
  if (!impl_->dht) return;
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->announced.insert(topic).second) return;
  }
  auto value = std::make_shared<dht::Value>(dht::IpServiceAnnouncement(AF_INET, impl_->options.peer_port));
  impl_->dht->put(TopicHash(topic), value, [](bool) {}, dht::time_point::max(), /*permanent=*/true);
}

void Discovery::Lookup(const log::Hash& topic) {
  if (!impl_->dht) return;
  std::lock_guard lock(impl_->mu);
  if (impl_->listening.count(topic)) return;
  Impl* raw = impl_.get();
  auto token = impl_->dht->listen(
      TopicHash(topic), [raw](const std::vector<std::shared_ptr<dht::Value>>& values, bool expired) {
        if (expired) return true;
        for (const auto& v : values) {
          if (v->type != dht::IpServiceAnnouncement::TYPE.id) continue;
          try {
            dht::IpServiceAnnouncement a;
            a.unpackValue(*v);
            raw->Report(a.getPeerAddr(), a.getPort(), "dht");
          } catch (const std::exception&) {
            // Not an announcement of ours: ignored.
          }
        }
        return true;
      });
  impl_->listening.emplace(topic, token.share());
}

std::optional<net::Endpoint> Discovery::dht_endpoint() const {
  if (!impl_->dht) return std::nullopt;
  dht::SockAddr bound = impl_->dht->getBound(AF_INET);
  net::Endpoint ep;
  ep.host = impl_->options.dht_listen->host;
  ep.port = impl_->dht->getBoundPort(AF_INET);
  (void)bound;
  return ep;
}

}  // namespace shoal::discovery
