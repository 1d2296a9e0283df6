#include "crypto/tls.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto/test_certificate.h"

namespace shoal::crypto {
namespace {

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
  TestCertificate c;
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
  TestCertificate c("127.0.0.2");
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
  TestCertificate c;
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
  TestCertificate c, other;
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
