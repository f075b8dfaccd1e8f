// GPU model throughput: simulated requests per wall-clock second of one saturated replica, and a 100-replica
// population under 500 req/s Poisson load for one simulated hour (target: under 10 s of wall time).
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "gpu_model/engine.h"
#include "gpu_model/rng.h"

namespace {

using namespace ktwin;
using namespace ktwin::gpu;

std::unique_ptr<LatencyPredictor> llama8b_h100() {
  Deployment d;
  d.model = default_hardware().model("meta-llama/Llama-3.1-8B-Instruct");
  d.gpu = default_hardware().gpu("H100-SXM-80GB");
  d.weight_dtype = DType::kBF16;
  d.kv_dtype = DType::kBF16;
  d.engine = EngineKind::kVllm;
  return make_predictor("roofline", d, Coefficients{});
}

// One replica, everything queued at once (saturating), short requests: prompts U[16, 64], outputs U[4, 32].
void BM_SaturatedReplica(benchmark::State& state) {
  const auto pred = llama8b_h100();
  const int64_t n = state.range(0);
  std::vector<Completion> done;
  done.reserve(static_cast<size_t>(n));
  for (auto _ : state) {
    ReplicaEngine e(*pred, EngineConfig{});
    Rng rng(7);
    for (int64_t i = 0; i < n; ++i) {
      e.submit({i, 0, static_cast<int32_t>(rng.uniform_int(16, 64)), static_cast<int32_t>(rng.uniform_int(4, 32))});
    }
    done.clear();
    e.advance_to(kNever - 1, done);
    benchmark::DoNotOptimize(done.data());
    if (static_cast<int64_t>(done.size()) != n) state.SkipWithError("lost requests");
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["sim_req_per_wall_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SaturatedReplica)->Arg(100000)->Unit(benchmark::kMillisecond);

// 100 replicas, 500 req/s Poisson for one simulated hour (1.8 M requests), prompts ~ U[64, 1024], outputs
// ~ U[16, 512]; requests go round-robin; each replica is advanced to every arrival it receives.
void BM_Population100Replicas1Hour(benchmark::State& state) {
  const auto pred = llama8b_h100();
  constexpr int kReplicas = 100;
  constexpr double kRate = 500;
  const Time horizon = kHour;
  int64_t completed = 0, requests = 0;
  for (auto _ : state) {
    std::vector<std::unique_ptr<ReplicaEngine>> reps;
    for (int i = 0; i < kReplicas; ++i) reps.push_back(std::make_unique<ReplicaEngine>(*pred, EngineConfig{}));
    Rng rng(42);
    std::vector<Completion> done;
    double t = 0;
    int64_t id = 0;
    completed = 0;
    while (true) {
      t += rng.exponential(kRate);
      const Time at = from_seconds(t);
      if (at >= horizon) break;
      ReplicaEngine& e = *reps[static_cast<size_t>(id % kReplicas)];
      done.clear();
      e.advance_to(at, done);
      completed += static_cast<int64_t>(done.size());
      e.submit(
          {id++, at, static_cast<int32_t>(rng.uniform_int(64, 1024)), static_cast<int32_t>(rng.uniform_int(16, 512))});
    }
    for (auto& e : reps) {
      done.clear();
      e->advance_to(kNever - 1, done);
      completed += static_cast<int64_t>(done.size());
    }
    requests = id;
    if (completed != requests) state.SkipWithError("lost requests");
  }
  state.counters["requests"] = static_cast<double>(requests);
  state.counters["sim_req_per_wall_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * requests), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Population100Replicas1Hour)->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
