// KAITO's Workspace admission rules (api/v1beta1/workspace_validation.go, inference_config_validation.go,
// tuning_config_validation.go), with KAITO's messages. Order and early returns follow KAITO so that the
// same manifest yields the same first complaint.
#include "core/admission/workspace_validation.h"
#include "core/util/json_pointer.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "core/api/workspace.h"
#include "core/util/yaml_guard.h"

namespace ktwin::admission {

namespace {

using kaito::Adapter;
using kaito::DataDestination;
using kaito::DataSource;
using kaito::FieldError;
using kaito::PresetSpec;
using kaito::WorkspaceSpec;

// Annotations only the webhook reads.
constexpr const char* kAnnotationPerformanceMode = "kaito.sh/performance-mode";
constexpr const char* kAnnotationUseLocalWeights = "kaito.sh/use-local-weights";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string annotation_pointer(std::string_view key) { return pointer_join("/metadata/annotations", key); }
std::string annotation_field(std::string_view key) { return "metadata.annotations[" + std::string(key) + "]"; }

//! GiB as Kubernetes prints a binary quantity: "16Gi", "7.12Gi".
std::string format_gib(double gib) {
  char buf[64];
  if (std::fabs(gib - std::round(gib)) < 1e-9) {
    std::snprintf(buf, sizeof buf, "%.0fGi", gib);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f", gib);
    std::string s = buf;
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s + "Gi";
  }
  return buf;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

//! Collects violations and warnings for one admission request.
class Review {
 public:
  void reject(const std::string& pointer, const std::string& message) {
    result_.violations.push_back({field_path(pointer), message, pointer});
  }
  void reject(const std::string& field, const std::string& pointer, const std::string& message) {
    result_.violations.push_back({field, message, pointer});
  }
  void warn(const std::string& pointer, const std::string& message) {
    result_.warnings.push_back({field_path(pointer), message, pointer});
  }
  size_t count() const { return result_.violations.size(); }
  AdmissionResult take() { return std::move(result_); }

 private:
  AdmissionResult result_;
};

// ---------------------------------------------------------------------------------------------
// Presets.

//! KAITO's IsValidPreset: a known, not deprecated preset. KAITO lower-cases legacy names; HF ids
//! keep their case, so try both.
const ModelPreset* find_preset(const AdmissionContext& ctx, const std::string& name) {
  if (!ctx.presets) return nullptr;
  if (const ModelPreset* p = ctx.presets->find(name)) return p;
  return ctx.presets->find(lower(name));
}

const ModelPreset* valid_preset(const AdmissionContext& ctx, const std::string& name) {
  const ModelPreset* p = find_preset(ctx, name);
  return p && !p->deprecated ? p : nullptr;
}

bool is_deprecated_preset(const AdmissionContext& ctx, const std::string& name) {
  const ModelPreset* p = find_preset(ctx, name);
  return p && p->deprecated;
}

// ---------------------------------------------------------------------------------------------
// Label selectors.

//! metav1.LabelSelectorAsMap: matchLabels plus single-value `In` expressions; anything else is an error.
std::optional<Labels> selector_as_map(const json& sel, std::string* error) {
  Labels out;
  if (!sel.is_object()) return out;
  if (auto ml = sel.find("matchLabels"); ml != sel.end() && ml->is_object())
    for (auto it = ml->begin(); it != ml->end(); ++it)
      if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  if (auto me = sel.find("matchExpressions"); me != sel.end() && me->is_array()) {
    for (const auto& e : *me) {
      // Any shape may arrive here (fuzzing found a non-string operator): read fields without throwing.
      auto text = [&e](const char* field) {
        if (!e.is_object()) return std::string();
        auto it = e.find(field);
        return it != e.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      std::string key = text("key");
      std::string op = text("operator");
      size_t nvalues = e.is_object() && e.contains("values") && e["values"].is_array() ? e["values"].size() : 0;
      if (op == "In") {
        if (nvalues != 1) {
          *error =
              "operator \"" + op + "\" without a single value cannot be converted into the old label selector format";
          return std::nullopt;
        }
        out[key] = e["values"][0].is_string() ? e["values"][0].get<std::string>() : "";
      } else {
        *error = "\"" + op + "\" is not a valid label selector operator";
        return std::nullopt;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Data sources and destinations.

void check_data_source(Review& r, const DataSource& src, const std::string& ptr) {
  int specified = 0;
  if (!src.urls.empty()) {
    for (size_t i = 0; i < src.urls.size(); ++i) {
      std::string err = data_source_url_error(src.urls[i]);
      if (!err.empty()) r.reject(pointer_join(pointer_join(ptr, "urls"), i), err);
    }
    ++specified;
  }
  if (!src.image.empty()) {
    std::string err = image_reference_error(src.image);
    if (!err.empty()) r.reject(pointer_join(ptr, "image"), "Unable to parse input image reference: " + err);
    ++specified;
  }
  if (!src.volume_source.is_null()) ++specified;
  if (specified != 1) r.reject(ptr, "Exactly one of URLs, Volume, or Image must be specified");
}

void check_data_destination(Review& r, const DataDestination& dst, const std::string& ptr) {
  int specified = 0;
  if (!dst.image.empty()) {
    std::string err = image_reference_error(dst.image);
    if (!err.empty()) r.reject(pointer_join(ptr, "image"), "Unable to parse output image reference: " + err);
    if (dst.image_push_secret.empty())
      r.reject(pointer_join(ptr, "imagePushSecret"), "Must specify imagePushSecret with destination image");
    ++specified;
  }
  if (!dst.volume_source.is_null()) ++specified;
  if (specified != 1) r.reject(ptr, "Exactly one of Volume or Image must be specified");
}

//! AdapterSpec.validateCreateorUpdate plus the DataSource rules, for each adapter; then duplicates.
void check_adapters(Review& r, const std::vector<Adapter>& adapters, const json& raw_adapters) {
  const std::string base = "/inference/adapters";
  std::set<std::string> seen;
  for (size_t i = 0; i < adapters.size(); ++i) {
    const Adapter& a = adapters[i];
    const std::string ptr = pointer_join(base, i);
    const std::string sptr = pointer_join(ptr, "source");
    const bool has_source = raw_adapters.is_array() && i < raw_adapters.size() && raw_adapters[i].is_object() &&
                            raw_adapters[i].contains("source") && !raw_adapters[i]["source"].is_null();
    if (!has_source) {
      r.reject(sptr, "missing field(s): Source");
      continue;
    }
    check_data_source(r, a.source, sptr);
    if (a.source.name.empty()) {
      r.reject(pointer_join(sptr, "name"), "Name of Adapter field must be specified");
    } else if (auto errs = dns1123_subdomain_errors(a.source.name); !errs.empty()) {
      r.reject(pointer_join(sptr, "name"), "invalid value: " + join(errs, ", "));
    }
    if (a.source.image.empty() && a.source.volume_source.is_null())
      r.reject(sptr, "Either Image or Volume must be specified for adapter source");
    if (!a.source.urls.empty()) r.reject(pointer_join(sptr, "urls"), "URLs are not supported as adapter source");
    const std::string strength = a.strength.value_or("1.0");  // KAITO's default
    char* end = nullptr;
    const std::string t = trim(strength);
    double v = std::strtod(t.c_str(), &end);
    if (t.empty() || end != t.c_str() + t.size() || t != strength) {
      r.reject(pointer_join(ptr, "strength"), "Invalid strength value for Adapter '" + a.source.name +
                                                  "': strconv.ParseFloat: parsing \"" + strength +
                                                  "\": invalid syntax");
    } else if (!(v >= 0 && v <= 1.0)) {
      r.reject(pointer_join(ptr, "strength"),
               "Strength value for Adapter '" + a.source.name + "' must be between 0 and 1");
    }
  }
  for (size_t i = 0; i < adapters.size(); ++i) {
    const std::string& name = adapters[i].source.name;
    if (!seen.insert(name).second)
      r.reject(pointer_join(pointer_join(pointer_join(base, i), "source"), "name"),
               "Duplicate adapter source name found: " + name);
  }
}

// ---------------------------------------------------------------------------------------------
// YAML inside ConfigMaps. yaml.v2 (what KAITO uses) resolves YAML 1.1 booleans; so do we.

json yaml_scalar(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted
  static const std::set<std::string> kTrue = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"};
  static const std::set<std::string> kFalse = {"false", "False", "FALSE", "no", "No", "NO",
                                               "off",   "Off",   "OFF",   "n",  "N"};
  if (kTrue.count(s)) return true;
  if (kFalse.count(s)) return false;
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  static const std::regex kInt(R"([-+]?[0-9]+)");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (std::regex_match(s, kInt)) {
    try {
      return std::stoll(s);
    } catch (...) {
      return s;
    }
  }
  if (std::regex_match(s, kFloat)) return std::stod(s);
  return s;
}

json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return yaml_scalar(n);
    case YAML::NodeType::Sequence: {
      json arr = json::array();
      for (const auto& item : n) arr.push_back(yaml_to_json(item));
      return arr;
    }
    case YAML::NodeType::Map: {
      json obj = json::object();
      for (const auto& kv : n) obj[kv.first.Scalar()] = yaml_to_json(kv.second);
      return obj;
    }
    default:
      return nullptr;
  }
}

//! Parses YAML text; on failure returns nullopt and sets `error`.
std::optional<YAML::Node> load_yaml(const std::string& text, std::string* error) {
  if (const YamlHazard h = find_yaml_parser_hazard(text); h.line > 0) {
    *error = "yaml: line " + std::to_string(h.line) + ": ',' cannot start a value";
    return std::nullopt;
  }
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    *error = e.what();
    return std::nullopt;
  }
}

//! utils.SearchRawExtension: first value under `key` anywhere in the tree.
const json* search_key(const json& j, const std::string& key) {
  if (j.is_object()) {
    if (auto it = j.find(key); it != j.end()) return &*it;
    for (const auto& [k, v] : j.items()) {
      (void)k;
      if (const json* found = search_key(v, key)) return found;
    }
  } else if (j.is_array()) {
    for (const auto& v : j)
      if (const json* found = search_key(v, key)) return found;
  }
  return nullptr;
}

const std::string* config_data(const Object& cm, const std::string& key) {
  const json& data = cm.at("/data");
  if (!data.is_object()) return nullptr;
  auto it = data.find(key);
  if (it == data.end() || !it->is_string()) return nullptr;
  return it->get_ptr<const std::string*>();
}

std::string namespace_of(const Object& ws) { return ws.meta.namespace_.empty() ? "default" : ws.meta.namespace_; }

//! validateInferenceConfig (vLLM only).
void check_inference_config(Review& r, const Object& ws, const WorkspaceSpec& spec, const AdmissionContext& ctx) {
  if (kaito::runtime_of(ws) != "vllm" || !ctx.find_config_map) return;
  const std::string& configured = spec.inference->config;
  const std::string cm_name = configured.empty() ? kDefaultInferenceConfigTemplate : configured;
  const std::string cm_ns = configured.empty() ? ctx.release_namespace : namespace_of(ws);
  const std::string ptr = "/inference/config";
  const Object* cm = ctx.find_config_map(cm_ns, cm_name);
  if (!cm) {
    if (!configured.empty())
      r.reject(ptr, "ConfigMap '" + cm_name + "' specified in 'config' not found in namespace '" + cm_ns + "'");
    return;
  }
  const std::string* text = config_data(*cm, kInferenceConfigKey);
  if (!text) {
    r.reject(ptr, std::string("missing field(s): ") + kInferenceConfigKey + " in ConfigMap '" + cm_name + "'");
    return;
  }
  std::string err;
  auto doc = load_yaml(*text, &err);
  if (!doc) {
    r.reject(ptr, std::string("Failed to parse inference_config.yaml: ") + err);
    return;
  }
  // KAITO decodes into struct{ VLLM map[string]string `yaml:"vllm"` }.
  if (!doc->IsNull() && !doc->IsMap()) {
    r.reject(ptr, "Failed to parse inference_config.yaml: the document must be a map");
    return;
  }
  std::optional<std::string> max_model_len;
  if (doc->IsMap()) {
    YAML::Node vllm = (*doc)["vllm"];
    if (vllm && !vllm.IsNull()) {
      if (!vllm.IsMap()) {
        r.reject(ptr, "Failed to parse inference_config.yaml: 'vllm' must be a map of strings");
        return;
      }
      for (const auto& kv : vllm) {
        if (!kv.second.IsScalar() && !kv.second.IsNull()) {
          r.reject(ptr, "Failed to parse inference_config.yaml: vllm." + kv.first.Scalar() + " must be a scalar");
          return;
        }
        if (kv.first.Scalar() == "max-model-len" && kv.second.IsScalar()) max_model_len = kv.second.Scalar();
      }
    }
  }
  if (!max_model_len || trim(*max_model_len).empty()) return;
  if (!spec.inference->preset) return;
  const ModelPreset* preset = valid_preset(ctx, spec.inference->preset->name);
  if (!preset || preset->model_token_limit <= 0) return;
  const std::string raw = trim(*max_model_len);
  char* end = nullptr;
  errno = 0;
  long long val = std::strtoll(raw.c_str(), &end, 10);
  if (end != raw.c_str() + raw.size() || errno == ERANGE) {
    r.reject(ptr, "max-model-len must be an integer: strconv.Atoi: parsing \"" + raw + "\": invalid syntax");
    return;
  }
  if (val > preset->model_token_limit)
    r.reject(ptr, "max-model-len " + std::to_string(val) + " exceeds model's maximum supported context window " +
                      std::to_string(preset->model_token_limit) + " (ModelTokenLimit)");
}

//! filepath.Clean of an absolute path.
std::string clean_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    std::string part = path.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return "/" + join(parts, "/");
}

//! validateConfigMap of TuningSpec: schema, method vs quantization, output_dir.
void check_tuning_config(Review& r, const Object& cm, const std::string& method, const std::string& cm_ns) {
  const std::string ptr = "/tuning/config";
  const std::string& cm_name = cm.meta.name;
  const std::string* text = config_data(cm, kTrainingConfigKey);
  if (!text) {
    r.reject(ptr, std::string("missing field(s): ") + kTrainingConfigKey + " in ConfigMap '" + cm_name + "'");
    return;
  }
  std::string err;
  auto doc = load_yaml(*text, &err);
  if (!doc) {
    r.reject(ptr, "Failed to parse 'training_config.yaml' in ConfigMap '" + cm_name + "' in namespace '" + cm_ns +
                      "': " + err);
    return;
  }
  const json config = yaml_to_json(*doc);
  const json* training =
      config.is_object() && config.contains("training_config") ? &config["training_config"] : nullptr;
  if (!training || !training->is_object()) {
    r.reject(ptr, "Expected 'training_config' key to contain a map");
    return;
  }
  static const std::vector<std::string> kSections = {"ModelConfig",       "QuantizationConfig", "LoraConfig",
                                                     "TrainingArguments", "DatasetConfig",      "DataCollator"};
  for (const auto& [section, value] : training->items()) {
    (void)value;
    if (std::find(kSections.begin(), kSections.end(), section) == kSections.end()) {
      r.reject(ptr, "Unrecognized section: " + section);
      break;
    }
  }

  // Method vs quantization.
  [&] {
    auto q = training->find("QuantizationConfig");
    if (q == training->end() || q->is_null()) {
      if (method == "qlora")
        r.reject(ptr, "For method 'qlora', either 'load_in_4bit' or 'load_in_8bit' must be true in ConfigMap '" +
                          cm_name + "'");
      return;
    }
    const json* b4 = search_key(*q, "load_in_4bit");
    const json* b8 = search_key(*q, "load_in_8bit");
    for (auto [key, v] : {std::pair{"load_in_4bit", b4}, std::pair{"load_in_8bit", b8}}) {
      if (v && !v->is_null() && !v->is_boolean()) {
        r.reject(ptr, std::string("value must be either nil or a boolean, got type ") +
                          (v->is_string()   ? "string"
                           : v->is_number() ? "number"
                                            : "map") +
                          " (" + key + ")");
        return;
      }
    }
    const bool in4 = b4 && b4->is_boolean() && b4->get<bool>();
    const bool in8 = b8 && b8->is_boolean() && b8->get<bool>();
    if (in4 && in8) {
      r.reject(ptr, "Cannot set both 'load_in_4bit' and 'load_in_8bit' to true in ConfigMap '" + cm_name + "'");
    } else if (method == "lora" && (in4 || in8)) {
      r.reject(ptr,
               "For method 'lora', 'load_in_4bit' or 'load_in_8bit' in ConfigMap '" + cm_name + "' must not be true");
    } else if (method == "qlora" && !in4 && !in8) {
      r.reject(ptr, "For method 'qlora', either 'load_in_4bit' or 'load_in_8bit' must be true in ConfigMap '" +
                        cm_name + "'");
    }
  }();

  // output_dir must resolve to a directory under /mnt.
  auto args = training->find("TrainingArguments");
  if (args == training->end() || args->is_null()) return;
  const json* out = search_key(*args, "output_dir");
  if (!out) return;
  if (!out->is_string()) {
    r.reject(ptr, "output_dir is not a string in ConfigMap '" + cm_name + "' in namespace '" + cm_ns + "'");
    return;
  }
  const std::string dir = out->get<std::string>();
  const std::string base = "/mnt";
  const std::string cleaned = clean_path(base + "/" + dir);
  if (cleaned == base || !starts_with(cleaned, base))
    r.reject(ptr, "Invalid output_dir specified: '" + dir + "', must be a directory");
}

// ---------------------------------------------------------------------------------------------
// Resource checks.

std::string supported_skus(const AdmissionContext& ctx) {
  std::vector<std::string> names;
  for (const Sku* s : ctx.skus->list(ctx.cloud, /*include_removed=*/false)) names.push_back(s->name());
  std::sort(names.begin(), names.end());
  return join(names, ", ");
}

//! MIG profile like "1g.10gb" (optionally "+me"); returns the slice memory in GiB or nullopt.
std::optional<double> mig_profile_memory(const std::string& profile) {
  static const std::regex kProfile(R"(([1-7])g\.([0-9]+)gb(\+me)?)");
  std::smatch m;
  if (!std::regex_match(profile, m, kProfile)) return std::nullopt;
  return std::stod(m[2].str());
}

void check_partition_byo(Review& r, const kaito::Partition& p, const ModelPreset* preset, bool bypass,
                         const AdmissionContext& ctx) {
  const std::string ptr = "/resource/partition";
  if (p.mode == "mig") {
    if (!ctx.enable_mig) {
      r.reject(ptr, "MIG support is not enabled, set feature gate enableMIG=true");
      return;
    }
    if (p.count != 0) {
      r.reject(pointer_join(ptr, "count"), "count is only valid for accelerator mode");
      return;
    }
    auto mem = mig_profile_memory(p.profile);
    if (!mem) {
      r.reject(pointer_join(ptr, "profile"), "invalid MIG profile \"" + p.profile + "\"");
      return;
    }
    if (preset && preset->weights_gib > *mem) {
      const std::string msg = "Model " + preset->name + " requires at least " + format_gib(preset->weights_gib) +
                              " for weights, which exceeds the " + p.profile + " MIG slice capacity of " +
                              format_gib(*mem);
      if (bypass)
        r.warn(ptr, "Bypassing resource check: " + msg);
      else
        r.reject(ptr, msg);
    }
  } else if (p.mode == "accelerator") {
    if (!ctx.enable_accelerator) {
      r.reject(ptr, "accelerator partition support is not enabled, set feature gate enableAccelerator=true");
      return;
    }
    if (!p.profile.empty()) r.reject(pointer_join(ptr, "profile"), "profile is not valid for accelerator mode");
    if (p.count == 0) r.reject(pointer_join(ptr, "count"), "missing field(s): partition.count");
  } else {
    r.reject(pointer_join(ptr, "mode"),
             "unsupported partition mode \"" + p.mode + "\", supported modes are \"mig\" and \"accelerator\"");
  }
}

//! ResourceSpec.validateCreateWithInference.
void check_resource_for_inference(Review& r, const Object& ws, const WorkspaceSpec& spec, const AdmissionContext& ctx) {
  const auto& res = spec.resource;
  const auto& inf = *spec.inference;
  const bool bypass = ws.meta.annotation(kaito::kAnnotationBypassResourceChecks) != nullptr;
  const std::string runtime = kaito::runtime_of(ws);
  const ModelPreset* preset = nullptr;
  if (inf.preset) {
    preset = valid_preset(ctx, inf.preset->name);
    if (!preset) {
      if (is_deprecated_preset(ctx, inf.preset->name))
        r.reject("/inference/preset/name",
                 "Model " + lower(inf.preset->name) + " is deprecated and no longer supported");
      return;  // the inference checks report an unknown name
    }
  }

  std::string sel_error;
  if (!selector_as_map(res.label_selector, &sel_error)) {
    r.reject("/resource/labelSelector", "invalid value: " + sel_error);
    return;
  }
  const json& ml = res.label_selector.is_object() && res.label_selector.contains("matchLabels")
                       ? res.label_selector["matchLabels"]
                       : json();
  const Labels sanitized = kaito::sanitized_match_labels(res.label_selector);
  if (ml.is_object() && !ml.empty() && sanitized.empty()) {
    r.reject("/resource/labelSelector/matchLabels", "matchLabels must contain at least one non-reserved label");
    return;
  }

  std::optional<GpuConfig> gpu;
  int machines = 0;
  std::string machine_name = res.instance_type;
  if (!ctx.node_auto_provisioning) {
    if (res.partition) {
      check_partition_byo(r, *res.partition, preset, bypass, ctx);
      return;
    }
    // With a template KAITO cannot know the GPU needs, so it does not look at the nodes.
    if (preset && ctx.find_nodes) {
      LabelSelector selector;
      selector.match_labels = sanitized;
      std::vector<const Object*> nodes = ctx.find_nodes(selector);
      machines = static_cast<int>(nodes.size());
      if (nodes.empty()) {
        r.reject("/resource/labelSelector", "No nodes found matching the specified label selector");
        return;
      }
      for (const Object* node : nodes) {
        const std::string& nname = node->meta.name;
        for (const char* key : {"nvidia.com/gpu.product", "nvidia.com/gpu.count", "nvidia.com/gpu.memory"}) {
          if (!node->meta.labels.count(key)) {
            r.reject("/resource/labelSelector",
                     "Failed to get GPU config from nvidia labels on node " + nname + ": missing label " + key);
            return;
          }
        }
        std::optional<GpuConfig> cfg = gpu_config_from_node_labels(node->meta.labels);
        if (!cfg) {
          r.reject("/resource/labelSelector", "Failed to get GPU config from nvidia labels on node " + nname +
                                                  ": invalid nvidia.com/gpu.count or nvidia.com/gpu.memory");
          return;
        }
        if (!gpu) {
          gpu = cfg;
          continue;
        }
        if (cfg->gpu_model != gpu->gpu_model) {
          r.reject("/resource/labelSelector",
                   "Non-uniform GPU product: node " + nname + " has " + cfg->gpu_model +
                       " GPUs, but previous node has " + gpu->gpu_model +
                       " GPUs, all nodes must have the same GPU product for homogeneous placement");
          return;
        }
        if (cfg->gpu_count != gpu->gpu_count) {
          r.reject("/resource/labelSelector", "Non-uniform GPU count: node " + nname + " has " +
                                                  std::to_string(cfg->gpu_count) + " GPUs, but previous node has " +
                                                  std::to_string(gpu->gpu_count) + " GPUs");
          return;
        }
        if (std::fabs(cfg->total_gpu_memory_gib - gpu->total_gpu_memory_gib) > 1e-9) {
          r.reject("/resource/labelSelector",
                   "Non-uniform GPU memory: node " + nname + " has " + format_gib(cfg->total_gpu_memory_gib) +
                       " memory, but previous node has " + format_gib(gpu->total_gpu_memory_gib) + " memory");
          return;
        }
      }
      machine_name = gpu->gpu_model;  // BYO: no instance type; name the GPU product instead
    }
  } else {
    if (res.partition) {
      r.reject("/resource/partition",
               "GPU partitioning is only supported with BYO nodes (disableNodeAutoProvisioning=true)");
      return;
    }
    machines = res.count.value_or(1);
    if (ctx.skus && !res.instance_type.empty()) {
      const Sku* sku = ctx.skus->find(ctx.cloud, res.instance_type);
      const bool supported = sku && !sku->removed;
      if (!supported) {
        const bool azure_prefix = ctx.cloud == "azure" && (starts_with(res.instance_type, "Standard_N") ||
                                                           starts_with(res.instance_type, "Standard_D"));
        if (!azure_prefix)
          r.reject("/resource/instanceType",
                   "Unsupported instance type " + res.instance_type + ". Supported SKUs: " + supported_skus(ctx));
      }
      // A removed SKU still has known GPUs; checking them is more useful than skipping.
      if (sku) gpu = sku->gpu;
    }
  }

  // For NAP + vLLM the node estimator sizes the deployment instead.
  if (!preset || !gpu || (ctx.node_auto_provisioning && runtime == "vllm")) return;
  if (preset->weights_gib <= 0) return;
  const double total = machines * gpu->total_gpu_memory_gib;
  if (total < preset->weights_gib) {
    const std::string msg = "Insufficient total GPU memory: Instance type " + machine_name + " has a total of " +
                            format_gib(total) + ", but preset " + lower(inf.preset->name) + " requires at least " +
                            format_gib(preset->weights_gib);
    if (bypass)
      r.warn("/resource/instanceType", "Bypassing resource check: " + msg);
    else
      r.reject("/resource/instanceType", msg);
  }
  const bool needs_many = preset->weights_gib > gpu->total_gpu_memory_gib;
  if (preset->supports_distributed && needs_many && runtime == "transformers")
    r.reject("", "/resource",
             "Multi-node distributed inference is not supported with Huggingface Transformers runtime");
}

//! InferenceSpec.validateCreate.
void check_inference(Review& r, const Object& ws, const WorkspaceSpec& spec, const AdmissionContext& ctx) {
  const auto& inf = *spec.inference;
  const bool has_template = !inf.template_.is_null();
  if (!inf.preset && !has_template) r.reject("/inference", "missing field(s): Preset or Template must be specified");
  if (inf.preset && has_template) r.reject("/inference", "Preset and Template cannot be set at the same time");
  const json& raw_adapters = ws.at("/inference/adapters");

  if (inf.preset) {
    const PresetSpec& p = *inf.preset;
    const ModelPreset* preset = valid_preset(ctx, p.name);
    if (!preset) {
      // A deprecated name was already reported by the resource checks.
      if (!is_deprecated_preset(ctx, p.name))
        r.reject(
            "/inference/preset/name",
            "Unsupported inference preset name " + p.name +
                (p.name.find('/') != std::string::npos
                     ? " (a Hugging Face id KAITO does not ship: the twin cannot fetch its config.json, so describe "
                       "it under the scenario's models:)"
                     : ""));
      return;
    }
    const std::string runtime = kaito::runtime_of(ws);
    std::vector<std::string> runtime_errs;
    if (runtime == "transformers" && !preset->transformers_runtime)
      runtime_errs.push_back("Huggingface Transformers runtime is not supported for this model: " + preset->name);
    if (runtime == "vllm") {
      if (!inf.adapters.empty() && preset->disallow_lora)
        runtime_errs.push_back("vLLM does not support LoRA adapters for this model: " + preset->name);
      bool strength = std::any_of(inf.adapters.begin(), inf.adapters.end(),
                                  [](const Adapter& a) { return a.strength.has_value(); });
      if (strength) runtime_errs.push_back("vLLM does not support adapter strength");
    }
    if (!runtime_errs.empty())
      r.reject("", "/inference/preset/name", "Runtime validation: " + join(runtime_errs, "; "));

    const std::string secret_ptr = "/inference/preset/presetOptions/modelAccessSecret";
    if (preset->download_at_runtime) {
      if (preset->gated && p.model_access_secret.empty())
        r.reject("/inference/preset",
                 "This preset requires authentication and needs a modelAccessSecret with HF_TOKEN "
                 "key under presetOptions to download the model");
    } else if (!p.model_access_secret.empty()) {
      r.reject(secret_ptr, "This preset does not require a modelAccessSecret with HF_TOKEN key under presetOptions");
    }
  }
  if (static_cast<int>(inf.adapters.size()) > kMaxAdapters)
    r.reject("/inference/adapters",
             "Number of Adapters exceeds the maximum limit, maximum of " + std::to_string(kMaxAdapters) + " allowed");
  check_adapters(r, inf.adapters, raw_adapters);
}

//! TuningSpec.validateCreate and ResourceSpec.validateCreateWithTuning.
void check_tuning(Review& r, const Object& ws, const WorkspaceSpec& spec, const AdmissionContext& ctx) {
  const auto& t = *spec.tuning;
  if (spec.resource.count.value_or(1) > 1)
    r.reject("/resource/count",
             "Tuning does not currently support multinode configurations. Please set the node "
             "count to 1. Future support with DeepSpeed will allow this.");
  if (spec.resource.partition)
    r.reject("/resource/partition", "GPU partitioning is not supported for tuning workloads");

  const std::string method = lower(t.method);
  if (method != "lora" && method != "qlora")
    r.reject("/tuning/method", "invalid value: \"" + t.method + "\": method must be lora or qlora");
  if (ctx.find_config_map) {
    const bool defaulted = t.config.empty();
    std::string cm_name = t.config;
    if (defaulted) cm_name = method == "qlora" ? kDefaultQloraConfigTemplate : kDefaultLoraConfigTemplate;
    const std::string cm_ns = defaulted ? ctx.release_namespace : namespace_of(ws);
    if (const Object* cm = ctx.find_config_map(cm_ns, cm_name)) {
      check_tuning_config(r, *cm, method, cm_ns);
    } else if (!defaulted) {
      r.reject("/tuning/config",
               "ConfigMap '" + cm_name + "' specified in 'config' not found in namespace '" + cm_ns + "'");
    }
  }
  if (!t.input)
    r.reject("/tuning/input", "missing field(s): Input");
  else
    check_data_source(r, *t.input, "/tuning/input");
  if (!t.output)
    r.reject("/tuning/output", "missing field(s): Output");
  else
    check_data_destination(r, *t.output, "/tuning/output");
  if (!t.preset) {
    r.reject("/tuning/preset", "missing field(s): Preset");
  } else if (const ModelPreset* p = valid_preset(ctx, t.preset->name); !p) {
    r.reject("/tuning/preset/name", "Unsupported tuning preset name " + t.preset->name);
  } else if (!p->tuning) {
    r.reject("/tuning/preset/name", "Preset " + t.preset->name + " does not support tuning");
  }
}

void check_name(Review& r, const Object& ws) {
  auto errs = dns1123_label_errors(ws.meta.name);
  if (!errs.empty()) r.reject("metadata.name", "/metadata/name", "invalid value: " + join(errs, ", "));
}

void check_annotations(Review& r, const Object& ws) {
  if (const std::string* v = ws.meta.annotation(kaito::kAnnotationNodeImageFamily)) {
    std::string norm = lower(trim(*v));
    if (norm != "ubuntu" && norm != "azurelinux")
      r.reject(annotation_field(kaito::kAnnotationNodeImageFamily),
               annotation_pointer(kaito::kAnnotationNodeImageFamily),
               "unsupported node image family \"" + *v + "\", supported values are azurelinux, ubuntu");
  }
  if (const std::string* v = ws.meta.annotation(kAnnotationPerformanceMode)) {
    if (*v != "balanced" && *v != "interactivity" && *v != "throughput")
      r.reject(annotation_field(kAnnotationPerformanceMode), annotation_pointer(kAnnotationPerformanceMode),
               "\"" + *v + "\" is not a valid performance mode; choose one of: balanced, interactivity, throughput");
  }
  if (const std::string* v = ws.meta.annotation(kAnnotationUseLocalWeights)) {
    if (*v != "true" && *v != "false")
      r.reject(annotation_field(kAnnotationUseLocalWeights), annotation_pointer(kAnnotationUseLocalWeights),
               "\"" + *v + "\" must be \"true\" or \"false\"");
  }
  // KAITO silently falls back to vLLM on an unknown runtime; a typo there is worth rejecting.
  if (const std::string* v = ws.meta.annotation(kaito::kAnnotationRuntime)) {
    if (*v != "vllm" && *v != "transformers")
      r.reject(annotation_field(kaito::kAnnotationRuntime), annotation_pointer(kaito::kAnnotationRuntime),
               "\"" + *v + "\" is not a valid runtime; choose one of: vllm, transformers");
  }
}

void warn_reserved_labels(Review& r, const WorkspaceSpec& spec) {
  const json& sel = spec.resource.label_selector;
  if (!sel.is_object() || !sel.contains("matchLabels") || !sel["matchLabels"].is_object()) return;
  for (const auto& [key, value] : sel["matchLabels"].items()) {
    (void)value;
    if (kaito::is_reserved_label(key))
      r.warn(pointer_join("/resource/labelSelector/matchLabels", key),
             "labelSelector contains reserved KAITO label \"" + key + "\"; it will be ignored");
  }
}

std::optional<WorkspaceSpec> parse_or_reject(Review& r, const Object& ws) {
  try {
    return kaito::parse_workspace_spec(ws);
  } catch (const FieldError& e) {
    r.reject(e.pointer(), e.what());
    return std::nullopt;
  }
}

bool same_preset(const std::optional<PresetSpec>& a, const std::optional<PresetSpec>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  return a->name == b->name && a->access_mode == b->access_mode && a->image == b->image &&
         a->image_pull_secrets == b->image_pull_secrets && a->model_access_secret == b->model_access_secret;
}

bool same_partition(const std::optional<kaito::Partition>& a, const std::optional<kaito::Partition>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->mode == b->mode && a->profile == b->profile && a->count == b->count);
}

}  // namespace

// -----------------------------------------------------------------------------------------------
// Public API.

AdmissionResult review_workspace_create(const Object& ws, const AdmissionContext& ctx) {
  Review r;
  check_name(r, ws);
  std::optional<WorkspaceSpec> spec = parse_or_reject(r, ws);
  if (!spec) return r.take();

  if (!spec->inference && !spec->tuning) r.reject("", "Either Inference or Tuning must be specified, not neither");
  if (spec->inference && spec->tuning) r.reject("", "Either Inference or Tuning must be specified, but not both");
  if (!ctx.node_auto_provisioning) {
    if (!spec->resource.instance_type.empty())
      r.reject("/resource/instanceType",
               "instanceType must be empty when node auto-provisioning is disabled (BYO scenario)");
  } else if (spec->resource.instance_type.empty()) {
    r.reject("/resource/instanceType", "instanceType is required when node auto-provisioning is enabled");
  }
  if (spec->resource.label_selector.is_null())
    r.reject("/resource/labelSelector", "Required value: labelSelector is required");
  check_annotations(r, ws);
  warn_reserved_labels(r, *spec);
  if (spec->inference) {
    check_resource_for_inference(r, ws, *spec, ctx);
    check_inference(r, ws, *spec, ctx);
    check_inference_config(r, ws, *spec, ctx);
  }
  if (spec->tuning) check_tuning(r, ws, *spec, ctx);
  return r.take();
}

AdmissionResult review_workspace_update(const Object& old_ws, const Object& new_ws, const AdmissionContext& ctx) {
  Review r;
  check_name(r, new_ws);
  std::optional<WorkspaceSpec> spec = parse_or_reject(r, new_ws);
  if (!spec) return r.take();
  std::optional<WorkspaceSpec> old;
  try {
    old = kaito::parse_workspace_spec(old_ws);
  } catch (const FieldError&) {
    // The stored object predates a schema change; only the new object's own rules apply.
  }

  if (old) {
    if (old->inference.has_value() != spec->inference.has_value())
      r.reject("/inference", "Inference field cannot be toggled once set");
    if (old->tuning.has_value() != spec->tuning.has_value())
      r.reject("/tuning", "Tuning field cannot be toggled once set");

    const auto& nr = spec->resource;
    const auto& orr = old->resource;
    // The CRD defaults count to 1, so an absent count compares as 1.
    if (nr.count.value_or(1) != orr.count.value_or(1)) r.reject("/resource/count", "field is immutable");
    if (!same_partition(nr.partition, orr.partition)) r.reject("/resource/partition", "field is immutable");
    if (!ctx.node_auto_provisioning) {
      if (orr.instance_type.empty()) {
        if (!nr.instance_type.empty())
          r.reject("/resource/instanceType",
                   "instanceType must be empty when node auto-provisioning is disabled (BYO scenario)");
      } else if (!nr.instance_type.empty() && nr.instance_type != orr.instance_type) {
        // Clearing a legacy instanceType is allowed when moving to BYO.
        r.reject("/resource/instanceType", "instanceType cannot be changed once set");
      }
    } else if (nr.instance_type.empty()) {
      r.reject("/resource/instanceType", "instanceType is required when node auto-provisioning is enabled");
    } else if (!orr.instance_type.empty() && orr.instance_type != nr.instance_type) {
      r.reject("/resource/instanceType",
               "instanceType cannot be changed once set when node auto-provisioning is enabled");
    }
    std::string e0, e1;
    auto nl = selector_as_map(nr.label_selector, &e0);
    auto ol = selector_as_map(orr.label_selector, &e1);
    if (!nl || !ol)
      r.reject("/resource/labelSelector", "Only allow matchLabels or 'IN' matchExpression");
    else if (*nl != *ol)
      r.reject("/resource/labelSelector", "field is immutable");
  }

  if (spec->inference && old && old->inference) {
    const auto& ni = *spec->inference;
    const auto& oi = *old->inference;
    if (!same_preset(ni.preset, oi.preset)) r.reject("/inference/preset", "field is immutable");
    if (ni.template_.is_null() != oi.template_.is_null())
      r.reject("/inference/template", "field cannot be unset/set if it was set/unset");
  }
  if (spec->inference) check_adapters(r, spec->inference->adapters, new_ws.at("/inference/adapters"));

  if (spec->tuning && old && old->tuning) {
    const auto& nt = *spec->tuning;
    const auto& ot = *old->tuning;
    if (!nt.input) {
      r.reject("/tuning/input", "missing field(s): Input");
    } else {
      if (ot.input && ot.input->name != nt.input->name)
        r.reject("/tuning/input/name", "invalid value: During tuning Name field cannot be changed once set");
      if (!nt.input->image.empty())
        if (auto err = image_reference_error(nt.input->image); !err.empty())
          r.reject("/tuning/input/image", "Unable to parse input image reference: " + err);
    }
    if (!nt.output) {
      r.reject("/tuning/output", "missing field(s): Output");
    } else if (!nt.output->image.empty()) {
      if (auto err = image_reference_error(nt.output->image); !err.empty())
        r.reject("/tuning/output/image", "Unable to parse output image reference: " + err);
    }
    if (!same_preset(nt.preset, ot.preset)) r.reject("/tuning/preset", "Preset cannot be changed");
    if (lower(nt.method) != lower(ot.method)) r.reject("/tuning/method", "Method cannot be changed");
  }
  warn_reserved_labels(r, *spec);
  return r.take();
}

std::vector<Violation> validate_workspace_create(const Object& ws, const AdmissionContext& ctx) {
  return review_workspace_create(ws, ctx).violations;
}

std::vector<Violation> validate_workspace_update(const Object& old_ws, const Object& new_ws,
                                                 const AdmissionContext& ctx) {
  return review_workspace_update(old_ws, new_ws, ctx).violations;
}

std::vector<std::string> admission_warnings(const Object& ws, const AdmissionContext& ctx) {
  std::vector<std::string> out;
  for (const auto& w : review_workspace_create(ws, ctx).warnings) out.push_back(w.message);
  return out;
}

std::string to_string(const Violation& v) { return v.field.empty() ? v.message : v.field + ": " + v.message; }

// -----------------------------------------------------------------------------------------------
// Building blocks.

std::vector<std::string> dns1123_label_errors(std::string_view value) {
  static const std::regex kLabel("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back("must be no more than 63 characters");
  if (!std::regex_match(value.begin(), value.end(), kLabel))
    errs.push_back(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
        "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
  return errs;
}

std::vector<std::string> dns1123_subdomain_errors(std::string_view value) {
  static const std::regex kSubdomain("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  std::vector<std::string> errs;
  if (value.size() > 253) errs.push_back("must be no more than 253 characters");
  if (!std::regex_match(value.begin(), value.end(), kSubdomain))
    errs.push_back(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
        "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  return errs;
}

std::string image_reference_error(std::string_view ref_view) {
  // The grammar of github.com/distribution/reference.
  static const std::string kAlnum = "[a-z0-9]+";
  static const std::string kSep = "(?:[._]|__|[-]+)";
  static const std::string kPathComp = kAlnum + "(?:" + kSep + kAlnum + ")*";
  static const std::string kDomComp = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
  static const std::string kHost = "(?:" + kDomComp + "(?:\\." + kDomComp + ")*|\\[[a-fA-F0-9:]+\\])";
  static const std::string kDomain = kHost + "(?::[0-9]+)?";
  static const std::string kName = "(?:" + kDomain + "/)?" + kPathComp + "(?:/" + kPathComp + ")*";
  static const std::string kTag = "[\\w][\\w.-]{0,127}";
  static const std::string kDigest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][a-fA-F0-9]{32,}";
  static const std::regex kReference("(" + kName + ")(?::(" + kTag + "))?(?:@(" + kDigest + "))?");
  static const std::regex kIdentifier("[a-f0-9]{64}");

  const std::string ref(ref_view);
  if (ref.empty()) return "repository name must have at least one component";
  if (std::regex_match(ref, kIdentifier))
    return "invalid repository name (" + ref + "), cannot specify 64-byte hexadecimal strings";
  // splitDockerDomain: the first component is a registry only when it looks like a host.
  std::string domain = "docker.io", remainder = ref;
  size_t slash = ref.find('/');
  if (slash != std::string::npos) {
    std::string first = ref.substr(0, slash);
    if (first.find('.') != std::string::npos || first.find(':') != std::string::npos || first == "localhost" ||
        lower(first) != first) {
      domain = first;
      remainder = ref.substr(slash + 1);
    }
  }
  std::string remote = remainder.substr(0, remainder.find(':'));
  if (size_t at = remote.find('@'); at != std::string::npos) remote = remote.substr(0, at);
  if (lower(remote) != remote) return "invalid reference format: repository name (" + remote + ") must be lowercase";
  if (domain == "docker.io" && remainder.find('/') == std::string::npos) remainder = "library/" + remainder;
  const std::string full = domain + "/" + remainder;
  std::smatch m;
  if (!std::regex_match(full, m, kReference)) {
    if (std::regex_match(lower(full), kReference)) return "repository name must be lowercase";
    return "invalid reference format";
  }
  if (m[1].length() > 255) return "repository name must not be more than 255 characters";
  return "";
}

namespace {

bool ipv4_blocked(const unsigned char a[4]) {
  if (a[0] == 127) return true;                            // loopback
  if (a[0] == 10) return true;                             // private
  if (a[0] == 172 && (a[1] & 0xf0) == 16) return true;     // private 172.16/12
  if (a[0] == 192 && a[1] == 168) return true;             // private
  if (a[0] == 169 && a[1] == 254) return true;             // link-local unicast (cloud metadata)
  if (a[0] == 224 && a[1] == 0 && a[2] == 0) return true;  // link-local multicast
  return false;
}

//! Go's IsLoopback || IsPrivate || IsLinkLocalUnicast || IsLinkLocalMulticast; nullopt if not an IP.
std::optional<bool> ip_blocked(const std::string& host) {
  unsigned char v4[4];
  if (inet_pton(AF_INET, host.c_str(), v4) == 1) return ipv4_blocked(v4);
  unsigned char v6[16];
  if (inet_pton(AF_INET6, host.c_str(), v6) != 1) return std::nullopt;
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(v6, kMapped, 12) == 0) return ipv4_blocked(v6 + 12);
  static const unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  if (std::memcmp(v6, kLoopback, 16) == 0) return true;
  if ((v6[0] & 0xfe) == 0xfc) return true;                   // fc00::/7 unique local
  if (v6[0] == 0xfe && (v6[1] & 0xc0) == 0x80) return true;  // fe80::/10 link-local
  if (v6[0] == 0xff && (v6[1] & 0x0f) == 0x02) return true;  // ff02::/16 link-local multicast
  return false;
}

}  // namespace

std::string data_source_url_error(std::string_view url_view) {
  const std::string url(url_view);
  static const std::regex kScheme("([a-zA-Z][a-zA-Z0-9+.-]*):(.*)");
  std::smatch m;
  if (!std::regex_match(url, m, kScheme)) return "invalid data source URL";
  const std::string scheme = lower(m[1].str());
  const std::string rest = m[2].str();
  if (rest.rfind("//", 0) != 0) return "invalid data source URL";
  std::string authority = rest.substr(2, rest.find_first_of("/?#", 2) - 2);
  if (size_t at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  std::string host;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return "invalid data source URL";
    host = authority.substr(1, close - 1);
  } else {
    host = authority.substr(0, authority.find(':'));
  }
  if (host.empty()) return "invalid data source URL";
  if (scheme != "http" && scheme != "https") return "data source URL must use HTTP or HTTPS";
  host = lower(host);
  static const std::set<std::string> kMetadataHosts = {"metadata.google.internal", "metadata.google",
                                                       "instance-data.ec2.internal"};
  if (host == "localhost" || (host.size() > 10 && host.substr(host.size() - 10) == ".localhost") ||
      kMetadataHosts.count(host))
    return "data source URL must not target a local or metadata endpoint";
  std::string bare = host.substr(0, host.find('%'));
  if (ip_blocked(bare).value_or(false))
    return "data source URL must not target a loopback, private, or link-local address";
  return "";
}

}  // namespace ktwin::admission
