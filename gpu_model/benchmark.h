// Runs one serving benchmark (the calibration CSV's modes: static batch, saturated queue, closed loop,
// open-loop Poisson) against a ReplicaEngine and summarises it as vLLM's benchmark tools do.
#pragma once
#include <cstdint>
#include <string>

#include "gpu_model/engine.h"

namespace ktwin::gpu {

enum class BenchMode { kStatic, kSaturated, kClosedLoop, kOpenLoop };
enum class LengthDist { kFixed, kShareGpt, kRandomRange };
bool parse_bench_mode(const std::string& s, BenchMode& out);
bool parse_length_dist(const std::string& s, LengthDist& out);

struct BenchmarkSpec {
  BenchMode mode = BenchMode::kSaturated;
  int batch = 0;            //!< static
  int concurrency = 0;      //!< closed_loop
  double request_rate = 0;  //!< open_loop, requests/s
  int num_prompts = 0;      //!< saturated/closed/open; 0: kDefaultPrompts
  int input_tokens = 0;     //!< fixed/random_range nominal; 0 with sharegpt: sampled
  int output_tokens = 0;    //!< 0 with sharegpt: sampled; otherwise the (maximum) output length
  LengthDist dist = LengthDist::kFixed;
  uint64_t seed = 1;
};
inline constexpr int kDefaultPrompts = 1000;

struct BenchmarkResult {
  double ttft_ms = 0;          //!< median time to first token
  double tpot_ms = 0;          //!< median inter-token latency (vLLM's median ITL)
  double e2e_ms = 0;           //!< median end-to-end latency
  double out_tok_s_total = 0;  //!< output tokens / (last finish - first arrival)
  double req_s_total = 0;
  int64_t completed = 0;
  int64_t rejected = 0;
  int64_t requests = 0;
  EngineStats stats;
  KvCacheSizing kv;
};

//! The engine settings the benchmark family of `engine` ran with (see benchmark.cc for the reasons).
EngineConfig engine_profile(EngineKind engine, const BenchmarkSpec& spec);
//! Throws InputError when the spec cannot be run (missing lengths, model does not fit).
BenchmarkResult run_benchmark(const LatencyPredictor& predictor, const EngineConfig& config, const BenchmarkSpec& spec);

}  // namespace ktwin::gpu
