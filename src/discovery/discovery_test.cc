#include "discovery/discovery.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

namespace shoal::discovery {
namespace {

bool WaitUntil(const std::function<bool()>& pred, int seconds = 30) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// Three DHT nodes on loopback: B announces a topic; C, joined through A,
// finds B's peer port under it, and nothing under another topic.
TEST(Discovery, DhtOnLoopback) {
  Options oa;
  oa.peer_port = 1111;
  oa.dht_listen = net::Endpoint{"127.0.0.1", 0};
  auto a = Discovery::Start(oa, nullptr);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  net::Endpoint boot = *(*a)->dht_endpoint();
  ASSERT_NE(boot.port, 0);

  Options ob = oa;
  ob.peer_port = 2222;
  ob.dht_bootstrap = {boot};
  auto b = Discovery::Start(ob, nullptr);
  ASSERT_TRUE(b.ok());

  std::mutex mu;
  std::vector<Found> found;
  Options oc = oa;
  oc.peer_port = 3333;
  oc.dht_bootstrap = {boot};
  auto c = Discovery::Start(oc, [&](const Found& f) {
    std::lock_guard lock(mu);
    found.push_back(f);
  });
  ASSERT_TRUE(c.ok());

  log::Hash topic;
  topic.fill(0x42);
  log::Hash other;
  other.fill(0x43);
  (*b)->Announce(topic);
  (*c)->Lookup(topic);
  (*c)->Lookup(other);
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard lock(mu);
    for (auto& f : found) {
      if (f.endpoint.port == 2222) return true;
    }
    return false;
  }));
  std::lock_guard lock(mu);
  for (auto& f : found) {
    EXPECT_EQ(f.endpoint.host, "127.0.0.1");
    EXPECT_EQ(f.endpoint.port, 2222);
    EXPECT_EQ(f.via, "dht");
  }
}

}  // namespace
}  // namespace shoal::discovery
