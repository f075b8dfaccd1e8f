// GPU specs and model architectures: the shipped files load, lookups are case-insensitive with aliases and a
// KAITO-preset fallback, and bad data is reported at file:line.
#include <gtest/gtest.h>

#include "core/input_error.h"
#include "gpu_model/specs.h"

namespace ktwin::gpu {
namespace {

TEST(GpuSpecs, ShippedSheetHasTheCalibrationGpus) {
  const auto& hw = default_hardware();
  EXPECT_GE(hw.gpus.size(), 18u);
  const GpuSpec& h100 = hw.gpu("h100-sxm-80gb");  // case-insensitive
  EXPECT_EQ(h100.id, "H100-SXM-80GB");
  EXPECT_DOUBLE_EQ(h100.bandwidth_gbs, 3350);
  EXPECT_DOUBLE_EQ(h100.fp16_tflops, 989.4);
  EXPECT_DOUBLE_EQ(h100.fp8_tflops, 1978.9);
  EXPECT_EQ(h100.nvlink_gpus, 8);
  EXPECT_DOUBLE_EQ(h100.usable_memory_gib, 80);
  EXPECT_DOUBLE_EQ(hw.gpu("A100-SXM-80GB").fp8_tflops, 0);  // Ampere: no FP8 tensor cores
  EXPECT_GT(hw.gpu("A10G-24GB").fp16_tflops, 0);            // derived, needed by the roofline
  EXPECT_EQ(hw.gpu("A100-PCIE-80GB").nvlink_gpus, 2);       // bridges pair two GPUs
  EXPECT_EQ(hw.gpu("L40S-48GB").nvlink_gbs, 0);
  for (const auto& g : hw.gpus) {
    EXPECT_GT(g.bandwidth_gbs, 0) << g.id;
    EXPECT_GT(g.fp16_tflops, 0) << g.id;
    EXPECT_LE(g.usable_memory_gib, g.memory_gb) << g.id;
  }
}

TEST(GpuSpecs, UnknownGpuNamesTheClosest) {
  try {
    default_hardware().gpu("H100-SXM-80G");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("H100-SXM-80G\""), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("did you mean \"H100-SXM-80GB\""), std::string::npos) << e.what();
  }
}

TEST(Architectures, LookupByIdAliasAndKaitoFallback) {
  const auto& hw = default_hardware();
  const ModelArch& l2 = hw.model("META-LLAMA/llama-2-7b-HF");
  EXPECT_EQ(l2.arch.num_layers, 32);
  EXPECT_EQ(l2.arch.num_kv_heads, 32);
  EXPECT_EQ(l2.arch.intermediate_size, 11008);
  EXPECT_EQ(l2.arch.vocab_size, 32000);
  // A fine-tune maps to its base architecture.
  const ModelArch& hermes = hw.model("NousResearch/Hermes-3-Llama-3.1-405B");
  EXPECT_EQ(hermes.hf_id, "meta-llama/Llama-3.1-405B");
  EXPECT_EQ(hermes.arch.num_layers, 126);
  EXPECT_EQ(hermes.arch.hidden_size, 16384);
  const ModelArch& mixtral = hw.model("mistralai/Mixtral-8x7B-Instruct-v0.1");
  EXPECT_EQ(mixtral.arch.num_experts, 8);
  EXPECT_EQ(mixtral.arch.experts_per_token, 2);
  EXPECT_LT(mixtral.arch.active_params_billion, mixtral.arch.params_billion);
  EXPECT_EQ(hw.model("EleutherAI/gpt-j-6b").arch.head_dim, 256);
  // Not in architectures.yaml: KAITO's preset supplies it (by HF id or KAITO name).
  const ModelArch& phi = hw.model("microsoft/Phi-3-mini-4k-instruct");
  EXPECT_NE(phi.from.find("KAITO preset"), std::string::npos);
  EXPECT_EQ(&hw.model("phi-3-mini-4k-instruct"), &phi);
  EXPECT_EQ(hw.model("meta-llama/Llama-3.3-70B-Instruct").arch.num_layers, 80);
}

TEST(Architectures, UnknownModelIsAClearError) {
  try {
    default_hardware().model("acme/NotAModel-7B");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model architecture \"acme/NotAModel-7B\""), std::string::npos)
        << e.what();
  }
}

TEST(Architectures, BadDataPointsAtFileLineAndField) {
  const std::string gpus =
      "gpus:\n  - {id: G, memory_gb: 10, bandwidth_gbs: 100, fp16_tflops: 10, interconnect: {nvlink_gbs: 0, pcie_gbs: "
      "32}}\n";
  const std::string arch =
      "architectures:\n"
      "  - hf_id: a/b\n"
      "    max_position_embeddings: 4096\n"
      "    architecture: {num_layers: 2, hidden_size: 64, num_attention_heads: 4, num_kv_heads: 4,\n"
      "                   intermediate_size: 128, vocab_size: 100, params_billion: 0.001, attention: GQA, layres: 3}\n";
  try {
    parse_hardware(gpus, "g.yaml", arch, "a.yaml", nullptr);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "a.yaml");
    EXPECT_EQ(e.line(), 5);
    EXPECT_NE(std::string(e.what()).find("unknown field \"layres\""), std::string::npos) << e.what();
  }
  try {
    parse_hardware(
        "gpus:\n  - {id: G, memory_gb: 10, bandwidth_gbs: -1, fp16_tflops: 10, interconnect: {nvlink_gbs: 0, pcie_gbs: "
        "32}}\n",
        "g.yaml", "architectures: []\n", "a.yaml", nullptr);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_NE(e.field().find("bandwidth_gbs"), std::string::npos) << e.what();
  }
  // Same id twice (aliases included) is rejected.
  const std::string dup = arch.substr(0, arch.find(", layres: 3")) + "}\n" +
                          "  - {hf_id: A/B, max_position_embeddings: 1, architecture: {num_layers: 1, hidden_size: 64, "
                          "num_attention_heads: 4, num_kv_heads: 4, intermediate_size: 1, vocab_size: 1, "
                          "params_billion: 1, attention: GQA}}\n";
  EXPECT_THROW(parse_hardware(gpus, "g.yaml", dup, "a.yaml", nullptr), InputError);
}

}  // namespace
}  // namespace ktwin::gpu
