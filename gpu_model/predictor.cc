// Dtype/engine names, the coefficient table and the predictor registry.
#include "gpu_model/predictor.h"

#include <algorithm>
#include <cctype>
#include <mutex>

#include "core/input_error.h"

namespace ktwin::gpu {

void register_builtin_predictors();  // roofline.cc

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}
}  // namespace

bool parse_dtype(std::string_view s, DType& out) {
  const std::string l = lower(s);
  if (l == "fp16" || l == "float16" || l == "half")
    out = DType::kFP16;
  else if (l == "bf16" || l == "bfloat16" || l == "auto")
    out = DType::kBF16;
  else if (l == "fp8" || l == "fp8_e4m3" || l == "float8")
    out = DType::kFP8;
  else if (l == "int8" || l == "w8a8" || l == "w8a16")
    out = DType::kINT8;
  else if (l == "int4" || l == "awq" || l == "gptq" || l == "w4a16")
    out = DType::kINT4;
  else
    return false;
  return true;
}

const char* dtype_name(DType d) {
  switch (d) {
    case DType::kFP16:
      return "fp16";
    case DType::kBF16:
      return "bf16";
    case DType::kFP8:
      return "fp8";
    case DType::kINT8:
      return "int8";
    case DType::kINT4:
      return "int4";
  }
  return "?";
}

double dtype_bytes(DType d) {
  switch (d) {
    case DType::kFP16:
    case DType::kBF16:
      return 2;
    case DType::kFP8:
    case DType::kINT8:
      return 1;
    case DType::kINT4:
      return 0.5;
  }
  return 2;
}

bool parse_engine(std::string_view s, EngineKind& out) {
  const std::string l = lower(s);
  if (l == "trtllm" || l == "tensorrt-llm" || l == "nim")
    out = EngineKind::kTrtllm;
  else if (l == "vllm")
    out = EngineKind::kVllm;
  else if (l == "tgi")
    out = EngineKind::kTgi;
  else if (l == "vllm-v0")
    out = EngineKind::kVllmV0;
  else
    return false;
  return true;
}

const char* engine_name(EngineKind e) {
  switch (e) {
    case EngineKind::kTrtllm:
      return "trtllm";
    case EngineKind::kVllm:
      return "vllm";
    case EngineKind::kTgi:
      return "tgi";
    case EngineKind::kVllmV0:
      return "vllm-v0";
  }
  return "?";
}

const std::array<Coefficients::Info, Coefficients::kCount>& Coefficients::info() {
  static const std::array<Info, kCount> table = {{
      {"hbm_eff", 0.3, 1.0, 0.8, "achieved fraction of HBM bandwidth when streaming weights and KV cache"},
      {"gemm_eff_16", 0.2, 1.0, 0.65, "achieved fraction of dense 16-bit tensor FLOPS in GEMMs and attention"},
      {"gemm_eff_8", 0.15, 1.0, 0.45, "achieved fraction of dense FP8 tensor FLOPS in FP8 GEMMs"},
      {"gemm_eff_wq", 0.15, 1.0, 0.45,
       "achieved fraction of dense 16-bit FLOPS in weight-only quantised GEMMs (FP8 without FP8 units, INT8, INT4)"},
      {"allreduce_hop_us", 0.5, 200, 8, "latency of one ring step of a tensor-parallel all-reduce (us)"},
      {"layer_overhead_us", 0, 2000, 60, "per layer per step: kernel launch gaps and small kernels (us)"},
      {"seq_overhead_trtllm_us", 0, 5000, 1, "host time per sequence per step, TensorRT-LLM and NIM (us)"},
      {"seq_overhead_vllm_us", 0, 5000, 5, "host time per sequence per step, vLLM >= 0.6 (us)"},
      {"seq_overhead_tgi_us", 0, 5000, 800, "host time per sequence per step, TGI (us)"},
      {"seq_overhead_vllm_v0_us", 0, 5000, 50, "host time per sequence per step, vLLM <= 0.5 (us)"},
      {"step_overhead_trtllm_us", 0, 50000, 100, "host time per step, TensorRT-LLM and NIM (us)"},
      {"step_overhead_vllm_us", 0, 50000, 300, "host time per step, vLLM >= 0.6 (us)"},
      {"step_overhead_tgi_us", 0, 50000, 1000, "host time per step, TGI (us)"},
      {"step_overhead_vllm_v0_us", 0, 50000, 1000, "host time per step, vLLM <= 0.5 (us)"},
  }};
  return table;
}

Coefficients::Coefficients() {
  for (int i = 0; i < kCount; ++i) v[static_cast<size_t>(i)] = info()[static_cast<size_t>(i)].initial;
}

namespace {
std::vector<PredictorInfo>& registry() {
  static std::vector<PredictorInfo> r;
  return r;
}
std::once_flag builtins_once;
void ensure_builtins() {
  std::call_once(builtins_once, [] { register_builtin_predictors(); });
}
}  // namespace

void register_predictor(PredictorInfo info) {
  for (const auto& p : registry()) {
    if (p.name == info.name) throw InputError("", 0, 0, "", "latency predictor \"" + info.name + "\" registered twice");
  }
  registry().push_back(std::move(info));
}

const std::vector<PredictorInfo>& predictors() {
  ensure_builtins();
  return registry();
}

std::unique_ptr<LatencyPredictor> make_predictor(std::string_view name, const Deployment& d, const Coefficients& c) {
  for (const auto& p : predictors()) {
    if (p.name == name) return p.make(d, c);
  }
  std::string known;
  for (const auto& p : predictors()) known += (known.empty() ? "" : ", ") + p.name;
  throw InputError("", 0, 0, "", "unknown latency predictor \"" + std::string(name) + "\"; known: " + known);
}

}  // namespace ktwin::gpu
