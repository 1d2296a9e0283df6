#include "mqtt/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace shoal::mqtt {

namespace {

Status Errno(const char* what) { return Status::IOError(std::string(what) + ": " + std::strerror(errno)); }

}  // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::Make() {
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return Errno("epoll_create1");
  int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    Status st = Errno("eventfd");
    ::close(ep);
    return st;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake descriptor is the one without a watcher
  if (::epoll_ctl(ep, EPOLL_CTL_ADD, wake, &ev) != 0) {
    Status st = Errno("epoll_ctl");
    ::close(wake);
    ::close(ep);
    return st;
  }
  return std::unique_ptr<EventLoop>(new EventLoop(ep, wake));
}

EventLoop::EventLoop(int epoll_fd, int wake_fd) : epoll_fd_(epoll_fd), wake_fd_(wake_fd) {}

EventLoop::~EventLoop() {
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

Status EventLoop::Control(int op, int fd, uint32_t events, Watcher* w) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = w;
  if (::epoll_ctl(epoll_fd_, op, fd, &ev) != 0) return Errno("epoll_ctl");
  return Status::OK();
}

Status EventLoop::Watch(int fd, uint32_t events, Watcher* w) {
  return Control(EPOLL_CTL_ADD, fd, events, w);
}

Status EventLoop::Change(int fd, uint32_t events, Watcher* w) {
  return Control(EPOLL_CTL_MOD, fd, events, w);
}

void EventLoop::Forget(int fd) { ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void EventLoop::At(Clock::time_point when, std::function<void()> fn) {
  timers_.push(Timer{when, timer_order_++, std::move(fn)});
}

void EventLoop::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
}

void EventLoop::Stop() {
  stop_ = true;
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
}

void EventLoop::Run() {
  constexpr int kBatch = 256;
  epoll_event events[kBatch];
  while (!stop_) {
    int timeout = -1;
    if (!timers_.empty()) {
      auto wait = timers_.top().when - Clock::now();
      // Rounded up, so the loop does not wake just before a timer is due.
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
      timeout = ms <= 0 ? 0 : static_cast<int>(std::min<int64_t>(ms, 60'000));
    }
    int n = ::epoll_wait(epoll_fd_, events, kBatch, timeout);
    for (int i = 0; i < n; i++) {
      auto* w = static_cast<Watcher*>(events[i].data.ptr);
      if (w == nullptr) {
        uint64_t count;
        (void)!::read(wake_fd_, &count, sizeof(count));
        continue;
      }
      w->OnReady(events[i].events);
    }
    RunDue();
    RunPosted();
  }
}

void EventLoop::RunDue() {
  const auto now = Clock::now();
  while (!timers_.empty() && timers_.top().when <= now) {
    // The timer leaves the heap before it runs, as it may set others.
    auto fn = std::move(const_cast<Timer&>(timers_.top()).fn);
    timers_.pop();
    fn();
  }
}

void EventLoop::RunPosted() {
  std::vector<std::function<void()>> work;
  {
    std::lock_guard<std::mutex> lock(mu_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
}

}  // namespace shoal::mqtt
