// Preset registry, derived preset values, SKU catalog lookups and BYO node label parsing.
#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "core/presets/model_preset.h"
#include "core/presets/sku.h"

namespace ktwin {
namespace {

ModelPreset make_preset(const std::string& name, const std::string& hf_id, std::vector<std::string> aliases = {}) {
  ModelPreset p;
  p.name = name;
  p.hf_id = hf_id;
  p.aliases = std::move(aliases);
  p.weights_gib = 1;
  return p;
}

TEST(PresetRegistry, FindsByNameHfIdAndAlias) {
  PresetRegistry reg;
  ASSERT_TRUE(reg.add(make_preset("llama-3.1-8b-instruct", "meta-llama/Llama-3.1-8B-Instruct",
                                  {"meta-llama/Meta-Llama-3.1-8B-Instruct"}))
                  .ok());
  ASSERT_TRUE(reg.add(make_preset("phi-4", "microsoft/phi-4")).ok());
  for (const char* key :
       {"llama-3.1-8b-instruct", "meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Meta-Llama-3.1-8B-Instruct"}) {
    const ModelPreset* p = reg.find(key);
    ASSERT_NE(p, nullptr) << key;
    EXPECT_EQ(p->name, "llama-3.1-8b-instruct");
  }
  // KAITO lower-cases the requested name before the lookup.
  ASSERT_NE(reg.find("meta-llama/llama-3.1-8b-instruct"), nullptr);
  EXPECT_EQ(reg.find("Phi-4")->name, "phi-4");
  EXPECT_EQ(reg.find("phi-5"), nullptr);
  EXPECT_EQ(reg.names(), (std::vector<std::string>{"llama-3.1-8b-instruct", "phi-4"}));
}

TEST(PresetRegistry, RejectsDuplicatesAndStaysUnchanged) {
  PresetRegistry reg;
  ASSERT_TRUE(reg.add(make_preset("phi-4", "microsoft/phi-4", {"phi4"})).ok());
  auto same_name = reg.add(make_preset("phi-4", "someone/else"));
  ASSERT_FALSE(same_name.ok());
  EXPECT_EQ(same_name.error().code, ErrorCode::kInvalid);
  EXPECT_NE(same_name.error().message.find("phi-4"), std::string::npos);
  // A new preset whose alias collides with an existing alias (case-insensitively).
  auto alias_clash = reg.add(make_preset("other", "org/other", {"PHI4"}));
  ASSERT_FALSE(alias_clash.ok());
  EXPECT_EQ(reg.all().size(), 1u);
  EXPECT_EQ(reg.find("other"), nullptr);
  EXPECT_EQ(reg.find("org/other"), nullptr);
  // An alias equal to the preset's own name is not a clash.
  EXPECT_TRUE(reg.add(make_preset("x", "org/x", {"x", "org/x"})).ok());
  EXPECT_FALSE(reg.add(ModelPreset{}).ok());  // no name
}

TEST(ModelPreset, ReadinessTimeoutIsClamped) {
  ModelPreset p;
  p.weights_gib = 1;
  EXPECT_EQ(p.readiness_timeout_seconds(), 30 * 60);  // 15m + 18s < 30m
  p.weights_gib = 131.42;
  EXPECT_EQ(p.readiness_timeout_seconds(), 900 + 2365);  // 15m + 18 s/GiB, inside the clamp
  p.weights_gib = 641.3;
  EXPECT_EQ(p.readiness_timeout_seconds(), 180 * 60);
  p.weights_gib = 50;  // exactly 30m
  EXPECT_EQ(p.readiness_timeout_seconds(), 30 * 60);
}

TEST(ModelPreset, DerivedBytesPerToken) {
  ModelPreset p;
  p.arch.num_layers = 32;
  p.arch.hidden_size = 3072;
  p.arch.num_attention_heads = 32;
  p.arch.attention = AttentionKind::kMHA;
  EXPECT_EQ(p.derived_bytes_per_token(), 2 * 32 * 32 * 96 * 2);  // head_dim and KV heads defaulted
  p.arch.attention = AttentionKind::kMQA;
  EXPECT_EQ(p.derived_bytes_per_token(), 2 * 32 * 1 * 96 * 2);
  p.arch.attention = AttentionKind::kMLA;
  p.arch.kv_lora_rank = 512;
  p.arch.qk_rope_head_dim = 64;
  p.arch.num_layers = 61;
  EXPECT_EQ(p.derived_bytes_per_token(), 70272);
}

// The shipped bytes_per_token are KAITO's numbers; where they differ from the fp16 formula the preset's
// source must say so.
TEST(ShippedPresets, BytesPerTokenAgreesWithArchitectureOrIsExplained) {
  for (const auto& p : catalog::default_catalog().presets.all()) {
    if (p.derived_bytes_per_token() == p.bytes_per_token) continue;
    EXPECT_NE(p.source.find("iscrepancy"), std::string::npos)
        << p.name << ": bytes_per_token " << p.bytes_per_token << " vs formula " << p.derived_bytes_per_token()
        << " with no explanation in source";
  }
}

TEST(ShippedPresets, EveryClassicPresetIsThere) {
  const auto& reg = catalog::default_catalog().presets;
  for (const char* name : {"falcon-7b",
                           "falcon-7b-instruct",
                           "falcon-40b",
                           "falcon-40b-instruct",
                           "mistral-7b",
                           "mistral-7b-instruct",
                           "phi-2",
                           "phi-3-mini-4k-instruct",
                           "phi-3-mini-128k-instruct",
                           "phi-3-medium-4k-instruct",
                           "phi-3-medium-128k-instruct",
                           "phi-3.5-mini-instruct",
                           "phi-4",
                           "phi-4-mini-instruct",
                           "qwen2.5-coder-7b-instruct",
                           "qwen2.5-coder-32b-instruct",
                           "deepseek-r1-distill-llama-8b",
                           "deepseek-r1-distill-qwen-14b",
                           "llama-3.1-8b-instruct",
                           "llama-3.3-70b-instruct",
                           "gemma-3-4b-instruct",
                           "gemma-3-27b-instruct",
                           "gpt-oss-20b",
                           "gpt-oss-120b",
                           "ministral-3-3b-instruct",
                           "ministral-3-8b-instruct",
                           "ministral-3-14b-instruct",
                           "mistral-large-3-675b-instruct",
                           "deepseek-r1-0528",
                           "deepseek-v3-0324"}) {
    const ModelPreset* p = reg.find(name);
    ASSERT_NE(p, nullptr) << name;
    EXPECT_EQ(reg.find(p->hf_id), p) << name;
    EXPECT_TRUE(p->supports_distributed) << name << ": HEAD reports distributed inference for every model";
  }
  EXPECT_EQ(reg.all().size(), 30u);
  EXPECT_TRUE(reg.find("phi-2")->deprecated);
  EXPECT_TRUE(reg.find("llama-3.3-70b-instruct")->gated);
  EXPECT_TRUE(reg.find("falcon-7b")->disallow_lora);
  EXPECT_EQ(reg.find("deepseek-r1-0528")->arch.attention, AttentionKind::kMLA);
}

TEST(SkuCatalog, LookupAndListing) {
  const auto& skus = catalog::default_catalog().skus;
  EXPECT_EQ(skus.clouds(), (std::vector<std::string>{"arc", "aws", "azure"}));
  const Sku* nd = skus.find("azure", "Standard_ND96asr_A100_v4");
  ASSERT_NE(nd, nullptr);
  EXPECT_EQ(nd->gpu.gpu_model, "NVIDIA A100");
  EXPECT_DOUBLE_EQ(nd->gpu.per_gpu_memory_gib(), 40);
  EXPECT_EQ(nd->gpu.compute_major, 8);
  EXPECT_EQ(nd->gpu.compute_minor, 0);
  EXPECT_FALSE(nd->gpu.nvme);
  EXPECT_EQ(nd->gpu.gpu_id, "A100-SXM-40GB");
  EXPECT_EQ(skus.find("aws", "Standard_ND96asr_A100_v4"), nullptr);
  const Sku* t4 = skus.find("azure", "Standard_NC4as_T4_v3");
  ASSERT_NE(t4, nullptr);
  EXPECT_TRUE(t4->removed);
  auto current = skus.list("azure", false);
  auto all = skus.list("azure", true);
  EXPECT_LT(current.size(), all.size());
  for (const Sku* s : current) {
    EXPECT_FALSE(s->removed);
    // #2185: only CUDA compute capability >= 8.0 (or non-CUDA accelerators) remain.
    if (s->gpu.nvidia()) {
      EXPECT_GE(s->gpu.compute_major, 8) << s->name();
    }
  }
  const Sku* a100 = skus.find("azure", "Standard_NC24ads_A100_v4");
  ASSERT_NE(a100, nullptr);
  EXPECT_GT(a100->price_per_hour, 0);
  EXPECT_FALSE(a100->price_source.empty());
}

TEST(NodeLabels, ParsesGpuFeatureDiscoveryLabels) {
  Labels labels = {{"nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"},
                   {"nvidia.com/gpu.count", "8"},
                   {"nvidia.com/gpu.memory", "81559"},
                   {"nvidia.com/cuda.compute.major", "9"},
                   {"nvidia.com/cuda.compute.minor", "0"}};
  auto gpu = gpu_config_from_node_labels(labels);
  ASSERT_TRUE(gpu.has_value());
  EXPECT_EQ(gpu->gpu_model, "NVIDIA-H100-80GB-HBM3");
  EXPECT_EQ(gpu->gpu_count, 8);
  EXPECT_DOUBLE_EQ(gpu->total_gpu_memory_gib, 80 * 8);  // round(81559 / 1024) = 80 per GPU
  EXPECT_DOUBLE_EQ(gpu->per_gpu_memory_gib(), 80);
  EXPECT_EQ(gpu->compute_major, 9);
  EXPECT_EQ(gpu->compute_minor, 0);
  EXPECT_FALSE(gpu->mig);
  EXPECT_TRUE(gpu->sku.empty());
}

TEST(NodeLabels, MissingOrMalformedLabelsGiveNothing) {
  const Labels full = {
      {"nvidia.com/gpu.product", "NVIDIA-A10"}, {"nvidia.com/gpu.count", "1"}, {"nvidia.com/gpu.memory", "23028"}};
  ASSERT_TRUE(gpu_config_from_node_labels(full).has_value());
  for (const char* key : {"nvidia.com/gpu.product", "nvidia.com/gpu.count", "nvidia.com/gpu.memory"}) {
    Labels l = full;
    l.erase(key);
    EXPECT_FALSE(gpu_config_from_node_labels(l).has_value()) << "without " << key;
  }
  for (const char* bad : {"", "two", "1x", "0", "-1"}) {
    Labels l = full;
    l["nvidia.com/gpu.count"] = bad;
    EXPECT_FALSE(gpu_config_from_node_labels(l).has_value()) << "count \"" << bad << "\"";
  }
  const Labels& no_cc = full;                                       // the same labels: no compute capability among them
  EXPECT_EQ(gpu_config_from_node_labels(no_cc)->compute_major, 0);  // compute capability is optional
}

TEST(NodeLabels, MigNeedsASuccessfulLayout) {
  Labels l = {{"nvidia.com/gpu.product", "NVIDIA-A100-SXM4-80GB-MIG-3g.40gb"},
              {"nvidia.com/gpu.count", "2"},
              {"nvidia.com/gpu.memory", "40192"},
              {"nvidia.com/mig.config", "all-3g.40gb"},
              {"nvidia.com/mig.config.state", "pending"}};
  EXPECT_FALSE(gpu_config_from_node_labels(l)->mig);
  l["nvidia.com/mig.config.state"] = "success";
  auto gpu = gpu_config_from_node_labels(l);
  EXPECT_TRUE(gpu->mig);
  EXPECT_DOUBLE_EQ(gpu->total_gpu_memory_gib, 39 * 2);
  l["nvidia.com/mig.config"] = "all-disabled";
  EXPECT_FALSE(gpu_config_from_node_labels(l)->mig);
}

}  // namespace
}  // namespace ktwin
