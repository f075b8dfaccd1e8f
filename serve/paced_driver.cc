#include "serve/paced_driver.h"

#include <stdexcept>

#include "sim/kernel.h"

namespace ktwin::serve {

PacedDriver::PacedDriver(double speed) : speed_(speed) {
  if (!(speed > 0)) throw std::invalid_argument("speed must be positive");
}

Time PacedDriver::paced_now() const {
  const auto wall = std::chrono::steady_clock::now() - wall_start_;
  const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(wall).count()) * speed_;
  Time t = sim_start_ + static_cast<Time>(ns);
  if (until_ > 0 && t > until_) t = until_;
  return t;
}

void PacedDriver::catch_up() {
  if (!kernel_) return;
  const Time target = paced_now();
  if (target > kernel_->now()) kernel_->run_until(target);
}

void PacedDriver::wake() {
  woken_ = true;
  cv_.notify_all();
}

void PacedDriver::stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = true;
  cv_.notify_all();
}

Time PacedDriver::run(sim::Kernel& kernel, Time until) {
  std::unique_lock<std::mutex> lock(mu_);
  kernel_ = &kernel;
  sim_start_ = kernel.now();
  wall_start_ = std::chrono::steady_clock::now();
  until_ = until;
  while (!stop_) {
    const Time target = paced_now();
    kernel.run_until(target);  // also runs what a request's write posted for the present
    woken_ = false;
    if (until_ > 0 && target >= until_) break;
    // Sleep until the next event is due on the wall clock (at most 100 ms, so time keeps moving).
    auto wake_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    if (auto next = kernel.next_event_time()) {
      const double wall_ns = static_cast<double>(*next - sim_start_) / speed_;
      const auto due = wall_start_ + std::chrono::nanoseconds(static_cast<int64_t>(wall_ns));
      if (due < wake_at) wake_at = due;
    }
    cv_.wait_until(lock, wake_at, [this] { return stop_ || woken_; });
  }
  kernel_ = nullptr;
  return kernel.now();
}

}  // namespace ktwin::serve
