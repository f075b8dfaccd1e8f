// Runs the simulation kernel in step with the wall clock (virtual time = wall time x speed), so the
// simulated cluster can be served to real clients; other threads touch the world only under lock().
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "core/time.h"

namespace ktwin::sim {
class Kernel;
}

namespace ktwin::serve {

class PacedDriver {
 public:
  explicit PacedDriver(double speed);

  //! Runs `kernel` until stop() or, when `until` > 0, until virtual time `until`; returns where it stopped.
  Time run(sim::Kernel& kernel, Time until);
  //! Stops run() (from any thread, e.g. a signal watcher).
  void stop();

  //! Guards the kernel and everything that posts to it.
  std::mutex& lock() { return mu_; }
  //! With lock() held: runs the events due by now, so a request sees the present.
  void catch_up();
  //! With lock() held: a write happened; run its consequences without waiting for the next tick.
  void wake();
  //! With lock() held: virtual time the wall clock has reached.
  Time paced_now() const;
  double speed() const { return speed_; }

 private:
  double speed_;
  std::mutex mu_;
  std::condition_variable cv_;
  sim::Kernel* kernel_ = nullptr;
  Time sim_start_ = 0;
  std::chrono::steady_clock::time_point wall_start_;
  Time until_ = 0;
  bool stop_ = false;
  bool woken_ = false;
};

}  // namespace ktwin::serve
