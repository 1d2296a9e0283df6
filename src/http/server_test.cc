// The server against raw sockets, so every byte on the wire is the test's:
// keep-alive, pipelining, chunked bodies, 100-continue, limits and timeouts.
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "crypto/test_certificate.h"

namespace shoal::http {
namespace {

// A blocking client socket with a receive timeout, so no test can hang;
// given a TLS context, it speaks TLS, and everything below is application
// data.
class Client {
 public:
  explicit Client(uint16_t port, const crypto::TlsContext* tls = nullptr) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    if (tls != nullptr) {
      auto made = crypto::Tls::Make(*tls, "127.0.0.1");
      EXPECT_TRUE(made.ok()) << made.status().ToString();
      if (made.ok()) tls_ = std::move(*made);
    }
  }
  ~Client() { close(fd_); }
  bool connected() const { return connected_; }

  void Send(const std::string& data) {
    if (tls_) {
      EXPECT_TRUE(tls_->Send(AsBytes(data)).ok());
      SendRaw(std::string(AsString(tls_->TakeOutput())));
    } else {
      SendRaw(data);
    }
  }

  // Reads until `count` complete responses (by Content-Length) are in, the
  // peer closes, or 5 s pass without data. Returns everything read.
  std::string ReadResponses(int count) {
    while (Complete() < count) {
      if (Read() <= 0) {
        closed_ = true;
        break;
      }
    }
    return data_;
  }

  // Reads until `s` has arrived, the peer closes, or 5 s pass without data.
  std::string ReadUntil(const std::string& s) {
    while (data_.find(s) == std::string::npos) {
      if (Read() <= 0) break;
    }
    return data_;
  }

  // Whether the server closed the connection (reads until EOF or timeout).
  bool WaitClosed() {
    for (;;) {
      ssize_t n = Read();
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

  const std::string& data() const { return data_; }

 private:
  void SendRaw(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += n;
    }
  }

  // Appends what comes next to data_: > 0 if something came, 0 at the end
  // of the stream (a TLS close_notify or failure too), < 0 on an error.
  ssize_t Read() {
    for (;;) {
      char buf[65536];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0 || !tls_) {
        if (n > 0) data_.append(buf, n);
        return n;
      }
      Bytes plain;
      Status st = tls_->Receive(ByteView(reinterpret_cast<uint8_t*>(buf), n), &plain);
      SendRaw(std::string(AsString(tls_->TakeOutput())));
      data_.append(AsString(ByteView(plain)));
      if (!plain.empty()) return static_cast<ssize_t>(plain.size());
      if (!st.ok() || tls_->peer_closed()) return 0;
    }
  }

 private:
  // Complete final (non-1xx) responses in data_.
  int Complete() const {
    int done = 0;
    size_t pos = 0;
    for (;;) {
      size_t end = data_.find("\r\n\r\n", pos);
      if (end == std::string::npos) return done;
      std::string head = data_.substr(pos, end - pos);
      size_t body = end + 4;
      if (head.rfind("HTTP/1.1 1", 0) == 0) {
        pos = body;
        continue;
      }
      size_t length = 0;
      size_t cl = head.find("Content-Length: ");
      if (cl != std::string::npos) length = std::stoul(head.substr(cl + 16));
      if (head.find("HTTP/1.1 200") == 0 && cl == std::string::npos) return done;
      if (data_.size() - body < length) return done;
      done++;
      pos = body + length;
    }
  }

  int fd_ = -1;
  std::unique_ptr<crypto::Tls> tls_;
  bool connected_ = false;
  bool closed_ = false;
  std::string data_;
};

size_t Count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) n++;
  return n;
}

