// `ktwin presets`: lists the model presets of the catalog as a table, or shows every field of one preset.
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
#include "core/k8s/printers.h"

namespace ktwin::cli {
namespace {

using Row = std::vector<std::string>;

//! 80 -> "80Gi", 7.1 -> "7.1Gi", 13.44 -> "13.44Gi"
std::string gib(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s + "Gi";
}

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

std::string runtimes(const ModelPreset& p) { return p.transformers_runtime ? "vllm,transformers" : "vllm"; }

std::string notes(const ModelPreset& p) {
  std::vector<std::string> n;
  if (p.gated) n.push_back("gated");
  if (p.deprecated) n.push_back("deprecated");
  if (!p.supports_distributed) n.push_back("single-node");
  std::string out;
  for (const auto& s : n) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

json preset_json(const ModelPreset& p) {
  const json arch = catalog::architecture_json(p.arch);
  return {{"name", p.name},
          {"hf_id", p.hf_id},
          {"aliases", p.aliases},
          {"family", p.family},
          {"weights_gib", p.weights_gib},
          {"weight_dtype", p.weight_dtype},
          {"bytes_per_token", p.bytes_per_token},
          {"derived_bytes_per_token", p.derived_bytes_per_token()},
          {"model_token_limit", p.model_token_limit},
          {"disk_gib", p.disk_gib},
          {"architecture", arch},
          {"supports_distributed", p.supports_distributed},
          {"transformers_runtime", p.transformers_runtime},
          {"tuning", p.tuning},
          {"tuning_memory_gib", p.tuning_memory_gib},
          {"gated", p.gated},
          {"deprecated", p.deprecated},
          {"disallow_lora", p.disallow_lora},
          {"download_at_runtime", p.download_at_runtime},
          {"tool_call_parser", p.tool_call_parser},
          {"reasoning_parser", p.reasoning_parser},
          {"dtype_flag", p.dtype_flag},
          {"readiness_timeout_seconds", p.readiness_timeout_seconds()},
          {"source", p.source}};
}

std::vector<const ModelPreset*> sorted_presets(const PresetRegistry& reg) {
  std::vector<const ModelPreset*> out;
  for (const auto& p : reg.all()) out.push_back(&p);
  std::sort(out.begin(), out.end(), [](const ModelPreset* a, const ModelPreset* b) { return a->name < b->name; });
  return out;
}

void print_list(const PresetRegistry& reg) {
  std::vector<Row> rows{{"NAME", "HF ID", "WEIGHTS", "CTX", "BYTES/TOKEN", "RUNTIMES", "TUNING", "NOTES"}};
  for (const ModelPreset* p : sorted_presets(reg)) {
    rows.push_back({p->name, p->hf_id, gib(p->weights_gib), std::to_string(p->model_token_limit),
                    std::to_string(p->bytes_per_token), runtimes(*p),
                    p->tuning ? "lora,qlora (" + gib(p->tuning_memory_gib) + ")" : "-", notes(*p)});
  }
  std::fputs(format_table(rows).c_str(), stdout);
}

void print_show(const ModelPreset& p) {
  auto yes = [](bool b) { return b ? "yes" : "no"; };
  auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  const ModelArchitecture& a = p.arch;
  std::string aliases;
  for (const auto& s : p.aliases) aliases += (aliases.empty() ? "" : ", ") + s;
  const int64_t derived = p.derived_bytes_per_token();
  std::vector<Row> rows = {
      {"Name:", p.name},
      {"HF ID:", p.hf_id},
      {"Aliases:", or_dash(aliases)},
      {"Family:", p.family},
      {"Weights:", gib(p.weights_gib) + " (" + p.weight_dtype + ")"},
      {"Bytes/token:", std::to_string(p.bytes_per_token) +
                           (derived == p.bytes_per_token ? " (= fp16 KV formula)"
                                                         : " (fp16 KV formula gives " + std::to_string(derived) + ")")},
      {"Context (token limit):", std::to_string(p.model_token_limit)},
      {"Disk:", gib(p.disk_gib)},
      {"Readiness timeout:", std::to_string(p.readiness_timeout_seconds() / 60) + "m"},
      {"Architecture:", ""},
      {"  Attention:", attention_kind_name(a.attention)},
      {"  Layers:", std::to_string(a.num_layers)},
      {"  Hidden size:", std::to_string(a.hidden_size)},
      {"  Heads (q/kv):", std::to_string(a.num_attention_heads) + "/" + std::to_string(a.num_kv_heads)},
      {"  Head dim:", std::to_string(a.head_dim)},
      {"  Intermediate size:", std::to_string(a.intermediate_size)},
      {"  Vocab size:", std::to_string(a.vocab_size)},
  };
  if (a.num_experts > 1) {
    rows.push_back(
        {"  Experts:", std::to_string(a.num_experts) + " (" + std::to_string(a.experts_per_token) + " per token)"});
  }
  if (a.kv_lora_rank > 0) {
    rows.push_back({"  MLA:", "kv_lora_rank " + std::to_string(a.kv_lora_rank) + ", qk_rope_head_dim " +
                                  std::to_string(a.qk_rope_head_dim)});
  }
  char params[64];
  std::snprintf(params, sizeof params, "%gB total, %gB active", a.params_billion, a.active_params_billion);
  rows.push_back({"  Parameters:", params});
  rows.push_back({"Runtimes:", runtimes(p)});
  rows.push_back({"Distributed inference:", yes(p.supports_distributed)});
  rows.push_back({"Tuning:", p.tuning ? "lora,qlora (" + gib(p.tuning_memory_gib) + ")" : "no"});
  rows.push_back({"Gated:", yes(p.gated)});
  rows.push_back({"Deprecated:", yes(p.deprecated)});
  rows.push_back({"LoRA adapters (vLLM):", p.disallow_lora ? "not allowed" : "allowed"});
  rows.push_back({"Download at runtime:", yes(p.download_at_runtime)});
  rows.push_back({"vLLM --dtype:", p.dtype_flag});
  rows.push_back({"Tool-call parser:", or_dash(p.tool_call_parser)});
  rows.push_back({"Reasoning parser:", or_dash(p.reasoning_parser)});
  rows.push_back({"Source:", or_dash(p.source)});
  std::fputs(format_table(rows).c_str(), stdout);
}

int run_presets(int argc, char** argv) {
  cxxopts::Options opts("ktwin presets", "List KAITO model presets, or show every field of one");
  opts.positional_help("[list | show NAME]");
  opts.add_options()("json", "Print JSON instead of a table")("h,help", "Show this help")(
      "args", "list | show NAME", cxxopts::value<std::vector<std::string>>());
  opts.parse_positional({"args"});
  cxxopts::ParseResult r;
  if (auto done = parse_flags(opts, argc, argv, r)) return *done;
  std::vector<std::string> args;
  if (r.count("args")) args = r["args"].as<std::vector<std::string>>();
  const bool as_json = r.count("json") > 0;
  const std::string action = args.empty() ? "list" : args[0];
  const auto& reg = catalog::default_catalog().presets;

  if (action == "list") {
    if (args.size() > 1) {
      std::fprintf(stderr, "error: \"list\" takes no arguments\n");
      return kExitBadInput;
    }
    if (as_json) {
      json out = json::array();
      for (const ModelPreset* p : sorted_presets(reg)) out.push_back(preset_json(*p));
      std::printf("%s\n", out.dump(2).c_str());
    } else {
      print_list(reg);
    }
    return kExitOk;
  }
  if (action == "show") {
    if (args.size() != 2) {
      std::fprintf(stderr, "error: usage: ktwin presets show NAME\n");
      return kExitBadInput;
    }
    const ModelPreset* p = reg.find(args[1]);
    if (p == nullptr) {
      std::string msg = "unknown preset \"" + args[1] + "\"";
      std::string s = suggest(args[1], reg.names());
      if (!s.empty()) msg += " (did you mean \"" + s + "\"?)";
      std::fprintf(stderr, "error: %s; run `ktwin presets list` to see all presets\n", msg.c_str());
      return kExitBadInput;
    }
    if (as_json)
      std::printf("%s\n", preset_json(*p).dump(2).c_str());
    else
      print_show(*p);
    return kExitOk;
  }
  std::fprintf(stderr, "error: unknown action \"%s\": expected \"list\" or \"show NAME\"\n", action.c_str());
  return kExitBadInput;
}

}  // namespace
}  // namespace ktwin::cli

KTWIN_REGISTER_COMMAND(presets, "presets", "List model presets or show one (ktwin presets [list|show NAME])",
                       ktwin::cli::run_presets);
