// The `roofline` predictor: each operator group of a step costs max(FLOPs / achieved FLOPS, bytes / achieved
// bandwidth) on one GPU of the tensor-parallel group; collectives and host overheads are added on top.
// Everything that depends only on (model, GPU, dtype, TP) is computed once in the constructor so that one
// step prediction is a handful of multiply-adds.
#include <algorithm>
#include <cmath>

#include "gpu_model/predictor.h"

namespace ktwin::gpu {
namespace {

// NCCL ring all-reduce reaches about 80% of the link's one-way bandwidth for large messages ("bus bandwidth"
// in nccl-tests); small messages are latency-bound, which the fitted hop latency covers.
constexpr double kLinkEfficiency = 0.8;
// Fixed cost of one pipeline-stage hand-off (send/recv launch + network latency); PP is not calibrated.
constexpr double kPipelineHopS = 20e-6;
constexpr double kActivationBytes = 2;  // activations and all-reduces run in 16-bit

class Roofline final : public LatencyPredictor {
 public:
  Roofline(const Deployment& d, const Coefficients& c) : d_(d) {
    const ModelArchitecture& a = d.model.arch;
    const double tp = d.tp;
    const double wb = dtype_bytes(d.weight_dtype);
    const double total = a.params_billion * 1e9;
    const double active = a.active_params_billion * 1e9;
    const double emb = static_cast<double>(a.vocab_size) * a.hidden_size;
    // Mixture of experts: total = shared + E x expert, active = shared + k x expert.
    double expert_params = 0;
    if (a.num_experts > 1 && a.experts_per_token < a.num_experts && total > active) {
      expert_params = (total - active) / (a.num_experts - a.experts_per_token);
      num_experts_ = a.num_experts;
      expert_share_ = static_cast<double>(a.experts_per_token) / a.num_experts;
    }
    // Quantised checkpoints (FP8/INT8/INT4) keep the embedding and LM head in 16-bit.
    const double emb_params = emb * (d.model.tied_embeddings ? 1 : 2);
    dense_weight_bytes_ =
        ((total - expert_params * num_experts_ - emb_params) * wb + emb_params * std::max(wb, 2.0)) / tp;
    expert_weight_bytes_ = expert_params * wb / tp;
    // Per-token matmul FLOPs: the embedding lookup is free; the LM head only runs for sampled tokens.
    const double body = std::max(active - emb * (d.model.tied_embeddings ? 1 : 2), 0.1 * active);
    body_flops_ = 2 * body / tp;
    lm_head_flops_ = 2 * emb / tp;
    const double heads_per_gpu = std::max(1.0, a.num_attention_heads / tp);
    attn_flops_per_pair_ = 4.0 * a.num_layers * heads_per_gpu * a.head_dim;
    const double kvb = dtype_bytes(d.kv_dtype);
    if (a.attention == AttentionKind::kMLA) {
      kv_bytes_per_token_ = static_cast<double>(a.num_layers) * (a.kv_lora_rank + a.qk_rope_head_dim) * kvb;
    } else {
      const double kv_heads = std::ceil(static_cast<double>(a.num_kv_heads) / tp);
      kv_bytes_per_token_ = 2.0 * a.num_layers * kv_heads * a.head_dim * kvb;
    }
    const bool fp8_tensor = d.weight_dtype == DType::kFP8 && d.gpu.fp8_tflops > 0;
    // Weight-only quantisation (FP8 on GPUs without FP8 units, INT8/INT4) computes in 16-bit and dequantises
    // weights inside the GEMM's main loop (Marlin, AWQ kernels), which costs tensor-core time at large batch.
    const bool weight_only = !fp8_tensor && wb < 2;
    gemm_flops_ = fp8_tensor    ? d.gpu.fp8_tflops * 1e12 * c[Coefficients::kGemmEff8]
                  : weight_only ? d.gpu.fp16_tflops * 1e12 * c[Coefficients::kGemmEffWeightOnly]
                                : d.gpu.fp16_tflops * 1e12 * c[Coefficients::kGemmEff16];
    attn_flops_ = d.gpu.fp16_tflops * 1e12 * c[Coefficients::kGemmEff16];
    bandwidth_ = d.gpu.bandwidth_gbs * 1e9 * c[Coefficients::kHbmEff];
    decode_attn_per_token_ = std::max(kv_bytes_per_token_ / bandwidth_, attn_flops_per_pair_ / attn_flops_);
    if (d.tp > 1) {
      const bool nvlink = d.gpu.nvlink_gbs > 0 && d.tp <= d.gpu.nvlink_gpus;
      const double link = (nvlink ? d.gpu.nvlink_gbs : d.gpu.pcie_gbs) * 1e9 / 2 * kLinkEfficiency;
      const double allreduces = 2.0 * a.num_layers;
      comm_fixed_ = allreduces * 2.0 * (d.tp - 1) * c[Coefficients::kAllreduceHopUs] * 1e-6;
      comm_per_token_ = allreduces * 2.0 * (d.tp - 1) / d.tp * a.hidden_size * kActivationBytes / link;
    }
    if (d.pp > 1) {
      comm_fixed_ += (d.pp - 1) * kPipelineHopS;
      comm_per_token_ += (d.pp - 1) * a.hidden_size * kActivationBytes / (d.internode_gbs * 1e9);
    }
    step_overhead_ = c[Coefficients::kLayerOverheadUs] * 1e-6 * a.num_layers + c.step_overhead_us(d.engine) * 1e-6;
    seq_overhead_ = c.seq_overhead_us(d.engine) * 1e-6;
  }

