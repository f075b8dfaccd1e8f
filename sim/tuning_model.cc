#include "sim/tuning_model.h"
#include "core/util/yaml_guard.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ktwin::sim {

namespace {

// When the scenario does not describe the dataset: the size of dolly-15k, the KAITO docs' example
// (15,011 instruction/response pairs, a few hundred tokens each).
constexpr int64_t kDefaultExamples = 15011;
constexpr double kDefaultTokensPerExample = 360;
constexpr double kDownloadMibPerSecond = 50;
constexpr double kParquetBytesPerToken = 2.0;  // ~4 characters per token, ~2x columnar compression
// Model FLOPs utilisation of HF Trainer + PEFT at small batches. LoRA: forward (2N) plus the backward
// pass through the frozen weights for activation gradients (2N); QLoRA also dequantises NF4 weights
// on every matmul, which costs roughly a third of the speed.
constexpr double kMfuLora = 0.30;
constexpr double kMfuQlora = 0.20;
constexpr double kStepOverheadSeconds = 0.10;  // optimizer step, data loader, logging
constexpr double kFallbackTflops = 100;
constexpr Duration kSaveAndPush = 45 * kSecond;
constexpr Duration kOomAfterLoad = 40 * kSecond;  // the first forward/backward pass allocates activations

std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

const DatasetSpec* find_dataset(const std::vector<std::string>& inputs, const std::vector<DatasetSpec>* datasets) {
  if (!datasets) return nullptr;
  for (const auto& d : *datasets)
    for (const auto& in : inputs)
      if (in.find(d.source) != std::string::npos) return &d;
  return nullptr;
}

}  // namespace

TrainingPlan parse_training_plan(const std::string& text) {
  TrainingPlan p;
  if (text.empty() || find_yaml_parser_hazard(text).line > 0) return p;  // admission reports bad YAML
  try {
    const YAML::Node args = YAML::Load(text)["training_config"]["TrainingArguments"];
    if (!args || !args.IsMap()) return p;
    if (args["num_train_epochs"]) p.epochs = std::max(0.0, args["num_train_epochs"].as<double>());
    if (args["max_steps"]) p.max_steps = args["max_steps"].as<int64_t>();
    if (args["per_device_train_batch_size"])
      p.per_device_batch = std::max<int64_t>(1, args["per_device_train_batch_size"].as<int64_t>());
    if (args["gradient_accumulation_steps"])
      p.grad_accumulation = std::max<int64_t>(1, args["gradient_accumulation_steps"].as<int64_t>());
    if (args["gradient_checkpointing"]) p.gradient_checkpointing = args["gradient_checkpointing"].as<bool>();
  } catch (const YAML::Exception&) {
    // Admission already rejected malformed configs; a config it let through keeps the defaults.
  }
  return p;
}

cluster_model::TuningOutcome predict_tuning(const cluster_model::TuningJobFacts& f, const TuningWorld& w) {
  cluster_model::TuningOutcome out;
  const ModelPreset* preset = w.presets ? w.presets->find(f.model) : nullptr;
  const double weights_gib = preset && preset->weights_gib > 0 ? preset->weights_gib : 10.0;
  double params_b = 0;
  if (preset)
    params_b =
        preset->arch.active_params_billion > 0 ? preset->arch.active_params_billion : preset->arch.params_billion;
  if (params_b <= 0) params_b = weights_gib * 1.073741824 / 2;  // bf16: 2 bytes per parameter

  // The dataset.
  const DatasetSpec* ds = find_dataset(f.inputs, w.datasets);
  const int64_t examples = ds && ds->examples > 0 ? ds->examples : kDefaultExamples;
  const double tokens_per_example =
      ds && ds->tokens_per_example > 0 ? ds->tokens_per_example : kDefaultTokensPerExample;
  const double size_mib = ds && ds->size_mib > 0
                              ? ds->size_mib
                              : static_cast<double>(examples) * tokens_per_example * kParquetBytesPerToken / (1 << 20);
  out.dataset_fetch = from_seconds(1.0 + size_mib / kDownloadMibPerSecond);
  if (ds && !ds->available) {
    out.dataset_available = false;
    out.dataset_fetch = 2 * kSecond;
    out.message = "curl: (22) The requested URL returned error: 404 (dataset " + ds->source + ")";
    return out;
  }

  // The GPUs.
  std::optional<GpuConfig> gpu;
  if (w.skus)
    if (const Sku* sku = w.skus->find(w.cloud, f.instance_type)) gpu = sku->gpu;
  if (!gpu) gpu = gpu_config_from_node_labels(f.node_labels);
  double tflops = gpu && w.peak_tflops ? w.peak_tflops(*gpu) : 0;
  const bool assumed_speed = tflops <= 0;
  if (assumed_speed) tflops = kFallbackTflops;
  const int gpus = std::max(1, f.gpus);

  // Start-up: base model download and load (each process loads its own copy).
  const Duration startup =
      static_cast<Duration>(weights_gib * static_cast<double>(w.sample("weights_download_per_gib", f.model))) +
      static_cast<Duration>(weights_gib * static_cast<double>(w.sample("model_load_per_gib", f.model)));

  // Memory: KAITO's tuning requirement against the node's GPU memory (reachable only when the webhook's
  // resource check was bypassed, or on BYO nodes).
  const double node_gib = gpu ? gpu->total_gpu_memory_gib : 0;
  const double need_gib = preset ? preset->tuning_memory_gib : 0;
  if (need_gib > 0 && node_gib > 0 && need_gib > node_gib) {
    out.run = startup + kOomAfterLoad;
    out.exit_code = 137;
    out.failure_reason = "OOMKilled";
    out.message = "torch.OutOfMemoryError: CUDA out of memory: " + f.method + " tuning of " + f.model + " needs " +
                  fmt("%.0f GiB of GPU memory, the node has %.0f GiB", need_gib, node_gib);
    return out;
  }

  // Training: steps from the dataset and TrainingArguments, each step's FLOPs at the GPUs' speed.
  const TrainingPlan plan = parse_training_plan(f.training_config_yaml);
  const double per_step_examples = static_cast<double>(plan.per_device_batch * plan.grad_accumulation * gpus);
  const double steps = plan.max_steps > 0 ? static_cast<double>(plan.max_steps)
                                          : std::ceil(static_cast<double>(examples) / per_step_examples) * plan.epochs;
  const double flops_per_token = (plan.gradient_checkpointing ? 6.0 : 4.0) * params_b * 1e9;
  const double mfu = f.method == "qlora" ? kMfuQlora : kMfuLora;
  const double step_compute = per_step_examples * tokens_per_example * flops_per_token / (gpus * tflops * 1e12 * mfu);
  const double step_seconds = step_compute + kStepOverheadSeconds;
  const double train_seconds = steps * step_seconds;
  out.run = startup + from_seconds(train_seconds) + kSaveAndPush;
  const std::string length =
      plan.max_steps > 0 ? "max_steps " + std::to_string(plan.max_steps) : fmt("%.3g epochs", plan.epochs);
  out.message = fmt("%.0f steps x %.2f s", steps, step_seconds) + " (" + std::to_string(examples) + " examples" +
                (ds ? "" : " assumed") + fmt(", %.0f tokens each, ", tokens_per_example) + length + ", batch " +
                std::to_string(plan.per_device_batch * plan.grad_accumulation) + " x " + std::to_string(gpus) +
                " GPU(s)" + (assumed_speed ? " at an assumed 100 TFLOPS" : "") + ")";
  return out;
}

}  // namespace ktwin::sim
