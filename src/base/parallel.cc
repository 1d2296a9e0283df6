#include "base/parallel.h"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace shoal {
namespace {

// One helper thread, started on first use and kept for the process lifetime.
class Helper {
 public:
  Helper() : thread_([this] { Run(); }) { thread_.detach(); }

  // Hands `job` to the helper unless it is busy. Returns false if busy.
  bool TryStart(std::function<void()> job) {
    std::lock_guard lock(mu_);
    if (busy_) return false;
    busy_ = true;
    done_ = false;
    job_ = std::move(job);
    cv_.notify_all();
    return true;
  }

  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return done_; });
    busy_ = false;
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return job_ != nullptr; });
      auto job = std::move(job_);
      job_ = nullptr;
      lock.unlock();
      job();
      lock.lock();
      done_ = true;
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool busy_ = false;
  bool done_ = true;
  std::thread thread_;
};

Helper& GetHelper() {
  static Helper* helper = new Helper();  // never destroyed: it may be running at exit
  return *helper;
}

}  // namespace

void ParallelFor(size_t n, size_t min_parallel, const std::function<void(size_t, size_t)>& fn) {
  if (n < min_parallel || n < 2 || std::thread::hardware_concurrency() < 2) {
    fn(0, n);
    return;
  }
  size_t half = n / 2;
  Helper& helper = GetHelper();
  if (!helper.TryStart([&] { fn(half, n); })) {
    fn(0, n);
    return;
  }
  fn(0, half);
  helper.Wait();
}

}  // namespace shoal
