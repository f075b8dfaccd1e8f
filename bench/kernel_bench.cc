// Events per second of the discrete-event kernel: post 1M events at random times, then run them;
// and a steady-state variant where each event re-posts itself (a fixed-size queue, like a busy run).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "sim/kernel.h"
#include "sim/rng.h"

namespace {

using ktwin::Duration;
using ktwin::sim::Kernel;
using ktwin::sim::RngStream;

// Schedule n events at uniformly random times within an hour, then run them all.
void BM_ScheduleAndRunRandom(benchmark::State& state) {
  const int64_t n = state.range(0);
  RngStream rng(1, "kernel-bench");
  std::vector<Duration> delays(static_cast<size_t>(n));
  for (auto& d : delays) d = rng.uniform_int(0, ktwin::kHour);
  uint64_t sink = 0;
  for (auto _ : state) {
    Kernel k;
    for (Duration d : delays) k.post_after(d, [&sink] { ++sink; });
    k.run_until_idle();
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ScheduleAndRunRandom)->Arg(1 << 20)->Arg(1000000)->Unit(benchmark::kMillisecond);

// A queue of `width` pending events; each event posts one successor at a random delay.
void BM_SteadyState(benchmark::State& state) {
  const int64_t width = state.range(0);
  const int64_t total = 1000000;
  for (auto _ : state) {
    Kernel k;
    RngStream rng(2, "kernel-bench/steady");
    int64_t budget = total;
    std::function<void()> tick;
    tick = [&] {
      if (--budget >= width) k.post_after(rng.uniform_int(1, ktwin::kSecond), tick);
    };
    for (int64_t i = 0; i < width; ++i) k.post_after(rng.uniform_int(1, ktwin::kSecond), tick);
    k.run_until_idle();
  }
  state.SetItemsProcessed(state.iterations() * total);
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * total), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SteadyState)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
