// Traffic on ready replicas: percentiles, the summary's metrics block, metric expectations, closed-loop
// clients, and determinism with traffic on.
#include "sim/serving.h"

#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "sim/runner.h"

namespace ktwin::sim {
namespace {

TEST(SummarizeLatencies, InterpolatesBetweenClosestRanks) {
  const LatencySummary s = summarize_latencies({4, 1, 3, 2});
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.p50, 2.5);
  EXPECT_DOUBLE_EQ(s.p90, 3.7);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 4);
  EXPECT_DOUBLE_EQ(summarize_latencies({}).p99, 0);
}

const char* kScenario = R"(name: serving-unit
seed: 5
duration: 40m
cluster: {cloud: azure}
workspaces:
  - manifest:
      apiVersion: kaito.sh/v1beta1
      kind: Workspace
      metadata: {name: ws}
      resource:
        instanceType: Standard_NC24ads_A100_v4
        labelSelector: {matchLabels: {apps: ws}}
      inference:
        preset: {name: phi-3-mini-4k-instruct}
traffic:
  - {workspace: ws, start: 25m, end: 35m, arrival: {process: closed_loop, concurrency: 4},
     prompt_tokens: 200, output_tokens: 50}
  - {workspace: ws, start: 5m, end: 10m, arrival: {process: poisson, rate: 2/s},
     prompt_tokens: 100, output_tokens: 10}
expect:
  - {workspace: ws, metric: ttft_p95, below: 1h}
  - {workspace: ws, metric: tpot_mean, above: 1h}
  - {workspace: ws, metric: goodput, above: 1 req/s}
)";

TEST(ServingModel, ClosedLoopClientsQueuedArrivalsAndTheSummary) {
  const Scenario sc = parse_scenario(kScenario, "serving-unit.yaml");
  const RunOutcome a = run_scenario(sc, catalog::default_catalog());
  const json& summary = a.summary;
  ASSERT_TRUE(summary.contains("metrics")) << summary.dump().substr(0, 400);
  const json& m = summary["metrics"]["ws"];
  for (const char* k : {"requests", "completed", "failed", "out_tok_s", "req_s"}) EXPECT_TRUE(m.contains(k)) << k;
  for (const char* lat : {"ttft_ms", "tpot_ms", "itl_ms", "e2el_ms"})
    for (const char* st : {"mean", "p50", "p90", "p95", "p99"}) EXPECT_TRUE(m[lat].contains(st)) << lat << "." << st;
  // The Poisson requests arrive before the workspace is ready (~12 min): they wait in the queue and
  // are served once the endpoint appears, unless they waited longer than 10 minutes.
  EXPECT_GT(m["requests"].get<int64_t>(), 600);
  EXPECT_GT(m["completed"].get<int64_t>(), 100);
  EXPECT_GT(m["max_queue"].get<int64_t>(), 0);
  EXPECT_GT(m["ttft_ms"]["p99"].get<double>(), 60000.0);  // time queued for an endpoint counts in TTFT
  // Closed loop: 4 clients keep exactly 4 requests in flight; each request's 49 decode steps on a
  // 3.8B model take milliseconds, not seconds.
  EXPECT_GT(m["tpot_ms"]["p50"].get<double>(), 1.0);
  EXPECT_LT(m["tpot_ms"]["p50"].get<double>(), 100.0);
  EXPECT_GT(m["out_tok_s"].get<double>(), 0);
  // Gauges seen by arrivals: the queued Poisson requests saw a waiting line; 4 short requests barely touch
  // the KV cache of an 80 GB A100 (blocks are taken when a step starts, so same-instant arrivals see none).
  EXPECT_GT(m["num_requests_waiting"]["max"].get<int64_t>(), 0);
  EXPECT_LT(m["kv_cache_usage"]["max"].get<double>(), 0.05);
  EXPECT_LE(m["kv_cache_usage"]["mean"].get<double>(), m["kv_cache_usage"]["max"].get<double>());

  ASSERT_EQ(a.expectations.size(), 3u);
  EXPECT_TRUE(a.expectations[0].passed) << a.expectations[0].detail;
  EXPECT_FALSE(a.expectations[1].passed);
  EXPECT_NE(a.expectations[1].detail.find("tpot_mean = "), std::string::npos) << a.expectations[1].detail;
  EXPECT_FALSE(a.expectations[2].passed);
  EXPECT_NE(a.expectations[2].detail.find("slo:"), std::string::npos) << a.expectations[2].detail;

  const RunOutcome b = run_scenario(sc, catalog::default_catalog());
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.summary["metrics"], b.summary["metrics"]);
}

