// Scale of the whole simulated cluster (issue 7): bench/scale/ scenarios run end to end. 10,000 8-GPU nodes
// and 100,000 StatefulSet pods to Ready (target < 10 s wall, peak RSS < 4 GiB), the same at 1,000 nodes
// (time may grow at most x12 for x10 work), and a simulated day at 1,000 req/s over 200 replicas.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>

#include "bench/bench_util.h"
#include "catalog/catalog.h"
#include "sim/runner.h"

namespace {

using ktwin::bench::peak_rss_mib;
using ktwin::bench::reset_peak_rss;

ktwin::sim::Scenario load(const std::string& name) {
  const std::string path = std::string(KTWIN_SOURCE_DIR) + "/bench/scale/" + name;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return ktwin::sim::parse_scenario(text.str(), path);
}

void BM_PodsToReady(benchmark::State& state) {
  const int nodes = static_cast<int>(state.range(0));
  const auto sc = load(nodes == 10'000 ? "pods-10k.yaml" : "pods-1k.yaml");
  const auto& cat = ktwin::catalog::default_catalog();
  reset_peak_rss();
  ktwin::json pods;
  uint64_t events = 0;
  for (auto _ : state) {
    auto out = ktwin::sim::run_scenario(sc, cat, {});
    pods = out.summary["pods"];
    events = out.kernel_events;
  }
  if (pods["ready"] != nodes * 10) state.SkipWithError(("not every pod Ready: " + pods.dump()).c_str());
  state.counters["pods_ready"] = pods["ready"].get<double>();
  state.counters["nodes"] = nodes;
  state.counters["sim_s_to_last_ready"] =
      pods["last_ready_at_s"].is_number() ? pods["last_ready_at_s"].get<double>() : 0;
  state.counters["kernel_events"] = static_cast<double>(events);
  state.counters["peak_rss_mib"] = peak_rss_mib();
}
BENCHMARK(BM_PodsToReady)->Arg(1'000)->Arg(10'000)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_TrafficDay(benchmark::State& state) {
  const auto sc = load("traffic-day.yaml");
  const auto& cat = ktwin::catalog::default_catalog();
  reset_peak_rss();
  double requests = 0, completed = 0, failed = 0, ttft_p95 = 0;
  uint64_t events = 0;
  for (auto _ : state) {
    auto out = ktwin::sim::run_scenario(sc, cat, {});
    requests = completed = failed = ttft_p95 = 0;
    for (const auto& [ws, m] : out.summary["metrics"].items()) {
      requests += m["requests"].get<double>();
      completed += m["completed"].get<double>();
      failed += m["failed"].get<double>();
      ttft_p95 = std::max(ttft_p95, m["ttft_ms"]["p95"].get<double>());
    }
    events = out.kernel_events;
  }
  state.counters["requests"] = requests;
  state.counters["completed"] = completed;
  state.counters["failed"] = failed;
  state.counters["worst_ttft_p95_ms"] = ttft_p95;
  state.counters["requests_per_wall_s"] = benchmark::Counter(requests, benchmark::Counter::kIsRate);
  state.counters["kernel_events"] = static_cast<double>(events);
  state.counters["peak_rss_mib"] = peak_rss_mib();
}
BENCHMARK(BM_TrafficDay)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
