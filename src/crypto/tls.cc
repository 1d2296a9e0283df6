#include "crypto/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace shoal::crypto {
namespace {

// OpenSSL's reason for the last failure on this thread, and its queue
// cleared.
std::string LastError() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown error" : out;
}

SSL_CTX* Ctx(void* p) { return static_cast<SSL_CTX*>(p); }
SSL* Ssl(void* p) { return static_cast<SSL*>(p); }

SSL_CTX* NewContext(const SSL_METHOD* method) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  // Idle connections give their record buffers back.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

bool IsIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::ForServer(const std::string& cert_file,
                                                          const std::string& key_file) {
  ERR_clear_error();
  SSL_CTX* ctx = NewContext(TLS_server_method());
  if (ctx == nullptr) return Status::IOError("tls: " + LastError());
  std::shared_ptr<TlsContext> out(new TlsContext(ctx, true));
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return Status::InvalidArgument("tls: cannot use the certificate in " + cert_file + ": " +
                                   LastError());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return Status::InvalidArgument("tls: the key in " + key_file +
                                     " is not the certificate's in " + cert_file);
    }
    return Status::InvalidArgument("tls: cannot use the private key in " + key_file + ": " +
                                   LastError());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Status::InvalidArgument("tls: the key in " + key_file +
                                   " is not the certificate's in " + cert_file);
  }
  return out;
}

Result<std::shared_ptr<TlsContext>> TlsContext::ForClient(const std::string& ca_file) {
  ERR_clear_error();
  SSL_CTX* ctx = NewContext(TLS_client_method());
  if (ctx == nullptr) return Status::IOError("tls: " + LastError());
  std::shared_ptr<TlsContext> out(new TlsContext(ctx, false));
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    return Status::InvalidArgument("tls: cannot read the certificates in " + ca_file + ": " +
                                   LastError());
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return out;
}

TlsContext::~TlsContext() { SSL_CTX_free(Ctx(ctx_)); }

Result<std::unique_ptr<Tls>> Tls::Make(const TlsContext& context, const std::string& host) {
  ERR_clear_error();
  SSL* ssl = SSL_new(Ctx(context.ctx_));
  if (ssl == nullptr) return Status::IOError("tls: " + LastError());
  std::unique_ptr<Tls> tls(new Tls(ssl));
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    return Status::IOError("tls: " + LastError());
  }
  // An empty input BIO asks for more rather than reporting end of file.
  BIO_set_mem_eof_return(in, -1);
  SSL_set_bio(ssl, in, out);
  if (context.server()) {
    SSL_set_accept_state(ssl);
    return tls;
  }
  SSL_set_connect_state(ssl);
  if (!host.empty()) {
    if (IsIpAddress(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    } else {
      SSL_set1_host(ssl, host.c_str());
      SSL_set_tlsext_host_name(ssl, host.c_str());
    }
  }
  // The client speaks first: its hello is output at once.
  if (Status st = tls->Advance(); !st.ok()) return st;
  return tls;
}

Tls::~Tls() { SSL_free(Ssl(ssl_)); }

bool Tls::handshake_done() const { return SSL_is_init_finished(Ssl(ssl_)) == 1; }

Status Tls::Advance() {
  if (handshake_done()) return Status::OK();
  int r = SSL_do_handshake(Ssl(ssl_));
  if (r != 1) {
    int e = SSL_get_error(Ssl(ssl_), r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Status::OK();
    failed_ = true;
    return Status::InvalidArgument("tls: handshake failed: " + LastError());
  }
  if (!waiting_.empty()) {
    Bytes waiting = std::move(waiting_);
    waiting_.clear();
    return Send(waiting);
  }
  return Status::OK();
}

Status Tls::Receive(ByteView cipher, Bytes* plain) {
  if (failed_) return Status::InvalidArgument("tls: the connection failed before");
  ERR_clear_error();
  SSL* ssl = Ssl(ssl_);
  if (!cipher.empty() &&
      BIO_write(SSL_get_rbio(ssl), cipher.data(), static_cast<int>(cipher.size())) <= 0) {
    return Status::IOError("tls: " + LastError());
  }
  if (Status st = Advance(); !st.ok() || !handshake_done()) return st;
  for (;;) {
    size_t at = plain->size();
    plain->resize(at + 16384);
    size_t n = 0;
    int r = SSL_read_ex(ssl, plain->data() + at, 16384, &n);
    plain->resize(at + (r == 1 ? n : 0));
    if (r == 1) continue;
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Status::OK();
    if (e == SSL_ERROR_ZERO_RETURN) {
      peer_closed_ = true;
      return Status::OK();
    }
    failed_ = true;
    return Status::InvalidArgument("tls: " + LastError());
  }
}

Status Tls::Send(ByteView plain) {
  if (failed_) return Status::InvalidArgument("tls: the connection failed before");
  if (!handshake_done()) {
    waiting_.insert(waiting_.end(), plain.begin(), plain.end());
    return Status::OK();
  }
  ERR_clear_error();
  // The output BIO grows as needed, so a write takes everything at once.
  size_t n = 0;
  if (!plain.empty() && SSL_write_ex(Ssl(ssl_), plain.data(), plain.size(), &n) != 1) {
    failed_ = true;
    return Status::InvalidArgument("tls: " + LastError());
  }
  return Status::OK();
}

void Tls::Shutdown() {
  if (shut_ || failed_ || !handshake_done()) return;
  shut_ = true;
  ERR_clear_error();
  SSL_shutdown(Ssl(ssl_));  // queues close_notify; the peer's is not awaited
}

bool Tls::has_output() const { return BIO_ctrl_pending(SSL_get_wbio(Ssl(ssl_))) > 0; }

Bytes Tls::TakeOutput() {
  BIO* out = SSL_get_wbio(Ssl(ssl_));
  size_t pending = BIO_ctrl_pending(out);
  Bytes bytes(pending);
  if (pending > 0) {
    int n = BIO_read(out, bytes.data(), static_cast<int>(pending));
    bytes.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  return bytes;
}

}  // namespace shoal::crypto
