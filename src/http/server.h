// http::Server: an HTTP/1.1 server for the node's APIs (S3 first).
//
// One thread per connection, with blocking reads and writes, so a handler
// can stream a request body of any size into storage and stream a response
// out without holding either in memory. A server speaks plain HTTP or,
// given a certificate, HTTPS on every connection. Connections are kept alive
// and requests pipelined on them are answered in order. Limits protect the
// node: a cap on connections, on the size of a request's header section, and
// timeouts for a client that stalls while the server waits on it (a reaper
// thread shuts the socket of such a connection down).
//
// Every response carries `x-request-id`, which the handler also finds in
// Request::id (the S3 layer echoes it as `x-amz-request-id`).
//
// This header keeps Boost.Beast out of its includers: it is all in server.cc.
//
// Thread safety: the handler runs on many connection threads at once. Stop()
// (or the destructor) may be called from any thread but the handler's.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/tls.h"

namespace shoal::http {

// Header fields in the order received (or added); names compare without case.
class Headers {
 public:
  void Add(std::string name, std::string value);
  // Replaces every field named `name` with one.
  void Set(std::string name, std::string value);
  void Remove(std::string_view name);
  // The first value of `name`, or null.
  const std::string* Find(std::string_view name) const;
  // The first value of `name`, or "".
  std::string Get(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// A request body as a stream. For a request sent with `Expect: 100-continue`,
// the first Read sends the interim 100 response, so a handler that refuses a
// request before reading its body saves the client from sending it.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // Up to `n` bytes of the body (chunked encoding already removed); 0 at its
  // end. IoError if the client went away, was too slow or sent a malformed
  // body: then the request is lost and the connection closes.
  virtual Result<size_t> Read(uint8_t* out, size_t n) = 0;
};

struct Request {
  std::string method;
  std::string target;  // as sent: path and query, percent-encoded
  std::string path;    // target up to '?'
  std::string query;   // target after '?', without it
  Headers headers;
  std::optional<uint64_t> content_length;  // none for a chunked body
  bool chunked = false;
  std::string id;      // this request's id
  std::string remote;  // peer address, "ip:port"
  BodyReader* body = nullptr;
};

// A connection a handler took over after switching protocols.
struct TakenConnection {
  int fd = -1;     // the socket, now the taker's to close
  Bytes received;  // what the client sent after the request, already read
  // On a TLS listener, the connection's TLS, mid-stream: the socket carries
  // its records, and `received` is application data it already decrypted.
  std::unique_ptr<crypto::Tls> tls;
};

// Writes one response. A handler calls Send once, or Begin and then Write
// until exactly `length` bytes are written. For a HEAD request the header goes
// out with the length given and the body is dropped.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  virtual Status Send(int status, const Headers& headers, std::string_view body) = 0;
  virtual Status Begin(int status, const Headers& headers, uint64_t length) = 0;
  virtual Status Write(ByteView data) = 0;
  virtual bool started() const = 0;
  // After a 101 Switching Protocols sent with Send: hands the connection to
  // the caller. The server reads no more requests from it, and neither its
  // timeouts nor Stop touch it. InvalidArgument before a 101 went out.
  virtual Result<TakenConnection> TakeOver() = 0;
};

using Handler = std::function<void(Request&, ResponseWriter&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (port() tells which)
  size_t max_connections = 1024;
  // The request line and header fields together; a bigger header section is
  // answered with 431 and the connection closes.
  size_t max_header_bytes = 64 << 10;
  // A request's header section must arrive within this time of its first byte.
  int header_timeout_seconds = 30;
  // A connection waiting for its next request, or a body read or response
  // write making no progress, is closed after this long.
  int idle_timeout_seconds = 60;
  std::string server_name = "Shoal";
  // Set: every connection speaks TLS (HTTPS) with this certificate.
  std::shared_ptr<crypto::TlsContext> tls;
};

class Server {
 public:
  // Listens on host:port and serves until Stop. InvalidArgument for a bad
  // host, IoError if the address cannot be bound.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;
  // "host:port" as listening ("[::1]:9000" for IPv6).
  std::string address() const;
  // Stops accepting, closes every connection (a handler in progress sees its
  // reads and writes fail) and waits for all threads.
  void Stop();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::http
