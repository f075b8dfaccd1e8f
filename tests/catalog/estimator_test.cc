// KAITO's HEAD node estimator against the spec §2.3 table (every cell, shipped catalog data) and its edge cases.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "core/presets/estimator.h"

namespace ktwin {
namespace {

const catalog::Catalog& cat() { return catalog::default_catalog(); }

const ModelPreset& preset(const std::string& name) {
  const ModelPreset* p = cat().presets.find(name);
  if (p == nullptr) throw std::runtime_error("preset not in catalog: " + name);
  return *p;
}

const GpuConfig& azure(const std::string& sku) {
  const Sku* s = cat().skus.find("azure", sku);
  if (s == nullptr) throw std::runtime_error("SKU not in catalog: " + sku);
  return s->gpu;
}

// Columns of the spec §2.3 table, in order.
const std::vector<std::string> kTableSkus = {
    "Standard_NV36ads_A10_v5",    // A10x1 24G
    "Standard_NV72ads_A10_v5",    // A10x2 48G
    "Standard_NC24ads_A100_v4",   // A100x1 80G
    "Standard_NC48ads_A100_v4",   // NC48 A100x2
    "Standard_NC96ads_A100_v4",   // NC96 A100x4
    "Standard_NC80adis_H100_v5",  // NC80adis H100x2
    "Standard_ND96asr_A100_v4",   // ND96asr A100x8 (40G)
    "Standard_ND96isr_H100_v5",   // ND96isr H100x8
    "Standard_ND96isr_H200_v5",   // ND96isr H200x8
};

struct TableRow {
  std::vector<std::string> presets;  // the models a row of the table stands for
  std::vector<int> nodes;            // expected nodes per column
};

// Transcribed from spec kaito.md §2.3 ("Estimator output (nodes) for L=2048 on common SKUs").
const std::vector<TableRow> kTable = {
    {{"phi-3-mini-4k-instruct", "phi-3-mini-128k-instruct", "phi-3.5-mini-instruct", "phi-4-mini-instruct",
      "llama-3.1-8b-instruct", "mistral-7b", "mistral-7b-instruct", "qwen2.5-coder-7b-instruct",
      "deepseek-r1-distill-llama-8b"},
     {1, 1, 1, 1, 1, 1, 1, 1, 1}},
    {{"phi-3-medium-4k-instruct", "phi-3-medium-128k-instruct", "phi-4", "deepseek-r1-distill-qwen-14b", "gpt-oss-20b"},
     {2, 1, 1, 1, 1, 1, 1, 1, 1}},
    {{"gemma-3-27b-instruct"}, {4, 2, 1, 1, 1, 1, 1, 1, 1}},
    {{"qwen2.5-coder-32b-instruct"}, {4, 2, 2, 1, 1, 1, 1, 1, 1}},
    {{"gpt-oss-120b"}, {8, 4, 3, 2, 1, 1, 1, 1, 1}},
    {{"llama-3.3-70b-instruct"}, {9, 5, 3, 2, 1, 1, 1, 1, 1}},
    {{"deepseek-r1-0528", "deepseek-v3-0324", "mistral-large-3-675b-instruct"}, {39, 20, 11, 6, 3, 5, 3, 2, 1}},
};

TEST(EstimatorTable, EveryCellAtDefaultContext) {
  int cells = 0;
  for (const auto& row : kTable) {
    ASSERT_EQ(row.nodes.size(), kTableSkus.size());
    for (const auto& name : row.presets) {
      for (size_t c = 0; c < kTableSkus.size(); ++c) {
        auto est = estimate_nodes(preset(name), azure(kTableSkus[c]));
        ASSERT_TRUE(est.ok()) << name << " on " << kTableSkus[c] << ": " << est.error().message;
        EXPECT_EQ(est->nodes, row.nodes[c]) << name << " on " << kTableSkus[c];
        EXPECT_EQ(est->context_length, EstimatorConstants::kDefaultContext);
        ++cells;
      }
    }
  }
  EXPECT_EQ(cells, 21 * 9);  // 21 presets stand for the 7 table rows
}

TEST(EstimatorTable, ArithmeticOfOneCell) {
  // phi-3-mini on one A100 80G, by hand: avail 67.2, fixed 2.3 + 0.75, weights/GPU (67.2-3.05)/1.05.
  auto est = estimate_nodes(preset("phi-3-mini-4k-instruct"), azure("Standard_NC24ads_A100_v4"));
  ASSERT_TRUE(est.ok());
  EXPECT_DOUBLE_EQ(est->per_gpu_memory_gib, 80.0);
  EXPECT_NEAR(est->available_per_gpu_gib, 67.2, 1e-9);
  EXPECT_NEAR(est->fixed_per_gpu_gib, 3.05, 1e-9);
  EXPECT_NEAR(est->weights_per_gpu_gib, (67.2 - 3.05) / 1.05, 1e-9);
  EXPECT_NEAR(est->weights_needed_gib, 1.02 * 7.12, 1e-9);
  EXPECT_EQ(est->min_gpus, 1);
  EXPECT_EQ(est->gpus_per_node, 1);
}

TEST(Estimator, GpuCountIsFloorPlusOne) {
  ModelPreset p = preset("phi-3-mini-4k-instruct");
  GpuConfig gpu = azure("Standard_NC96ads_A100_v4");
  auto base = estimate_nodes(p, gpu);
  ASSERT_TRUE(base.ok());
  const double room = base->weights_per_gpu_gib;  // does not depend on the weights
  auto gpus_for = [&](double weights_in_gpus) {
    p.weights_gib = weights_in_gpus * room / EstimatorConstants::kWeightExpansion;
    auto e = estimate_nodes(p, gpu);
    EXPECT_TRUE(e.ok());
    return e.ok() ? e->min_gpus : -1;
  };
  EXPECT_EQ(gpus_for(0.5), 1);
  EXPECT_EQ(gpus_for(0.999), 1);
  EXPECT_EQ(gpus_for(1.001), 2);
  EXPECT_EQ(gpus_for(2.5), 3);
  // 3.999 GPUs of weights fit on one 4-GPU node; just over 4 needs a fifth GPU, i.e. a second node.
  EXPECT_EQ(gpus_for(3.999), 4);
  p.weights_gib = 4.001 * room / EstimatorConstants::kWeightExpansion;
  auto two_nodes = estimate_nodes(p, gpu);
  ASSERT_TRUE(two_nodes.ok());
  EXPECT_EQ(two_nodes->min_gpus, 5);
  EXPECT_EQ(two_nodes->nodes, 2);
}

TEST(Estimator, ContextLengthScalesKvShare) {
  const ModelPreset& p = preset("phi-3-mini-128k-instruct");
  const GpuConfig& a10 = azure("Standard_NV36ads_A10_v5");
  auto def = estimate_nodes(p, a10, 0);
  auto l8k = estimate_nodes(p, a10, 8192);
  ASSERT_TRUE(def.ok());
  ASSERT_TRUE(l8k.ok());
  EXPECT_EQ(def->context_length, 2048);
  EXPECT_EQ(l8k->context_length, 8192);
  const double base = EstimatorConstants::kBaseOverheadGiB;
  EXPECT_NEAR(l8k->fixed_per_gpu_gib - base, 4 * (def->fixed_per_gpu_gib - base), 1e-9);
  // 8192 x 393216 B = 3 GiB of KV on the single GPU.
  EXPECT_NEAR(l8k->fixed_per_gpu_gib, base + 3.0, 1e-9);
  EXPECT_EQ(l8k->nodes, 1);
}

TEST(Estimator, KvCacheIsSplitOverTheNodesGpus) {
  const ModelPreset& p = preset("llama-3.1-8b-instruct");
  auto one = estimate_nodes(p, azure("Standard_NV36ads_A10_v5"), 32768);
  auto two = estimate_nodes(p, azure("Standard_NV72ads_A10_v5"), 32768);
  ASSERT_TRUE(one.ok());
  ASSERT_TRUE(two.ok());
  const double base = EstimatorConstants::kBaseOverheadGiB;
  EXPECT_NEAR(two->fixed_per_gpu_gib - base, (one->fixed_per_gpu_gib - base) / 2, 1e-9);
}

TEST(Estimator, LongContextMakesTheGpuTooSmall) {
  // 131072 tokens x 327680 B = 40 GiB of KV on one 24G A10.
  auto est = estimate_nodes(preset("llama-3.3-70b-instruct"), azure("Standard_NV36ads_A10_v5"), 131072);
  ASSERT_FALSE(est.ok());
  EXPECT_EQ(est.error().code, ErrorCode::kInvalid);
  EXPECT_NE(est.error().message.find("too small"), std::string::npos) << est.error().message;
}

TEST(Estimator, TinyGpuIsTooSmallEvenAtDefaultContext) {
  GpuConfig gpu;
  gpu.sku = "tiny";
  gpu.gpu_model = "NVIDIA T4";
  gpu.gpu_count = 1;
  gpu.total_gpu_memory_gib = 2;  // 1.68 usable < 2.3 fixed
  auto est = estimate_nodes(preset("phi-3-mini-4k-instruct"), gpu);
  ASSERT_FALSE(est.ok());
  EXPECT_NE(est.error().message.find("too small"), std::string::npos);
}

TEST(Estimator, NonDistributedModelNeedingSeveralNodesFails) {
  ModelPreset p = preset("llama-3.3-70b-instruct");
  p.supports_distributed = false;
  auto est = estimate_nodes(p, azure("Standard_NV36ads_A10_v5"));
  ASSERT_FALSE(est.ok());
  EXPECT_EQ(est.error().code, ErrorCode::kInvalid);
  EXPECT_NE(est.error().message.find("distributed"), std::string::npos) << est.error().message;
  // One node is fine without distributed support.
  EXPECT_TRUE(estimate_nodes(p, azure("Standard_ND96isr_H100_v5")).ok());
}

TEST(Estimator, MigSlicesCannotSpanNodes) {
  GpuConfig gpu = azure("Standard_NV36ads_A10_v5");
  gpu.mig = true;
  auto est = estimate_nodes(preset("llama-3.3-70b-instruct"), gpu);
  ASSERT_FALSE(est.ok());
  EXPECT_NE(est.error().message.find("MIG"), std::string::npos);
}

TEST(Estimator, MissingGpuConfigFails) {
  GpuConfig gpu;
  gpu.sku = "Standard_D4s_v5";
  auto est = estimate_nodes(preset("phi-4"), gpu);
  ASSERT_FALSE(est.ok());
  EXPECT_NE(est.error().message.find("Standard_D4s_v5"), std::string::npos);
}

TEST(Estimator, ByoNodeFromLabels) {
  Labels labels = {{"nvidia.com/gpu.product", "NVIDIA-A100-SXM4-80GB"},
                   {"nvidia.com/gpu.count", "8"},
                   {"nvidia.com/gpu.memory", "81920"}};
  auto gpu = gpu_config_from_node_labels(labels);
  ASSERT_TRUE(gpu.has_value());
  auto est = estimate_nodes(preset("llama-3.3-70b-instruct"), *gpu);
  ASSERT_TRUE(est.ok());
  EXPECT_EQ(est->nodes, 1);
  EXPECT_EQ(est->gpus_per_node, 8);
}

}  // namespace
}  // namespace ktwin
