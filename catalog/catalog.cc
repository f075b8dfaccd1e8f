// Loads model presets (presets/models/*.yaml) and SKU catalogs (presets/skus/*.yaml) with strict checking:
// unknown keys, wrong types and out-of-range numbers become InputErrors naming file:line:column and field.
#include "catalog/catalog.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <tuple>

#include "catalog/embedded_data.h"
#include "catalog/fields.h"
#include "catalog/yaml_json.h"

namespace ktwin::catalog {

namespace {

namespace fs = std::filesystem;

AttentionKind parse_attention(const Fields& f) {
  const std::string a = f.str("attention", true);
  if (a == "MHA") return AttentionKind::kMHA;
  if (a == "GQA") return AttentionKind::kGQA;
  if (a == "MQA") return AttentionKind::kMQA;
  if (a == "MLA") return AttentionKind::kMLA;
  std::string msg = "unknown attention kind \"" + a + "\"; expected MHA, GQA, MQA or MLA";
  throw f.doc().error(f.child("attention"), msg);
}

}  // namespace

nlohmann::json architecture_json(const ModelArchitecture& a) {
  return {{"num_layers", a.num_layers},
          {"hidden_size", a.hidden_size},
          {"num_attention_heads", a.num_attention_heads},
          {"num_kv_heads", a.num_kv_heads},
          {"head_dim", a.head_dim},
          {"intermediate_size", a.intermediate_size},
          {"vocab_size", a.vocab_size},
          {"num_experts", a.num_experts},
          {"experts_per_token", a.experts_per_token},
          {"kv_lora_rank", a.kv_lora_rank},
          {"qk_rope_head_dim", a.qk_rope_head_dim},
          {"params_billion", a.params_billion},
          {"active_params_billion", a.active_params_billion},
          {"attention", attention_kind_name(a.attention)}};
}

ModelArchitecture parse_architecture(const YamlDocument& doc, const std::string& ptr) {
  const Fields f(doc, ptr,
                 {"num_layers", "hidden_size", "num_attention_heads", "num_kv_heads", "head_dim", "intermediate_size",
                  "vocab_size", "num_experts", "experts_per_token", "kv_lora_rank", "qk_rope_head_dim",
                  "params_billion", "active_params_billion", "attention"});
  ModelArchitecture a;
  a.attention = parse_attention(f);
  a.num_layers = f.int32("num_layers", true, 0, 1);
  a.hidden_size = f.int32("hidden_size", true, 0, 1);
  a.num_attention_heads = f.int32("num_attention_heads", true, 0, 1);
  // MHA and MLA keep one KV head per query head, MQA one in all; GQA must say how many.
  const int default_kv = a.attention == AttentionKind::kMQA ? 1 : a.num_attention_heads;
  a.num_kv_heads = f.int32("num_kv_heads", a.attention == AttentionKind::kGQA, default_kv, 1);
  if (a.num_kv_heads > a.num_attention_heads) {
    throw doc.error(f.child("num_kv_heads"),
                    "must not exceed num_attention_heads (" + std::to_string(a.num_attention_heads) + ")");
  }
  a.head_dim = f.int32("head_dim", false, a.hidden_size / a.num_attention_heads, 1);
  a.intermediate_size = f.int32("intermediate_size", true, 0, 1);
  a.vocab_size = f.int32("vocab_size", true, 0, 1);
  a.num_experts = f.int32("num_experts", false, 0, 0);
  a.experts_per_token = f.int32("experts_per_token", false, 0, 0);
  if (a.num_experts > 1 && (a.experts_per_token < 1 || a.experts_per_token > a.num_experts)) {
    throw doc.error(f.child("experts_per_token"), "must be between 1 and num_experts (" +
                                                      std::to_string(a.num_experts) + ") for a mixture of experts");
  }
  const bool mla = a.attention == AttentionKind::kMLA;
  a.kv_lora_rank = f.int32("kv_lora_rank", mla, 0, mla ? 1 : 0);
  a.qk_rope_head_dim = f.int32("qk_rope_head_dim", mla, 0, mla ? 1 : 0);
  if (!mla && (a.kv_lora_rank > 0 || a.qk_rope_head_dim > 0)) {
    throw doc.error(f.child(a.kv_lora_rank > 0 ? "kv_lora_rank" : "qk_rope_head_dim"),
                    "only applies to attention: MLA");
  }
  a.params_billion = f.number("params_billion", true, 0, 0);
  if (a.params_billion <= 0) throw doc.error(f.child("params_billion"), "must be greater than 0");
  a.active_params_billion = f.number("active_params_billion", false, a.params_billion, 0);
  if (a.active_params_billion <= 0 || a.active_params_billion > a.params_billion) {
    throw doc.error(f.child("active_params_billion"), "must be greater than 0 and at most params_billion");
  }
  return a;
}

namespace {

ModelPreset parse_preset(const YamlDocument& doc, const std::string& ptr) {
  const Fields f(doc, ptr,
                 {"name",
                  "hf_id",
                  "aliases",
                  "family",
                  "weights_gib",
                  "weight_dtype",
                  "bytes_per_token",
                  "model_token_limit",
                  "disk_gib",
                  "architecture",
                  "supports_distributed",
                  "transformers_runtime",
                  "tuning",
                  "tuning_memory_gib",
                  "gated",
                  "deprecated",
                  "disallow_lora",
                  "download_at_runtime",
                  "tool_call_parser",
                  "reasoning_parser",
                  "dtype_flag",
                  "source"});
  ModelPreset p;
  p.name = f.name("name");
  p.hf_id = f.name("hf_id");
  if (p.hf_id.find('/') == std::string::npos) throw doc.error(f.child("hf_id"), "must look like \"org/model\"");
  p.aliases = f.str_list("aliases");
  p.family = f.name("family");
  p.weights_gib = f.number("weights_gib", true, 0, 0);
  if (p.weights_gib <= 0) throw doc.error(f.child("weights_gib"), "must be greater than 0");
  p.weight_dtype = f.str("weight_dtype", false, p.weight_dtype);
  p.model_token_limit = f.integer("model_token_limit", true, 0, 1);
  p.disk_gib = f.number("disk_gib", true, 0, 0);
  if (!f.has("architecture")) throw doc.error(ptr, "missing required field \"architecture\"");
  p.arch = parse_architecture(doc, f.child("architecture"));
  // KAITO derives bytes/token from the architecture; a preset may pin KAITO's own (sometimes different) number.
  p.bytes_per_token = f.integer("bytes_per_token", false, p.derived_bytes_per_token(), 1);
  p.supports_distributed = f.flag("supports_distributed", p.supports_distributed);
  p.transformers_runtime = f.flag("transformers_runtime", p.transformers_runtime);
  p.tuning = f.flag("tuning", p.tuning);
  p.tuning_memory_gib = f.number("tuning_memory_gib", false, 0, 0);
  if (p.tuning_memory_gib > 0 && !p.tuning) {
    throw doc.error(f.child("tuning_memory_gib"), "is set but tuning is false");
  }
  p.gated = f.flag("gated", p.gated);
  p.deprecated = f.flag("deprecated", p.deprecated);
  p.disallow_lora = f.flag("disallow_lora", p.disallow_lora);
  p.download_at_runtime = f.flag("download_at_runtime", p.download_at_runtime);
  p.tool_call_parser = f.str("tool_call_parser", false);
  p.reasoning_parser = f.str("reasoning_parser", false);
  p.dtype_flag = f.str("dtype_flag", false, p.dtype_flag);
  p.source = f.str("source", false);
  return p;
}

}  // namespace

ModelPreset parse_generic_model(const YamlDocument& doc, const std::string& ptr) {
  const Fields f(doc, ptr,
                 {"hf_id", "weights_gib", "architecture", "max_position_embeddings", "weight_dtype", "gated",
                  "tool_call_parser", "reasoning_parser", "dtype_flag", "source"});
  ModelPreset p;
  p.hf_id = f.name("hf_id");
  const size_t slash = p.hf_id.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == p.hf_id.size())
    throw doc.error(f.child("hf_id"), "must look like \"org/model\" (a Hugging Face repository id)");
  p.name = p.hf_id;
  p.family = p.hf_id.substr(0, slash);
  p.weights_gib = f.number("weights_gib", true, 0, 0);
  if (p.weights_gib <= 0) throw doc.error(f.child("weights_gib"), "must be greater than 0");
  p.weight_dtype = f.str("weight_dtype", false, p.weight_dtype);
  if (!f.has("architecture")) throw doc.error(ptr, "missing required field \"architecture\"");
  p.arch = parse_architecture(doc, f.child("architecture"));
  // What KAITO's generator derives from config.json and the safetensors sizes (spec §2.1).
  p.model_token_limit = f.integer("max_position_embeddings", false, 2048, 1);
  p.bytes_per_token = p.derived_bytes_per_token();
  p.disk_gib = std::ceil(p.weights_gib) + 80;
  p.gated = f.flag("gated", false);
  p.tool_call_parser = f.str("tool_call_parser", false);
  p.reasoning_parser = f.str("reasoning_parser", false);
  p.dtype_flag = f.str("dtype_flag", false, p.weight_dtype == "bf16" || p.weight_dtype == "fp16" ? "bfloat16" : "auto");
  p.source = f.str("source", false, "generic org/model preset from " + doc.file);
  return p;
}

