// The node's configuration file, shoal.toml: what `shoal serve` listens on
// and how its services behave. Flags given to `serve` override it.
//
//   [s3]
//   listen = "127.0.0.1:9000"         # HOST:PORT; port 0 picks a free port
//   region = "us-east-1"
//   domains = ["localhost"]           # bucket.DOMAIN is virtual-host style
//   max_clock_skew_seconds = 900
//
//   [peer]
//   listen = "127.0.0.1:7300"         # where other nodes and JS peers connect
//   peers = ["10.0.0.2:7300"]         # nodes to keep connected to
//
//   [discovery]
//   dht = "0.0.0.0:4222"              # run a DHT node here (UDP); off by default
//   bootstrap = ["bootstrap.jami.net:4222"]  # DHT nodes to join through
//   lan = true                        # multicast discovery on the LAN; off by default
//
// An unknown section or key is an error, so that a typo does not pass
// silently for a default.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "mqtt/acl.h"
#include "s3/service.h"

namespace shoal::cli {

struct ServeConfig {
  std::string s3_listen = "127.0.0.1:9000";
  // With a certificate, the HTTP listener's services (S3, MQTT over
  // WebSocket) are served over TLS here too.
  std::string s3_listen_tls = "127.0.0.1:9443";
  s3::ServiceOptions s3;
  std::string peer_listen = "127.0.0.1:7300";
  std::vector<std::string> peers;
  std::string dht_listen;  // empty: no DHT
  std::vector<std::string> dht_bootstrap;
  bool lan = false;
  // [tls]: the node's certificate chain and private key (PEM files; a
  // relative path is relative to the config file's folder). With both,
  // HTTP and MQTT are served over TLS too, on s3_listen_tls and
  // mqtt_listen_tls.
  std::string tls_cert;
  std::string tls_key;
  std::string mqtt_listen = "127.0.0.1:1883";
  std::string mqtt_listen_tls = "127.0.0.1:8883";
  // Clients without a user name: let in only while the listener is on
  // loopback, unless this says otherwise.
  std::optional<bool> mqtt_allow_anonymous;
  // [mqtt] limits, over mqtt::BrokerOptions' defaults when set.
  std::optional<uint32_t> mqtt_max_packet_size;
  std::optional<uint16_t> mqtt_receive_maximum;
  std::optional<uint16_t> mqtt_max_inflight;
  std::optional<uint32_t> mqtt_max_queued;
  std::optional<uint64_t> mqtt_max_queued_bytes;
  std::optional<uint16_t> mqtt_max_keep_alive;
  std::optional<uint32_t> mqtt_max_connections;
  // [[mqtt.acl]]: what each user may publish to and subscribe to. Empty:
  // everything, for everyone signed in.
  // Filters may use %u and %c levels (mqtt/acl.h).
  std::vector<mqtt::AclRule> mqtt_acl;
};

// Reads the TOML file at `path` over the defaults in `config`. NotFound if
// there is no such file; InvalidArgument, with the line, for anything else
// wrong.
Status LoadConfig(const std::string& path, ServeConfig* config);

}  // namespace shoal::cli
