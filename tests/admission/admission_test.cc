// Table-driven tests of KAITO's Workspace admission rules (create and update), the typed Workspace
// view, and `ktwin validate` over every example manifest in tests/manifests/.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "catalog/yaml_json.h"
#include "core/admission/workspace_validation.h"
#include "core/api/workspace.h"
#include "core/input_error.h"

namespace ktwin::cli {
int run_validate(int argc, char** argv);  // cli/cmd_validate.cc
}

namespace ktwin::admission {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// A small, synthetic world: presets and SKUs built here so the rules are tested independently of
// the catalog data.

ModelPreset make_preset(std::string name, double weights, int64_t ctx_limit) {
  ModelPreset p;
  p.name = std::move(name);
  p.weights_gib = weights;
  p.model_token_limit = ctx_limit;
  p.transformers_runtime = true;
  p.tuning = true;
  return p;
}

Sku make_sku(std::string cloud, std::string name, int gpus, double total, bool removed = false) {
  Sku s;
  s.cloud = std::move(cloud);
  s.gpu.sku = std::move(name);
  s.gpu.gpu_model = "NVIDIA A100";
  s.gpu.gpu_count = gpus;
  s.gpu.total_gpu_memory_gib = total;
  s.removed = removed;
  return s;
}

Object make_node(const std::string& name, Labels labels) {
  Object n;
  n.api_version = "v1";
  n.kind = "Node";
  n.meta.name = name;
  n.meta.labels = std::move(labels);
  return n;
}

Labels gpu_labels(const std::string& product, const std::string& count, const std::string& mib) {
  return {{"apps", "phi-3"},
          {"nvidia.com/gpu.product", product},
          {"nvidia.com/gpu.count", count},
          {"nvidia.com/gpu.memory", mib}};
}

Object make_config_map(const std::string& ns, const std::string& name, const std::string& key,
                       const std::string& text) {
  Object cm;
  cm.api_version = "v1";
  cm.kind = "ConfigMap";
  cm.meta.name = name;
  cm.meta.namespace_ = ns;
  cm.body["data"][key] = text;
  return cm;
}

struct Env {
  PresetRegistry presets;
  SkuCatalog skus;
  std::map<std::string, Object> config_maps;
  std::vector<Object> nodes;
  AdmissionContext ctx;

  Env() {
    ModelPreset phi3 = make_preset("phi-3-mini-4k-instruct", 7.12, 4096);
    phi3.hf_id = "microsoft/Phi-3-mini-4k-instruct";
    add(phi3);
    ModelPreset falcon = make_preset("falcon-7b", 13.44, 2048);
    falcon.disallow_lora = true;
    falcon.transformers_runtime = false;
    falcon.supports_distributed = false;
    add(falcon);
    ModelPreset llama = make_preset("llama-3.1-8b-instruct", 14.96, 131072);
    llama.gated = true;
    llama.tuning = false;
    add(llama);
    ModelPreset phi2 = make_preset("phi-2", 5.0, 2048);
    phi2.deprecated = true;
    add(phi2);
    ModelPreset baked = make_preset("baked-model", 5.0, 2048);
    baked.download_at_runtime = false;
    add(baked);
    ModelPreset big = make_preset("llama-3.3-70b-instruct", 131.42, 131072);
    big.tuning = false;
    add(big);

    skus.add(make_sku("azure", "Standard_NC24ads_A100_v4", 1, 80));
    skus.add(make_sku("azure", "Standard_NV36ads_A10_v5", 1, 24));
    skus.add(make_sku("azure", "Standard_NC6s_v3", 1, 16, /*removed=*/true));
    skus.add(make_sku("aws", "g5.xlarge", 1, 24));
    skus.add(make_sku("aws", "p3.2xlarge", 1, 16, /*removed=*/true));

    ctx.presets = &presets;
    ctx.skus = &skus;
    ctx.find_config_map = [this](std::string_view ns, std::string_view name) -> const Object* {
      auto it = config_maps.find(std::string(ns) + "/" + std::string(name));
      return it == config_maps.end() ? nullptr : &it->second;
    };
    ctx.find_nodes = [this](const LabelSelector& sel) {
      std::vector<const Object*> out;
      for (const auto& n : nodes)
        if (sel.matches(n.meta.labels)) out.push_back(&n);
      return out;
    };
  }
  void add(ModelPreset p) { ASSERT_TRUE(presets.add(std::move(p)).ok()); }
  void add_cm(const std::string& name, const std::string& key, const std::string& text,
              const std::string& ns = "default") {
    config_maps[ns + "/" + name] = make_config_map(ns, name, key, text);
  }
  void byo() { ctx.node_auto_provisioning = false; }
};

json inference_manifest() {
  return json::parse(R"({
    "apiVersion": "kaito.sh/v1beta1", "kind": "Workspace",
    "metadata": {"name": "workspace-phi-3-mini", "namespace": "default"},
    "resource": {"instanceType": "Standard_NC24ads_A100_v4", "labelSelector": {"matchLabels": {"apps": "phi-3"}}},
    "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}}
  })");
}

json tuning_manifest() {
  return json::parse(R"({
    "apiVersion": "kaito.sh/v1beta1", "kind": "Workspace",
    "metadata": {"name": "workspace-tuning-phi-3", "namespace": "default"},
    "resource": {"instanceType": "Standard_NC24ads_A100_v4", "labelSelector": {"matchLabels": {"app": "tuning-phi-3"}}},
    "tuning": {
      "preset": {"name": "phi-3-mini-4k-instruct"},
      "method": "qlora",
      "input": {"urls": ["https://huggingface.co/datasets/philschmid/dolly-15k-oai-style/resolve/main/train.parquet"]},
      "output": {"image": "myregistry.azurecr.io/adapters/phi-3-tuned:0.0.1", "imagePushSecret": "acr-secret"}
    }
  })");
}

json adapter(const std::string& name, const std::string& image = "") {
  return json{{"source",
               {{"name", name}, {"image", image.empty() ? "myregistry.azurecr.io/adapters/" + name + ":0.1" : image}}}};
}

void set_annotation(json& m, const std::string& key, const std::string& value) {
  m["metadata"]["annotations"][key] = value;
}

Object to_object(const json& m) { return object_from_json(m); }

std::string describe(const std::vector<Violation>& vs) {
  std::string out;
  for (const auto& v : vs) out += "\n  " + to_string(v) + "  @" + v.pointer;
  return out.empty() ? " (none)" : out;
}

// ---------------------------------------------------------------------------------------------
// CREATE.

struct CreateCase {
  std::string name;
  std::function<json()> manifest;
  std::function<void(Env&)> setup;  //!< may be empty
  std::string expect;               //!< "" = accepted; else a substring of one violation's message
  std::string field = "";           //!< when set, the violation's dotted field
};

std::function<json()> inf(const std::function<void(json&)>& edit = {}) {
  return [edit] {
    json m = inference_manifest();
    if (edit) edit(m);
    return m;
  };
}

std::function<json()> tun(const std::function<void(json&)>& edit = {}) {
  return [edit] {
    json m = tuning_manifest();
    if (edit) edit(m);
    return m;
  };
}

const char* kQloraConfig = R"(training_config:
  ModelConfig:
    torch_dtype: "bfloat16"
  QuantizationConfig:
    load_in_4bit: true
    bnb_4bit_quant_type: "nf4"
  LoraConfig:
    r: 8
  TrainingArguments:
    output_dir: "/mnt/results"
    num_train_epochs: 4
  DataCollator:
    mlm: true
  DatasetConfig:
    shuffle_dataset: true
)";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  size_t pos = s.find(from);
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

void byo_a100_nodes(Env& e, int n = 1) {
  e.byo();
  for (int i = 0; i < n; ++i)
    e.nodes.push_back(make_node("gpu-" + std::to_string(i), gpu_labels("NVIDIA-A100-SXM4-80GB", "1", "81920")));
}

