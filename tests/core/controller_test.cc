// The controller runtime's queue semantics under virtual time: dedup, in-flight re-queue, backoff.
#include <gtest/gtest.h>

#include "core/runtime/controller.h"
#include "sim/kernel.h"

namespace ktwin {
namespace {

class Recorder : public Reconciler {
 public:
  std::vector<std::pair<Time, std::string>> calls;
  std::function<ReconcileResult(const Request&, std::optional<ReconcileError>&)> behaviour;
  Clock* clock = nullptr;
  ReconcileResult reconcile(const Request& req, std::optional<ReconcileError>& error) override {
    calls.emplace_back(clock->now() - kSimEpoch, req.to_string());
    return behaviour ? behaviour(req, error) : ReconcileResult{};
  }
};

TEST(Controller, DeduplicatesQueuedKeys) {
  sim::Kernel k;
  Recorder r;
  r.clock = &k.clock();
  Controller c(ControllerOptions{"t", 1}, r, k.executor(), k.clock());
  c.enqueue({"ns", "a"});
  c.enqueue({"ns", "a"});
  c.enqueue({"ns", "b"});
  k.run_until_idle();
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].second, "ns/a");
  EXPECT_EQ(r.calls[1].second, "ns/b");
}

TEST(Controller, KeyAddedDuringReconcileRunsAgainAfterwards) {
  sim::Kernel k;
  Recorder r;
  r.clock = &k.clock();
  Controller c(ControllerOptions{"t", 5}, r, k.executor(), k.clock());
  int n = 0;
  r.behaviour = [&](const Request& req, std::optional<ReconcileError>&) {
    if (n++ == 0) c.enqueue(req);  // an event arrives while we work
    return ReconcileResult{};
  };
  c.enqueue({"", "x"});
  k.run_until_idle();
  EXPECT_EQ(r.calls.size(), 2u);
}

TEST(Controller, ErrorsBackOffExponentiallyFromFiveMilliseconds) {
  sim::Kernel k;
  Recorder r;
  r.clock = &k.clock();
  Controller c(ControllerOptions{"t", 1}, r, k.executor(), k.clock());
  r.behaviour = [&](const Request&, std::optional<ReconcileError>& e) {
    if (r.calls.size() <= 4) e = ReconcileError{"boom", false};
    return ReconcileResult{};
  };
  c.enqueue({"", "x"});
  k.run_until_idle();
  ASSERT_EQ(r.calls.size(), 5u);
  // Retries after 5, 10, 20, 40 ms.
  EXPECT_EQ(r.calls[1].first - r.calls[0].first, 5 * kMillisecond);
  EXPECT_EQ(r.calls[2].first - r.calls[1].first, 10 * kMillisecond);
  EXPECT_EQ(r.calls[3].first - r.calls[2].first, 20 * kMillisecond);
  EXPECT_EQ(r.calls[4].first - r.calls[3].first, 40 * kMillisecond);
  EXPECT_EQ(c.stats().errors, 4u);
}

TEST(Controller, TerminalErrorsAreNotRetried) {
  sim::Kernel k;
  Recorder r;
  r.clock = &k.clock();
  Controller c(ControllerOptions{"t", 1}, r, k.executor(), k.clock());
  r.behaviour = [&](const Request&, std::optional<ReconcileError>& e) {
    e = ReconcileError{"bad spec", true};
    return ReconcileResult{};
  };
  c.enqueue({"", "x"});
  k.run_until_idle();
  EXPECT_EQ(r.calls.size(), 1u);
}

TEST(Controller, RequeueAfterRunsAtTheRequestedTime) {
  sim::Kernel k;
  Recorder r;
  r.clock = &k.clock();
  Controller c(ControllerOptions{"t", 1}, r, k.executor(), k.clock());
  r.behaviour = [&](const Request&, std::optional<ReconcileError>&) {
    return r.calls.size() < 3 ? ReconcileResult::after(2 * kSecond) : ReconcileResult{};
  };
  c.enqueue({"", "x"});
  k.run_until_idle();
  ASSERT_EQ(r.calls.size(), 3u);
  EXPECT_EQ(r.calls[2].first, 4 * kSecond);
}

TEST(Controller, RepeatedEventsDoNotMultiplyPollingChains) {
  sim::Kernel k;
  Recorder r;
  r.clock = &k.clock();
  Controller c(ControllerOptions{"t", 1}, r, k.executor(), k.clock());
  r.behaviour = [&](const Request&, std::optional<ReconcileError>&) { return ReconcileResult::after(2 * kSecond); };
  // Three events at 0, 0.5 s and 1.3 s, each answered with "poll again in 2 s".
  for (Duration at : {Duration{0}, 500 * kMillisecond, 1300 * kMillisecond})
    k.post_after(at, [&] { c.enqueue({"", "x"}); });
  k.run_until(kSimEpoch + 60 * kSecond);
  // One polling chain (the earliest deadline wins): about 60 s / 2 s, plus the two extra events.
  EXPECT_LE(r.calls.size(), 33u);
  EXPECT_GE(r.calls.size(), 29u);
  c.stop();
}

TEST(Controller, BackoffIsCappedAtMaximum) {
  sim::Kernel k;
  Recorder r;
  r.clock = &k.clock();
  ControllerOptions o{"t", 1};
  o.max_backoff = 100 * kMillisecond;
  Controller c(o, r, k.executor(), k.clock());
  r.behaviour = [&](const Request&, std::optional<ReconcileError>& e) {
    if (r.calls.size() < 10) e = ReconcileError{"boom", false};
    return ReconcileResult{};
  };
  c.enqueue({"", "x"});
  k.run_until_idle();
  ASSERT_EQ(r.calls.size(), 10u);
  EXPECT_EQ(r.calls[9].first - r.calls[8].first, 100 * kMillisecond);
}

TEST(Controller, StopDropsPendingWork) {
  sim::Kernel k;
  Recorder r;
  r.clock = &k.clock();
  Controller c(ControllerOptions{"t", 1}, r, k.executor(), k.clock());
  c.enqueue_after({"", "x"}, kSecond);
  c.stop();
  k.run_until_idle();
  EXPECT_TRUE(r.calls.empty());
}

}  // namespace
}  // namespace ktwin