  StepBreakdown predict(const StepShape& s) const override {
    StepBreakdown b;
    int64_t prefill_tokens = 0;
    int64_t samples = s.num_decode;
    double pairs = 0, prefix_tokens = 0;
    for (const auto& c : s.prefills) {
      prefill_tokens += c.tokens;
      samples += c.samples ? 1 : 0;
      const double t = c.tokens;
      pairs += t * c.context + t * (t + 1) / 2;
      prefix_tokens += c.context + t;
    }
    const int64_t tokens = prefill_tokens + s.num_decode;
    if (tokens == 0) return b;
    const double gemm = gemm_time(static_cast<double>(tokens), static_cast<double>(samples));
    const double share = static_cast<double>(s.num_decode) / static_cast<double>(tokens);
    b.decode_gemm_s = gemm * share;
    b.prefill_s = gemm - b.decode_gemm_s;
    if (!s.prefills.empty()) {
      b.prefill_s +=
          std::max(pairs * attn_flops_per_pair_ / attn_flops_, prefix_tokens * kv_bytes_per_token_ / bandwidth_);
    }
    b.decode_attention_s = static_cast<double>(s.decode_context_sum) * decode_attn_per_token_;
    b.collective_s = comm_time(static_cast<double>(tokens));
    b.overhead_s =
        step_overhead_ + seq_overhead_ * static_cast<double>(s.num_decode + static_cast<int64_t>(s.prefills.size()));
    return b;
  }

  DecodeLine decode_line(int64_t n) const override {
    const double dn = static_cast<double>(n);
    DecodeLine l;
    l.base_s = gemm_time(dn, dn) + comm_time(dn) + step_overhead_ + seq_overhead_ * dn;
    l.per_context_token_s = decode_attn_per_token_;
    return l;
  }

  const Deployment& deployment() const override { return d_; }

 private:
  double gemm_time(double tokens, double samples) const {
    const double flops = body_flops_ * tokens + lm_head_flops_ * samples;
    double bytes = dense_weight_bytes_;
    // Experts a batch touches: E x (1 - (1 - k/E)^tokens) in expectation under uniform routing.
    if (num_experts_ > 1) bytes += expert_weight_bytes_ * num_experts_ * (1 - std::pow(1 - expert_share_, tokens));
    return std::max(flops / gemm_flops_, bytes / bandwidth_);
  }
  double comm_time(double tokens) const { return comm_fixed_ + comm_per_token_ * tokens; }

  Deployment d_;
  double dense_weight_bytes_ = 0, expert_weight_bytes_ = 0, expert_share_ = 0;
  int num_experts_ = 0;
  double body_flops_ = 0, lm_head_flops_ = 0, attn_flops_per_pair_ = 0, kv_bytes_per_token_ = 0;
  double gemm_flops_ = 1, attn_flops_ = 1, bandwidth_ = 1, decode_attn_per_token_ = 0;
  double comm_fixed_ = 0, comm_per_token_ = 0, step_overhead_ = 0, seq_overhead_ = 0;
};

}  // namespace

void register_builtin_predictors() {
  register_predictor({"roofline",
                      "max(compute, memory) per operator group on one TP shard + ring all-reduces + host overhead",
                      [](const Deployment& d, const Coefficients& c) -> std::unique_ptr<LatencyPredictor> {
                        return std::make_unique<Roofline>(d, c);
                      }});
}

}  // namespace ktwin::gpu