std::vector<CreateCase> create_cases() {
  std::vector<CreateCase> c;
  auto strip_instance = [](json& m) { m["resource"].erase("instanceType"); };
  // Name.
  c.push_back({"quickstart_accepted", inf(), {}, ""});
  c.push_back({"name_not_dns_label",
               inf([](json& m) { m["metadata"]["name"] = "Workspace_Phi3"; }),
               {},
               "RFC 1123 label",
               "metadata.name"});
  c.push_back({"name_too_long",
               inf([](json& m) { m["metadata"]["name"] = std::string(64, 'a'); }),
               {},
               "must be no more than 63 characters"});
  // Inference xor tuning.
  c.push_back({"neither_inference_nor_tuning",
               inf([](json& m) { m.erase("inference"); }),
               {},
               "Either Inference or Tuning must be specified, not neither"});
  c.push_back({"both_inference_and_tuning",
               inf([](json& m) { m["tuning"] = tuning_manifest()["tuning"]; }),
               {},
               "Either Inference or Tuning must be specified, but not both"});
  // instanceType vs node auto-provisioning.
  c.push_back({"nap_without_instance_type",
               inf(strip_instance),
               {},
               "instanceType is required when node auto-provisioning is enabled",
               "resource.instanceType"});
  c.push_back({"byo_with_instance_type", inf(), [](Env& e) { byo_a100_nodes(e); },
               "instanceType must be empty when node auto-provisioning is disabled (BYO scenario)"});
  c.push_back({"byo_without_instance_type", inf(strip_instance), [](Env& e) { byo_a100_nodes(e); }, ""});
  // Annotation allowlists.
  c.push_back({"node_image_family_ok",
               inf([](json& m) { set_annotation(m, "kaito.sh/node-image-family", "AzureLinux"); }),
               {},
               ""});
  c.push_back({"node_image_family_bad",
               inf([](json& m) { set_annotation(m, "kaito.sh/node-image-family", "windows"); }),
               {},
               "unsupported node image family \"windows\"",
               "metadata.annotations[kaito.sh/node-image-family]"});
  c.push_back({"performance_mode_ok",
               inf([](json& m) { set_annotation(m, "kaito.sh/performance-mode", "throughput"); }),
               {},
               ""});
  c.push_back({"performance_mode_bad",
               inf([](json& m) { set_annotation(m, "kaito.sh/performance-mode", "fast"); }),
               {},
               "is not a valid performance mode"});
  c.push_back(
      {"use_local_weights_ok", inf([](json& m) { set_annotation(m, "kaito.sh/use-local-weights", "false"); }), {}, ""});
  c.push_back({"use_local_weights_bad",
               inf([](json& m) { set_annotation(m, "kaito.sh/use-local-weights", "yes"); }),
               {},
               "must be \"true\" or \"false\""});
  c.push_back(
      {"runtime_transformers_ok", inf([](json& m) { set_annotation(m, "kaito.sh/runtime", "transformers"); }), {}, ""});
  c.push_back({"runtime_bad",
               inf([](json& m) { set_annotation(m, "kaito.sh/runtime", "sglang"); }),
               {},
               "is not a valid runtime"});
  // Preset xor template.
  c.push_back({"template_only",
               inf([](json& m) {
                 m["inference"] = json{{"template", {{"spec", {{"containers", json::array()}}}}}};
               }),
               {},
               ""});
  c.push_back({"preset_and_template",
               inf([](json& m) {
                 m["inference"]["template"] = json{{"spec", json::object()}};
               }),
               {},
               "Preset and Template cannot be set at the same time"});
  c.push_back({"neither_preset_nor_template",
               inf([](json& m) {
                 m["inference"] = json{{"config", "my-config"}};
               }),
               {},
               "Preset or Template must be specified"});
  // Preset names.
  c.push_back({"hf_id_preset",
               inf([](json& m) { m["inference"]["preset"]["name"] = "microsoft/Phi-3-mini-4k-instruct"; }),
               {},
               ""});
  c.push_back({"unknown_preset",
               inf([](json& m) { m["inference"]["preset"]["name"] = "gpt-7"; }),
               {},
               "Unsupported inference preset name gpt-7",
               "inference.preset.name"});
  c.push_back({"deprecated_preset",
               inf([](json& m) { m["inference"]["preset"]["name"] = "phi-2"; }),
               {},
               "Model phi-2 is deprecated and no longer supported"});
  // Runtime checks.
  c.push_back({"transformers_without_params",
               inf([](json& m) {
                 m["inference"]["preset"]["name"] = "falcon-7b";
                 set_annotation(m, "kaito.sh/runtime", "transformers");
               }),
               {},
               "Huggingface Transformers runtime is not supported for this model: falcon-7b"});
  c.push_back({"vllm_adapters_on_disallow_lora",
               inf([](json& m) {
                 m["inference"]["preset"]["name"] = "falcon-7b";
                 m["inference"]["adapters"] = json::array({adapter("falcon-adapter")});
               }),
               {},
               "vLLM does not support LoRA adapters for this model: falcon-7b"});
  c.push_back({"vllm_adapters_ok",
               inf([](json& m) { m["inference"]["adapters"] = json::array({adapter("phi-3-adapter")}); }),
               {},
               ""});
  c.push_back({"vllm_adapter_strength",
               inf([](json& m) {
                 json a = adapter("phi-3-adapter");
                 a["strength"] = "0.5";
                 m["inference"]["adapters"] = json::array({a});
               }),
               {},
               "vLLM does not support adapter strength"});
  c.push_back({"transformers_adapter_strength_ok",
               inf([](json& m) {
                 set_annotation(m, "kaito.sh/runtime", "transformers");
                 json a = adapter("phi-3-adapter");
                 a["strength"] = "0.25";
                 m["inference"]["adapters"] = json::array({a});
               }),
               {},
               ""});
  // Model access secrets.
  c.push_back({"gated_without_secret",
               inf([](json& m) { m["inference"]["preset"]["name"] = "llama-3.1-8b-instruct"; }),
               {},
               "This preset requires authentication and needs a modelAccessSecret"});
  c.push_back({"gated_with_secret",
               inf([](json& m) {
                 m["inference"]["preset"] =
                     json{{"name", "llama-3.1-8b-instruct"}, {"presetOptions", {{"modelAccessSecret", "hf-token"}}}};
               }),
               {},
               ""});
  c.push_back(
      {"secret_on_baked_model",
       inf([](json& m) {
         m["inference"]["preset"] = json{{"name", "baked-model"}, {"presetOptions", {{"modelAccessSecret", "hf"}}}};
       }),
       {},
       "This preset does not require a modelAccessSecret"});
  // Adapters.
  c.push_back({"ten_adapters_ok",
               inf([](json& m) {
                 for (int i = 0; i < 10; ++i) m["inference"]["adapters"].push_back(adapter("a" + std::to_string(i)));
               }),
               {},
               ""});
  c.push_back({"eleven_adapters",
               inf([](json& m) {
                 for (int i = 0; i < 11; ++i) m["inference"]["adapters"].push_back(adapter("a" + std::to_string(i)));
               }),
               {},
               "Number of Adapters exceeds the maximum limit, maximum of 10 allowed"});
  c.push_back({"duplicate_adapter_names",
               inf([](json& m) {
                 m["inference"]["adapters"] = json::array({adapter("same"), adapter("same")});
               }),
               {},
               "Duplicate adapter source name found: same",
               "inference.adapters[1].source.name"});
  c.push_back({"adapter_from_url",
               inf([](json& m) {
                 m["inference"]["adapters"] = json::array(
                     {json{{"source", {{"name", "web"}, {"urls", {"https://example.com/a.safetensors"}}}}}});
               }),
               {},
               "URLs are not supported as adapter source"});
  c.push_back({"adapter_without_image_or_volume",
               inf([](json& m) {
                 m["inference"]["adapters"] = json::array({json{{"source", {{"name", "empty"}}}}});
               }),
               {},
               "Either Image or Volume must be specified for adapter source"});
  c.push_back(
      {"adapter_from_volume_ok",
       inf([](json& m) {
         m["inference"]["adapters"] = json::array({json{
             {"source", {{"name", "vol"}, {"volumeSource", {{"persistentVolumeClaim", {{"claimName", "x"}}}}}}}}});
       }),
       {},
       ""});
  c.push_back({"adapter_strength_out_of_range",
               inf([](json& m) {
                 set_annotation(m, "kaito.sh/runtime", "transformers");
                 json a = adapter("phi-3-adapter");
                 a["strength"] = "1.5";
                 m["inference"]["adapters"] = json::array({a});
               }),
               {},
               "Strength value for Adapter 'phi-3-adapter' must be between 0 and 1"});
  c.push_back({"adapter_strength_not_float",
               inf([](json& m) {
                 set_annotation(m, "kaito.sh/runtime", "transformers");
                 json a = adapter("phi-3-adapter");
                 a["strength"] = "strong";
                 m["inference"]["adapters"] = json::array({a});
               }),
               {},
               "Invalid strength value for Adapter 'phi-3-adapter'"});
  c.push_back(
      {"adapter_bad_image",
       inf([](json& m) { m["inference"]["adapters"] = json::array({adapter("bad", "MyRegistry.io/Adapters/X:1")}); }),
       {},
       "Unable to parse input image reference"});
  // Label selectors.
  c.push_back({"selector_not_in_expression",
               inf([](json& m) {
                 m["resource"]["labelSelector"] =
                     json{{"matchExpressions", {{{"key", "apps"}, {"operator", "NotIn"}, {"values", {"x"}}}}}};
               }),
               {},
               "\"NotIn\" is not a valid label selector operator"});
  c.push_back({"selector_single_in_ok",
               inf([](json& m) {
                 m["resource"]["labelSelector"] =
                     json{{"matchExpressions", {{{"key", "apps"}, {"operator", "In"}, {"values", {"phi-3"}}}}}};
               }),
               {},
               ""});
  c.push_back({"selector_all_reserved",
               inf([](json& m) {
                 m["resource"]["labelSelector"]["matchLabels"] =
                     json{{"kaito.sh/workspace", "other"}, {"karpenter.kaito.sh/workspace-name", "x"}};
               }),
               {},
               "matchLabels must contain at least one non-reserved label"});
  c.push_back({"selector_some_reserved_ok",
               inf([](json& m) { m["resource"]["labelSelector"]["matchLabels"]["kaito.sh/workspace"] = "other"; }),
               {},
               ""});
  c.push_back({"selector_missing",
               inf([](json& m) { m["resource"].erase("labelSelector"); }),
               {},
               "labelSelector is required"});
  // SKUs under node auto-provisioning.
  c.push_back(
      {"unknown_sku",
       inf([](json& m) { m["resource"]["instanceType"] = "Standard_X100"; }),
       {},
       "Unsupported instance type Standard_X100. Supported SKUs: Standard_NC24ads_A100_v4, Standard_NV36ads_A10_v5"});
  c.push_back({"removed_v100_sku_accepted_by_prefix",
               inf([](json& m) { m["resource"]["instanceType"] = "Standard_NC6s_v3"; }),
               {},
               ""});
  c.push_back(
      {"unknown_d_series_accepted", inf([](json& m) { m["resource"]["instanceType"] = "Standard_D8s_v5"; }), {}, ""});
  c.push_back({"aws_removed_sku", inf([](json& m) { m["resource"]["instanceType"] = "p3.2xlarge"; }),
               [](Env& e) { e.ctx.cloud = "aws"; }, "Unsupported instance type p3.2xlarge. Supported SKUs: g5.xlarge"});
  c.push_back({"aws_sku_ok", inf([](json& m) { m["resource"]["instanceType"] = "g5.xlarge"; }),
               [](Env& e) { e.ctx.cloud = "aws"; }, ""});
  c.push_back({"aws_no_prefix_exception", inf([](json& m) { m["resource"]["instanceType"] = "Standard_NC6s_v3"; }),
               [](Env& e) { e.ctx.cloud = "aws"; }, "Unsupported instance type Standard_NC6s_v3"});
  // Partitions.
  c.push_back({"partition_with_nap",
               inf([](json& m) {
                 m["resource"]["partition"] = json{{"mode", "mig"}, {"profile", "1g.10gb"}};
               }),
               {},
               "GPU partitioning is only supported with BYO nodes"});
  c.push_back({"mig_byo_ok", inf([](json& m) {
                 m["resource"].erase("instanceType");
                 m["resource"]["partition"] = json{{"mode", "mig"}, {"profile", "2g.20gb"}};
               }),
               [](Env& e) {
                 byo_a100_nodes(e);
                 e.ctx.enable_mig = true;
               },
               ""});
  c.push_back({"mig_gate_off", inf([](json& m) {
                 m["resource"].erase("instanceType");
                 m["resource"]["partition"] = json{{"mode", "mig"}, {"profile", "2g.20gb"}};
               }),
               [](Env& e) { byo_a100_nodes(e); }, "MIG support is not enabled"});
  c.push_back({"mig_slice_too_small", inf([](json& m) {
                 m["resource"].erase("instanceType");
                 m["resource"]["partition"] = json{{"mode", "mig"}, {"profile", "1g.5gb"}};
               }),
               [](Env& e) {
                 byo_a100_nodes(e);
                 e.ctx.enable_mig = true;
               },
               "exceeds the 1g.5gb MIG slice capacity of 5Gi"});
  c.push_back({"partition_bad_mode", inf([](json& m) {
                 m["resource"].erase("instanceType");
                 m["resource"]["partition"] = json{{"mode", "timeslice"}};
               }),
               [](Env& e) { byo_a100_nodes(e); }, "unsupported partition mode \"timeslice\""});
  c.push_back({"accelerator_without_count", inf([](json& m) {
                 m["resource"].erase("instanceType");
                 m["resource"]["partition"] = json{{"mode", "accelerator"}};
               }),
               [](Env& e) {
                 byo_a100_nodes(e);
                 e.ctx.enable_accelerator = true;
               },
               "missing field(s): partition.count"});
  // BYO nodes.
  c.push_back({"byo_no_matching_nodes", inf(strip_instance), [](Env& e) { e.byo(); },
               "No nodes found matching the specified label selector"});
  c.push_back({"byo_missing_gpu_labels", inf(strip_instance),
               [](Env& e) {
                 e.byo();
                 Labels l = gpu_labels("NVIDIA-A100-SXM4-80GB", "1", "81920");
                 l.erase("nvidia.com/gpu.memory");
                 e.nodes.push_back(make_node("gpu-0", l));
               },
               "missing label nvidia.com/gpu.memory"});
  c.push_back({"byo_mixed_products", inf(strip_instance),
               [](Env& e) {
                 byo_a100_nodes(e);
                 e.nodes.push_back(make_node("gpu-h100", gpu_labels("NVIDIA-H100-80GB-HBM3", "1", "81920")));
               },
               "Non-uniform GPU product: node gpu-h100"});
  c.push_back({"byo_mixed_counts", inf(strip_instance),
               [](Env& e) {
                 byo_a100_nodes(e);
                 e.nodes.push_back(make_node("gpu-two", gpu_labels("NVIDIA-A100-SXM4-80GB", "2", "81920")));
               },
               "Non-uniform GPU count"});
  c.push_back({"byo_mixed_memory", inf(strip_instance),
               [](Env& e) {
                 byo_a100_nodes(e);
                 e.nodes.push_back(make_node("gpu-40", gpu_labels("NVIDIA-A100-SXM4-80GB", "1", "40960")));
               },
               "Non-uniform GPU memory"});
  c.push_back({"byo_template_skips_nodes", inf([](json& m) {
                 m["resource"].erase("instanceType");
                 m["inference"] = json{{"template", {{"spec", json::object()}}}};
               }),
               [](Env& e) { e.byo(); }, ""});
  // GPU memory.
  c.push_back({"byo_insufficient_memory", inf([](json& m) {
                 m["resource"].erase("instanceType");
                 m["inference"]["preset"] =
                     json{{"name", "llama-3.3-70b-instruct"}, {"presetOptions", {{"modelAccessSecret", "hf"}}}};
               }),
               [](Env& e) { byo_a100_nodes(e); },
               "Insufficient total GPU memory: Instance type NVIDIA-A100-SXM4-80GB has a total of 80Gi, but preset "
               "llama-3.3-70b-instruct requires at least 131.42Gi"});
  c.push_back({"byo_two_nodes_enough_memory", inf([](json& m) {
                 m["resource"].erase("instanceType");
                 m["inference"]["preset"] =
                     json{{"name", "llama-3.3-70b-instruct"}, {"presetOptions", {{"modelAccessSecret", "hf"}}}};
               }),
               [](Env& e) { byo_a100_nodes(e, 2); }, ""});
  c.push_back({"byo_insufficient_memory_bypassed", inf([](json& m) {
                 m["resource"].erase("instanceType");
                 set_annotation(m, "kaito.sh/bypass-resource-checks", "true");
                 m["inference"]["preset"] =
                     json{{"name", "llama-3.3-70b-instruct"}, {"presetOptions", {{"modelAccessSecret", "hf"}}}};
               }),
               [](Env& e) { byo_a100_nodes(e); }, ""});
  c.push_back({"nap_vllm_skips_memory_check",
               inf([](json& m) {
                 m["resource"]["instanceType"] = "Standard_NV36ads_A10_v5";
                 m["inference"]["preset"] =
                     json{{"name", "llama-3.3-70b-instruct"}, {"presetOptions", {{"modelAccessSecret", "hf"}}}};
               }),
               {},
               ""});
  c.push_back({"nap_transformers_insufficient_memory",
               inf([](json& m) {
                 set_annotation(m, "kaito.sh/runtime", "transformers");
                 m["resource"]["instanceType"] = "Standard_NV36ads_A10_v5";
                 m["inference"]["preset"] =
                     json{{"name", "llama-3.3-70b-instruct"}, {"presetOptions", {{"modelAccessSecret", "hf"}}}};
               }),
               {},
               "Instance type Standard_NV36ads_A10_v5 has a total of 24Gi"});
  c.push_back({"nap_transformers_multinode",
               inf([](json& m) {
                 set_annotation(m, "kaito.sh/runtime", "transformers");
                 m["resource"]["instanceType"] = "Standard_NV36ads_A10_v5";
                 m["resource"]["count"] = 6;
                 m["inference"]["preset"] =
                     json{{"name", "llama-3.3-70b-instruct"}, {"presetOptions", {{"modelAccessSecret", "hf"}}}};
               }),
               {},
               "Multi-node distributed inference is not supported with Huggingface Transformers runtime"});
  c.push_back({"nap_transformers_fits",
               inf([](json& m) {
                 set_annotation(m, "kaito.sh/runtime", "transformers");
                 m["resource"]["instanceType"] = "Standard_NV36ads_A10_v5";
               }),
               {},
               ""});
  // Inference config ConfigMap.
  c.push_back({"config_missing_cm",
               inf([](json& m) { m["inference"]["config"] = "my-inference-config"; }),
               {},
               "ConfigMap 'my-inference-config' specified in 'config' not found in namespace 'default'"});
  c.push_back({"config_missing_key", inf([](json& m) { m["inference"]["config"] = "cfg"; }),
               [](Env& e) { e.add_cm("cfg", "other.yaml", "vllm: {}\n"); }, "missing field(s): inference_config.yaml"});
  c.push_back({"config_invalid_yaml", inf([](json& m) { m["inference"]["config"] = "cfg"; }),
               [](Env& e) { e.add_cm("cfg", "inference_config.yaml", "vllm: [unclosed\n"); },
               "Failed to parse inference_config.yaml"});
  c.push_back({"config_max_model_len_not_int", inf([](json& m) { m["inference"]["config"] = "cfg"; }),
               [](Env& e) { e.add_cm("cfg", "inference_config.yaml", "vllm:\n  max-model-len: lots\n"); },
               "max-model-len must be an integer"});
  c.push_back({"config_max_model_len_too_big", inf([](json& m) { m["inference"]["config"] = "cfg"; }),
               [](Env& e) { e.add_cm("cfg", "inference_config.yaml", "vllm:\n  max-model-len: 8192\n"); },
               "max-model-len 8192 exceeds model's maximum supported context window 4096 (ModelTokenLimit)"});
  c.push_back(
      {"config_max_model_len_ok", inf([](json& m) { m["inference"]["config"] = "cfg"; }),
       [](Env& e) { e.add_cm("cfg", "inference_config.yaml", "vllm:\n  max-model-len: 4096\n  cpu-offload-gb: 0\n"); },
       ""});
  c.push_back({"config_default_template_checked", inf(),
               [](Env& e) {
                 e.add_cm("inference-params-template", "inference_config.yaml", "vllm: [bad\n", "kaito-workspace");
               },
               "Failed to parse inference_config.yaml"});
  c.push_back({"config_ignored_for_transformers",
               inf([](json& m) {
                 set_annotation(m, "kaito.sh/runtime", "transformers");
                 m["inference"]["config"] = "absent";
               }),
               {},
               ""});
  // Tuning.
  c.push_back({"tuning_accepted", tun(), {}, ""});
  c.push_back({"tuning_bad_method",
               tun([](json& m) { m["tuning"]["method"] = "sft"; }),
               {},
               "method must be lora or qlora",
               "tuning.method"});
  c.push_back({"tuning_config_missing",
               tun([](json& m) { m["tuning"]["config"] = "my-qlora"; }),
               {},
               "ConfigMap 'my-qlora' specified in 'config' not found"});
  c.push_back({"tuning_config_ok", tun([](json& m) { m["tuning"]["config"] = "my-qlora"; }),
               [](Env& e) { e.add_cm("my-qlora", "training_config.yaml", kQloraConfig); }, ""});
  c.push_back({"tuning_config_missing_key", tun([](json& m) { m["tuning"]["config"] = "my-qlora"; }),
               [](Env& e) { e.add_cm("my-qlora", "inference_config.yaml", kQloraConfig); },
               "missing field(s): training_config.yaml"});
  c.push_back({"tuning_config_unknown_section", tun([](json& m) { m["tuning"]["config"] = "my-qlora"; }),
               [](Env& e) {
                 e.add_cm("my-qlora", "training_config.yaml", std::string(kQloraConfig) + "  Optimizer:\n    lr: 1\n");
               },
               "Unrecognized section: Optimizer"});
  c.push_back({"tuning_qlora_without_quantization", tun([](json& m) { m["tuning"]["config"] = "my-qlora"; }),
               [](Env& e) {
                 e.add_cm("my-qlora", "training_config.yaml",
                          replace(kQloraConfig, "load_in_4bit: true", "load_in_4bit: false"));
               },
               "For method 'qlora', either 'load_in_4bit' or 'load_in_8bit' must be true"});
  c.push_back({"tuning_lora_with_quantization", tun([](json& m) {
                 m["tuning"]["config"] = "my-qlora";
                 m["tuning"]["method"] = "lora";
               }),
               [](Env& e) { e.add_cm("my-qlora", "training_config.yaml", kQloraConfig); },
               "For method 'lora', 'load_in_4bit' or 'load_in_8bit' in ConfigMap 'my-qlora' must not be true"});
  c.push_back({"tuning_both_4_and_8_bit", tun([](json& m) { m["tuning"]["config"] = "my-qlora"; }),
               [](Env& e) {
                 e.add_cm("my-qlora", "training_config.yaml",
                          replace(kQloraConfig, "load_in_4bit: true", "load_in_4bit: true\n    load_in_8bit: true"));
               },
               "Cannot set both 'load_in_4bit' and 'load_in_8bit' to true"});
  c.push_back(
      {"tuning_output_dir_escapes", tun([](json& m) { m["tuning"]["config"] = "my-qlora"; }),
       [](Env& e) { e.add_cm("my-qlora", "training_config.yaml", replace(kQloraConfig, "/mnt/results", "../etc")); },
       "Invalid output_dir specified: '../etc', must be a directory"});
  c.push_back({"tuning_input_none",
               tun([](json& m) {
                 m["tuning"]["input"] = json{{"name", "data"}};
               }),
               {},
               "Exactly one of URLs, Volume, or Image must be specified"});
  c.push_back({"tuning_input_two",
               tun([](json& m) { m["tuning"]["input"]["image"] = "myregistry.azurecr.io/data:1"; }),
               {},
               "Exactly one of URLs, Volume, or Image must be specified"});
  c.push_back(
      {"tuning_input_image_ok",
       tun([](json& m) {
         m["tuning"]["input"] = json{{"image", "myregistry.azurecr.io/datasets/dolly@sha256:" + std::string(64, 'a')}};
       }),
       {},
       ""});
  c.push_back({"tuning_input_volume_ok",
               tun([](json& m) {
                 m["tuning"]["input"] = json{{"volumeSource", {{"hostPath", {{"path", "/data"}}}}}};
               }),
               {},
               ""});
  const std::vector<std::pair<std::string, std::string>> bad_urls = {
      {"ftp://example.com/data.csv", "data source URL must use HTTP or HTTPS"},
      {"not a url", "invalid data source URL"},
      {"http://localhost:8080/data", "must not target a local or metadata endpoint"},
      {"http://svc.localhost/data", "must not target a local or metadata endpoint"},
      {"http://metadata.google.internal/computeMetadata/v1/", "must not target a local or metadata endpoint"},
      {"http://169.254.169.254/latest/meta-data", "loopback, private, or link-local"},
      {"http://10.1.2.3/data", "loopback, private, or link-local"},
      {"http://172.20.0.1/data", "loopback, private, or link-local"},
      {"https://192.168.0.10/data", "loopback, private, or link-local"},
      {"http://127.0.0.1/data", "loopback, private, or link-local"},
      {"http://[::1]/data", "loopback, private, or link-local"},
      {"http://[fd00::1]/data", "loopback, private, or link-local"},
      {"http://[fe80::1%25eth0]/data", "loopback, private, or link-local"},
      {"http://[::ffff:10.0.0.1]/data", "loopback, private, or link-local"},
  };
  for (size_t i = 0; i < bad_urls.size(); ++i) {
    std::string url = bad_urls[i].first;
    c.push_back({"tuning_bad_url_" + std::to_string(i),
                 tun([url](json& m) { m["tuning"]["input"]["urls"] = {url}; }),
                 {},
                 bad_urls[i].second,
                 "tuning.input.urls[0]"});
  }
  c.push_back({"tuning_public_ip_url_ok",
               tun([](json& m) { m["tuning"]["input"]["urls"] = {"http://172.32.0.1/d.csv"}; }),
               {},
               ""});
  c.push_back({"tuning_uppercase_image",
               tun([](json& m) {
                 m["tuning"]["input"] = json{{"image", "docker.io/Org/Data:1"}};
               }),
               {},
               "must be lowercase"});
  c.push_back({"tuning_malformed_image",
               tun([](json& m) {
                 m["tuning"]["input"] = json{{"image", "my image:latest"}};
               }),
               {},
               "invalid reference format"});
  c.push_back({"tuning_output_both",
               tun([](json& m) {
                 m["tuning"]["output"]["volumeSource"] = json{{"emptyDir", json::object()}};
               }),
               {},
               "Exactly one of Volume or Image must be specified"});
  c.push_back({"tuning_output_volume_ok",
               tun([](json& m) {
                 m["tuning"]["output"] = json{{"volumeSource", {{"persistentVolumeClaim", {{"claimName", "out"}}}}}};
               }),
               {},
               ""});
  c.push_back({"tuning_output_image_without_secret",
               tun([](json& m) { m["tuning"]["output"].erase("imagePushSecret"); }),
               {},
               "Must specify imagePushSecret with destination image"});
  c.push_back(
      {"tuning_missing_input", tun([](json& m) { m["tuning"].erase("input"); }), {}, "missing field(s): Input"});
  c.push_back(
      {"tuning_missing_output", tun([](json& m) { m["tuning"].erase("output"); }), {}, "missing field(s): Output"});
  c.push_back(
      {"tuning_missing_preset", tun([](json& m) { m["tuning"].erase("preset"); }), {}, "missing field(s): Preset"});
  c.push_back({"tuning_unknown_preset",
               tun([](json& m) { m["tuning"]["preset"]["name"] = "gpt-7"; }),
               {},
               "Unsupported tuning preset name gpt-7"});
  c.push_back({"tuning_preset_without_tuning",
               tun([](json& m) { m["tuning"]["preset"]["name"] = "llama-3.1-8b-instruct"; }),
               {},
               "does not support tuning"});
  c.push_back({"tuning_multinode",
               tun([](json& m) { m["resource"]["count"] = 2; }),
               {},
               "Tuning does not currently support multinode configurations"});
  c.push_back({"tuning_partition",
               tun([](json& m) {
                 m["resource"]["partition"] = json{{"mode", "accelerator"}, {"count", 1}};
               }),
               {},
               "GPU partitioning is not supported for tuning workloads"});
  // Strict decoding (what the API server's schema rejects before the webhook runs).
  c.push_back({"schema_strength_number",
               inf([](json& m) {
                 json a = adapter("x");
                 a["strength"] = 0.5;
                 m["inference"]["adapters"] = json::array({adapter("w"), a});
               }),
               {},
               "expected a string",
               "inference.adapters[1].strength"});
  c.push_back({"schema_unknown_resource_field",
               inf([](json& m) { m["resource"]["gpus"] = 2; }),
               {},
               "unknown field \"gpus\"",
               "resource.gpus"});
  c.push_back({"schema_spec_wrapper",
               inf([](json& m) {
                 m["spec"] = json{{"resource", m["resource"]}};
               }),
               {},
               "unknown field \"spec\""});
  c.push_back({"schema_count_string", inf([](json& m) { m["resource"]["count"] = "2"; }), {}, "expected an integer"});
  c.push_back({"schema_bad_access_mode",
               inf([](json& m) { m["inference"]["preset"]["accessMode"] = "secret"; }),
               {},
               "Unsupported value: \"secret\""});
  c.push_back({"v1alpha1_quickstart", inf([](json& m) { m["apiVersion"] = "kaito.sh/v1alpha1"; }), {}, ""});
  c.push_back({"v1alpha1_has_no_partition",
               inf([](json& m) {
                 m["apiVersion"] = "kaito.sh/v1alpha1";
                 m["resource"]["partition"] = json{{"mode", "mig"}};
               }),
               {},
               "unknown field \"partition\""});
  c.push_back({"v1alpha1_has_no_model_access_secret",
               inf([](json& m) {
                 m["apiVersion"] = "kaito.sh/v1alpha1";
                 m["inference"]["preset"]["presetOptions"] = json{{"modelAccessSecret", "hf"}};
               }),
               {},
               "unknown field \"modelAccessSecret\""});
  c.push_back(
      {"unknown_api_version", inf([](json& m) { m["apiVersion"] = "kaito.sh/v1"; }), {}, "unsupported apiVersion"});
  return c;
}

