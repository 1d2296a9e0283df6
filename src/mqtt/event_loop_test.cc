#include "mqtt/event_loop.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <thread>
#include <vector>

namespace shoal::mqtt {
namespace {

using namespace std::chrono_literals;

// Reads what a pipe holds each time it is readable, and stops the loop
// once it has `want` bytes.
class PipeReader : public EventLoop::Watcher {
 public:
  PipeReader(EventLoop* loop, int fd, size_t want) : loop_(loop), fd_(fd), want_(want) {}
  void OnReady(uint32_t events) override {
    ASSERT_TRUE(events & EPOLLIN);
    char buf[64];
    ssize_t n = ::read(fd_, buf, sizeof(buf));
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
    if (got.size() >= want_) loop_->Stop();
  }
  std::string got;

 private:
  EventLoop* loop_;
  int fd_;
  size_t want_;
};

TEST(EventLoop, WatchersTimersAndPostedWork) {
  auto loop = EventLoop::Make();
  ASSERT_TRUE(loop.ok()) << loop.status().ToString();
  EventLoop& l = **loop;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  PipeReader reader(&l, fds[0], 6);
  ASSERT_TRUE(l.Watch(fds[0], EPOLLIN, &reader).ok());

  std::vector<int> order;
  const auto now = Clock::now();
  // Timers run by time, and in the order set when due together.
  l.At(now + 30ms, [&] { order.push_back(3); });
  l.At(now + 10ms, [&] { order.push_back(1); });
  l.At(now + 10ms, [&] {
    order.push_back(2);
    // A timer may set another; posted work runs in the same turn's end.
    l.Post([&] { order.push_back(20); });
  });
  l.At(now + 40ms, [&] { (void)!::write(fds[1], "abc", 3); });
  // From another thread: posted work, then more bytes for the pipe.
  std::thread other([&] {
    std::this_thread::sleep_for(60ms);
    l.Post([&] {
      order.push_back(4);
      (void)!::write(fds[1], "def", 3);
    });
  });
  l.Run();
  other.join();
  EXPECT_EQ(reader.got, "abcdef");
  EXPECT_EQ(order, (std::vector<int>{1, 2, 20, 3, 4}));
  EXPECT_GE(Clock::now() - now, 60ms);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(EventLoop, ChangeAndForget) {
  auto loop = EventLoop::Make();
  ASSERT_TRUE(loop.ok());
  EventLoop& l = **loop;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  struct Counter : EventLoop::Watcher {
    void OnReady(uint32_t) override { calls++; }
    int calls = 0;
  } counter;
  // The write end is writable at once; level-triggered, so every turn.
  ASSERT_TRUE(l.Watch(fds[1], EPOLLOUT, &counter).ok());
  l.At(Clock::now() + 20ms, [&] {
    EXPECT_GT(counter.calls, 1);
    ASSERT_TRUE(l.Change(fds[1], 0, &counter).ok());  // nothing reported now
    counter.calls = 0;
  });
  l.At(Clock::now() + 60ms, [&] {
    EXPECT_EQ(counter.calls, 0);
    l.Forget(fds[1]);
    EXPECT_FALSE(l.Change(fds[1], EPOLLOUT, &counter).ok());  // not watched any more
    l.Stop();
  });
  l.Run();
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(EventLoop, StopFromAnotherThreadWakesAnIdleLoop) {
  auto loop = EventLoop::Make();
  ASSERT_TRUE(loop.ok());
  bool dropped_ran = false;
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    (*loop)->Stop();
  });
  (*loop)->At(Clock::now() + 1h, [&] { dropped_ran = true; });
  const auto start = Clock::now();
  (*loop)->Run();
  stopper.join();
  EXPECT_LT(Clock::now() - start, 10s);
  EXPECT_FALSE(dropped_ran);
}

}  // namespace
}  // namespace shoal::mqtt
