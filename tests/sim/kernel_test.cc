// Contract tests of the discrete-event kernel: (time, seq) order, FIFO at equal times, run_until
// boundaries, stop, cancel, and the Clock/Executor views.
#include "sim/kernel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "sim/rng.h"

namespace ktwin::sim {
namespace {

TEST(KernelTest, StartsAtSimEpochAndIsIdle) {
  Kernel k;
  EXPECT_EQ(k.now(), kSimEpoch);
  EXPECT_EQ(k.pending(), 0u);
  EXPECT_FALSE(k.step());
  EXPECT_EQ(k.run_until_idle(), 0u);
  EXPECT_EQ(k.clock().now(), kSimEpoch);
}

TEST(KernelTest, SameTimeEventsRunFirstInFirstOut) {
  Kernel k(0);
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) k.post_at(10, [&order, i] { order.push_back(i); });
  k.run_until_idle();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

TEST(KernelTest, OrdersByTimeThenPostingOrder) {
  Kernel k(0);
  std::string log;
  k.post_at(30, [&] { log += "c"; });
  k.post_at(10, [&] { log += "a"; });
  k.post_at(20, [&] { log += "b1"; });
  k.post_at(20, [&] { log += "b2"; });
  k.post_at(10, [&] { log += "a2"; });
  k.run_until_idle();
  EXPECT_EQ(log, "aa2b1b2c");
  EXPECT_EQ(k.now(), 30);
}

TEST(KernelTest, EventsPostedDuringAnEventInterleaveByTimeAndSeq) {
  Kernel k(0);
  std::vector<std::string> log;
  k.post_at(10, [&] {
    log.push_back("A@" + std::to_string(k.now()));
    k.post([&] { log.push_back("A.now@" + std::to_string(k.now())); });          // after B (posted earlier)
    k.post_after(5, [&] { log.push_back("A.+5@" + std::to_string(k.now())); });  // after C (posted earlier)
  });
  k.post_at(10, [&] { log.push_back("B@" + std::to_string(k.now())); });
  k.post_at(15, [&] { log.push_back("C@" + std::to_string(k.now())); });
  k.run_until_idle();
  std::vector<std::string> want = {"A@10", "B@10", "A.now@10", "C@15", "A.+5@15"};
  EXPECT_EQ(log, want);
}

TEST(KernelTest, RunUntilIncludesBoundaryAndAdvancesClock) {
  Kernel k(0);
  std::vector<Time> ran;
  for (Time t : {5, 10, 11, 20}) k.post_at(t, [&ran, &k] { ran.push_back(k.now()); });
  EXPECT_EQ(k.run_until(10), 2u);
  EXPECT_EQ(ran, (std::vector<Time>{5, 10}));
  EXPECT_EQ(k.now(), 10);
  EXPECT_EQ(k.pending(), 2u);
  EXPECT_EQ(k.run_until(10), 0u);  // idempotent at the same time
  EXPECT_EQ(k.run_until(15), 1u);
  EXPECT_EQ(k.now(), 15);  // the clock moves to the boundary even without an event there
  EXPECT_EQ(k.next_event_time(), std::optional<Time>(20));
  EXPECT_EQ(k.run_until(100), 1u);
  EXPECT_EQ(k.now(), 100);
  EXPECT_EQ(k.events_executed(), 4u);
}

TEST(KernelTest, EventPostedAtBoundaryDuringRunUntilStillRuns) {
  Kernel k(0);
  int count = 0;
  k.post_at(10, [&] {
    ++count;
    k.post([&] { ++count; });           // same time: within the boundary
    k.post_after(1, [&] { ++count; });  // past the boundary: waits
  });
  EXPECT_EQ(k.run_until(10), 2u);
  EXPECT_EQ(count, 2);
  EXPECT_EQ(k.pending(), 1u);
}

TEST(KernelTest, StopEndsTheRunAfterTheCurrentEvent) {
  Kernel k(0);
  int count = 0;
  for (Time t = 1; t <= 10; ++t)
    k.post_at(t, [&] {
      if (++count == 3) k.stop();
    });
  EXPECT_EQ(k.run_until(100), 3u);
  EXPECT_TRUE(k.stop_requested());
  EXPECT_EQ(k.now(), 3);              // not advanced to the boundary when stopped
  EXPECT_EQ(k.run_until_idle(), 7u);  // the next run clears the flag
  EXPECT_EQ(count, 10);
}

TEST(KernelTest, RunUntilIdleHonoursLimit) {
  Kernel k(0);
  for (int i = 0; i < 10; ++i) k.post_at(i, [] {});
  EXPECT_EQ(k.run_until_idle(4), 4u);
  EXPECT_EQ(k.pending(), 6u);
  EXPECT_EQ(k.now(), 3);
}

TEST(KernelTest, CancelSkipsTheEventAndFreesNothingEarly) {
  Kernel k(0);
  std::string log;
  EventId a = k.post_at(1, [&] { log += "a"; });
  EventId b = k.post_at(2, [&] { log += "b"; });
  k.post_at(3, [&] { log += "c"; });
  EXPECT_TRUE(k.cancel(b));
  EXPECT_FALSE(k.cancel(b));
  EXPECT_EQ(k.pending(), 2u);
  // New events must not reuse b's slot while its stale heap entry is queued.
  k.post_at(2, [&] { log += "d"; });
  k.run_until_idle();
  EXPECT_EQ(log, "adc");
  EXPECT_FALSE(k.cancel(a));  // already ran
  EXPECT_EQ(k.events_cancelled(), 1u);
  EXPECT_EQ(k.events_executed() + k.events_cancelled(), k.events_posted());
}

TEST(KernelTest, ClockAndExecutorAreViewsOfTheKernel) {
  Kernel k;
  Clock& clock = k.clock();
  Executor& ex = k.executor();
  std::vector<Time> seen;
  ex.post_after(2 * kMinute, [&] { seen.push_back(clock.now()); });
  ex.post([&] { seen.push_back(clock.now()); });
  k.run_until_idle();
  EXPECT_EQ(seen, (std::vector<Time>{kSimEpoch, kSimEpoch + 2 * kMinute}));
}

TEST(KernelTest, TwoKernelsAreIndependent) {
  Kernel a(0), b(1000);
  int ca = 0, cb = 0;
  a.post_at(5, [&] { ++ca; });
  b.post_at(2000, [&] { ++cb; });
  a.run_until_idle();
  EXPECT_EQ(ca, 1);
  EXPECT_EQ(cb, 0);
  EXPECT_EQ(b.now(), 1000);
  b.run_until_idle();
  EXPECT_EQ(cb, 1);
}

// Many random events: the run order must equal a stable sort by time of the posting order.
TEST(KernelTest, ManyRandomEventsRunInTimeThenSeqOrder) {
  const uint64_t seed = 7;
  SCOPED_TRACE("seed " + std::to_string(seed));
  RngStream rng(seed, "kernel-test");
  Kernel k(0);
  const int n = 200000;
  std::vector<std::pair<Time, int>> posted;
  std::vector<int> ran;
  ran.reserve(n);
  for (int i = 0; i < n; ++i) {
    Time t = rng.uniform_int(0, 5000);  // small range: many ties
    posted.emplace_back(t, i);
    k.post_at(t, [&ran, i] { ran.push_back(i); });
  }
  EXPECT_EQ(k.pending(), static_cast<size_t>(n));
  EXPECT_EQ(k.run_until_idle(), static_cast<uint64_t>(n));
  std::stable_sort(posted.begin(), posted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  ASSERT_EQ(ran.size(), posted.size());
  for (int i = 0; i < n; ++i) ASSERT_EQ(ran[i], posted[i].second) << "at position " << i;
  EXPECT_EQ(k.pending(), 0u);
}

TEST(KernelTest, SelfReschedulingChainsAndTimers) {
  Kernel k(0);
  std::vector<std::pair<char, Time>> log;
  std::function<void()> tick_a = [&] {
    log.emplace_back('a', k.now());
    if (k.now() < 30) k.post_after(10, tick_a);
  };
  std::function<void()> tick_b = [&] {
    log.emplace_back('b', k.now());
    if (k.now() < 30) k.post_after(15, tick_b);
  };
  k.post(tick_a);
  k.post(tick_b);
  k.run_until_idle();
  std::vector<std::pair<char, Time>> want = {{'a', 0},  {'b', 0},  {'a', 10}, {'b', 15},
                                             {'a', 20}, {'b', 30}, {'a', 30}};  // b's 30 was posted at 15, a's at 20
  EXPECT_EQ(log, want);
}

TEST(KernelDeathTest, PostingInThePastAborts) {
  Kernel k(100);
  EXPECT_DEATH(k.post_at(99, [] {}), "event posted in the past");
  EXPECT_DEATH(k.post_after(-1, [] {}), "event posted in the past");
}

}  // namespace
}  // namespace ktwin::sim

namespace ktwin::sim {
namespace {

TEST(KernelShuffleTies, PermutesSameTimeEventsOnlyAndKeepsCancel) {
  auto order_of = [](uint64_t shuffle) {
    Kernel k;
    k.shuffle_ties(shuffle);
    std::vector<int> order;
    std::vector<EventId> ids;
    for (int i = 0; i < 50; ++i) ids.push_back(k.post_after(kSecond, [&order, i] { order.push_back(i); }));
    k.post_after(2 * kSecond, [&order] { order.push_back(100); });
    k.post_after(0, [&order] { order.push_back(-1); });
    EXPECT_TRUE(k.cancel(ids[7]));
    EXPECT_FALSE(k.cancel(ids[7]));
    k.run_until_idle();
    return order;
  };
  const auto plain = order_of(0), a = order_of(11), b = order_of(12);
  ASSERT_EQ(plain.size(), 51u);
  for (const auto* o : {&plain, &a, &b}) {
    EXPECT_EQ(o->front(), -1);                          // earlier times first
    EXPECT_EQ(o->back(), 100);                          // later times last
    EXPECT_EQ(std::count(o->begin(), o->end(), 7), 0);  // cancelled stays cancelled
    std::vector<int> sorted = *o;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, [] {
      std::vector<int> v{-1};
      for (int i = 0; i < 50; ++i)
        if (i != 7) v.push_back(i);
      v.push_back(100);
      return v;
    }());
  }
  EXPECT_TRUE(std::is_sorted(plain.begin() + 1, plain.end() - 1));  // posting order without shuffling
  EXPECT_NE(a, plain);
  EXPECT_NE(a, b);
  EXPECT_EQ(a, order_of(11));  // the permutation is a function of the seed
}

}  // namespace
}  // namespace ktwin::sim
