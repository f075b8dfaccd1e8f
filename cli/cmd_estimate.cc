// `ktwin estimate`: how many nodes of an instance type KAITO's node estimator gives a preset, with the
// memory arithmetic of every step (spec §2.3).
#include <cxxopts.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/yaml_json.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "core/presets/estimator.h"

namespace ktwin::cli {
namespace {

constexpr double kBytesPerGiB = 1024.0 * 1024.0 * 1024.0;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

//! Edit-distance match, else the shortest name containing what was typed.
std::string suggest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string s = catalog::closest_match(word, candidates);
  if (!s.empty() || word.empty()) return s;
  for (const auto& c : candidates) {
    if (lower(c).find(lower(word)) != std::string::npos && (s.empty() || c.size() < s.size())) s = c;
  }
  return s;
}

int bad_input(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  return kExitBadInput;
}

void print_steps(const ModelPreset& p, const Sku& sku, const NodeEstimate& e, bool explicit_len) {
  using C = EstimatorConstants;
  const GpuConfig& g = sku.gpu;
  const double kv_gib = static_cast<double>(e.context_length) * static_cast<double>(p.bytes_per_token) / kBytesPerGiB;
  std::printf("Preset:         %s (%s)\n", p.name.c_str(), p.hf_id.c_str());
  std::printf("Instance type:  %s (%s): %d x %s, %.2f GiB total\n", sku.name().c_str(), sku.cloud.c_str(), g.gpu_count,
              g.gpu_model.c_str(), g.total_gpu_memory_gib);
  std::printf("Inputs:         W = %.2f GiB weights, B = %lld bytes/token, G = %d GPUs/node, M = %.2f GiB/GPU\n",
              p.weights_gib, static_cast<long long>(p.bytes_per_token), e.gpus_per_node, e.per_gpu_memory_gib);
  std::printf("Context:        L = %d tokens%s\n\n", e.context_length,
              explicit_len ? " (--max-model-len)" : " (default; KAITO uses 2048 unless max-model-len is set)");
  std::printf("1. available per GPU  = M x %.2f = %.2f x %.2f = %.2f GiB\n", C::kUtilization, e.per_gpu_memory_gib,
              C::kUtilization, e.available_per_gpu_gib);
  std::printf(
      "   fixed per GPU      = %.1f GiB overhead + L x B / G = %.1f + %d x %lld B / %d = %.1f + %.3f = %.3f GiB\n",
      C::kBaseOverheadGiB, C::kBaseOverheadGiB, e.context_length, static_cast<long long>(p.bytes_per_token),
      e.gpus_per_node, C::kBaseOverheadGiB, kv_gib / e.gpus_per_node, e.fixed_per_gpu_gib);
  std::printf("2. %.2f GiB > %.3f GiB: GPU memory is large enough\n", e.available_per_gpu_gib, e.fixed_per_gpu_gib);
  std::printf("3. weights per GPU    = (available - fixed) / %.2f = (%.2f - %.3f) / %.2f = %.3f GiB\n",
              1 + C::kWeightOverheadFactor, e.available_per_gpu_gib, e.fixed_per_gpu_gib, 1 + C::kWeightOverheadFactor,
              e.weights_per_gpu_gib);
  std::printf("4. minimum GPUs       = floor(%.2f x W / weights per GPU) + 1 = floor(%.3f / %.3f) + 1 = %d\n",
              C::kWeightExpansion, e.weights_needed_gib, e.weights_per_gpu_gib, e.min_gpus);
  std::printf("5. nodes              = ceil(minimum GPUs / G) = ceil(%d / %d) = %d\n\n", e.min_gpus, e.gpus_per_node,
              e.nodes);
  std::printf("Result: %d node%s of %s (%d GPU%s in all)\n", e.nodes, e.nodes == 1 ? "" : "s", sku.name().c_str(),
              e.nodes * e.gpus_per_node, e.nodes * e.gpus_per_node == 1 ? "" : "s");
}

int run_estimate(int argc, char** argv) {
  cxxopts::Options opts("ktwin estimate", "How many nodes KAITO's estimator gives a preset on an instance type");
  opts.add_options()("preset", "Preset name, Hugging Face id or alias", cxxopts::value<std::string>())(
      "instance-type", "SKU, e.g. Standard_NC24ads_A100_v4", cxxopts::value<std::string>())(
      "cloud", "SKU catalog to use: azure, aws or arc", cxxopts::value<std::string>()->default_value("azure"))(
      "max-model-len", "Context length L (default 2048, as KAITO)", cxxopts::value<int>())("json", "Print JSON")(
      "h,help", "Show this help");
  cxxopts::ParseResult r;
  if (auto done = parse_flags(opts, argc, argv, r)) return *done;
  if (!r.count("preset")) return bad_input("--preset is required");
  if (!r.count("instance-type")) return bad_input("--instance-type is required");

  const auto& cat = catalog::default_catalog();
  const std::string preset_name = r["preset"].as<std::string>();
  const ModelPreset* preset = cat.presets.find(preset_name);
  if (preset == nullptr) {
    std::string msg = "unknown preset \"" + preset_name + "\"";
    std::string s = suggest(preset_name, cat.presets.names());
    if (!s.empty()) msg += " (did you mean \"" + s + "\"?)";
    return bad_input(msg + "; run `ktwin presets list` to see all presets");
  }

  const std::string cloud = r["cloud"].as<std::string>();
  const std::vector<std::string> clouds = cat.skus.clouds();
  if (std::find(clouds.begin(), clouds.end(), cloud) == clouds.end()) {
    std::string msg = "unknown cloud \"" + cloud + "\"";
    std::string s = catalog::closest_match(cloud, clouds);
    if (!s.empty()) msg += " (did you mean \"" + s + "\"?)";
    return bad_input(msg);
  }
  const std::string sku_name = r["instance-type"].as<std::string>();
  const Sku* sku = cat.skus.find(cloud, sku_name);
  if (sku == nullptr) {
    std::string msg = "unknown instance type \"" + sku_name + "\" in the " + cloud + " catalog";
    for (const auto& other : clouds) {
      if (other != cloud && cat.skus.find(other, sku_name) != nullptr) {
        return bad_input(msg + " (it is in the " + other + " catalog: add --cloud " + other + ")");
      }
    }
    std::vector<std::string> names;
    for (const Sku* s : cat.skus.list(cloud, true)) names.push_back(s->name());
    std::string s = suggest(sku_name, names);
    if (!s.empty()) msg += " (did you mean \"" + s + "\"?)";
    return bad_input(msg + "; run `ktwin skus --cloud " + cloud + " --all` to see them");
  }

  int context = 0;
  const bool explicit_len = r.count("max-model-len") > 0;
  if (explicit_len) {
    context = r["max-model-len"].as<int>();
    if (context <= 0) return bad_input("--max-model-len must be a positive number of tokens");
    // KAITO's admission webhook rejects a max-model-len above the model's context window.
    if (context > preset->model_token_limit) {
      return bad_input("--max-model-len " + std::to_string(context) +
                       " exceeds model's maximum supported context window (" +
                       std::to_string(preset->model_token_limit) + " tokens for " + preset->name + ")");
    }
  }

  const bool as_json = r.count("json") > 0;
  if (sku->removed && !as_json) {
    std::fprintf(stderr, "warning: %s has been removed from KAITO's current %s catalog\n", sku->name().c_str(),
                 cloud.c_str());
  }
  auto est = estimate_nodes(*preset, sku->gpu, context);
  if (as_json) {
    json out = {{"preset", preset->name}, {"instance_type", sku->name()}, {"cloud", cloud}};
    if (!est.ok()) {
      out["error"] = est.error().message;
      out["reason"] = est.error().reason;
    } else {
      const NodeEstimate& e = *est;
      out.update({{"nodes", e.nodes},
                  {"min_gpus", e.min_gpus},
                  {"gpus_per_node", e.gpus_per_node},
                  {"context_length", e.context_length},
                  {"per_gpu_memory_gib", e.per_gpu_memory_gib},
                  {"available_per_gpu_gib", e.available_per_gpu_gib},
                  {"fixed_per_gpu_gib", e.fixed_per_gpu_gib},
                  {"weights_per_gpu_gib", e.weights_per_gpu_gib},
                  {"weights_needed_gib", e.weights_needed_gib}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return est.ok() ? kExitOk : kExitFailed;
  }
  if (!est.ok()) {
    std::fprintf(stderr, "error: %s\n", est.error().message.c_str());
    return kExitFailed;
  }
  print_steps(*preset, *sku, *est, explicit_len);
  return kExitOk;
}

}  // namespace
}  // namespace ktwin::cli

KTWIN_REGISTER_COMMAND(estimate, "estimate", "Nodes a preset needs on an instance type, step by step",
                       ktwin::cli::run_estimate);
