// The serving-scale figure: 100 workspaces (one Phi-3 Mini replica each on an A100 node), one
// simulated hour of Poisson traffic at 5 req/s each (500 req/s, ~1.8M requests), through the whole
// simulated cluster and one vLLM-like engine per replica. Target: under 10 s wall.
#include <benchmark/benchmark.h>

#include <string>

#include "catalog/catalog.h"
#include "sim/runner.h"
#include "sim/scenario.h"

namespace {

std::string hundred_replicas(int workspaces, double rate_per_ws) {
  std::string s = "name: serving-bench\nseed: 1\nduration: 1h15m\ncluster: {cloud: azure}\nworkspaces:\n";
  for (int i = 0; i < workspaces; ++i)
    s += "  - manifest: {apiVersion: kaito.sh/v1beta1, kind: Workspace, metadata: {name: ws-" + std::to_string(i) +
         "}, resource: {instanceType: Standard_NC24ads_A100_v4, labelSelector: {matchLabels: {apps: ws-" +
         std::to_string(i) + "}}}, inference: {preset: {name: phi-3-mini-4k-instruct}}}\n";
  s += "traffic:\n";
  for (int i = 0; i < workspaces; ++i)
    s += "  - {workspace: ws-" + std::to_string(i) +
         ", start: 15m, end: 1h15m, arrival: {process: poisson, rate: " + std::to_string(rate_per_ws) +
         "/s}, prompt_tokens: {dist: lognormal, median: 300, p90: 900, max: 3000}, " +
         "output_tokens: {dist: lognormal, median: 120, p90: 400, max: 1000}}\n";
  return s;
}

void BM_HundredReplicasOneHour(benchmark::State& state) {
  const auto sc = ktwin::sim::parse_scenario(hundred_replicas(100, 5.0), "serving-bench.yaml");
  const auto& cat = ktwin::catalog::default_catalog();
  int64_t requests = 0;
  for (auto _ : state) {
    const auto out = ktwin::sim::run_scenario(sc, cat);
    requests = 0;
    for (const auto& [ws, m] : out.summary["metrics"].items()) requests += m["requests"].get<int64_t>();
    benchmark::DoNotOptimize(out.fingerprint);
  }
  state.counters["requests"] = static_cast<double>(requests);
  state.counters["sim_requests/s"] = benchmark::Counter(
      static_cast<double>(requests) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_HundredReplicasOneHour)->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
