// How long 1,000 workspaces of mixed presets take to reach Ready on a ~2,000-GPU-node simulated
// cluster (every node provisioned through NodeClaims and the simulated cloud; the mix below averages
// 2 nodes per workspace by KAITO's estimator). Target: < 5 s wall for 1,000; 2,000 (issue 7) checks the growth.
#include <benchmark/benchmark.h>

#include <string>

#include "bench/bench_util.h"
#include "catalog/catalog.h"
#include "sim/runner.h"

namespace {

struct Mix {
  const char* preset;
  const char* sku;
  int nodes;  // what KAITO's estimator gives (checked by the counters below)
};

// Single-node and multi-node workspaces on A10, A100 and H100 SKUs.
const Mix kMix[] = {
    {"phi-3-mini-4k-instruct", "Standard_NV36ads_A10_v5", 1},
    {"llama-3.3-70b-instruct", "Standard_NC24ads_A100_v4", 3},
    {"mistral-7b-instruct", "Standard_NV36ads_A10_v5", 1},
    {"phi-4", "Standard_NV36ads_A10_v5", 2},
    {"gemma-3-27b-instruct", "Standard_NV72ads_A10_v5", 2},
    {"llama-3.1-8b-instruct", "Standard_NC40ads_H100_v5", 1},
    {"qwen2.5-coder-32b-instruct", "Standard_NC24ads_A100_v4", 2},
    {"llama-3.3-70b-instruct", "Standard_NC48ads_A100_v4", 2},
    {"deepseek-r1-distill-qwen-14b", "Standard_NV36ads_A10_v5", 2},
    {"gpt-oss-120b", "Standard_NC24ads_A100_v4", 3},
    {"qwen2.5-coder-7b-instruct", "Standard_NC24ads_A100_v4", 1},
};

std::string scenario_text(int workspaces) {
  std::string y = "name: bench-1000-workspaces\nseed: 7\nduration: 3h\ncluster: {cloud: azure}\nworkspaces:\n";
  for (int i = 0; i < workspaces; ++i) {
    const Mix& m = kMix[i % (sizeof kMix / sizeof kMix[0])];
    y += "  - manifest:\n      apiVersion: kaito.sh/v1beta1\n      kind: Workspace\n      metadata: {name: ws-" +
         std::to_string(i) + ", namespace: team-" + std::to_string(i % 10) +
         "}\n      resource:\n        instanceType: " + m.sku + "\n        labelSelector: {matchLabels: {app: ws-" +
         std::to_string(i) + "}}\n      inference:\n        preset: {name: " + m.preset +
         ", presetOptions: {modelAccessSecret: hf-token}}\n";
  }
  return y;
}

void BM_ThousandWorkspacesToReady(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const auto sc = ktwin::sim::parse_scenario(scenario_text(n), std::string(KTWIN_SOURCE_DIR) + "/bench/generated.yaml");
  const auto& cat = ktwin::catalog::default_catalog();
  ktwin::sim::RunOptions opts;
  double ready = 0, last_ready_s = 0, nodes = 0, events = 0;
  ktwin::bench::reset_peak_rss();
  for (auto _ : state) {
    auto out = ktwin::sim::run_scenario(sc, cat, opts);
    ready = 0;
    last_ready_s = 0;
    for (const auto& ws : out.summary["workspaces"])
      if (ws["ready_at_s"].is_number()) {
        ++ready;
        last_ready_s = std::max(last_ready_s, ws["ready_at_s"].get<double>());
      }
    nodes = static_cast<double>(out.summary["nodes"].size());
    events = static_cast<double>(out.kernel_events);
  }
  state.counters["workspaces_ready"] = ready;
  state.counters["gpu_nodes"] = nodes;
  state.counters["sim_minutes_to_all_ready"] = last_ready_s / 60;
  state.counters["kernel_events"] = events;
  state.counters["peak_rss_mib"] = ktwin::bench::peak_rss_mib();
}
BENCHMARK(BM_ThousandWorkspacesToReady)->Arg(100)->Arg(1000)->Arg(2000)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
