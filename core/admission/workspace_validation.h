// KAITO's validating admission webhook for Workspaces (kaito.sh/v1alpha1 and v1beta1): every
// create- and update-time rule, world-agnostic — the caller supplies catalogs and cluster lookups.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/k8s/selector.h"
#include "core/object.h"
#include "core/presets/model_preset.h"
#include "core/presets/sku.h"

namespace ktwin::admission {

//! Default ConfigMaps KAITO's chart installs in its release namespace.
inline constexpr const char* kDefaultInferenceConfigTemplate = "inference-params-template";
inline constexpr const char* kDefaultLoraConfigTemplate = "lora-params-template";
inline constexpr const char* kDefaultQloraConfigTemplate = "qlora-params-template";
inline constexpr const char* kInferenceConfigKey = "inference_config.yaml";
inline constexpr const char* kTrainingConfigKey = "training_config.yaml";
inline constexpr int kMaxAdapters = 10;

//! What the webhook knows about its world. Lookups may be empty: the checks that need them are
//! then skipped (no cluster to ask), never failed.
struct AdmissionContext {
  const PresetRegistry* presets = nullptr;            //!< required
  const SkuCatalog* skus = nullptr;                   //!< required for NAP instance-type checks
  std::string cloud = "azure";                        //!< CLOUD_PROVIDER: azure, aws, arc
  bool node_auto_provisioning = true;                 //!< false = BYO (feature gate disableNodeAutoProvisioning)
  bool enable_mig = false;                            //!< feature gate enableMIG
  bool enable_accelerator = false;                    //!< feature gate enableAccelerator
  std::string release_namespace = "kaito-workspace";  //!< where the default config templates live
  //! ConfigMap by namespace/name, nullptr when absent. When a default template (config unset) is
  //! not found it is assumed to be the chart's stock one and not checked.
  std::function<const Object*(std::string_view ns, std::string_view name)> find_config_map;
  //! Nodes matching a selector (reserved keys already stripped), for BYO checks.
  std::function<std::vector<const Object*>(const LabelSelector&)> find_nodes;
};

//! One rejection (or warning): `field` is the dotted path KAITO reports ("inference.preset.name",
//! "metadata.annotations[kaito.sh/runtime]"; empty for object-level rules), `pointer` the JSON
//! pointer into the manifest used to find the line ("/inference/preset/name").
struct Violation {
  std::string field;
  std::string message;
  std::string pointer;
  bool operator==(const Violation&) const = default;
};

struct AdmissionResult {
  std::vector<Violation> violations;  //!< any => the request is denied
  std::vector<Violation> warnings;    //!< admission warnings (reserved labels stripped, bypassed checks)
  bool allowed() const { return violations.empty(); }
};

//! CREATE: name, schema (strict decoding), inference/tuning, resource, annotations, ConfigMaps.
AdmissionResult review_workspace_create(const Object& ws, const AdmissionContext& ctx);
//! UPDATE: immutability of the resource/preset/tuning fields and the adapter rules. Like KAITO,
//! create-only checks (SKU, GPU memory, ConfigMaps) are not re-run.
AdmissionResult review_workspace_update(const Object& old_ws, const Object& new_ws, const AdmissionContext& ctx);

std::vector<Violation> validate_workspace_create(const Object& ws, const AdmissionContext& ctx);
std::vector<Violation> validate_workspace_update(const Object& old_ws, const Object& new_ws,
                                                 const AdmissionContext& ctx);
//! Warning messages a CREATE of `ws` would return.
std::vector<std::string> admission_warnings(const Object& ws, const AdmissionContext& ctx);

//! "field: message" (or just the message when field is empty).
std::string to_string(const Violation& v);

// Building blocks, exposed for other validators (RAGEngine, InferenceSet) and for tests.
//! Kubernetes IsDNS1123Label / IsDNS1123Subdomain: empty when valid, else the error messages.
std::vector<std::string> dns1123_label_errors(std::string_view value);
std::vector<std::string> dns1123_subdomain_errors(std::string_view value);
//! distribution/reference ParseDockerRef: empty when valid, else the error.
std::string image_reference_error(std::string_view ref);
//! Tuning data URLs: http(s) only, no localhost, private, link-local or cloud-metadata hosts.
//! Empty when valid, else the error.
std::string data_source_url_error(std::string_view url);

}  // namespace ktwin::admission