class CreateTest : public ::testing::TestWithParam<CreateCase> {};

TEST_P(CreateTest, Verdict) {
  const CreateCase& tc = GetParam();
  Env env;
  if (tc.setup) tc.setup(env);
  Object ws = to_object(tc.manifest());
  std::vector<Violation> vs = validate_workspace_create(ws, env.ctx);
  if (tc.expect.empty()) {
    EXPECT_TRUE(vs.empty()) << "expected accepted, got:" << describe(vs);
    return;
  }
  auto hit = std::find_if(vs.begin(), vs.end(),
                          [&](const Violation& v) { return v.message.find(tc.expect) != std::string::npos; });
  ASSERT_NE(hit, vs.end()) << "expected a violation containing \"" << tc.expect << "\", got:" << describe(vs);
  if (!tc.field.empty()) {
    EXPECT_EQ(hit->field, tc.field);
  }
}

INSTANTIATE_TEST_SUITE_P(Rules, CreateTest, ::testing::ValuesIn(create_cases()),
                         [](const ::testing::TestParamInfo<CreateCase>& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------
// UPDATE.

struct UpdateCase {
  std::string name;
  std::function<json()> old_manifest;
  std::function<void(json&)> edit;  //!< turns the old manifest into the new one
  std::function<void(Env&)> setup;
  std::string expect;
  std::string field = "";
};

std::vector<UpdateCase> update_cases() {
  std::vector<UpdateCase> c;
  auto byo_old = [] {
    json m = inference_manifest();
    m["resource"].erase("instanceType");
    return m;
  };
  c.push_back({"no_change", inference_manifest, [](json&) {}, {}, ""});
  c.push_back({"toggle_inference_to_tuning",
               inference_manifest,
               [](json& m) {
                 m.erase("inference");
                 m["tuning"] = tuning_manifest()["tuning"];
               },
               {},
               "Inference field cannot be toggled once set",
               "inference"});
  c.push_back({"toggle_tuning_off",
               tuning_manifest,
               [](json& m) { m["tuning"] = nullptr; },
               {},
               "Tuning field cannot be toggled once set"});
  c.push_back({"count_changed",
               [] {
                 json m = inference_manifest();
                 m["resource"]["count"] = 1;
                 return m;
               },
               [](json& m) { m["resource"]["count"] = 2; },
               {},
               "field is immutable",
               "resource.count"});
  // The CRD defaults count to 1: writing 1 explicitly changes nothing, writing 2 changes it.
  c.push_back(
      {"count_default_made_explicit_ok", inference_manifest, [](json& m) { m["resource"]["count"] = 1; }, {}, ""});
  c.push_back({"count_changed_from_default",
               inference_manifest,
               [](json& m) { m["resource"]["count"] = 2; },
               {},
               "field is immutable",
               "resource.count"});
  c.push_back({"partition_changed",
               [] {
                 json m = inference_manifest();
                 m["resource"].erase("instanceType");
                 m["resource"]["partition"] = json{{"mode", "mig"}, {"profile", "1g.10gb"}};
                 return m;
               },
               [](json& m) { m["resource"]["partition"]["profile"] = "2g.20gb"; }, [](Env& e) { e.byo(); },
               "field is immutable", "resource.partition"});
  c.push_back({"label_selector_changed",
               inference_manifest,
               [](json& m) { m["resource"]["labelSelector"]["matchLabels"]["apps"] = "phi-4"; },
               {},
               "field is immutable",
               "resource.labelSelector"});
  c.push_back({"label_selector_same_as_in_expression_ok",
               inference_manifest,
               [](json& m) {
                 m["resource"]["labelSelector"] =
                     json{{"matchExpressions", {{{"key", "apps"}, {"operator", "In"}, {"values", {"phi-3"}}}}}};
               },
               {},
               ""});
  c.push_back(
      {"label_selector_exists_expression",
       inference_manifest,
       [](json& m) {
         m["resource"]["labelSelector"] = json{{"matchExpressions", {{{"key", "apps"}, {"operator", "Exists"}}}}};
       },
       {},
       "Only allow matchLabels or 'IN' matchExpression"});
  c.push_back({"instance_type_changed_nap",
               inference_manifest,
               [](json& m) { m["resource"]["instanceType"] = "Standard_NV36ads_A10_v5"; },
               {},
               "instanceType cannot be changed once set when node auto-provisioning is enabled"});
  c.push_back({"instance_type_cleared_nap",
               inference_manifest,
               [](json& m) { m["resource"].erase("instanceType"); },
               {},
               "instanceType is required when node auto-provisioning is enabled"});
  c.push_back({"instance_type_cleared_byo_ok", inference_manifest, [](json& m) { m["resource"].erase("instanceType"); },
               [](Env& e) { e.byo(); }, ""});
  c.push_back({"instance_type_set_byo", byo_old,
               [](json& m) { m["resource"]["instanceType"] = "Standard_NC24ads_A100_v4"; }, [](Env& e) { e.byo(); },
               "instanceType must be empty when node auto-provisioning is disabled"});
  c.push_back({"instance_type_changed_byo", inference_manifest,
               [](json& m) { m["resource"]["instanceType"] = "Standard_NV36ads_A10_v5"; }, [](Env& e) { e.byo(); },
               "instanceType cannot be changed once set"});
  c.push_back({"preset_changed",
               inference_manifest,
               [](json& m) { m["inference"]["preset"]["name"] = "phi-3-mini-128k-instruct"; },
               {},
               "field is immutable",
               "inference.preset"});
  c.push_back({"preset_access_mode_defaulted_ok",
               inference_manifest,
               [](json& m) { m["inference"]["preset"]["accessMode"] = "public"; },
               {},
               ""});
  c.push_back({"template_set",
               inference_manifest,
               [](json& m) {
                 m["inference"]["template"] = json{{"spec", json::object()}};
               },
               {},
               "field cannot be unset/set if it was set/unset",
               "inference.template"});
  c.push_back({"template_edited_ok",
               [] {
                 json m = inference_manifest();
                 m["inference"] = json{{"template", {{"spec", {{"containers", json::array()}}}}}};
                 return m;
               },
               [](json& m) {
                 m["inference"]["template"]["metadata"] = json{{"labels", {{"a", "b"}}}};
               },
               {},
               ""});
  c.push_back({"adapters_added_ok",
               inference_manifest,
               [](json& m) { m["inference"]["adapters"] = json::array({adapter("new-adapter")}); },
               {},
               ""});
  c.push_back({"adapters_duplicate",
               inference_manifest,
               [](json& m) {
                 m["inference"]["adapters"] = json::array({adapter("x"), adapter("x")});
               },
               {},
               "Duplicate adapter source name found: x"});
  c.push_back({"adapter_strength_out_of_range",
               inference_manifest,
               [](json& m) {
                 json a = adapter("x");
                 a["strength"] = "2";
                 m["inference"]["adapters"] = json::array({a});
               },
               {},
               "must be between 0 and 1"});
  c.push_back(
      {"config_changed_ok", inference_manifest, [](json& m) { m["inference"]["config"] = "other-config"; }, {}, ""});
  c.push_back({"tuning_preset_changed",
               tuning_manifest,
               [](json& m) { m["tuning"]["preset"]["name"] = "falcon-7b"; },
               {},
               "Preset cannot be changed"});
  c.push_back({"tuning_method_changed",
               tuning_manifest,
               [](json& m) { m["tuning"]["method"] = "lora"; },
               {},
               "Method cannot be changed"});
  c.push_back({"tuning_method_case_ok", tuning_manifest, [](json& m) { m["tuning"]["method"] = "QLoRA"; }, {}, ""});
  c.push_back({"tuning_input_name_changed",
               tuning_manifest,
               [](json& m) { m["tuning"]["input"]["name"] = "renamed"; },
               {},
               "During tuning Name field cannot be changed once set"});
  c.push_back({"tuning_input_urls_changed_ok",
               tuning_manifest,
               [](json& m) { m["tuning"]["input"]["urls"] = {"https://example.com/other.parquet"}; },
               {},
               ""});
  c.push_back({"tuning_output_bad_image",
               tuning_manifest,
               [](json& m) { m["tuning"]["output"]["image"] = "Bad Image"; },
               {},
               "Unable to parse output image reference"});
  c.push_back({"name_invalid_on_update",
               inference_manifest,
               [](json& m) { m["metadata"]["name"] = "Bad_Name"; },
               {},
               "RFC 1123 label"});
  return c;
}

class UpdateTest : public ::testing::TestWithParam<UpdateCase> {};

TEST_P(UpdateTest, Verdict) {
  const UpdateCase& tc = GetParam();
  Env env;
  if (tc.setup) tc.setup(env);
  json old_m = tc.old_manifest();
  json new_m = old_m;
  tc.edit(new_m);
  std::vector<Violation> vs = validate_workspace_update(to_object(old_m), to_object(new_m), env.ctx);
  if (tc.expect.empty()) {
    EXPECT_TRUE(vs.empty()) << "expected accepted, got:" << describe(vs);
    return;
  }
  auto hit = std::find_if(vs.begin(), vs.end(),
                          [&](const Violation& v) { return v.message.find(tc.expect) != std::string::npos; });
  ASSERT_NE(hit, vs.end()) << "expected a violation containing \"" << tc.expect << "\", got:" << describe(vs);
  if (!tc.field.empty()) {
    EXPECT_EQ(hit->field, tc.field);
  }
}

INSTANTIATE_TEST_SUITE_P(Rules, UpdateTest, ::testing::ValuesIn(update_cases()),
                         [](const ::testing::TestParamInfo<UpdateCase>& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------
// Warnings and building blocks.

TEST(AdmissionWarnings, ReservedLabelsAndBypass) {
  Env env;
  json m = inference_manifest();
  m["resource"]["labelSelector"]["matchLabels"]["kaito.sh/workspace"] = "other";
  auto warnings = admission_warnings(to_object(m), env.ctx);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("reserved KAITO label \"kaito.sh/workspace\""), std::string::npos);

  byo_a100_nodes(env);
  json big = inference_manifest();
  big["resource"].erase("instanceType");
  big["metadata"]["annotations"]["kaito.sh/bypass-resource-checks"] = "";
  big["inference"]["preset"] =
      json{{"name", "llama-3.3-70b-instruct"}, {"presetOptions", {{"modelAccessSecret", "hf"}}}};
  AdmissionResult r = review_workspace_create(to_object(big), env.ctx);
  EXPECT_TRUE(r.allowed()) << describe(r.violations);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].message.find("Bypassing resource check: Insufficient total GPU memory"), std::string::npos);
}

TEST(AdmissionContextLookups, EmptyLookupsSkipClusterChecks) {
  Env env;
  env.ctx.find_config_map = nullptr;
  env.ctx.find_nodes = nullptr;
  env.byo();
  json m = inference_manifest();
  m["resource"].erase("instanceType");
  m["inference"]["config"] = "not-there";
  EXPECT_TRUE(validate_workspace_create(to_object(m), env.ctx).empty());
}

TEST(AdmissionBuildingBlocks, ImageReferences) {
  for (const char* ok : {"ubuntu", "ubuntu:22.04", "library/ubuntu", "mcr.microsoft.com/aks/kaito/kaito-base:0.0.8",
                         "localhost:5000/data", "registry.io:443/a/b/c:v1.2-rc_3", "[::1]:5000/img",
                         "img@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}) {
    EXPECT_EQ(image_reference_error(ok), "") << ok;
  }
  EXPECT_NE(image_reference_error("Ubuntu").find("must be lowercase"), std::string::npos);
  EXPECT_EQ(image_reference_error("registry.io/a b"), "invalid reference format");
  EXPECT_EQ(image_reference_error("img:"), "invalid reference format");
  EXPECT_NE(image_reference_error(std::string(64, 'a')).find("64-byte hexadecimal"), std::string::npos);
}

TEST(AdmissionBuildingBlocks, Dns1123) {
  EXPECT_TRUE(dns1123_label_errors("workspace-phi-3-mini").empty());
  EXPECT_FALSE(dns1123_label_errors("-bad").empty());
  EXPECT_FALSE(dns1123_label_errors("a.b").empty());
  EXPECT_TRUE(dns1123_subdomain_errors("a.b-c").empty());
  EXPECT_FALSE(dns1123_subdomain_errors("A").empty());
  EXPECT_FALSE(dns1123_subdomain_errors(std::string(254, 'a')).empty());
}

TEST(AdmissionBuildingBlocks, DataSourceUrls) {
  EXPECT_EQ(data_source_url_error("https://huggingface.co/datasets/x/resolve/main/a.parquet"), "");
  EXPECT_EQ(data_source_url_error("HTTPS://Example.com/a"), "");
  EXPECT_EQ(data_source_url_error("http://user:pw@example.com:8080/a"), "");
  EXPECT_EQ(data_source_url_error("http:///a"), "invalid data source URL");
  EXPECT_EQ(data_source_url_error("https://instance-data.ec2.internal/x"),
            "data source URL must not target a local or metadata endpoint");
  EXPECT_EQ(data_source_url_error("http://224.0.0.251/x"),
            "data source URL must not target a loopback, private, or link-local address");
}

// ---------------------------------------------------------------------------------------------
// The typed Workspace view.

TEST(WorkspaceView, ParsesEveryField) {
  json m = inference_manifest();
  m["resource"]["count"] = 2;
  m["resource"]["preferredNodes"] = {"n1"};
  m["resource"]["partition"] = json{{"mode", "accelerator"}, {"count", 2}};
  m["inference"]["preset"]["presetOptions"] = json{{"modelAccessSecret", "hf"}, {"imagePullSecrets", {"s"}}};
  m["inference"]["config"] = "cfg";
  json a = adapter("ad");
  a["strength"] = "0.5";
  a["source"]["volumeSource"] = json{{"emptyDir", json::object()}};
  m["inference"]["adapters"] = json::array({a});
  kaito::WorkspaceSpec s = kaito::parse_workspace_spec(to_object(m));
  EXPECT_EQ(s.resource.count, 2);
  EXPECT_EQ(s.resource.instance_type, "Standard_NC24ads_A100_v4");
  EXPECT_EQ(s.resource.preferred_nodes, std::vector<std::string>{"n1"});
  ASSERT_TRUE(s.resource.partition);
  EXPECT_EQ(s.resource.partition->mode, "accelerator");
  EXPECT_EQ(s.resource.partition->count, 2);
  ASSERT_TRUE(s.inference && s.inference->preset);
  EXPECT_EQ(s.inference->preset->access_mode, "public");
  EXPECT_EQ(s.inference->preset->model_access_secret, "hf");
  EXPECT_EQ(s.inference->config, "cfg");
  ASSERT_EQ(s.inference->adapters.size(), 1u);
  EXPECT_EQ(s.inference->adapters[0].strength, "0.5");
  EXPECT_TRUE(s.inference->adapters[0].source.volume_source.contains("emptyDir"));
  EXPECT_FALSE(s.tuning);

  kaito::WorkspaceSpec t = kaito::parse_workspace_spec(to_object(tuning_manifest()));
  ASSERT_TRUE(t.tuning && t.tuning->input && t.tuning->output);
  EXPECT_EQ(t.tuning->method, "qlora");
  EXPECT_EQ(t.tuning->output->image_push_secret, "acr-secret");
}

TEST(WorkspaceView, TemplateIsSchemaless) {
  json m = inference_manifest();
  m["inference"] = json{{"template", {{"anything", {{"goes", 1}}}}}};
  kaito::WorkspaceSpec s = kaito::parse_workspace_spec(to_object(m));
  EXPECT_EQ(s.inference->template_["anything"]["goes"], 1);
}

TEST(WorkspaceView, FieldErrorsCarryPointers) {
  json m = inference_manifest();
  m["inference"]["adapters"] = json::array({adapter("a"), adapter("b")});
  m["inference"]["adapters"][1]["source"]["volumeSource"] = "pvc";
  try {
    kaito::parse_workspace_spec(to_object(m));
    FAIL() << "expected FieldError";
  } catch (const kaito::FieldError& e) {
    EXPECT_EQ(e.pointer(), "/inference/adapters/1/source/volumeSource");
  }
  json t = tuning_manifest();
  t["tuning"]["output"]["bucket"] = "s3://x";
  try {
    kaito::parse_workspace_spec(to_object(t));
    FAIL() << "expected FieldError";
  } catch (const kaito::FieldError& e) {
    EXPECT_EQ(e.pointer(), "/tuning/output/bucket");
  }
}

TEST(WorkspaceView, LabelsAndRuntime) {
  EXPECT_TRUE(kaito::is_reserved_label("kaito.sh/workspace"));
  EXPECT_TRUE(kaito::is_reserved_label("kaito.sh/ragenginenamespace"));
  EXPECT_TRUE(kaito::is_reserved_label("karpenter.kaito.sh/anything"));
  EXPECT_FALSE(kaito::is_reserved_label("kaito.sh/machine-type"));
  Labels l =
      kaito::sanitized_match_labels(json{{"matchLabels", {{"apps", "phi-3"}, {"kaito.sh/workspacenamespace", "x"}}}});
  EXPECT_EQ(l, (Labels{{"apps", "phi-3"}}));

  json m = inference_manifest();
  m["status"] = json{{"targetNodeCount", 3}};
  Object ws = to_object(m);
  EXPECT_TRUE(kaito::is_workspace(ws));
  EXPECT_EQ(kaito::runtime_of(ws), "vllm");
  EXPECT_EQ(kaito::target_node_count(ws), 3);
  ws.meta.annotations["kaito.sh/runtime"] = "transformers";
  EXPECT_EQ(kaito::runtime_of(ws), "transformers");
}

// ---------------------------------------------------------------------------------------------
// `ktwin validate` over tests/manifests/*.yaml. Each file starts with
//   # expect: accepted            or   # expect: rejected: <substring of the message>
// and may have a second line `# args: ...` ($DIR = the manifests folder).

struct ManifestExpectation {
  bool accepted = false;
  std::string substring;
  std::vector<std::string> args;
};

ManifestExpectation read_expectation(const fs::path& file) {
  std::ifstream in(file);
  std::string first, second;
  std::getline(in, first);
  std::getline(in, second);
  ManifestExpectation e;
  const std::string kAccepted = "# expect: accepted";
  const std::string kRejected = "# expect: rejected: ";
  if (first.rfind(kAccepted, 0) == 0) {
    e.accepted = true;
  } else if (first.rfind(kRejected, 0) == 0) {
    e.substring = first.substr(kRejected.size());
  } else {
    ADD_FAILURE() << file << ": first line must be '# expect: accepted' or '# expect: rejected: <text>'";
  }
  const std::string kArgs = "# args: ";
  if (second.rfind(kArgs, 0) == 0) {
    std::istringstream words(second.substr(kArgs.size()));
    std::string w;
    while (words >> w) {
      size_t pos = w.find("$DIR");
      if (pos != std::string::npos) w.replace(pos, 4, file.parent_path().string());
      e.args.push_back(w);
    }
  }
  return e;
}

int run_cli(std::vector<std::string> args, std::string* out) {
  args.insert(args.begin(), "ktwin validate");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  int rc = -1;
  try {
    rc = cli::run_validate(static_cast<int>(argv.size()), argv.data());
  } catch (const InputError& e) {
    rc = 2;
    *out = ::testing::internal::GetCapturedStdout() + "error: " + e.what();
    return rc;
  }
  *out = ::testing::internal::GetCapturedStdout();
  return rc;
}

TEST(ValidateCommand, ExampleManifests) {
  const fs::path dir = fs::path(KTWIN_SOURCE_DIR) / "tests" / "manifests";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 20u);
  for (const auto& f : files) {
    SCOPED_TRACE(f.filename().string());
    ManifestExpectation e = read_expectation(f);
    std::vector<std::string> args = e.args;
    args.push_back(f.string());
    std::string out;
    int rc = run_cli(args, &out);
    if (e.accepted) {
      EXPECT_EQ(rc, 0) << out;
      EXPECT_NE(out.find("ACCEPTED " + f.string() + ":"), std::string::npos) << out;
    } else {
      EXPECT_EQ(rc, 1) << out;
      EXPECT_NE(out.find("REJECTED " + f.string() + ":"), std::string::npos) << out;
      EXPECT_NE(out.find(e.substring), std::string::npos) << "missing \"" << e.substring << "\" in:\n" << out;
    }
  }
}

TEST(ValidateCommand, ReportsLineOfTheOffendingField) {
  const fs::path f = fs::path(KTWIN_SOURCE_DIR) / "tests" / "manifests" / "rejected-unknown-preset.yaml";
  std::string out;
  ASSERT_EQ(run_cli({f.string()}, &out), 1) << out;
  // The preset name sits on a known line of that file.
  std::ifstream in(f);
  std::string line;
  int n = 0, preset_line = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find("name: gpt-7") != std::string::npos) preset_line = n;
  }
  ASSERT_GT(preset_line, 0);
  EXPECT_NE(out.find(f.string() + ":" + std::to_string(preset_line) + " "), std::string::npos) << out;
}

