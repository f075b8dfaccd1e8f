#include "core/controllers/vllm_command.h"

namespace ktwin {

std::string vllm_dtype(const ModelPreset& preset, const GpuConfig& gpu) {
  // bfloat16 needs Ampere (8.0); V100 (7.0) and T4 (7.5) run fp16.
  if (gpu.compute_major > 0 && gpu.compute_major < 8 && preset.dtype_flag == "bfloat16") return "float16";
  return preset.dtype_flag.empty() ? "bfloat16" : preset.dtype_flag;
}

double vllm_gpu_memory_utilization(const GpuConfig& gpu) { return gpu.gpu_model == "NVIDIA A10" ? 0.82 : 0.84; }

static std::string format_util(double u) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f", u);
  return buf;
}

InferenceCommand build_inference_command(const InferenceCommandInput& in, const std::string& ws,
                                         const std::string& ns) {
  InferenceCommand cmd;
  const ModelPreset& p = *in.preset;
  const int gpus = in.gpu.gpu_count > 0 ? in.gpu.gpu_count : 1;
  if (in.runtime == "transformers") {
    cmd.flags["pretrained_model_name_or_path"] = p.hf_id;
    cmd.flags["torch_dtype"] = vllm_dtype(p, in.gpu);
    cmd.flags["allow_remote_files"] = "";
    std::string args;
    for (const auto& [k, v] : cmd.flags) args += " --" + k + (v.empty() ? "" : "=" + v);
    cmd.shell = "accelerate launch --num_processes " + std::to_string(gpus) +
                " --num_machines 1 --machine_rank 0 --gpu_ids all /workspace/tfs/inference_api.py" + args;
    cmd.tensor_parallel = gpus;
    return cmd;
  }

  const double per_gpu = in.gpu.per_gpu_memory_gib();
  if (in.nodes <= 1 && gpus > 1 && per_gpu > 0 && p.weights_gib < 0.5 * per_gpu) {
    cmd.data_parallel = gpus;  // small model: one replica per GPU beats sharding
    cmd.tensor_parallel = 1;
    cmd.flags["data-parallel-size"] = std::to_string(gpus);
    cmd.flags["tensor-parallel-size"] = "1";
  } else {
    cmd.tensor_parallel = gpus;
    cmd.flags["tensor-parallel-size"] = std::to_string(gpus);
  }
  if (in.nodes > 1) {
    cmd.pipeline_parallel = in.nodes;
    cmd.flags["pipeline-parallel-size"] = std::to_string(in.nodes);
    cmd.flags["distributed-executor-backend"] = "ray";
  }
  cmd.flags["model"] = p.hf_id;
  cmd.flags["served-model-name"] = in.served_model_name.empty() ? p.name : in.served_model_name;
  cmd.flags["gpu-memory-utilization"] = format_util(vllm_gpu_memory_utilization(in.gpu));
  cmd.flags["max-model-len"] = in.user_max_model_len ? std::to_string(*in.user_max_model_len) : "auto";
  cmd.flags["dtype"] = vllm_dtype(p, in.gpu);
  cmd.flags["download-dir"] = "/workspace/weights";
  cmd.flags["kv-events-config"] =
      R"('{"enable_kv_cache_events":true,"publisher":"zmq","endpoint":"tcp://*:5557","topic":"kv-events"}')";
  if (in.has_adapters) cmd.flags["enable-lora"] = "";
  if (in.has_config_file) cmd.flags["kaito-config-file"] = "/mnt/config/inference_config.yaml";
  if (!p.tool_call_parser.empty()) {
    cmd.flags["tool-call-parser"] = p.tool_call_parser;
    cmd.flags["enable-auto-tool-choice"] = "";
  }
  if (!p.reasoning_parser.empty()) cmd.flags["reasoning-parser"] = p.reasoning_parser;

  std::string args;
  for (const auto& [k, v] : cmd.flags) args += " --" + k + (v.empty() ? "" : "=" + v);
  const std::string serve = "python3 /workspace/vllm/inference_api.py" + args;
  if (in.nodes > 1) {
    // Pod 0 is the Ray head and runs vLLM; the others join it as Ray workers.
    const std::string head = ws + "-0." + ws + "-headless." + ns + ".svc.cluster.local";
    cmd.shell = "if [ \"${POD_INDEX}\" = \"0\" ]; then ray start --head --port=6379 && " + serve +
                "; else ray start --address=" + head + ":6379 --block; fi";
  } else {
    cmd.shell = serve;
  }
  return cmd;
}

}  // namespace ktwin
