// mqtt::Server: the broker on a TCP listener, on a TLS one if it is given a
// certificate, and on WebSockets that the node's HTTP listener hands over
// (HandleWebSocket).
//
// One thread runs an Asio io_context with the listener, every connection
// and the broker itself, so the broker needs no lock. A connection waits
// for its socket to be readable and then reads into the thread's one 64 KiB
// buffer, so an idle connection holds no buffer; a read may carry many
// packets. What the broker writes to a connection during one turn goes out
// in one write, and writes queued while one is in flight are gathered into
// the next.
//
// This header keeps Asio out of its includers.
//
// Start takes back what the broker stored (BrokerOptions::db) before it
// listens, and fails if that cannot be read.
//
// Thread safety: Start, Stop and the accessors may be called from any
// thread; Stop (or the destructor) waits for the broker's thread.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "http/server.h"
#include "mqtt/broker.h"

namespace shoal::crypto {
class TlsContext;
}

namespace shoal::mqtt {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 1883;  // 0: any free port
  // With a server context (crypto::TlsContext::ForServer), MQTT over TLS is
  // served on a second listener as well.
  std::shared_ptr<const crypto::TlsContext> tls;
  std::string tls_host = "127.0.0.1";
  uint16_t tls_port = 8883;  // 0: any free port
  BrokerOptions broker;
  // Connections beyond this are closed as they arrive.
  size_t max_connections = 100000;
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> Start(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // "host:port" as bound (the port chosen when 0 was asked for).
  std::string address() const;
  uint16_t port() const;
  // The same for the TLS listener: "" and 0 without one.
  std::string tls_address() const;
  uint16_t tls_port() const;
  // Answers a WebSocket handshake that reached the node's HTTP listener
  // (the node sends it those for /mqtt): 101 with subprotocol "mqtt" (or
  // "mqttv3.1", which 3.1 clients ask for), and the connection is taken
  // over and served by the broker like a TCP one. A bad handshake gets 400
  // (426 for a WebSocket version other than 13) and a reason. Any thread.
  void HandleWebSocket(http::Request& req, http::ResponseWriter& w);
  // The broker's counters, read on its thread.
  BrokerStats stats();
  void Stop();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::mqtt
