// How long a KAITO tuning Job runs and whether it fails, from what the pod says (model, method,
// GPUs, training config) and what the world knows (dataset size, GPU speed): fetch the data, fetch
// and load the base model, train, save and push the adapter.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "cluster_model/model_hooks.h"
#include "core/presets/model_preset.h"
#include "core/presets/sku.h"
#include "sim/scenario.h"

namespace ktwin::sim {

struct TuningWorld {
  const PresetRegistry* presets = nullptr;
  const SkuCatalog* skus = nullptr;
  std::string cloud;
  const std::vector<DatasetSpec>* datasets = nullptr;
  //! Dense BF16 tensor TFLOPS of one GPU of this kind; 0 when unknown.
  std::function<double(const GpuConfig&)> peak_tflops;
  cluster_model::DurationSampler sample;  //!< weights_download_per_gib, model_load_per_gib
};

//! The training arguments the model uses (HF TrainingArguments names; KAITO's templates set batch 1).
struct TrainingPlan {
  double epochs = 3;  //!< HF default num_train_epochs
  int64_t max_steps = -1;
  int64_t per_device_batch = 1;
  int64_t grad_accumulation = 1;
  bool gradient_checkpointing = false;
};
//! Reads training_config.TrainingArguments from a training_config.yaml; defaults for what is absent.
TrainingPlan parse_training_plan(const std::string& training_config_yaml);

cluster_model::TuningOutcome predict_tuning(const cluster_model::TuningJobFacts& facts, const TuningWorld& world);

}  // namespace ktwin::sim
