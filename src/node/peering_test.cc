#include "node/peering.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "log/test_util.h"

namespace shoal::node {
namespace {

using log::testing::MemStore;

bool WaitUntil(const std::function<bool()>& pred, int seconds = 60) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

PeeringOptions Loopback() {
  PeeringOptions o;
  o.listen = net::Endpoint{"127.0.0.1", 0};
  return o;
}

// A writes a log; C, given no peer, finds A through the DHT (joined through
// B) and downloads it.
TEST(Peering, FollowFindsTheWriterOnTheDht) {
  auto sb = MemStore(2);
  PeeringOptions ob = Loopback();
  ob.discovery.dht_listen = net::Endpoint{"127.0.0.1", 0};
  auto b = Peering::Start(sb.get(), ob);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  net::Endpoint boot = *(*b)->dht_endpoint();

  auto sa = MemStore(1);
  auto log = *sa->OpenLog("announced");
  for (int i = 0; i < 20; i++) ASSERT_TRUE(log->Append(AsBytes("block " + std::to_string(i))).ok());
  PeeringOptions oa = Loopback();
  oa.discovery.dht_listen = net::Endpoint{"127.0.0.1", 0};
  oa.discovery.dht_bootstrap = {boot};
  auto a = Peering::Start(sa.get(), oa);
  ASSERT_TRUE(a.ok());

  auto sc = MemStore(3);
  PeeringOptions oc = oa;
  auto c = Peering::Start(sc.get(), oc);
  ASSERT_TRUE(c.ok());
  auto replica = (*c)->Follow(log->key());
  ASSERT_TRUE(replica.ok());
  ASSERT_TRUE(WaitUntil([&] { return (*replica)->contiguous_length() == 20; }));
  EXPECT_EQ(AsString(*(*replica)->Get(19)), "block 19");
}

// Two nodes find each other by multicast, inside a network namespace of
// their own whose loopback carries multicast.
TEST(Peering, LanDiscoveryInANetworkNamespace) {
  if (std::getenv("SHOAL_IN_NETNS") == nullptr) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    ASSERT_GT(n, 0);
    self[n] = 0;
    if (std::system("unshare -n true 2>/dev/null") != 0) {
      GTEST_SKIP() << "cannot create a network namespace here (needs root or user namespaces)";
    }
    std::string cmd = std::string("unshare -n sh -c 'ip link set lo up && ip link set lo multicast on && ") +
                      "ip route add 224.0.0.0/4 dev lo && SHOAL_IN_NETNS=1 exec " + self +
                      " --gtest_filter=Peering.LanDiscoveryInANetworkNamespace'";
    int rc = std::system(cmd.c_str());
    ASSERT_EQ(rc, 0) << cmd;
    return;
  }
  auto sa = MemStore(1);
  auto log = *sa->OpenLog("on the lan");
  for (int i = 0; i < 5; i++) ASSERT_TRUE(log->Append(AsBytes("lan " + std::to_string(i))).ok());
  PeeringOptions oa = Loopback();
  oa.discovery.lan = true;
  auto a = Peering::Start(sa.get(), oa);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto sb = MemStore(2);
  auto b = Peering::Start(sb.get(), oa);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  auto replica = (*b)->Follow(log->key());
  ASSERT_TRUE(replica.ok());
  ASSERT_TRUE(WaitUntil([&] { return (*replica)->contiguous_length() == 5; }));
  EXPECT_EQ(AsString(*(*replica)->Get(4)), "lan 4");
}

}  // namespace
}  // namespace shoal::node
