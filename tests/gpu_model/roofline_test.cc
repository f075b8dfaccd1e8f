// The roofline predictor behaves physically: memory-bound decode at batch 1, compute-bound prefill, TP and
// FP8 scale the right terms, and decode_line() agrees with predict().
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/input_error.h"
#include "gpu_model/predictor.h"
#include "tests/gpu_model/test_support.h"

namespace ktwin::gpu {
namespace {

Coefficients ideal() {
  Coefficients c;
  c[Coefficients::kHbmEff] = 1;
  c[Coefficients::kGemmEff16] = 1;
  c[Coefficients::kGemmEff8] = 1;
  c[Coefficients::kGemmEffWeightOnly] = 1;
  c[Coefficients::kAllreduceHopUs] = 1;
  c[Coefficients::kLayerOverheadUs] = 0;
  for (int e = 0; e < kEngineKinds; ++e) {
    c[Coefficients::kSeqOverheadTrtllmUs + e] = 0;
    c[Coefficients::kStepOverheadTrtllmUs + e] = 0;
  }
  return c;
}

using testing::deploy;

double decode(const LatencyPredictor& p, int64_t n, int64_t ctx_each) {
  return p.predict(StepShape{{}, n, n * ctx_each}).total();
}
double prefill(const LatencyPredictor& p, int32_t tokens) {
  std::vector<PrefillChunk> c = {{tokens, 0, true}};
  return p.predict(StepShape{c, 0, 0}).total();
}

TEST(Roofline, RegisteredByName) {
  bool found = false;
  for (const auto& p : predictors()) found = found || p.name == "roofline";
  EXPECT_TRUE(found);
  EXPECT_THROW(make_predictor("nope", deploy("meta-llama/Llama-2-7b-hf", "A100-SXM-80GB", DType::kFP16), ideal()),
               InputError);
}

TEST(Roofline, DecodeAtBatchOneIsWeightBytesOverBandwidth) {
  const Deployment d = deploy("meta-llama/Llama-2-7b-hf", "A100-SXM-80GB", DType::kFP16);
  auto p = make_predictor("roofline", d, ideal());
  const double weights = 6.74e9 * 2;
  const double expect = weights / (2039e9);
  const double got = decode(*p, 1, 1);
  EXPECT_NEAR(got / expect, 1.0, 0.02) << got << " vs " << expect;
  // Still memory-bound at batch 8: almost the same step time.
  EXPECT_LT(decode(*p, 8, 1) / got, 1.05);
}

TEST(Roofline, PrefillIsComputeBound) {
  const Deployment d = deploy("meta-llama/Llama-2-7b-hf", "A100-SXM-80GB", DType::kFP16);
  auto p = make_predictor("roofline", d, ideal());
  const double t = prefill(*p, 4096);
  // ~2 x params FLOPs per token at the dense FP16 peak, plus causal attention.
  const double gemm = 2 * (6.74e9 - 2 * 32000.0 * 4096) * 4096 / 312e12;
  EXPECT_GT(t, gemm);
  EXPECT_LT(t, gemm * 1.3);
  // Doubling the tokens roughly doubles the time (and more: attention is quadratic).
  EXPECT_GT(prefill(*p, 8192) / t, 2.0);
}

TEST(Roofline, TensorParallelSplitsWorkAndAddsCollectives) {
  const Coefficients c = ideal();
  auto tp1 = make_predictor("roofline", deploy("meta-llama/Llama-2-70b-hf", "H100-SXM-80GB", DType::kFP8, 1), c);
  auto tp4 = make_predictor("roofline", deploy("meta-llama/Llama-2-70b-hf", "H100-SXM-80GB", DType::kFP8, 4), c);
  const double d1 = decode(*tp1, 1, 100), d4 = decode(*tp4, 1, 100);
  EXPECT_LT(d4, d1 / 3);  // weights are split four ways ...
  EXPECT_GT(d4, d1 / 4);  // ... but all-reduces are added
  const StepBreakdown b = tp4->predict(StepShape{{}, 1, 100});
  EXPECT_GT(b.collective_s, 0);
  EXPECT_EQ(tp1->predict(StepShape{{}, 1, 100}).collective_s, 0);
  // PCIe (L40S has no NVLink) all-reduces cost more than NVLink ones at the same TP and size.
  auto pcie = make_predictor("roofline", deploy("meta-llama/Llama-2-7b-hf", "L40S-48GB", DType::kFP16, 2), c);
  auto nvl = make_predictor("roofline", deploy("meta-llama/Llama-2-7b-hf", "H100-SXM-80GB", DType::kFP16, 2), c);
  std::vector<PrefillChunk> chunk = {{2048, 0, true}};
  EXPECT_GT(pcie->predict(StepShape{chunk, 0, 0}).collective_s, 3 * nvl->predict(StepShape{chunk, 0, 0}).collective_s);
}

TEST(Roofline, Fp8HalvesWeightTrafficAndSpeedsUpComputeOnlyWithFp8Units) {
  const Coefficients c = ideal();
  auto h16 = make_predictor("roofline", deploy("meta-llama/Llama-2-7b-hf", "H100-SXM-80GB", DType::kFP16), c);
  auto h8 = make_predictor("roofline", deploy("meta-llama/Llama-2-7b-hf", "H100-SXM-80GB", DType::kFP8), c);
  const double r_decode = decode(*h8, 1, 1) / decode(*h16, 1, 1);
  EXPECT_GT(r_decode, 0.5);  // the 16-bit LM head and embedding stay
  EXPECT_LT(r_decode, 0.6);
  EXPECT_LT(prefill(*h8, 4096) / prefill(*h16, 4096), 0.7);
  // A100 has no FP8 units: weight-only FP8 saves bandwidth but not prefill compute.
  auto a16 = make_predictor("roofline", deploy("meta-llama/Llama-2-7b-hf", "A100-SXM-80GB", DType::kFP16), c);
  auto a8 = make_predictor("roofline", deploy("meta-llama/Llama-2-7b-hf", "A100-SXM-80GB", DType::kFP8), c);
  EXPECT_LT(decode(*a8, 1, 1) / decode(*a16, 1, 1), 0.6);
  EXPECT_NEAR(prefill(*a8, 4096) / prefill(*a16, 4096), 1.0, 0.05);
}

TEST(Roofline, GqaAndMoeShapeTheCosts) {
  const Coefficients c = ideal();
  // Decode attention grows with context; GQA (8 KV heads) reads 4x less KV than MHA per token of context.
  auto mha = make_predictor("roofline", deploy("meta-llama/Llama-2-13b-hf", "H100-SXM-80GB", DType::kFP16), c);
  auto gqa = make_predictor("roofline", deploy("meta-llama/Llama-3.1-8B", "H100-SXM-80GB", DType::kFP16), c);
  EXPECT_GT(mha->decode_line(1).per_context_token_s, 3 * gqa->decode_line(1).per_context_token_s);
  // Mixtral at batch 1 reads only the experts it routes to; at a large batch nearly all of them.
  auto moe = make_predictor("roofline", deploy("mistralai/Mixtral-8x7B-v0.1", "H100-SXM-80GB", DType::kFP16, 2), c);
  const double b1 = decode(*moe, 1, 1);
  EXPECT_LT(b1, 46.7e9 * 2 / 2 / 3350e9 * 0.6);
  EXPECT_GT(decode(*moe, 64, 1), 1.5 * b1);
}

TEST(Roofline, DecodeLineAgreesWithPredict) {
  Coefficients c;  // defaults, with overheads
  auto p = make_predictor("roofline", deploy("meta-llama/Llama-2-70b-hf", "A100-SXM-80GB", DType::kFP16, 4), c);
  for (int64_t n : {1, 7, 64, 256}) {
    for (int64_t sum : {n, n * 100, n * 3000}) {
      const DecodeLine l = p->decode_line(n);
      const double line = l.base_s + l.per_context_token_s * static_cast<double>(sum);
      EXPECT_NEAR(line, p->predict(StepShape{{}, n, sum}).total(), 1e-12 * line + 1e-15) << n << " " << sum;
    }
  }
}

}  // namespace
}  // namespace ktwin::gpu
