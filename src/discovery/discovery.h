// Discovery: finding the nodes that have a log, by its discovery key.
//
//  * The DHT (OpenDHT): a node announces, for each discovery key it serves,
//    its peer port under the key's DHT hash (an IpServiceAnnouncement, whose
//    address the storing node fills in from where the announcement came
//    from), keeps announcing it, and listens under the discovery keys it
//    wants. Bootstrap nodes come from the configuration; there are none by
//    default, so the DHT is off unless configured.
//  * The LAN: OpenDHT's multicast peer discovery (239.192.0.1 and ff08::101,
//    UDP port 8888 by default) publishes the node's peer port and key as the
//    service "shoal", and every node heard is reported. Off unless enabled.
//
// What is found is reported through the callback given to Start, from a
// discovery thread; the caller dials it (node::Peering does, once per
// endpoint). A node's own announcements are not reported.
//
// The DHT hash of a discovery key is the SHA-1 (OpenDHT's InfoHash) of
// "shoal/discovery" || discovery key, so the public topic is not the
// discovery key itself. src/discovery/README.md has the details.
//
// Thread safety: all methods may be called from any thread. This header does
// not include OpenDHT.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "crypto/sign.h"
#include "log/caps.h"
#include "net/tcp.h"

namespace shoal::discovery {

struct Options {
  // This node's peer listener port and Noise public key, as announced.
  uint16_t peer_port = 0;
  crypto::PublicKey node_key{};
  // Run a DHT node bound here (port 0 picks one); none: no DHT.
  std::optional<net::Endpoint> dht_listen;
  // DHT nodes to join through.
  std::vector<net::Endpoint> dht_bootstrap;
  // Multicast discovery on the LAN, on this UDP port.
  bool lan = false;
  uint16_t lan_port = 8888;
};

struct Found {
  net::Endpoint endpoint;  // where the node's peer listener is
  std::string via;         // "dht" or "lan"
};

class Discovery {
 public:
  using FoundFn = std::function<void(const Found&)>;

  static Result<std::unique_ptr<Discovery>> Start(const Options& options, FoundFn found);
  ~Discovery();  // stops announcing and listening, and joins the threads

  // Announces on the DHT, and keeps announcing, that this node serves `topic`.
  void Announce(const log::Hash& topic);
  // Reports the nodes that announce `topic` on the DHT, now and later.
  void Lookup(const log::Hash& topic);

  // The DHT node's bound endpoint, if it runs.
  std::optional<net::Endpoint> dht_endpoint() const;

 private:
  struct Impl;
  explicit Discovery(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::discovery
