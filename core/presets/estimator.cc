// KAITO's HEAD node estimator (pkg/workspace/estimator/nodesestimator), spec §2.3 steps 1-5.
#include "core/presets/estimator.h"

#include <cmath>
#include <cstdio>

namespace ktwin {

namespace {

constexpr double kBytesPerGiB = 1024.0 * 1024.0 * 1024.0;

std::string fmt(const char* format, double a, double b = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, format, a, b);
  return buf;
}

}  // namespace

Result<NodeEstimate> estimate_nodes(const ModelPreset& preset, const GpuConfig& gpu, int context_length) {
  using C = EstimatorConstants;
  if (gpu.gpu_count <= 0 || gpu.total_gpu_memory_gib <= 0) {
    return make_error(ErrorCode::kInvalid,
                      "no GPU configuration for instance type \"" + gpu.sku +
                          "\": cannot estimate nodes for preset \"" + preset.name + "\"",
                      "UnknownGPUConfig");
  }
  NodeEstimate e;
  e.context_length = context_length > 0 ? context_length : C::kDefaultContext;
  e.gpus_per_node = gpu.gpu_count;
  e.per_gpu_memory_gib = gpu.per_gpu_memory_gib();
  // 1. Usable memory per GPU, and what every GPU needs besides weights: runtime overhead plus its share of one
  //    context's KV cache (split over the GPUs of one node).
  e.available_per_gpu_gib = e.per_gpu_memory_gib * C::kUtilization;
  const double kv_gib =
      static_cast<double>(e.context_length) * static_cast<double>(preset.bytes_per_token) / kBytesPerGiB;
  e.fixed_per_gpu_gib = C::kBaseOverheadGiB + kv_gib / e.gpus_per_node;
  // 2.
  if (e.available_per_gpu_gib <= e.fixed_per_gpu_gib) {
    return make_error(ErrorCode::kInvalid,
                      "GPU memory " + fmt("%.2fGiB", e.per_gpu_memory_gib) + " per GPU of instance type \"" + gpu.sku +
                          "\" is too small for preset \"" + preset.name + "\": usable " +
                          fmt("%.2fGiB <= fixed overhead %.2fGiB", e.available_per_gpu_gib, e.fixed_per_gpu_gib),
                      "GPUMemoryTooSmall");
  }
  // 3. Weights grow with a proportional overhead (activations scale with model size).
  e.weights_per_gpu_gib = (e.available_per_gpu_gib - e.fixed_per_gpu_gib) / (1.0 + C::kWeightOverheadFactor);
  // 4. KAITO adds one GPU even on an exact fit.
  e.weights_needed_gib = C::kWeightExpansion * preset.weights_gib;
  e.min_gpus = static_cast<int>(std::floor(e.weights_needed_gib / e.weights_per_gpu_gib)) + 1;
  // 5.
  e.nodes = (e.min_gpus + e.gpus_per_node - 1) / e.gpus_per_node;
  if (e.nodes > 1 && gpu.mig) {
    return make_error(ErrorCode::kInvalid,
                      "preset \"" + preset.name + "\" needs " + std::to_string(e.nodes) +
                          " nodes, but multi-node inference is not supported on MIG slices",
                      "MIGMultiNode");
  }
  if (e.nodes > 1 && !preset.supports_distributed) {
    return make_error(ErrorCode::kInvalid,
                      "preset \"" + preset.name + "\" needs " + std::to_string(e.nodes) + " nodes of instance type \"" +
                          gpu.sku + "\" but does not support distributed (multi-node) inference",
                      "DistributedNotSupported");
  }
  return e;
}

}  // namespace ktwin
