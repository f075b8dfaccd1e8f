// The wall clock and a worker pool with a timer, as the core's Clock and Executor ports in live mode.
#pragma once
#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "core/ports.h"

namespace ktwin::live {

class WallClock final : public Clock {
 public:
  Time now() const override;  //!< nanoseconds since the Unix epoch (system_clock)
};

//! `workers` threads run posted tasks; post_after tasks wait on a steady-clock timer (immune to wall-clock
//! jumps). Tasks due at the same time start in posting order; with several workers they may overlap.
//! The destructor stops the pool: queued tasks that are due run, later ones are dropped.
class ThreadPoolExecutor final : public Executor {
 public:
  explicit ThreadPoolExecutor(int workers);
  ~ThreadPoolExecutor() override;
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;

  void post(std::function<void()> task) override;
  void post_after(Duration delay, std::function<void()> task) override;
  //! Tasks queued or waiting on the timer (for /metrics).
  size_t pending() const;

 private:
  struct Timed {
    std::chrono::steady_clock::time_point due;
    uint64_t seq;
    std::function<void()> task;
    bool operator>(const Timed& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };
  void work();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Timed, std::vector<Timed>, std::greater<>> queue_;
  uint64_t seq_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ktwin::live
