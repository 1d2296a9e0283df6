// Kills a writer with SIGKILL at random moments, 25 times, and checks after
// each restart that the log opens, verifies from its signature, and holds
// every block whose append was acknowledged, byte for byte.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "log/crash_block.h"
#include "log/test_util.h"

namespace shoal::log {
namespace {

using testing::TempDir;

std::string WriterPath() {
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "log_crash_writer")
      .string();
}

// Starts the writer; returns its pid and the read end of its stdout.
pid_t StartWriter(const std::string& dir, int* out_fd) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    std::string path = WriterPath();
    execl(path.c_str(), path.c_str(), dir.c_str(), nullptr);
    _exit(127);
  }
  close(fds[1]);
  *out_fd = fds[0];
  return pid;
}

// The last complete line of everything the writer printed.
uint64_t LastAcked(int fd) {
  std::string all;
  char buf[4096];
  ssize_t r;
  while ((r = read(fd, buf, sizeof(buf))) > 0) all.append(buf, r);
  close(fd);
  size_t end = all.rfind('\n');
  if (end == std::string::npos) return 0;
  size_t start = all.rfind('\n', end - 1);
  start = start == std::string::npos ? 0 : start + 1;
  return std::stoull(all.substr(start, end - start));
}

TEST(LogCrash, KilledWriterLosesNoAcknowledgedBlock) {
  ASSERT_TRUE(std::filesystem::exists(WriterPath())) << WriterPath();
  TempDir dir;
  std::mt19937_64 rng(std::random_device{}());
  uint64_t acked_total = 0;
  uint64_t checked = 0;  // blocks below this were checked in an earlier round
  const int kKills = 25;
  for (int round = 0; round < kKills; round++) {
    int fd = -1;
    pid_t pid = StartWriter(dir.path(), &fd);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 120));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited early with " << WEXITSTATUS(status);
    uint64_t acked = LastAcked(fd);
    acked_total = std::max(acked_total, acked);

    StoreOptions o;
    auto store = Store::Open(dir.db(), o);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto log = (*store)->GetLog("crash");
    if (acked_total == 0 && !log.ok()) continue;  // killed before the first append
    ASSERT_TRUE(log.ok()) << "round " << round << ": " << log.status().ToString();
    uint64_t length = (*log)->length();
    ASSERT_GE(length, acked_total) << "round " << round << " lost acknowledged blocks";
    // Every block since the last round, and a sample of the older ones (all
    // of which the audit below re-checks every fifth round).
    auto check = [&](uint64_t i) {
      auto block = (*log)->Get(i);
      ASSERT_TRUE(block.ok()) << i << ": " << block.status().ToString();
      std::string_view got = AsString(*block);
      ASSERT_TRUE(got == CrashBlock(i, false) || got == CrashBlock(i, true)) << i;
    };
    for (uint64_t i = checked; i < length; i++) check(i);
    for (int k = 0; k < 200 && checked > 0; k++) check(rng() % checked);
    if (round % 5 == 4 || round == kKills - 1) ASSERT_OK((*log)->Audit());
    // The head was signed as far as the last close; reading the signature
    // signs the rest, which must then verify on the next open.
    ASSERT_OK((*log)->state().status());
    acked_total = length;
    checked = length;
  }
  EXPECT_GT(acked_total, 100u);  // the writer did make progress
  std::printf("crash test: %d kills, %llu blocks survived\n", kKills,
              static_cast<unsigned long long>(acked_total));
}

}  // namespace
}  // namespace shoal::log
