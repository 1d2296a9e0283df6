// EventLoop: one thread's epoll, timers and a queue of work posted from
// other threads: what the broker's server runs on.
//
// It exists so that an idle connection costs only its own record: a file
// descriptor registered once (level-triggered) with a pointer to its
// Watcher, and nothing pending per connection, where Asio keeps a reactor
// entry and an operation allocated per socket.
//
//   auto loop = EventLoop::Make();
//   (*loop)->Watch(fd, EPOLLIN, &watcher);   // on the loop's thread
//   (*loop)->At(when, [] { ... });
//   (*loop)->Post([] { ... });               // any thread
//   (*loop)->Run();                          // until Stop()
//
// Order within one turn: the ready watchers, then the timers that are due,
// then what was posted. Events fetched in a turn may still reach a watcher
// after it called Forget (or closed its descriptor) in that turn, so it must
// ignore them; and it may be deleted only from a timer or posted work, once
// it has stopped watching, never from a watcher's OnReady.
//
// Thread safety: Post and Stop from any thread; everything else on the
// thread that calls Run, or before Run starts.
#pragma once

#include <chrono>
#include <cstdint>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <vector>

#include "base/result.h"

namespace shoal::mqtt {

using Clock = std::chrono::steady_clock;  // as in broker.h

class EventLoop {
 public:
  // Something with a file descriptor in the loop.
  class Watcher {
   public:
    // `events`: EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP as epoll reported them.
    virtual void OnReady(uint32_t events) = 0;

   protected:
    ~Watcher() = default;
  };

  static Result<std::unique_ptr<EventLoop>> Make();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Starts reporting `events` (EPOLLIN, EPOLLOUT) on `fd` to `w`, until
  // Forget. The caller keeps the descriptor and the watcher.
  Status Watch(int fd, uint32_t events, Watcher* w);
  // Changes what is reported on a watched descriptor.
  Status Change(int fd, uint32_t events, Watcher* w);
  // Stops reporting `fd`. Closing a descriptor forgets it as well.
  void Forget(int fd);

  // Runs `fn` on the loop's thread once `when` has passed.
  void At(Clock::time_point when, std::function<void()> fn);
  // Runs `fn` on the loop's thread at the end of its current turn (or of
  // the next, if it is idle). Any thread.
  void Post(std::function<void()> fn);

  // Runs until Stop. Work posted and not yet run when it returns is
  // dropped, and timers not yet due are forgotten.
  void Run();
  // Makes Run return at the end of its turn. Any thread.
  void Stop();

 private:
  EventLoop(int epoll_fd, int wake_fd);
  Status Control(int op, int fd, uint32_t events, Watcher* w);  // epoll_ctl
  void RunDue();
  void RunPosted();

  struct Timer {
    Clock::time_point when;
    uint64_t order;  // ties run in the order they were set
    std::function<void()> fn;
    bool operator>(const Timer& o) const {
      return when != o.when ? when > o.when : order > o.order;
    }
  };

  const int epoll_fd_;
  const int wake_fd_;  // an eventfd: Post and Stop wake epoll_wait with it
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  uint64_t timer_order_ = 0;
  std::mutex mu_;
  std::vector<std::function<void()>> posted_;  // guarded by mu_
  std::atomic<bool> stop_ = false;
};

}  // namespace shoal::mqtt