TEST(ServingModel, SloGoodputWindowsDiurnalAndRoundRobin) {
  std::string text = kScenario;
  text.replace(text.find("traffic:"), std::string("traffic:").size(), "metrics_window: 5m\ntraffic:");
  text.replace(text.find("arrival: {process: poisson, rate: 2/s}"),
               std::string("arrival: {process: poisson, rate: 2/s}").size(),
               "arrival: {process: poisson, rate: 2/s, diurnal: {amplitude: 0.5, period: 10m}}, routing: round_robin");
  text.replace(text.find("prompt_tokens: 200, output_tokens: 50}"),
               std::string("prompt_tokens: 200, output_tokens: 50}").size(),
               "prompt_tokens: 200, output_tokens: 50, slo: {ttft: 5s, tpot: 50ms}}");
  // The first traffic entry of a workspace sets its SLO: put the closed loop first.
  const Scenario sc = parse_scenario(text, "serving-unit.yaml");
  ASSERT_TRUE(sc.traffic[0].slo_ttft.has_value());
  EXPECT_EQ(sc.traffic[1].routing, TrafficSpec::Routing::kRoundRobin);
  EXPECT_DOUBLE_EQ(sc.traffic[1].arrival.diurnal_amplitude, 0.5);
  const RunOutcome out = run_scenario(sc, catalog::default_catalog());
  const json& m = out.summary["metrics"]["ws"];
  ASSERT_TRUE(m["goodput_req_s"].is_number()) << m.dump();
  EXPECT_GT(m["goodput_req_s"].get<double>(), 0);
  EXPECT_LE(m["goodput_req_s"].get<double>(), m["req_s"].get<double>());
  ASSERT_TRUE(m.contains("windows"));
  int64_t in_windows = 0;
  for (const auto& w : m["windows"]) in_windows += w["completed"].get<int64_t>();
  EXPECT_EQ(in_windows, m["completed"].get<int64_t>());
  EXPECT_TRUE(out.expectations[2].detail.find("goodput = ") != std::string::npos) << out.expectations[2].detail;
}

TEST(ScenarioTraffic, BadQueueSloAndDiurnal) {
  auto error_of = [](const std::string& extra) {
    try {
      (void)parse_scenario(
          std::string("name: t\nduration: 1h\nworkspaces:\n  - manifest: {apiVersion: kaito.sh/v1beta1, "
                      "kind: Workspace, metadata: {name: ws}}\ntraffic:\n  - {workspace: ws, prompt_tokens: 1, "
                      "output_tokens: 1, ") +
              extra + "}\n",
          "t.yaml");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of("arrival: {process: poisson, rate: 1/s, diurnal: {amplitude: 2}}").find("must be at most 1"),
            std::string::npos);
  EXPECT_NE(error_of("arrival: {process: poisson, rate: 1/s}, slo: {}").find("give ttft, tpot or both"),
            std::string::npos);
  EXPECT_NE(error_of("arrival: {process: poisson, rate: 1/s}, routing: random").find("routing"), std::string::npos);
  EXPECT_NE(error_of("arrival: {process: poisson, rate: 1/s}, queue: {timeout: 5}").find("t.yaml:6:"),
            std::string::npos);
}

}  // namespace
}  // namespace ktwin::sim

namespace ktwin::sim {
namespace {

// Every request is longer than Phi-3 Mini 4k's context: vLLM rejects each one; closed-loop clients
// back off instead of spinning, and the run ends.
TEST(ServingModel, RejectedClosedLoopRequestsDoNotSpin) {
  std::string text = kScenario;
  text.replace(text.find("prompt_tokens: 200, output_tokens: 50}"),
               std::string("prompt_tokens: 200, output_tokens: 50}").size(), "prompt_tokens: 8000, output_tokens: 50}");
  const RunOutcome out = run_scenario(parse_scenario(text, "serving-unit.yaml"), catalog::default_catalog());
  const json& m = out.summary["metrics"]["ws"];
  EXPECT_GT(m["rejected"].get<int64_t>(), 100);
  EXPECT_LT(m["rejected"].get<int64_t>(), 4 * 601 + 1);  // 4 clients, one attempt a second for 10 minutes
}

}  // namespace
}  // namespace ktwin::sim
