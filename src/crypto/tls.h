// TLS for one connection, without I/O: ciphertext from the socket goes in
// and application data comes out; application data goes in and ciphertext
// for the socket comes out. The caller owns the socket and its event loop.
//
//   auto ctx = TlsContext::ForServer("cert.pem", "key.pem");
//   auto tls = Tls::Make(**ctx);
//   Status st = tls->Receive(bytes_read, &plain);  // feeds the handshake too
//   tls->Send(reply);
//   write(fd, tls->TakeOutput());                  // after either call
//
// TLS 1.2 and 1.3 only, on OpenSSL 3.
//
// Thread safety: a TlsContext may be shared by connections on any threads
// once made; a Tls belongs to one thread.
#pragma once

#include <memory>
#include <string>

#include "base/bytes.h"
#include "base/result.h"

namespace shoal::crypto {

class TlsContext {
 public:
  // A server's: its certificate chain and private key, PEM files. Fails
  // with InvalidArgument, naming the file, if either cannot be read or the
  // key is not the certificate's.
  static Result<std::shared_ptr<TlsContext>> ForServer(const std::string& cert_file,
                                                       const std::string& key_file);
  // A client's: it accepts only servers whose certificate chains to one in
  // `ca_file` (PEM) and names `host` (Tls::Make checks the name).
  static Result<std::shared_ptr<TlsContext>> ForClient(const std::string& ca_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool server() const { return server_; }

 private:
  friend class Tls;
  TlsContext(void* ctx, bool server) : ctx_(ctx), server_(server) {}
  void* ctx_;  // SSL_CTX, kept out of this header
  bool server_;
};

class Tls {
 public:
  // One connection's TLS in `context`'s role. A client checks that the
  // server's certificate names `host` (an IP address or a DNS name).
  static Result<std::unique_ptr<Tls>> Make(const TlsContext& context, const std::string& host = "");
  ~Tls();
  Tls(const Tls&) = delete;
  Tls& operator=(const Tls&) = delete;

  // Ciphertext read from the socket. Appends the application data it
  // carried to `*plain`. A failed handshake or a bad record is an error
  // (InvalidArgument, with OpenSSL's reason); the connection is then
  // unusable, though TakeOutput may hold an alert for the peer. A
  // close_notify from the peer makes peer_closed() true.
  Status Receive(ByteView cipher, Bytes* plain);
  // Application data to send. Before the handshake is done it waits, and
  // goes out as soon as it is.
  Status Send(ByteView plain);
  // Sends close_notify (once). Nothing may be sent after it.
  void Shutdown();
  // What is to be written to the socket now, taken (empty if nothing).
  Bytes TakeOutput();
  // Whether TakeOutput has something.
  bool has_output() const;

  bool handshake_done() const;
  bool peer_closed() const { return peer_closed_; }

 private:
  explicit Tls(void* ssl) : ssl_(ssl) {}
  // Runs the handshake and flushes `waiting_` once it is done.
  Status Advance();

  void* ssl_;  // SSL, with two memory BIOs
  Bytes waiting_;  // application data sent before the handshake was done
  bool peer_closed_ = false;
  bool failed_ = false;
  bool shut_ = false;  // close_notify sent
};

}  // namespace shoal::crypto
