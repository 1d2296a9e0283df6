// Network: TCP connections that speak secret-stream and protomux, on Asio.
//
// A Network owns an io_context and its threads, the listeners and every
// Connection. Each connection runs its socket, its SecretStream and its Mux
// on a strand of its own, so everything a connection does — the callbacks
// below, the channel handlers its Mux calls, work passed to Post — runs one
// at a time for that connection, on one of the network's threads.
//
// A connection is "open" once the Noise handshake is complete: the remote's
// public key is known and channels can be opened. It sends a keep-alive after
// 5 s without sending (as Hypercore does) and closes after 30 s without
// receiving anything, since any live peer sends keep-alives.
//
// This header does not include Asio.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "base/result.h"
#include "crypto/noise.h"
#include "crypto/sign.h"
#include "net/mux.h"

namespace shoal::net {

class Network;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  ~Connection();

  // Runs `fn` on this connection's strand (from any thread).
  void Post(std::function<void()> fn);

  // The rest must be called on the strand.
  Mux& mux();
  bool initiator() const;
  bool open() const;  // the handshake is complete and the connection not closed
  const crypto::PublicKey& remote_public_key() const;
  // The Noise handshake hash, which replication capabilities are bound to.
  const crypto::HandshakeHash& handshake_hash() const;
  const std::string& remote_address() const;  // "host:port"
  // Closes the socket; the close callback runs once, with `why`.
  void Close(const Status& why);
  // Bytes queued for the socket and not yet written.
  size_t pending_output() const;
  uint64_t bytes_sent() const;
  uint64_t bytes_received() const;

  // Per-connection data for the layer above (the replicator).
  std::shared_ptr<void> user_data;

 private:
  friend class Network;
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct NetworkCallbacks {
  // The handshake is complete: open channels, set the mux's pair handler.
  std::function<void(const std::shared_ptr<Connection>&)> on_open;
  // The connection is gone (`why` says how). Its Mux has closed every channel.
  std::function<void(const std::shared_ptr<Connection>&, const Status& why)> on_close;
  // Written output fell to zero after being above kDrainBytes.
  std::function<void(const std::shared_ptr<Connection>&)> on_drain;
};

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;
};

// "host:port" or "[v6]:port".
Result<Endpoint> ParseEndpoint(std::string_view text);

class Network {
 public:
  static constexpr size_t kDrainBytes = 4 << 20;

  // One thread is the default: with the replicator's worker applying proofs
  // beside it, that keeps two cores busy, and measured faster than two
  // network threads taking turns on one connection.
  Network(const crypto::KeyPair& identity, NetworkCallbacks callbacks, int threads = 1);
  // Stops: closes every connection and listener, then joins the threads.
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const crypto::PublicKey& public_key() const;

  // Listens on host:port (port 0 picks one); returns the bound endpoint.
  Result<Endpoint> Listen(const Endpoint& at);
  // Connects as the initiator; the callbacks above apply to the connection.
  // `on_end` runs once, on a network thread: when the TCP connection cannot
  // be made, or when the connection it made closes (after on_close).
  void Connect(const Endpoint& to, std::function<void(const Status&)> on_end = nullptr);
  // Runs `fn` on a network thread after `delay`, unless the network stops first.
  void RunAfter(std::chrono::milliseconds delay, std::function<void()> fn);
  // Stops accepting and closes every connection; the destructor calls it.
  void Stop();

  size_t connection_count() const;

 private:
  friend class Connection;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::net
