// GPU spec sheets (presets/gpus.yaml) and model architectures (presets/architectures.yaml, then KAITO's
// presets/models/*.yaml) for the GPU latency model. Loaded once from the embedded copies or $KTWIN_PRESETS_DIR.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/presets/model_preset.h"

namespace ktwin::gpu {

struct GpuSpec {
  std::string id;  //!< e.g. "H100-SXM-80GB" (the calibration CSV's gpu_id)
  std::string name;
  double memory_gb = 0;          //!< datasheet memory, decimal GB
  double usable_memory_gib = 0;  //!< what the driver reports; memory_gb/1.073741824 when not given
  double bandwidth_gbs = 0;      //!< HBM/GDDR, GB/s
  double fp16_tflops = 0;        //!< dense FP16/BF16 tensor
  double fp8_tflops = 0;         //!< dense FP8 tensor; 0 when the GPU has no FP8 tensor cores
  double nvlink_gbs = 0;         //!< per-GPU NVLink (bidirectional); 0 without NVLink
  int nvlink_gpus = 0;           //!< GPUs joined by one NVLink domain
  double pcie_gbs = 0;           //!< per-GPU PCIe (bidirectional x16)
  double usable_memory_bytes() const { return usable_memory_gib * 1024.0 * 1024.0 * 1024.0; }
};

//! A model's shape as the latency model needs it.
struct ModelArch {
  std::string hf_id;  //!< canonical id (the architecture entry or KAITO preset's hf_id)
  ModelArchitecture arch;
  bool tied_embeddings = false;
  int64_t max_position_embeddings = 0;
  std::string from;  //!< "architectures.yaml" or "KAITO preset <name>"
};

class HardwareCatalog {
 public:
  std::vector<GpuSpec> gpus;
  std::vector<ModelArch> models;
  //! Case-insensitive id; nullptr when unknown.
  const GpuSpec* find_gpu(std::string_view id) const;
  //! Case-insensitive HF id or alias of architectures.yaml, then KAITO presets (name, hf_id, alias).
  const ModelArch* find_model(std::string_view id) const;
  //! Like find_*, but throws InputError naming the unknown id and the closest known one.
  const GpuSpec& gpu(std::string_view id) const;
  const ModelArch& model(std::string_view id) const;
  std::vector<std::string> gpu_ids() const;

  struct Alias {
    std::string lower_name;
    size_t index;
  };
  std::vector<Alias> model_index;  //!< sorted by lower_name
};

//! Embedded presets (or $KTWIN_PRESETS_DIR), loaded once; throws InputError on bad data.
const HardwareCatalog& default_hardware();
//! Loads gpus.yaml and architectures.yaml from `presets_dir` (KAITO presets from the same directory).
HardwareCatalog load_hardware_dir(const std::string& presets_dir);
//! Parses the two files' text (for tests); `presets` supplies the KAITO fallback architectures.
HardwareCatalog parse_hardware(const std::string& gpus_yaml, const std::string& gpus_file, const std::string& arch_yaml,
                               const std::string& arch_file, const PresetRegistry* presets);

}  // namespace ktwin::gpu