namespace {

void load_models_doc(const YamlDocument& doc, PresetRegistry& registry) {
  const Fields top(doc, "", {"presets"});
  const size_t n = top.list_size("presets");
  for (size_t i = 0; i < n; ++i) {
    const std::string ptr = pointer_join("/presets", i);
    ModelPreset preset = parse_preset(doc, ptr);
    Status st = registry.add(std::move(preset));
    if (!st.ok()) throw doc.error(pointer_join(ptr, "name"), st.error().message);
  }
}

//! "8.6" -> {8, 6}; "" -> {0, 0} (not a CUDA device).
std::pair<int, int> parse_compute_capability(const Fields& f) {
  const std::string key = "compute_capability";
  if (!f.has(key)) return {0, 0};
  const json& v = f.doc().value.at(json::json_pointer(f.child(key)));
  std::string s;
  if (v.is_string()) {
    s = v.get<std::string>();
  } else if (v.is_number()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v.get<double>());
    s = buf;
  } else {
    throw f.doc().error(f.child(key), "must be a string like \"8.6\", got " + Fields::describe(v));
  }
  if (s.empty()) return {0, 0};
  const size_t dot = s.find('.');
  auto digits = [](const std::string& t) {
    return !t.empty() && t.size() <= 2 &&
           std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  if (dot == std::string::npos || !digits(s.substr(0, dot)) || !digits(s.substr(dot + 1))) {
    throw f.doc().error(f.child(key), "must look like \"8.6\" (major.minor), got \"" + s + "\"");
  }
  return {std::stoi(s.substr(0, dot)), std::stoi(s.substr(dot + 1))};
}

void load_skus_doc(const YamlDocument& doc, SkuCatalog& catalog) {
  const Fields top(doc, "", {"cloud", "price_source", "skus"});
  const std::string cloud = top.name("cloud");
  const std::string default_price_source = top.str("price_source", false);
  const size_t n = top.list_size("skus");
  for (size_t i = 0; i < n; ++i) {
    const std::string ptr = pointer_join("/skus", i);
    const Fields f(doc, ptr,
                   {"name", "gpu_model", "gpu_id", "gpu_count", "total_gpu_memory_gib", "compute_capability", "nvme",
                    "vcpus", "memory_gib", "price_per_hour", "price_source", "removed"});
    Sku sku;
    sku.cloud = cloud;
    sku.gpu.sku = f.name("name");
    if (catalog.find(cloud, sku.gpu.sku) != nullptr) {
      throw doc.error(f.child("name"), "duplicate SKU \"" + sku.gpu.sku + "\" in cloud \"" + cloud + "\"");
    }
    sku.gpu.gpu_model = f.name("gpu_model");
    sku.gpu.gpu_id = f.str("gpu_id", false);
    sku.gpu.gpu_count = f.int32("gpu_count", true, 0, 1);
    sku.gpu.total_gpu_memory_gib = f.number("total_gpu_memory_gib", true, 0, 0);
    if (sku.gpu.total_gpu_memory_gib <= 0) throw doc.error(f.child("total_gpu_memory_gib"), "must be greater than 0");
    std::tie(sku.gpu.compute_major, sku.gpu.compute_minor) = parse_compute_capability(f);
    sku.gpu.nvme = f.flag("nvme", false);
    sku.vcpus = f.int32("vcpus", false, 0, 0);
    sku.memory_gib = f.number("memory_gib", false, 0, 0);
    sku.price_per_hour = f.number("price_per_hour", false, 0, 0);
    sku.price_source = f.str("price_source", false);
    if (sku.price_source.empty() && sku.price_per_hour > 0) sku.price_source = default_price_source;
    sku.removed = f.flag("removed", false);
    catalog.add(std::move(sku));
  }
}

bool has_prefix(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool is_yaml(std::string_view s) {
  return (s.size() > 5 && s.substr(s.size() - 5) == ".yaml") || (s.size() > 4 && s.substr(s.size() - 4) == ".yml");
}

void load_text(Catalog& out, const std::string& text, const std::string& file, bool models) {
  for (const auto& doc : parse_yaml(text, file)) {
    if (models)
      load_models_doc(doc, out.presets);
    else
      load_skus_doc(doc, out.skus);
  }
}

std::vector<std::string> yaml_files_in(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && is_yaml(entry.path().filename().string())) out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());  // load order decides which duplicate is reported: keep it stable
  return out;
}