// Answers GET /hello, echoes POST bodies with their length, refuses PUT /deny
// before reading the body, and streams /stream?N bytes.
void TestHandler(Request& req, ResponseWriter& w) {
  Headers h;
  h.Add("Content-Type", "text/plain");
  if (req.path == "/deny") {
    (void)w.Send(403, h, "denied\n");
    return;
  }
  if (req.method == "POST" || req.method == "PUT") {
    std::string body;
    uint8_t buf[7];  // small reads on purpose
    for (;;) {
      auto n = req.body->Read(buf, sizeof(buf));
      if (!n.ok()) return;
      if (*n == 0) break;
      body.append(reinterpret_cast<char*>(buf), *n);
    }
    (void)w.Send(200, h, "got " + std::to_string(body.size()) + ": " + body);
    return;
  }
  if (req.path == "/stream") {
    uint64_t n = std::stoull(req.query);
    if (!w.Begin(200, h, n).ok()) return;
    std::string chunk(1000, 'x');
    for (uint64_t sent = 0; sent < n;) {
      size_t k = std::min<uint64_t>(chunk.size(), n - sent);
      if (!w.Write(AsBytes(std::string_view(chunk).substr(0, k))).ok()) return;
      sent += k;
    }
    return;
  }
  (void)w.Send(200, h, "hello " + req.path + " " + req.query);
}

std::unique_ptr<Server> StartServer(ServerOptions o = {}) {
  auto s = Server::Start(o, TestHandler);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(*s);
}

