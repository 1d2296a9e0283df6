#include "net/tcp.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "base/encoding.h"

namespace shoal::net {
namespace {

// Echoes every message back on the channel it came in on.
struct Echo : ChannelHandler {
  std::string remote_handshake;
  Status OnOpen(Channel& ch, ByteView handshake) override {
    enc::Decoder d(handshake);
    remote_handshake = std::string(d.String());
    return d.status();
  }
  Status OnMessage(Channel& ch, uint64_t type, ByteView payload) override {
    return ch.Send(type, payload);
  }
  void OnClose(Channel&, bool) override {}
};

bool Poll(const std::function<bool()>& pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

Bytes EncodeString(std::string_view s) {
  enc::Encoder e;
  e.String(s);
  return e.Take();
}

// A node that accepts "shoal/echo" channels and echoes on them.
struct EchoNode {
  crypto::KeyPair identity = crypto::RandomKeyPair();
  std::mutex mu;
  std::condition_variable cv;
  int opened = 0, closed = 0;
  std::vector<std::unique_ptr<Echo>> handlers;
  std::unique_ptr<Network> network;

  EchoNode() {
    NetworkCallbacks cb;
    cb.on_open = [this](const std::shared_ptr<Connection>& conn) {
      Mux* mux = &conn->mux();
      mux->SetPairHandler([this, mux](std::string_view protocol, const std::optional<Bytes>& id) {
        if (protocol != "shoal/echo") return;
        std::lock_guard<std::mutex> lock(mu);
        handlers.push_back(std::make_unique<Echo>());
        mux->Open(std::string(protocol), id, EncodeString("hello from shoal"), handlers.back().get());
      });
      std::lock_guard<std::mutex> lock(mu);
      opened++;
      cv.notify_all();
    };
    cb.on_close = [this](const std::shared_ptr<Connection>&, const Status&) {
      std::lock_guard<std::mutex> lock(mu);
      closed++;
      cv.notify_all();
    };
    network = std::make_unique<Network>(identity, cb);
  }

  bool WaitFor(const std::function<bool()>& pred) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(20), pred);
  }
};

TEST(Network, JsSecretStreamAndProtomux) {
  EchoNode node;
  auto ep = node.network->Listen({"127.0.0.1", 0});
  ASSERT_TRUE(ep.ok()) << ep.status().ToString();
  std::string cmd = "cd " SHOAL_SOURCE_DIR " && node tests/interop/net_peer.js " +
                    std::to_string(ep->port) + " " + ToHex(node.identity.public_key);
  int rc = std::system(cmd.c_str());
  ASSERT_EQ(rc, 0) << cmd;
  ASSERT_TRUE(node.WaitFor([&] { return node.closed == 1; }));
  EXPECT_EQ(node.handlers.size(), 1u);
  EXPECT_EQ(node.handlers[0]->remote_handshake, "hello from js");
}

TEST(Network, TwoNodesOverLoopback) {
  EchoNode server;
  auto ep = server.network->Listen({"127.0.0.1", 0});
  ASSERT_TRUE(ep.ok());

  // The client opens a channel and counts the echoes.
  struct Counter : ChannelHandler {
    std::mutex* mu;
    std::condition_variable* cv;
    size_t bytes = 0, messages = 0;
    Status OnOpen(Channel& ch, ByteView) override {
      for (int i = 0; i < 100; i++) SHOAL_RETURN_IF_ERROR(ch.Send(0, Bytes(i * 1000, 'x')));
      return Status::OK();
    }
    Status OnMessage(Channel&, uint64_t, ByteView payload) override {
      std::lock_guard<std::mutex> lock(*mu);
      bytes += payload.size();
      messages++;
      cv->notify_all();
      return Status::OK();
    }
    void OnClose(Channel&, bool) override {}
  };
  std::mutex mu;
  std::condition_variable cv;
  Counter counter;
  counter.mu = &mu;
  counter.cv = &cv;
  crypto::PublicKey seen{};
  NetworkCallbacks cb;
  cb.on_open = [&](const std::shared_ptr<Connection>& conn) {
    seen = conn->remote_public_key();
    conn->mux().Open("shoal/echo", Bytes{1}, EncodeString("client"), &counter);
  };
  Network client(crypto::RandomKeyPair(), cb);
  client.Connect(*ep);
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return counter.messages == 100; }));
  }
  EXPECT_EQ(counter.bytes, size_t{99 * 100 * 1000 / 2});
  EXPECT_EQ(seen, server.identity.public_key);
  EXPECT_EQ(server.handlers[0]->remote_handshake, "client");
}

TEST(Network, GarbageAndRefusedConnections) {
  EchoNode server;
  auto ep = server.network->Listen({"127.0.0.1", 0});
  ASSERT_TRUE(ep.ok());
  // A plain TCP client that sends a bad handshake frame is dropped: the node
  // closes the socket, and the client reads end-of-file.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(ep->port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_TRUE(Poll([&] { return server.network->connection_count() == 1; }));
  const char junk[] = "\x05\x00\x00hello";
  ASSERT_EQ(::write(fd, junk, 8), 8);
  char buf[16];
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  EXPECT_EQ(::read(fd, buf, sizeof(buf)), 0);  // closed by the node
  ::close(fd);
  ASSERT_TRUE(Poll([&] { return server.network->connection_count() == 0; }));
  EXPECT_EQ(server.opened, 0);
  EXPECT_EQ(server.closed, 1);

  // Connecting to a closed port reports the failure.
  std::mutex mu;
  std::condition_variable cv;
  bool failed = false;
  Network client(crypto::RandomKeyPair(), {});
  client.Connect({"127.0.0.1", 1}, [&](const Status& st) {
    std::lock_guard<std::mutex> lock(mu);
    failed = !st.ok();
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return failed; }));
}

TEST(Endpoint, Parse) {
  auto a = ParseEndpoint("127.0.0.1:4000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 4000);
  auto b = ParseEndpoint("[::1]:0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->ToString(), "[::1]:0");
  EXPECT_FALSE(ParseEndpoint("nohost").ok());
  EXPECT_FALSE(ParseEndpoint("h:99999").ok());
  EXPECT_FALSE(ParseEndpoint("h:").ok());
  EXPECT_FALSE(ParseEndpoint("[::1]4").ok());
}

}  // namespace
}  // namespace shoal::net
