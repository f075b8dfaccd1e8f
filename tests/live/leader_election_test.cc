// Lease leader election against the API semantics of the in-process object store, on a clock the
// test moves: one leader at a time, takeover only after the holder stops renewing for the lease
// duration (as this process observed it), fast hand-over on release, conflicts lose.
#include "live/leader_election.h"

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "cluster_model/object_store.h"

namespace ktwin::live {
namespace {

struct ManualClock : Clock {
  Time t = kSimEpoch;
  Time now() const override { return t; }
};

struct QueueExecutor : Executor {
  std::vector<std::function<void()>> tasks;
  void post(std::function<void()> task) override { tasks.push_back(std::move(task)); }
  void post_after(Duration, std::function<void()> task) override { tasks.push_back(std::move(task)); }
};

LeaderElectionConfig config(const std::string& who) {
  LeaderElectionConfig c;
  c.identity = who;
  return c;
}

class LeaderElectionTest : public ::testing::Test {
 protected:
  ManualClock clock;
  QueueExecutor exec;
  cluster_model::ObjectStore store{exec, clock};
  json spec() { return store.get("Lease", "kaito-system", "kaito-twin-operator").value()->at("/spec"); }
};

TEST_F(LeaderElectionTest, OneLeaderUntilTheLeaseLapses) {
  LeaseLock a(store, clock, config("a")), b(store, clock, config("b"));
  EXPECT_TRUE(a.try_acquire_or_renew());
  EXPECT_EQ(spec()["holderIdentity"], "a");
  EXPECT_EQ(spec()["leaseDurationSeconds"], 15);
  EXPECT_EQ(spec()["leaseTransitions"], 0);
  EXPECT_FALSE(b.try_acquire_or_renew());
  EXPECT_EQ(b.observed_holder(), "a");

  // a renews every 2 s: b never gets in, however long it waits.
  for (int i = 0; i < 20; ++i) {
    clock.t += 2 * kSecond;
    EXPECT_TRUE(a.try_acquire_or_renew());
    EXPECT_FALSE(b.try_acquire_or_renew());
  }
  // a stops renewing; b takes over only once it has seen the same record for 15 s.
  clock.t += 14 * kSecond;
  EXPECT_FALSE(b.try_acquire_or_renew());
  clock.t += 2 * kSecond;
  EXPECT_TRUE(b.try_acquire_or_renew());
  EXPECT_EQ(spec()["holderIdentity"], "b");
  EXPECT_EQ(spec()["leaseTransitions"], 1);
  EXPECT_EQ(spec()["acquireTime"], spec()["renewTime"]);
  // a comes back: it is no longer the leader and cannot take the Lease back.
  EXPECT_FALSE(a.try_acquire_or_renew());
  EXPECT_FALSE(a.leading());
}

TEST_F(LeaderElectionTest, ReleaseHandsOverAtOnce) {
  LeaseLock a(store, clock, config("a")), b(store, clock, config("b"));
  ASSERT_TRUE(a.try_acquire_or_renew());
  EXPECT_FALSE(b.try_acquire_or_renew());
  a.release();
  EXPECT_EQ(spec()["holderIdentity"], "");
  EXPECT_TRUE(b.try_acquire_or_renew());     // no 15 s wait
  EXPECT_EQ(spec()["leaseTransitions"], 0);  // taking a released Lease is not a transition
  a.release();                               // not the holder: leaves the Lease alone
  EXPECT_EQ(spec()["holderIdentity"], "b");
}

TEST_F(LeaderElectionTest, OnlyOneOfTwoRacingWritersWins) {
  LeaseLock a(store, clock, config("a")), b(store, clock, config("b")), c(store, clock, config("c"));
  ASSERT_TRUE(a.try_acquire_or_renew());
  // Both see the lapsed Lease; the first update wins, the second meets a conflict.
  clock.t += 20 * kSecond;
  EXPECT_FALSE(b.try_acquire_or_renew());  // first sight of the record starts b's own timer
  EXPECT_FALSE(c.try_acquire_or_renew());
  clock.t += 16 * kSecond;
  Object stale = **store.get("Lease", "kaito-system", "kaito-twin-operator");
  EXPECT_TRUE(b.try_acquire_or_renew());
  stale.mut("/spec")["holderIdentity"] = "c";
  EXPECT_TRUE(store.update(stale).is(ErrorCode::kConflict));  // what c's write would meet
  EXPECT_FALSE(c.try_acquire_or_renew());                     // and c now sees b's fresh record
  EXPECT_EQ(spec()["holderIdentity"], "b");
}

TEST(MicroTimeTest, SixFractionalDigits) {
  EXPECT_EQ(format_micro_time(kSimEpoch + 1'234'567'891), "2025-01-01T00:00:01.234567Z");
  EXPECT_EQ(format_micro_time(kSimEpoch), "2025-01-01T00:00:00.000000Z");
}

}  // namespace
}  // namespace ktwin::live