Catalog load_embedded() {
  Catalog out;
  for (const auto& f : embedded_files()) {
    if (!is_yaml(f.path)) continue;
    if (has_prefix(f.path, "presets/models/"))
      load_text(out, std::string(f.contents), std::string(f.path), true);
    else if (has_prefix(f.path, "presets/skus/"))
      load_text(out, std::string(f.contents), std::string(f.path), false);
  }
  return out;
}

}  // namespace

Catalog load_catalog_dir(const std::string& presets_dir) {
  fs::path root(presets_dir);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw InputError(presets_dir, 0, 0, "", "presets directory not found");
  // Accept the repository root as well as its presets/ folder.
  if (!fs::is_directory(root / "models", ec) && fs::is_directory(root / "presets" / "models", ec)) root /= "presets";
  const auto model_files = yaml_files_in(root / "models");
  const auto sku_files = yaml_files_in(root / "skus");
  if (model_files.empty())
    throw InputError((root / "models").string(), 0, 0, "", "no model preset files (*.yaml) found");
  if (sku_files.empty()) throw InputError((root / "skus").string(), 0, 0, "", "no SKU catalog files (*.yaml) found");
  Catalog out;
  for (const auto& f : model_files) load_text(out, read_text_file(f), f, true);
  for (const auto& f : sku_files) load_text(out, read_text_file(f), f, false);
  return out;
}

const Catalog& default_catalog() {
  // Function-local static: initialised once, thread-safe; a throw leaves it uninitialised for the next caller.
  static const Catalog catalog = [] {
    const char* dir = std::getenv("KTWIN_PRESETS_DIR");
    return dir != nullptr && *dir != '\0' ? load_catalog_dir(dir) : load_embedded();
  }();
  return catalog;
}

}  // namespace ktwin::catalog
