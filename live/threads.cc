#include "live/threads.h"

#include <chrono>

namespace ktwin::live {

Time WallClock::now() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ThreadPoolExecutor::ThreadPoolExecutor(int workers) {
  for (int i = 0; i < std::max(1, workers); ++i) threads_.emplace_back([this] { work(); });
}

ThreadPoolExecutor::~ThreadPoolExecutor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPoolExecutor::post(std::function<void()> task) { post_after(0, std::move(task)); }

void ThreadPoolExecutor::post_after(Duration delay, std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    queue_.push(Timed{std::chrono::steady_clock::now() + std::chrono::nanoseconds(std::max<Duration>(0, delay)), seq_++,
                      std::move(task)});
  }
  cv_.notify_one();
}

size_t ThreadPoolExecutor::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void ThreadPoolExecutor::work() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (queue_.empty()) {
      if (stopping_) return;
      cv_.wait(lock);
      continue;
    }
    const auto due = queue_.top().due;
    if (due > std::chrono::steady_clock::now()) {
      if (stopping_) return;  // later work is dropped on shutdown
      cv_.wait_until(lock, due);
      continue;
    }
    // priority_queue::top is const: move the task out through a copy of the node.
    Timed next = queue_.top();
    queue_.pop();
    lock.unlock();
    next.task();
    lock.lock();
  }
}

}  // namespace ktwin::live