TEST(HttpServer, KeepAliveAndPipelining) {
  auto server = StartServer();
  ASSERT_NE(server->port(), 0);
  Client c(server->port());
  ASSERT_TRUE(c.connected());
  c.Send("GET /hello?a=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  c.ReadResponses(1);
  // Two more in one write: answered in order on the same connection.
  c.Send("GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string all = c.ReadResponses(3);
  EXPECT_EQ(Count(all, "HTTP/1.1 200 OK"), 3u) << all;
  EXPECT_NE(all.find("hello /hello a=1"), std::string::npos);
  EXPECT_LT(all.find("hello /one"), all.find("hello /two"));
  EXPECT_EQ(Count(all, "x-request-id: "), 3u);
}

TEST(HttpServer, ChunkedAndFixedBodies) {
  auto server = StartServer();
  Client c(server->port());
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
  std::string all = c.ReadResponses(2);
  EXPECT_NE(all.find("got 11: hello world"), std::string::npos) << all;
  EXPECT_NE(all.find("got 3: abc"), std::string::npos) << all;
}

TEST(HttpServer, ExpectContinueOnlyWhenTheBodyIsWanted) {
  auto server = StartServer();
  {
    Client c(server->port());
    c.Send("PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    // The handler reads, so 100 Continue comes before the client sends.
    std::string interim = c.ReadUntil("\r\n\r\n");
    EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
    c.Send("data");
    std::string all = c.ReadResponses(1);
    EXPECT_EQ(all.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << all;
    EXPECT_NE(all.find("got 4: data"), std::string::npos) << all;
  }
  {
    // An empty body still gets its 100 before the answer, and the connection
    // stays usable.
    Client c(server->port());
    c.Send("PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n");
    std::string all = c.ReadResponses(1);
    EXPECT_EQ(all.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK", 0), 0u) << all;
    c.Send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_NE(c.ReadResponses(2).find("hello /next"), std::string::npos);
  }
  {
    // Refused before the body: no 100, the answer, and the connection closes
    // (the body the client still holds would otherwise be read as a request).
    Client c(server->port());
    c.Send("PUT /deny HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_TRUE(c.WaitClosed());
    EXPECT_EQ(c.data().find("100 Continue"), std::string::npos);
    EXPECT_EQ(c.data().rfind("HTTP/1.1 403", 0), 0u) << c.data();
  }
}

TEST(HttpServer, StreamedResponseAndHead) {
  auto server = StartServer();
  Client c(server->port());
  c.Send("GET /stream?250000 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string all = c.ReadResponses(1);
  EXPECT_NE(all.find("Content-Length: 250000"), std::string::npos);
  EXPECT_EQ(all.size() - (all.find("\r\n\r\n") + 4), 250000u);
  Client h(server->port());
  h.Send("HEAD /stream?250000 HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n");
  // HEAD: the length, no body; the next response follows right after.
  std::string both = h.ReadUntil("hello /after");
  EXPECT_NE(both.find("Content-Length: 250000\r\n"), std::string::npos) << both;
  EXPECT_NE(both.find("\r\n\r\nHTTP/1.1 200 OK"), std::string::npos) << both;
}

TEST(HttpServer, OversizedHeaderIs431AndOthersAreServed) {
  ServerOptions o;
  o.max_header_bytes = 8 << 10;
  auto server = StartServer(o);
  Client big(server->port());
  big.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100 << 10, 'a') + "\r\n\r\n");
  EXPECT_TRUE(big.WaitClosed());
  EXPECT_EQ(big.data().rfind("HTTP/1.1 431", 0), 0u) << big.data().substr(0, 100);
  Client bad(server->port());
  bad.Send("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_TRUE(bad.WaitClosed());
  EXPECT_EQ(bad.data().rfind("HTTP/1.1 400", 0), 0u);
  Client ok(server->port());
  ok.Send("GET /fine HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(ok.ReadResponses(1).find("hello /fine"), std::string::npos);
}

TEST(HttpServer, StalledClientsAreClosedAndStopIsPrompt) {
  ServerOptions o;
  o.header_timeout_seconds = 1;
  o.idle_timeout_seconds = 1;
  auto server = StartServer(o);
  Client half(server->port());
  half.Send("GET / HTTP/1.1\r\nHo");  // half a header, then nothing
  Client body(server->port());
  body.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly this");
  EXPECT_TRUE(half.WaitClosed());
  EXPECT_TRUE(body.WaitClosed());
  // Meanwhile and after, others are served.
  Client ok(server->port());
  ok.Send("GET /fine HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(ok.ReadResponses(1).find("hello /fine"), std::string::npos);
  // An idle keep-alive connection does not hold up Stop.
  auto start = std::chrono::steady_clock::now();
  server->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(HttpServer, BadAddressIsAnError) {
  ServerOptions o;
  o.host = "not-an-ip";
  EXPECT_FALSE(Server::Start(o, TestHandler).ok());
  auto first = StartServer();
  ServerOptions same;
  same.port = first->port();
  auto second = Server::Start(same, TestHandler);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("cannot listen"), std::string::npos);
}

// Switches the connection to the "shout" protocol with a 101, and takes it.
Result<TakenConnection> SwitchToShout(ResponseWriter& w) {
  Headers h;
  h.Add("Upgrade", "shout");
  h.Add("Connection", "Upgrade");
  SHOAL_RETURN_IF_ERROR(w.Send(101, h, ""));
  return w.TakeOver();
}

TEST(HttpServer, AHandlerTakesTheConnectionOverAfter101) {
  // The handler switches protocols, takes the socket and answers on it from
  // a thread of its own: what the client sent after the request first, then
  // everything it sends, upper-cased, after the server has been stopped.
  std::thread echo;
  std::atomic<bool> refused_before_101{false};
  auto server = Server::Start({}, [&](Request& req, ResponseWriter& w) {
    refused_before_101 = !w.TakeOver().ok();
    auto taken = SwitchToShout(w);
    ASSERT_TRUE(taken.ok()) << taken.status().ToString();
    EXPECT_FALSE(w.TakeOver().ok());  // once
    echo = std::thread([t = std::move(*taken)] {
      std::string early(AsString(t.received));
      send(t.fd, early.data(), early.size(), MSG_NOSIGNAL);
      char buf[256];
      for (;;) {
        ssize_t n = recv(t.fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) buf[i] = static_cast<char>(std::toupper(buf[i]));
        send(t.fd, buf, n, MSG_NOSIGNAL);
      }
      close(t.fd);
    });
  });
  ASSERT_TRUE(server.ok());
  auto c = std::make_unique<Client>((*server)->port());
  c->Send("GET /x HTTP/1.1\r\nHost: x\r\nUpgrade: shout\r\nConnection: Upgrade\r\n\r\nearly;");
  std::string got = c->ReadUntil("early;");
  EXPECT_EQ(got.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("Connection: Upgrade"), std::string::npos) << got;
  EXPECT_TRUE(refused_before_101);
  (*server)->Stop();
  c->Send("quiet");
  EXPECT_NE(c->ReadUntil("QUIET").find("early;QUIET"), std::string::npos);
  c.reset();  // closed: the echo thread sees end of stream
  echo.join();
}

// A server with a test certificate, and a client context that trusts it.
struct Https {
  crypto::TestCertificate cert;
  std::shared_ptr<crypto::TlsContext> client = *crypto::TlsContext::ForClient(cert.cert_file());
  std::unique_ptr<Server> server;

  explicit Https(Handler handler = TestHandler) {
    ServerOptions o;
    o.tls = *crypto::TlsContext::ForServer(cert.cert_file(), cert.key_file());
    auto s = Server::Start(o, std::move(handler));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    server = std::move(*s);
  }
};

TEST(HttpServer, HttpsKeepAlivePipeliningAndLargeBodies) {
  Https https;
  Client c(https.server->port(), https.client.get());
  c.Send("GET /hello?a=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  c.ReadResponses(1);
  // A body over many TLS records, and a response over many more, pipelined.
  const std::string body(100'000, 'b');
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + body +
         "GET /stream?300000 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string all = c.ReadResponses(3);
  EXPECT_EQ(Count(all, "HTTP/1.1 200 OK"), 3u);
  EXPECT_NE(all.find("hello /hello a=1"), std::string::npos);
  EXPECT_NE(all.find("got 100000: " + body), std::string::npos);
  EXPECT_NE(all.find("Content-Length: 300000\r\n\r\n" + std::string(300'000, 'x')),
            std::string::npos);
}

TEST(HttpServer, HttpsRefusesPlainHttpAndUntrustingClients) {
  Https https;
  {
    Client plain(https.server->port());
    plain.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(plain.WaitClosed());
    EXPECT_EQ(plain.data().find("HTTP/1.1"), std::string::npos);  // a TLS alert at most
  }
  {
    crypto::TestCertificate other;
    auto trusts_other = *crypto::TlsContext::ForClient(other.cert_file());
    Client wrong(https.server->port(), trusts_other.get());
    wrong.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(wrong.WaitClosed());
    EXPECT_TRUE(wrong.data().empty());
  }
  // The server goes on serving.
  Client c(https.server->port(), https.client.get());
  c.Send("GET /still HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(c.ReadResponses(1).find("hello /still"), std::string::npos);
}

TEST(HttpServer, AConnectionTakenOverFromHttpsKeepsItsTls) {
  // As above, over TLS: the taker gets the TLS session with the socket, and
  // what the client sent after the request already decrypted.
  std::thread echo;
  Https https([&](Request&, ResponseWriter& w) {
    auto taken = SwitchToShout(w);
    ASSERT_TRUE(taken.ok()) << taken.status().ToString();
    ASSERT_NE(taken->tls, nullptr);
    echo = std::thread([t = std::move(*taken)] {
      auto reply = [&](ByteView plain) {
        std::string up(AsString(plain));
        for (char& ch : up) ch = static_cast<char>(std::toupper(ch));
        if (!t.tls->Send(AsBytes(up)).ok()) return;
        Bytes out = t.tls->TakeOutput();
        send(t.fd, out.data(), out.size(), MSG_NOSIGNAL);
      };
      reply(t.received);
      uint8_t buf[4096];
      for (;;) {
        ssize_t n = recv(t.fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        Bytes plain;
        if (!t.tls->Receive(ByteView(buf, static_cast<size_t>(n)), &plain).ok()) break;
        if (!plain.empty()) reply(plain);
        if (t.tls->peer_closed()) break;
      }
      close(t.fd);
    });
  });
  auto c = std::make_unique<Client>(https.server->port(), https.client.get());
  c->Send("GET /x HTTP/1.1\r\nHost: x\r\nUpgrade: shout\r\nConnection: Upgrade\r\n\r\nearly;");
  std::string got = c->ReadUntil("EARLY;");
  EXPECT_EQ(got.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << got;
  https.server->Stop();
  c->Send("quiet");
  EXPECT_NE(c->ReadUntil("QUIET").find("EARLY;QUIET"), std::string::npos);
  c.reset();
  echo.join();
}

}  // namespace
}  // namespace shoal::http
