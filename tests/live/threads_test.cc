// The live Clock and Executor: wall time, tasks in order of due time then posting, delays honoured,
// and a clean shutdown that drops work not yet due.
#include "live/threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <vector>

namespace ktwin::live {
namespace {

using namespace std::chrono_literals;

TEST(WallClockTest, IsTheSystemClock) {
  const Time before =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const Time t = WallClock().now();
  EXPECT_GE(t, before);
  EXPECT_LT(t - before, kSecond);
}

TEST(ThreadPoolExecutorTest, RunsTasksByDueTimeThenPostingOrder) {
  std::mutex mu;
  std::vector<int> order;
  std::atomic<int> done{0};
  {
    ThreadPoolExecutor exec(1);
    auto record = [&](int i) {
      return [&, i] {
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(i);
        ++done;
      };
    };
    exec.post_after(60 * kMillisecond, record(3));
    exec.post_after(30 * kMillisecond, record(2));
    exec.post(record(0));
    exec.post(record(1));
    const auto start = std::chrono::steady_clock::now();
    while (done < 4 && std::chrono::steady_clock::now() - start < 5s) std::this_thread::sleep_for(1ms);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 55ms);  // the last one waited for its delay
  }
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

TEST(ThreadPoolExecutorTest, WorkersRunTasksConcurrently) {
  std::atomic<int> running{0}, peak{0}, done{0};
  {
    ThreadPoolExecutor exec(4);
    for (int i = 0; i < 4; ++i)
      exec.post([&] {
        const int now = ++running;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        std::this_thread::sleep_for(50ms);
        --running;
        ++done;
      });
    while (done < 4) std::this_thread::sleep_for(1ms);
  }
  EXPECT_GT(peak.load(), 1);
}

TEST(ThreadPoolExecutorTest, ShutdownDropsWorkNotYetDue) {
  std::atomic<bool> ran{false};
  {
    ThreadPoolExecutor exec(2);
    exec.post_after(10 * kSecond, [&] { ran = true; });
    EXPECT_EQ(exec.pending(), 1u);
  }  // returns at once rather than after ten seconds
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace ktwin::live
