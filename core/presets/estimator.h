// KAITO's node estimator (HEAD): how many nodes of a SKU a preset needs for vLLM, with the arithmetic
// shown so `ktwin estimate` can explain it.
#pragma once
#include <string>

#include "core/presets/model_preset.h"
#include "core/presets/sku.h"
#include "core/result.h"

namespace ktwin {

struct EstimatorConstants {
  static constexpr double kUtilization = 0.84;
  static constexpr double kWeightExpansion = 1.02;
  static constexpr double kBaseOverheadGiB = 2.3;  //!< 0.6 non-torch + 1.7 activations, per GPU
  static constexpr double kWeightOverheadFactor = 0.05;
  static constexpr int kDefaultContext = 2048;
};

struct NodeEstimate {
  int nodes = 0;
  int min_gpus = 0;
  int gpus_per_node = 0;
  int context_length = 0;
  double per_gpu_memory_gib = 0;
  double available_per_gpu_gib = 0;  //!< M x u
  double fixed_per_gpu_gib = 0;      //!< base overhead + KV for the context split over a node's GPUs
  double weights_per_gpu_gib = 0;    //!< (avail - fixed) / 1.05
  double weights_needed_gib = 0;     //!< 1.02 x W
};

//! Steps 1-5 of spec §2.3. Errors (kInvalid): GPU memory too small for the fixed overhead; model
//! without distributed support needing more than one node.
Result<NodeEstimate> estimate_nodes(const ModelPreset& preset, const GpuConfig& gpu, int context_length = 0);

}  // namespace ktwin