TEST(ValidateCommand, JsonOutput) {
  const fs::path f = fs::path(KTWIN_SOURCE_DIR) / "tests" / "manifests" / "accepted-phi-3-quickstart.yaml";
  std::string out;
  ASSERT_EQ(run_cli({"--json", f.string()}, &out), 0) << out;
  json j = json::parse(out);
  ASSERT_EQ(j["results"].size(), 1u);
  EXPECT_EQ(j["results"][0]["verdict"], "accepted");
  EXPECT_EQ(j["results"][0]["name"], "workspace-phi-3-mini");
}

TEST(ValidateCommand, BadInputExitsTwoAndPrintsNothing) {
  const fs::path tmp = fs::temp_directory_path() / "ktwin-admission-bad.yaml";
  {
    std::ofstream o(tmp);
    o << "apiVersion: kaito.sh/v1beta1\nkind: Workspace\nmetadata: {name: x\n";
  }
  std::string out;
  EXPECT_EQ(run_cli({tmp.string()}, &out), 2);
  EXPECT_EQ(out.rfind("error: ", 0), 0u) << out;
  EXPECT_EQ(run_cli({"/nonexistent/ktwin.yaml"}, &out), 2);
  EXPECT_EQ(run_cli({"--cloud", "gcp", tmp.string()}, &out), 2);
  fs::remove(tmp);
}

TEST(ValidateCommand, UpdateWithOld) {
  const fs::path dir = fs::path(KTWIN_SOURCE_DIR) / "tests" / "manifests";
  std::string out;
  EXPECT_EQ(run_cli({"--old", (dir / "accepted-phi-3-quickstart.yaml").string(),
                     (dir / "update" / "phi-3-instance-type-changed.yaml").string()},
                    &out),
            1);
  EXPECT_NE(out.find("instanceType cannot be changed once set"), std::string::npos) << out;
  EXPECT_EQ(run_cli({"--old", (dir / "accepted-phi-3-quickstart.yaml").string(),
                     (dir / "update" / "phi-3-adapters-added.yaml").string()},
                    &out),
            0)
      << out;
}

TEST(ValidateCommand, Help) {
  std::string out;
  EXPECT_EQ(run_cli({"--help"}, &out), 0);
  EXPECT_NE(out.find("--node-provisioner"), std::string::npos) << out;
}

}  // namespace
}  // namespace ktwin::admission
