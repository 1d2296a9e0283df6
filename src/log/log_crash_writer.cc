// Test tool for log_crash_test: appends to log "crash" in DIR forever (at most
// 20 s), writing each acknowledged length as a line to stdout. Block i holds
// CrashBlock(i), so a reader can check every byte after a crash. Single
// appends alternate with batches of 1 to 16 blocks and with batches of 40
// blocks of 1,500 bytes (60,000 bytes per append, hashed on two threads).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "log/crash_block.h"
#include "log/store.h"

int main(int argc, char** argv) {
  using namespace shoal;
  if (argc != 2) {
    std::fprintf(stderr, "usage: log_crash_writer DIR\n");
    return 2;
  }
  auto store = log::Store::Open(std::string(argv[1]) + "/db");
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  auto log = (*store)->OpenLog("crash");
  if (!log.ok()) {
    std::fprintf(stderr, "open log: %s\n", log.status().ToString().c_str());
    return 1;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  uint64_t round = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    uint64_t length = (*log)->length();
    size_t n = round % 3 == 0 ? 1 : round % 3 == 1 ? 1 + round % 16 : 40;
    round++;
    std::vector<std::string> blocks;
    for (size_t k = 0; k < n; k++) blocks.push_back(CrashBlock(length + k, n == 40));
    std::vector<ByteView> views(blocks.size());
    for (size_t k = 0; k < n; k++) views[k] = AsBytes(blocks[k]);
    auto acked = (*log)->Append(views);
    if (!acked.ok()) {
      std::fprintf(stderr, "append: %s\n", acked.status().ToString().c_str());
      return 1;
    }
    std::string line = std::to_string(*acked) + "\n";
    if (write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 1;
  }
  return 0;
}
