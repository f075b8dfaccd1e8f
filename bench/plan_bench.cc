// Capacity planning speed (issue 5): a full Azure sweep for Llama 3.1 8B at 20 req/s with TTFT and TPOT
// SLOs (every fitting SKU, replica search by simulation, headroom search). Target: under 5 s wall.
#include <benchmark/benchmark.h>

#include "catalog/catalog.h"
#include "sim/planner.h"

namespace {

void BM_PlanAzureSweep(benchmark::State& state) {
  ktwin::sim::PlanRequest req;
  req.preset = "llama-3.1-8b-instruct";
  req.rate_per_s = 20;
  req.slos = {{"ttft_p95", "1s"}, {"tpot_p95", "50ms"}};
  const auto& cat = ktwin::catalog::default_catalog();
  int trials = 0;
  size_t candidates = 0;
  bool found = false;
  for (auto _ : state) {
    const auto result = ktwin::sim::plan_capacity(req, cat);
    trials = result.trials;
    candidates = result.candidates.size();
    found = result.recommended != nullptr;
  }
  if (!found) state.SkipWithError("no recommendation");
  state.counters["trials"] = trials;
  state.counters["candidates"] = static_cast<double>(candidates);
}
BENCHMARK(BM_PlanAzureSweep)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
