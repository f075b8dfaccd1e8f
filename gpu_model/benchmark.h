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

//! Which statistic a measured "time per output token" is. Tools disagree: vLLM's benchmark_serving reports
//! TPOT per request ((e2e - ttft) / (output - 1)) and ITL per token gap; genai-perf's "ITL" is the per-request
//! figure. Medians of token gaps ignore prefill stalls, per-request means include them.
enum class TpotStat { kMedianTpot, kMeanTpot, kMedianItl, kMeanItl };
bool parse_tpot_stat(const std::string& s, TpotStat& out);  //!< median_tpot, mean_tpot, median_itl, mean_itl
const char* tpot_stat_name(TpotStat s);

struct BenchmarkResult {
  double ttft_ms = 0;        //!< median time to first token
  double tpot_ms = 0;        //!< median per-request TPOT (vLLM's median TPOT)
  double tpot_mean_ms = 0;   //!< mean per-request TPOT (genai-perf's ITL)
  double itl_median_ms = 0;  //!< median gap between consecutive tokens (vLLM's median ITL)
  double itl_mean_ms = 0;
  double e2e_ms = 0;           //!< median end-to-end latency
  double out_tok_s_total = 0;  //!< output tokens / (last finish - first arrival)
  double req_s_total = 0;
  int64_t completed = 0;
  int64_t rejected = 0;
  int64_t requests = 0;
  EngineStats stats;
  KvCacheSizing kv;
  double tpot(TpotStat s) const;
};

//! vLLM >= 0.8's defaults for its OpenAI server (V1 engine): chunked prefill; on GPUs with at least 70 GiB
//! other than A100s, max_num_seqs 1024 and max_num_batched_tokens 8192, otherwise 256 and 2048.
EngineConfig vllm_server_defaults(const GpuSpec& gpu);
//! The engine settings the benchmark family of the deployment's engine ran with (see benchmark.cc for why).
EngineConfig engine_profile(const Deployment& d, const BenchmarkSpec& spec);
//! Throws InputError when the spec cannot be run (missing lengths, model does not fit).
BenchmarkResult run_benchmark(const LatencyPredictor& predictor, const EngineConfig& config, const BenchmarkSpec& spec);

}  // namespace ktwin::gpu
