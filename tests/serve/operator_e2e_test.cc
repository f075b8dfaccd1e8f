// `ktwin operator` against `ktwin serve --controllers none` over HTTP, in one process: the live operator
// must leave the same objects and conditions as the in-process simulation of the same scenario, also
// with faults injected at the HTTP layer and an API-server restart (with compacted history) mid-run.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "catalog/catalog.h"
#include "cluster_model/object_store.h"
#include "live/operator.h"
#include "serve/scenario_server.h"
#include "sim/kernel.h"
#include "sim/runner.h"
#include "sim/scenario.h"
#include "tests/support/object_compare.h"

namespace ktwin {
namespace {

using namespace std::chrono_literals;

using testing::first_difference;
using testing::normalize;
using testing::Snapshot;
using testing::snapshot;

struct LiveRun {
  sim::RunOutcome outcome;
  Snapshot objects;
  live::OperatorStatus status;
  serve::RestServerStats server_stats;
  int operator_exit = -1;
};

// Serves the scenario with no controllers and runs the operator against it until `until`.
LiveRun run_live(const sim::Scenario& sc, const serve::HttpFaults& faults,
                 const std::function<void(serve::ScenarioServer&)>& meanwhile = {}) {
  const catalog::Catalog& cat = catalog::default_catalog();
  LiveRun out;
  serve::ServeOptions so;
  so.speed = 100;
  so.builtin_controllers = false;
  so.until = sc.duration;
  so.server.faults = faults;
  std::promise<int> port;
  so.on_ready = [&port](serve::RestServer& s) { port.set_value(s.port()); };
  so.on_finish = [&out](Cluster& store) { out.objects = snapshot(store); };
  serve::ScenarioServer server(sc, cat, so);
  auto served = std::async(std::launch::async, [&] { return server.run(); });
  const int p = port.get_future().get();

  live::OperatorOptions oo;
  oo.rest.server = "http://127.0.0.1:" + std::to_string(p);
  oo.metrics_addr = "127.0.0.1:0";
  oo.http.qps = 500;
  oo.http.burst = 500;
  oo.http.initial_backoff = 20ms;
  oo.http.max_backoff = 500ms;
  oo.http.max_attempts = 8;
  oo.informers.relist_backoff = 50ms;
  std::FILE* devnull = std::fopen("/dev/null", "w");
  live::Logger log(live::LogFormat::kJson, devnull);
  live::Operator op(oo, cat, log);
  std::thread operator_thread([&] { out.operator_exit = op.run(); });
  if (meanwhile) meanwhile(server);
  out.outcome = served.get();
  out.status = op.status();
  out.server_stats = server.final_stats();
  op.stop();
  operator_thread.join();
  std::fclose(devnull);
  return out;
}

// The scenario's expectations on outcomes. Its "ready within" deadline is left out: virtual time runs at
// 100x the wall clock here, so every millisecond the operator (or a sanitizer build, or a busy CI machine)
// spends is a tenth of a virtual second, and time-to-ready is the in-process run's business.
void expect_outcomes(const sim::RunOutcome& outcome) {
  for (const auto& e : outcome.expectations) {
    if (e.text.find("ready within") == std::string::npos) {
      EXPECT_TRUE(e.passed) << e.text << ": " << e.detail;
    }
  }
}

class OperatorE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    sc_ = sim::load_scenario(std::string(KTWIN_SOURCE_DIR) + "/scenarios/quickstart-phi3.yaml");
    sim::RunOptions ro;
    ro.drive = [this](sim::Kernel& kernel, cluster_model::ObjectStore& store) {
      const Time end = kernel.now() + sc_.duration;
      kernel.run_until(end);
      expected_ = snapshot(store);
      return end;
    };
    sim::run_scenario(sc_, catalog::default_catalog(), ro);
  }
  sim::Scenario sc_;
  Snapshot expected_;
};

TEST_F(OperatorE2E, QuickstartConvergesToTheInProcessObjects) {
  LiveRun live = run_live(sc_, {});
  expect_outcomes(live.outcome);
  EXPECT_EQ(live.operator_exit, 0);
  EXPECT_GT(live.status.reconciles, 0u);
  EXPECT_EQ(live.status.reconcile_errors, 0u);
  EXPECT_GT(live.status.cache_reads, live.status.api_reads) << "the controller reads from its informers";
  const std::string want = normalize(expected_), got = normalize(live.objects);
  EXPECT_TRUE(want == got) << first_difference(want, got);
}

