// Builds the inference server command line KAITO puts in a preset workspace's pod (spec §2.4):
// parallelism (DP/TP/PP + Ray), memory utilisation, dtype, context length, LoRA, parsers.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/presets/model_preset.h"
#include "core/presets/sku.h"

namespace ktwin {

struct InferenceCommandInput {
  const ModelPreset* preset = nullptr;
  GpuConfig gpu;                 //!< per node
  int nodes = 1;                 //!< targetNodeCount
  std::string runtime = "vllm";  //!< vllm | transformers
  std::string served_model_name;
  bool has_adapters = false;
  bool has_config_file = false;
  std::optional<int64_t> user_max_model_len;  //!< from the inference config ConfigMap
};

struct InferenceCommand {
  std::map<std::string, std::string> flags;  //!< flag name (without --) -> value ("" for switches)
  std::string shell;                         //!< the full `/bin/sh -c` command
  int tensor_parallel = 1;
  int pipeline_parallel = 1;
  int data_parallel = 1;
};

//! "float16" on GPUs with compute capability below 8.0 (no bfloat16), else the preset's dtype.
std::string vllm_dtype(const ModelPreset& preset, const GpuConfig& gpu);
double vllm_gpu_memory_utilization(const GpuConfig& gpu);
InferenceCommand build_inference_command(const InferenceCommandInput& in, const std::string& workspace_name,
                                         const std::string& ns);

}  // namespace ktwin
