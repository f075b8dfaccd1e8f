// Latency predictors: the time of one engine step (a batch of prefill chunks and decode tokens) on one
// replica, as a breakdown (prefill, decode attention, decode GEMMs, collectives, overhead). Predictors are
// registered by name; `roofline` is the physical default. Light header: no JSON, YAML or Eigen.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gpu_model/specs.h"

namespace ktwin::gpu {

enum class DType { kFP16, kBF16, kFP8, kINT8, kINT4 };
//! "fp16", "bf16", "fp8", "int8", "int4" (also "float16", "bfloat16", "auto" = bf16); false when unknown.
bool parse_dtype(std::string_view s, DType& out);
const char* dtype_name(DType d);
double dtype_bytes(DType d);

//! Serving engines whose host-side overheads and schedulers differ (NIM runs TensorRT-LLM). `kVllm` is the
//! V1-era engine (0.6+: async output processing, then V1's scheduler, chunked prefill on by default);
//! `kVllmV0` is vLLM <= 0.5, whose Python scheduler and sampler cost tens of microseconds per sequence per step.
enum class EngineKind { kTrtllm, kVllm, kTgi, kVllmV0 };
inline constexpr int kEngineKinds = 4;
bool parse_engine(std::string_view s, EngineKind& out);  //!< trtllm, nim, vllm, tgi, vllm-v0
const char* engine_name(EngineKind e);

//! How a model is laid out on GPUs: TP inside a node, PP across nodes.
struct Deployment {
  ModelArch model;
  GpuSpec gpu;
  DType weight_dtype = DType::kBF16;
  DType kv_dtype = DType::kBF16;
  EngineKind engine = EngineKind::kVllm;
  int tp = 1;
  int pp = 1;
  double internode_gbs = 50;  //!< per-GPU network for PP activations (400 Gb/s InfiniBand); not calibrated
};

//! The few efficiency coefficients every predictor shares; fitted jointly by `ktwin calibrate`.
struct Coefficients {
  enum Index : int {
    kHbmEff,                //!< achieved fraction of HBM bandwidth when streaming weights / KV cache
    kGemmEff16,             //!< achieved fraction of dense 16-bit tensor FLOPS (GEMMs, attention)
    kGemmEff8,              //!< achieved fraction of dense FP8 tensor FLOPS (FP8 GEMMs: scaling/quantising costs)
    kGemmEffWeightOnly,     //!< same, of 16-bit FLOPS, for weight-only quantised GEMMs (dequantised in the main loop)
    kAllreduceHopUs,        //!< latency of one ring step of a tensor-parallel all-reduce, microseconds
    kLayerOverheadUs,       //!< per transformer layer per step: launch gaps and small kernels (norms, RoPE, casts), us
    kSeqOverheadTrtllmUs,   //!< host time per scheduled sequence per step, TensorRT-LLM/NIM (C++ runtime), us
    kSeqOverheadVllmUs,     //!< same for vLLM >= 0.6 (scheduling overlapped with the GPU), us
    kSeqOverheadTgiUs,      //!< same for TGI (Python next-token chooser and stopping criteria per sequence), us
    kSeqOverheadVllmV0Us,   //!< same for vLLM <= 0.5 (synchronous Python scheduling and detokenising), us
    kStepOverheadTrtllmUs,  //!< host time per step not hidden behind the GPU (scheduling, input prep), us
    kStepOverheadVllmUs,
    kStepOverheadTgiUs,
    kStepOverheadVllmV0Us,
    kCount
  };
  struct Info {
    const char* name;
    double min, max, initial;
    const char* help;
  };
  static const std::array<Info, kCount>& info();
  std::array<double, kCount> v{};

  Coefficients();  //!< the initial values of info()
  double operator[](int i) const { return v[static_cast<size_t>(i)]; }
  double& operator[](int i) { return v[static_cast<size_t>(i)]; }
  double seq_overhead_us(EngineKind e) const { return (*this)[kSeqOverheadTrtllmUs + static_cast<int>(e)]; }
  double step_overhead_us(EngineKind e) const { return (*this)[kStepOverheadTrtllmUs + static_cast<int>(e)]; }
};
static_assert(Coefficients::kSeqOverheadTrtllmUs + kEngineKinds == Coefficients::kStepOverheadTrtllmUs &&
                  Coefficients::kStepOverheadTrtllmUs + kEngineKinds == Coefficients::kCount,
              "one per-sequence and one per-step overhead per EngineKind, each block in EngineKind order");

//! One prefill chunk in a step: `tokens` new prompt tokens on top of `context` tokens already cached.
struct PrefillChunk {
  int32_t tokens = 0;
  int32_t context = 0;
  bool samples = false;  //!< the chunk ends the prompt, so the step also samples this sequence's next token
};

//! What one engine step computes. Decode attention cost is linear in each sequence's context, so decode
//! sequences enter through their count and the sum of their context lengths (each including the new token).
struct StepShape {
  std::span<const PrefillChunk> prefills;
  int64_t num_decode = 0;
  int64_t decode_context_sum = 0;
};

struct StepBreakdown {
  double prefill_s = 0;  //!< GEMM share of prefill tokens + prefill attention
  double decode_attention_s = 0;
  double decode_gemm_s = 0;  //!< GEMM share of decode tokens (weights streamed once per step)
  double collective_s = 0;   //!< TP all-reduces and PP activation transfers
  double overhead_s = 0;     //!< host-side per-step and per-sequence time
  double total() const { return prefill_s + decode_attention_s + decode_gemm_s + collective_s + overhead_s; }
};

//! Decode-only step time as an affine function of the batch's summed context: base + per_token x sum.
struct DecodeLine {
  double base_s = 0;
  double per_context_token_s = 0;
};

class LatencyPredictor {
 public:
  virtual ~LatencyPredictor() = default;
  virtual StepBreakdown predict(const StepShape& shape) const = 0;
  //! Must agree with predict() on decode-only shapes (the engine's jump-ahead relies on it).
  virtual DecodeLine decode_line(int64_t num_decode) const = 0;
  virtual const Deployment& deployment() const = 0;
};

using PredictorFactory = std::function<std::unique_ptr<LatencyPredictor>(const Deployment&, const Coefficients&)>;

struct PredictorInfo {
  std::string name;
  std::string description;
  PredictorFactory make;
};

//! Registers a predictor; the name must be new. Built-ins (roofline) are registered on first use.
void register_predictor(PredictorInfo info);
const std::vector<PredictorInfo>& predictors();
//! Throws InputError naming the unknown predictor and the known ones.
std::unique_ptr<LatencyPredictor> make_predictor(std::string_view name, const Deployment& d, const Coefficients& c);

}  // namespace ktwin::gpu
