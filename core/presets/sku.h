// GPU SKU catalogs per cloud, as KAITO's pkg/sku keeps them (GPU memory stored as the node total),
// plus the GPU configuration read off BYO nodes' nvidia.com/* labels.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/object.h"

namespace ktwin {

struct GpuConfig {
  std::string sku;        //!< instance type; empty for BYO nodes
  std::string gpu_model;  //!< KAITO's name, e.g. "NVIDIA A100"
  std::string gpu_id;     //!< key into presets/gpus.yaml, e.g. "A100-PCIE-80GB"; may be empty
  int gpu_count = 0;
  double total_gpu_memory_gib = 0;
  double per_gpu_memory_gib() const { return gpu_count > 0 ? total_gpu_memory_gib / gpu_count : 0; }
  int compute_major = 0;  //!< CUDA compute capability; 0 when unknown (AMD, Trainium)
  int compute_minor = 0;
  bool nvme = false;
  bool mig = false;  //!< BYO node with a MIG layout applied; count/memory describe the slices
  bool nvidia() const { return gpu_model.rfind("NVIDIA", 0) == 0; }
};

struct Sku {
  std::string cloud;  //!< azure, aws, arc
  GpuConfig gpu;
  int vcpus = 0;
  double memory_gib = 0;
  double price_per_hour = 0;  //!< on-demand USD; 0 when unknown
  std::string price_source;
  bool removed = false;  //!< dropped from KAITO's current catalog (kept for old manifests)
  const std::string& name() const { return gpu.sku; }
};

class SkuCatalog {
 public:
  void add(Sku sku);
  //! Exact name lookup within a cloud; nullptr when unknown.
  const Sku* find(std::string_view cloud, std::string_view name) const;
  std::vector<const Sku*> list(std::string_view cloud, bool include_removed = true) const;
  std::vector<std::string> clouds() const;

 private:
  std::vector<Sku> skus_;
};

//! GPU config from a BYO node's labels nvidia.com/gpu.product, gpu.count, gpu.memory (MiB per GPU;
//! total = round(MiB/1024) x count), nvidia.com/cuda.compute.major|minor. nullopt when a label is missing.
std::optional<GpuConfig> gpu_config_from_node_labels(const Labels& labels);

}  // namespace ktwin