TEST_F(OperatorE2E, ConvergesThroughHttpFaultsAndAnApiServerRestart) {
  serve::HttpFaults faults;
  faults.seed = 11;
  faults.throttle = 0.1;
  faults.unavailable = 0.05;
  faults.conflict = 0.1;
  faults.truncate = 0.1;
  faults.slow = 0.1;
  faults.slow_delay = 100ms;
  faults.watch_gone = 0.1;
  faults.watch_drop_after = 10;
  LiveRun live = run_live(sc_, faults, [](serve::ScenarioServer& server) {
    // Mid-provisioning: the API server goes away for a moment and comes back with its watch history
    // compacted, so every informer must relist.
    std::this_thread::sleep_for(2s);
    if (serve::RestServer* s = server.server()) {
      const int port = s->port();
      s->stop();
      std::this_thread::sleep_for(300ms);
      s->compact();
      ASSERT_TRUE(s->start("127.0.0.1", port));
    }
  });
  expect_outcomes(live.outcome);
  EXPECT_EQ(live.operator_exit, 0);
  EXPECT_GE(live.server_stats.faults, 10u) << "the faults must actually have been injected";
  // One NodeClaim ever created for the one-node Workspace: nothing duplicated by retries.
  std::set<std::string> claims;
  for (const auto& e : live.outcome.log)
    if (e.kind == "NodeClaim") claims.insert(e.name);
  EXPECT_EQ(claims.size(), 1u);
  const std::string want = normalize(expected_), got = normalize(live.objects);
  EXPECT_TRUE(want == got) << first_difference(want, got);
}

// Two replicas with leader election: one reconciles, the other waits; when the leader stops it releases
// the Lease and the standby takes over without waiting out the lease duration.
TEST(OperatorLeaderElection, OneLeaderAndAFastHandOverOnStop) {
  const sim::Scenario sc = sim::load_scenario(std::string(KTWIN_SOURCE_DIR) + "/scenarios/quickstart-phi3.yaml");
  serve::ServeOptions so;
  so.speed = 10;
  so.builtin_controllers = false;
  std::promise<int> port;
  so.on_ready = [&port](serve::RestServer& s) { port.set_value(s.port()); };
  serve::ScenarioServer server(sc, catalog::default_catalog(), so);
  auto served = std::async(std::launch::async, [&] { return server.run(); });
  const int p = port.get_future().get();

  std::FILE* devnull = std::fopen("/dev/null", "w");
  live::Logger log(live::LogFormat::kText, devnull);
  auto options = [&](const std::string& id) {
    live::OperatorOptions oo;
    oo.rest.server = "http://127.0.0.1:" + std::to_string(p);
    oo.metrics_addr = "127.0.0.1:0";
    oo.leader_elect = true;
    oo.election.identity = id;
    oo.election.lease_duration = 30 * kSecond;  // long: a hand-over within it proves the release
    oo.election.renew_deadline = 20 * kSecond;
    oo.election.retry_period = 100 * kMillisecond;
    return oo;
  };
  live::Operator a(options("replica-a"), catalog::default_catalog(), log);
  live::Operator b(options("replica-b"), catalog::default_catalog(), log);
  std::thread ta([&] { EXPECT_EQ(a.run(), 0); });
  auto leading = [](live::Operator& op) { return op.status().leading; };
  const auto until = [](auto pred, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(10ms);
    return pred();
  };
  ASSERT_TRUE(until([&] { return leading(a); }, 5000ms));
  std::thread tb([&] { EXPECT_EQ(b.run(), 0); });
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(leading(b)) << "two leaders at once";
  EXPECT_TRUE(leading(a));

  const auto stopped_at = std::chrono::steady_clock::now();
  a.stop();
  ta.join();
  ASSERT_TRUE(until([&] { return leading(b); }, 5000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, 5s);
  b.stop();
  tb.join();
  server.stop();
  served.get();
  std::fclose(devnull);
}

}  // namespace
}  // namespace ktwin
