#include "crypto/tls.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace shoal::crypto {
namespace {

// A self-signed P-256 certificate for `name` (an IP address SAN), and its
// key, written as PEM files in a fresh directory.
class Certificate {
 public:
  explicit Certificate(const std::string& ip = "127.0.0.1") {
    dir_ = std::filesystem::temp_directory_path() / ("shoal-tls-test-" + std::to_string(getpid()) +
                                                     "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("shoal test"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* san =
        X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, ("IP:" + ip).c_str());
    X509_add_ext(cert, san, -1);
    X509_EXTENSION_free(san);
    X509_sign(cert, key, EVP_sha256());
    FILE* f = std::fopen(cert_file().c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
    f = std::fopen(key_file().c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
  }
  ~Certificate() { std::filesystem::remove_all(dir_); }

  std::string cert_file() const { return (dir_ / "cert.pem").string(); }
  std::string key_file() const { return (dir_ / "key.pem").string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
};

// Moves output between the two ends until neither has any; what each
// received as application data is appended to its `got`.
void Pump(Tls& a, Bytes* a_got, Tls& b, Bytes* b_got, bool byte_by_byte = false) {
  for (int round = 0; round < 100 && (a.has_output() || b.has_output()); round++) {
    for (auto [from, to, got] : {std::tuple{&a, &b, b_got}, std::tuple{&b, &a, a_got}}) {
      Bytes out = from->TakeOutput();
      if (byte_by_byte) {
        for (uint8_t byte : out) ASSERT_TRUE(to->Receive(ByteView(&byte, 1), got).ok());
      } else {
        ASSERT_TRUE(to->Receive(out, got).ok());
      }
    }
  }
}

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

TEST(Tls, HandshakeAndDataBothWays) {
  Certificate c;
  auto server_ctx = TlsContext::ForServer(c.cert_file(), c.key_file());
  ASSERT_TRUE(server_ctx.ok()) << server_ctx.status().ToString();
  auto client_ctx = TlsContext::ForClient(c.cert_file());
  ASSERT_TRUE(client_ctx.ok()) << client_ctx.status().ToString();
  for (bool byte_by_byte : {false, true}) {
    auto server = Tls::Make(**server_ctx);
    auto client = Tls::Make(**client_ctx, "127.0.0.1");
    ASSERT_TRUE(server.ok() && client.ok());
    // Sent before the handshake: it waits, then goes.
    ASSERT_TRUE((*client)->Send(B("early")).ok());
    Bytes server_got, client_got;
    Pump(**server, &server_got, **client, &client_got, byte_by_byte);
    EXPECT_TRUE((*server)->handshake_done());
    EXPECT_TRUE((*client)->handshake_done());
    EXPECT_EQ(server_got, B("early"));
    Bytes big(200000);
    for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<uint8_t>(i * 7);
    ASSERT_TRUE((*server)->Send(big).ok());
    ASSERT_TRUE((*client)->Send(B("late")).ok());
    Pump(**server, &server_got, **client, &client_got, byte_by_byte);
    EXPECT_EQ(server_got, B("earlylate"));
    EXPECT_EQ(client_got, big);
    // close_notify
    (*client)->Shutdown();
    Pump(**server, &server_got, **client, &client_got);
    EXPECT_TRUE((*server)->peer_closed());
  }
}

TEST(Tls, ClientRefusesAnotherName) {
  Certificate c("127.0.0.2");
  auto server_ctx = TlsContext::ForServer(c.cert_file(), c.key_file());
  auto client_ctx = TlsContext::ForClient(c.cert_file());
  ASSERT_TRUE(server_ctx.ok() && client_ctx.ok());
  auto server = Tls::Make(**server_ctx);
  auto client = Tls::Make(**client_ctx, "127.0.0.1");
  ASSERT_TRUE(server.ok() && client.ok());
  Bytes got;
  ASSERT_TRUE((*server)->Receive((*client)->TakeOutput(), &got).ok());
  Status st = (*client)->Receive((*server)->TakeOutput(), &got);
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  EXPECT_FALSE((*client)->handshake_done());
  // The server hears of it in an alert.
  st = (*server)->Receive((*client)->TakeOutput(), &got);
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE((*server)->Send(B("x")).ok() && (*server)->handshake_done());
}

TEST(Tls, GarbageIsAnError) {
  Certificate c;
  auto ctx = TlsContext::ForServer(c.cert_file(), c.key_file());
  ASSERT_TRUE(ctx.ok());
  auto server = Tls::Make(**ctx);
  ASSERT_TRUE(server.ok());
  Bytes got;
  Status st = (*server)->Receive(B("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), &got);
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  EXPECT_TRUE(got.empty());
  EXPECT_FALSE((*server)->Receive(B("more"), &got).ok());  // and stays failed
}

TEST(Tls, BadFilesAreClearErrors) {
  Certificate c, other;
  auto st = TlsContext::ForServer(c.cert_file(), other.key_file()).status();
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_NE(st.message().find("is not the certificate's"), std::string::npos) << st.ToString();
  st = TlsContext::ForServer("/nonexistent/cert.pem", c.key_file()).status();
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_NE(st.message().find("/nonexistent/cert.pem"), std::string::npos) << st.ToString();
  st = TlsContext::ForServer(c.key_file(), c.key_file()).status();  // a key is no certificate
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_TRUE(TlsContext::ForClient("/nonexistent/ca.pem").status().IsInvalidArgument());
}

}  // namespace
}  // namespace shoal::crypto
