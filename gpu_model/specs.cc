// Loads presets/gpus.yaml and presets/architectures.yaml with the same strictness as catalog/: unknown keys,
// wrong types and impossible numbers are InputErrors at file:line:column.
#include "gpu_model/specs.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "catalog/catalog.h"
#include "catalog/embedded_data.h"
#include "catalog/fields.h"

namespace ktwin::gpu {
namespace {

using catalog::Fields;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

void load_gpus(const catalog::YamlDocument& doc, HardwareCatalog& out) {
  const Fields top(doc, "", {"gpus"});
  const size_t n = top.list_size("gpus");
  for (size_t i = 0; i < n; ++i) {
    const std::string ptr = catalog::pointer_join("/gpus", i);
    const Fields f(doc, ptr,
                   {"id", "name", "memory_gb", "usable_memory_gib", "bandwidth_gbs", "fp16_tflops", "fp8_tflops",
                    "interconnect", "source"});
    GpuSpec g;
    g.id = f.name("id");
    if (out.find_gpu(g.id) != nullptr) throw doc.error(f.child("id"), "duplicate GPU id \"" + g.id + "\"");
    g.name = f.str("name", false, g.id);
    g.memory_gb = f.number("memory_gb", true, 0, 1);
    g.usable_memory_gib = f.number("usable_memory_gib", false, g.memory_gb / 1.073741824, 1);
    g.bandwidth_gbs = f.number("bandwidth_gbs", true, 0, 1);
    g.fp16_tflops = f.number("fp16_tflops", true, 0, 1);
    g.fp8_tflops = f.number("fp8_tflops", false, 0, 0);
    f.str("source", false);
    if (!f.has("interconnect")) throw doc.error(ptr, "missing required field \"interconnect\"");
    const Fields ic(doc, f.child("interconnect"), {"nvlink_gbs", "nvlink_gpus", "pcie_gbs"});
    g.nvlink_gbs = ic.number("nvlink_gbs", true, 0, 0);
    g.nvlink_gpus = ic.int32("nvlink_gpus", false, g.nvlink_gbs > 0 ? 8 : 0, 0);
    g.pcie_gbs = ic.number("pcie_gbs", true, 0, 1);
    if (g.nvlink_gbs > 0 && g.nvlink_gpus < 2) {
      throw doc.error(ic.child("nvlink_gpus"), "must be at least 2 when nvlink_gbs is set");
    }
    out.gpus.push_back(std::move(g));
  }
}

// The shared architecture parser, plus a check only the latency model needs: the embedding table must
// fit inside the parameter count, else its FLOP and byte counts come out wrong.
ModelArchitecture parse_arch(const catalog::YamlDocument& doc, const std::string& ptr) {
  const ModelArchitecture a = catalog::parse_architecture(doc, ptr);
  const double emb = static_cast<double>(a.vocab_size) * a.hidden_size / 1e9;
  if (emb >= a.active_params_billion) {
    throw doc.error(catalog::pointer_join(ptr, "params_billion"),
                    "is smaller than the embedding table (vocab_size x hidden_size)");
  }
  return a;
}

void load_architectures(const catalog::YamlDocument& doc, HardwareCatalog& out) {
  const Fields top(doc, "", {"architectures"});
  const size_t n = top.list_size("architectures");
  for (size_t i = 0; i < n; ++i) {
    const std::string ptr = catalog::pointer_join("/architectures", i);
    const Fields f(doc, ptr,
                   {"hf_id", "aliases", "tied_embeddings", "max_position_embeddings", "architecture", "source"});
    ModelArch m;
    m.hf_id = f.name("hf_id");
    m.tied_embeddings = f.flag("tied_embeddings", false);
    m.max_position_embeddings = f.int32("max_position_embeddings", true, 0, 1);
    f.str("source", false);
    if (!f.has("architecture")) throw doc.error(ptr, "missing required field \"architecture\"");
    m.arch = parse_arch(doc, f.child("architecture"));
    m.from = "architectures.yaml";
    std::vector<std::string> names = f.str_list("aliases");
    names.insert(names.begin(), m.hf_id);
    for (size_t k = 0; k < names.size(); ++k) {
      if (out.find_model(names[k]) != nullptr) {
        throw doc.error(k == 0 ? f.child("hf_id") : catalog::pointer_join(f.child("aliases"), k - 1),
                        "\"" + names[k] + "\" is already defined");
      }
      out.model_index.push_back({lower(names[k]), out.models.size()});
      std::sort(out.model_index.begin(), out.model_index.end(),
                [](const auto& a, const auto& b) { return a.lower_name < b.lower_name; });
    }
    out.models.push_back(std::move(m));
  }
}

void add_kaito_presets(const PresetRegistry& presets, HardwareCatalog& out) {
  for (const auto& p : presets.all()) {
    ModelArch m;
    m.hf_id = p.hf_id;
    m.arch = p.arch;
    m.max_position_embeddings = p.model_token_limit;
    m.from = "KAITO preset " + p.name;
    // KAITO's schema has no tie flag; tied models have params close to the body plus one embedding table.
    m.tied_embeddings = false;
    std::vector<std::string> names = p.aliases;
    names.insert(names.begin(), {p.hf_id, p.name});
    bool added = false;
    for (const auto& name : names) {
      if (out.find_model(name) != nullptr) continue;  // architectures.yaml wins
      out.model_index.push_back({lower(name), out.models.size()});
      added = true;
    }
    if (added) out.models.push_back(std::move(m));
    std::sort(out.model_index.begin(), out.model_index.end(),
              [](const auto& a, const auto& b) { return a.lower_name < b.lower_name; });
  }
}

std::string suggestion(std::string_view word, const std::vector<std::string>& names) {
  std::string s = catalog::closest_match(std::string(word), names);
  if (!s.empty()) return " (did you mean \"" + s + "\"?)";
  // Fall back to the shortest name sharing the part after the organisation.
  std::string tail = lower(word.substr(word.find('/') == std::string_view::npos ? 0 : word.find('/') + 1));
  std::string best;
  for (const auto& n : names) {
    if (!tail.empty() && lower(n).find(tail) != std::string::npos && (best.empty() || n.size() < best.size())) best = n;
  }
  return best.empty() ? std::string() : " (did you mean \"" + best + "\"?)";
}

}  // namespace

const GpuSpec* HardwareCatalog::find_gpu(std::string_view id) const {
  const std::string l = lower(id);
  for (const auto& g : gpus) {
    if (lower(g.id) == l) return &g;
  }
  return nullptr;
}

const ModelArch* HardwareCatalog::find_model(std::string_view id) const {
  const std::string l = lower(id);
  auto it = std::lower_bound(model_index.begin(), model_index.end(), l,
                             [](const Alias& a, const std::string& k) { return a.lower_name < k; });
  return it != model_index.end() && it->lower_name == l ? &models[it->index] : nullptr;
}

std::vector<std::string> HardwareCatalog::gpu_ids() const {
  std::vector<std::string> out;
  for (const auto& g : gpus) out.push_back(g.id);
  return out;
}

const GpuSpec& HardwareCatalog::gpu(std::string_view id) const {
  if (const GpuSpec* g = find_gpu(id)) return *g;
  throw InputError(
      "", 0, 0, "",
      "unknown GPU \"" + std::string(id) + "\"" + suggestion(id, gpu_ids()) + "; known GPUs are in presets/gpus.yaml");
}

const ModelArch& HardwareCatalog::model(std::string_view id) const {
  if (const ModelArch* m = find_model(id)) return *m;
  std::vector<std::string> names;
  for (const auto& a : model_index) names.push_back(models[a.index].hf_id);
  throw InputError("", 0, 0, "",
                   "unknown model architecture \"" + std::string(id) + "\"" + suggestion(id, names) +
                       "; add it to presets/architectures.yaml with the numbers of its config.json");
}

HardwareCatalog parse_hardware(const std::string& gpus_yaml, const std::string& gpus_file, const std::string& arch_yaml,
                               const std::string& arch_file, const PresetRegistry* presets) {
  HardwareCatalog out;
  for (const auto& doc : catalog::parse_yaml(gpus_yaml, gpus_file)) load_gpus(doc, out);
  if (out.gpus.empty()) throw InputError(gpus_file, 0, 0, "", "no GPUs defined");
  for (const auto& doc : catalog::parse_yaml(arch_yaml, arch_file)) load_architectures(doc, out);
  if (presets != nullptr) add_kaito_presets(*presets, out);
  return out;
}

HardwareCatalog load_hardware_dir(const std::string& presets_dir) {
  namespace fs = std::filesystem;
  fs::path root(presets_dir);
  std::error_code ec;
  if (!fs::exists(root / "gpus.yaml", ec) && fs::exists(root / "presets" / "gpus.yaml", ec)) root /= "presets";
  const std::string gpus = (root / "gpus.yaml").string();
  const std::string arch = (root / "architectures.yaml").string();
  const catalog::Catalog cat = catalog::load_catalog_dir(root.string());
  return parse_hardware(catalog::read_text_file(gpus), gpus, catalog::read_text_file(arch), arch, &cat.presets);
}

const HardwareCatalog& default_hardware() {
  static const HardwareCatalog hw = [] {
    const char* dir = std::getenv("KTWIN_PRESETS_DIR");
    if (dir != nullptr && *dir != '\0') return load_hardware_dir(dir);
    std::string gpus, arch;
    for (const auto& f : catalog::embedded_files()) {
      if (f.path == "presets/gpus.yaml") gpus = std::string(f.contents);
      if (f.path == "presets/architectures.yaml") arch = std::string(f.contents);
    }
    if (gpus.empty()) throw InputError("presets/gpus.yaml", 0, 0, "", "not embedded in this binary");
    return parse_hardware(gpus, "presets/gpus.yaml", arch, "presets/architectures.yaml",
                          &catalog::default_catalog().presets);
  }();
  return hw;
}

}  // namespace ktwin::gpu
