// The Shoal side of the replication benchmark (bench/run-repl). One process
// per role, so the two ends of a replication are two processes, as with the
// JS peer (bench/repl_bench.js):
//
//   repl_peer seed DIR COUNT SIZE   a store in DIR with log "bench": COUNT
//                                   blocks of SIZE bytes (the same bytes the
//                                   JS side makes); prints the log's key
//   repl_peer serve DIR             serves DIR on 127.0.0.1, prints "PORT KEY",
//                                   and runs until standard input closes
//   repl_peer fetch DIR KEY PORT    downloads log KEY from 127.0.0.1:PORT into
//                                   a new store in DIR; prints one JSON line
//                                   {"seconds","bytes","blocks","tree_hash"}
#include <cstdio>
#include <iostream>
#include <thread>

#include "bench_util.h"
#include "log/store.h"
#include "repl/replicator.h"

namespace shoal::bench {
namespace {

int Fail(const Status& s) {
  std::fprintf(stderr, "repl_peer: %s\n", s.ToString().c_str());
  return 1;
}

log::StoreOptions Options(uint8_t seed_byte) {
  log::StoreOptions o;
  crypto::Seed seed;
  seed.fill(seed_byte);
  o.seed = seed;
  return o;
}

int Seed(const std::string& dir, uint64_t count, size_t size) {
  auto store = log::Store::Open(dir, Options(1));
  if (!store.ok()) return Fail(store.status());
  auto log = (*store)->OpenLog("bench");
  if (!log.ok()) return Fail(log.status());
  // In batches of 16 blocks, so the items need not all be in memory.
  Rng rng(7);
  for (uint64_t done = 0; done < count;) {
    size_t n = std::min<uint64_t>(16, count - done);
    std::vector<Bytes> items(n, Bytes(size));
    for (Bytes& item : items) {
      for (size_t i = 0; i < size; i += 4) {
        uint32_t v = rng.Next();
        for (int b = 0; b < 4; b++) item[i + b] = static_cast<uint8_t>(v >> (8 * b));
      }
    }
    std::vector<ByteView> views(items.begin(), items.end());
    if (auto s = (*log)->Append(views); !s.ok()) return Fail(s.status());
    done += n;
  }
  if (auto s = (*log)->Sign(); !s.ok()) return Fail(s);
  std::printf("%s\n", ToHex((*log)->key()).c_str());
  return 0;
}

int Serve(const std::string& dir) {
  auto store = log::Store::Open(dir, Options(1));
  if (!store.ok()) return Fail(store.status());
  auto log = (*store)->GetLog("bench");
  if (!log.ok()) return Fail(log.status());
  repl::Replicator replicator(store->get());
  auto network = std::make_unique<net::Network>(crypto::RandomKeyPair(), replicator.Callbacks());
  auto ep = network->Listen({"127.0.0.1", 0});
  if (!ep.ok()) return Fail(ep.status());
  std::printf("%u %s\n", ep->port, ToHex((*log)->key()).c_str());
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  network.reset();
  return 0;
}

int Fetch(const std::string& dir, const std::string& key_hex, uint16_t port) {
  auto key = FixedFromHex<32>(key_hex);
  if (!key) return Fail(Status::InvalidArgument("bad key"));
  auto store = log::Store::Open(dir, Options(2));
  if (!store.ok()) return Fail(store.status());
  auto log = (*store)->OpenLogByKey(*key, true);
  if (!log.ok()) return Fail(log.status());
  repl::Replicator replicator(store->get());
  auto network = std::make_unique<net::Network>(crypto::RandomKeyPair(), replicator.Callbacks());
  replicator.Follow(*log);
  Clock::time_point start = Clock::now();
  network->Connect({"127.0.0.1", port});
  // Done when the length a peer announced is all here.
  for (;;) {
    uint64_t remote = 0;
    bool synced = false;
    for (const auto& p : replicator.Peers()) {
      for (const auto& c : p.channels) {
        if (c.synced) {
          synced = true;
          remote = std::max(remote, c.remote_length);
        }
      }
    }
    if (synced && remote > 0 && (*log)->length() >= remote && (*log)->contiguous_length() == remote) break;
    if (SecondsSince(start) > 600) return Fail(Status::IOError("timed out"));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  double seconds = SecondsSince(start);
  network.reset();
  std::printf("{\"seconds\":%.6f,\"bytes\":%llu,\"blocks\":%llu,\"tree_hash\":\"%s\"}\n", seconds,
              static_cast<unsigned long long>((*log)->byte_length()),
              static_cast<unsigned long long>((*log)->length()), ToHex((*log)->tree_hash()).c_str());
  return 0;
}

}  // namespace
}  // namespace shoal::bench

int main(int argc, char** argv) {
  using namespace shoal::bench;
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "seed" && argc == 5) return Seed(argv[2], std::stoull(argv[3]), std::stoull(argv[4]));
  if (cmd == "serve" && argc == 3) return Serve(argv[2]);
  if (cmd == "fetch" && argc == 5) return Fetch(argv[2], argv[3], static_cast<uint16_t>(std::stoul(argv[4])));
  std::fprintf(stderr,
               "usage: repl_peer seed DIR COUNT SIZE | serve DIR | fetch DIR KEY PORT\n");
  return 2;
}
