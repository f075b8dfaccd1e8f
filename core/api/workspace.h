// Typed view of a KAITO Workspace (kaito.sh/v1alpha1 and v1beta1): no `spec`; top-level `resource`,
// `inference`, `tuning` and `status`. Names of labels, annotations and conditions KAITO uses.
#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/k8s/selector.h"
#include "core/object.h"

namespace ktwin::kaito {

inline constexpr const char* kGroup = "kaito.sh";
inline constexpr const char* kV1alpha1 = "kaito.sh/v1alpha1";
inline constexpr const char* kV1beta1 = "kaito.sh/v1beta1";

// Labels and annotations.
inline constexpr const char* kLabelWorkspace = "kaito.sh/workspace";
inline constexpr const char* kLabelWorkspaceNamespace = "kaito.sh/workspacenamespace";
inline constexpr const char* kLabelMachineType = "kaito.sh/machine-type";
inline constexpr const char* kAnnotationRuntime = "kaito.sh/runtime";
inline constexpr const char* kAnnotationBypassResourceChecks = "kaito.sh/bypass-resource-checks";
inline constexpr const char* kAnnotationEnableLB = "kaito.sh/enablelb";
inline constexpr const char* kAnnotationNodeImageFamily = "kaito.sh/node-image-family";
inline constexpr const char* kAnnotationNodeClassName = "kaito.sh/node-class-name";
// Karpenter mode (per-workspace NodePool): ownership labels on the NodePool, its NodeClaims and nodes.
inline constexpr const char* kLabelKarpenterWorkspaceName = "karpenter.kaito.sh/workspace-name";
inline constexpr const char* kLabelKarpenterWorkspaceNamespace = "karpenter.kaito.sh/workspace-namespace";
inline constexpr const char* kLabelKarpenterManagedBy = "karpenter.kaito.sh/managed-by";
inline constexpr const char* kLabelCreatedByInferenceSet = "inferenceset.kaito.sh/created-by";
inline constexpr const char* kAnnotationHash = "workspace.kaito.io/hash";
inline constexpr const char* kAnnotationRevision = "workspace.kaito.io/revision";
inline constexpr const char* kLabelRevisionWorkspaceName = "workspace.kaito.io/name";
inline constexpr const char* kFinalizer = "workspace.finalizer.kaito.sh";

// Condition types.
inline constexpr const char* kCondNodeClaimReady = "NodeClaimReady";
inline constexpr const char* kCondNodesReady = "NodesReady";
inline constexpr const char* kCondResourceReady = "ResourceReady";
inline constexpr const char* kCondInferenceReady = "InferenceReady";
inline constexpr const char* kCondJobStarted = "JobStarted";
inline constexpr const char* kCondWorkspaceSucceeded = "WorkspaceSucceeded";
inline constexpr const char* kCondWorkspaceDeleting = "WorkspaceDeleting";

struct DataSource {
  std::string name;
  std::vector<std::string> urls;
  json volume_source;  //!< null when absent
  std::string image;
  std::vector<std::string> image_pull_secrets;
};

struct DataDestination {
  json volume_source;
  std::string image;
  std::string image_push_secret;
};

struct Adapter {
  DataSource source;
  std::optional<std::string> strength;
};

struct PresetSpec {
  std::string name;
  std::string access_mode;  //!< public | private
  std::string image;
  std::vector<std::string> image_pull_secrets;
  std::string model_access_secret;
};

struct Partition {
  std::string mode;  //!< mig | accelerator
  std::string profile;
  int count = 0;
};

struct ResourceSpec {
  std::optional<int> count;
  std::string instance_type;
  json label_selector;  //!< raw, as written
  std::vector<std::string> preferred_nodes;
  std::optional<Partition> partition;
};

struct InferenceSpec {
  std::optional<PresetSpec> preset;
  json template_;  //!< PodTemplateSpec; null when absent
  std::string config;
  std::vector<Adapter> adapters;
};

struct TuningSpec {
  std::optional<PresetSpec> preset;
  std::string method;
  std::string config;
  std::optional<DataSource> input;
  std::optional<DataDestination> output;
};

struct WorkspaceSpec {
  ResourceSpec resource;
  std::optional<InferenceSpec> inference;
  std::optional<TuningSpec> tuning;
};

//! A structural problem (wrong type) at a JSON pointer inside the object, e.g. "/resource/count".
class FieldError : public std::runtime_error {
 public:
  FieldError(std::string pointer, const std::string& message)
      : std::runtime_error(message), pointer_(std::move(pointer)) {}
  const std::string& pointer() const { return pointer_; }

 private:
  std::string pointer_;
};

//! Parses the typed spec; throws FieldError on wrong types or unknown fields.
WorkspaceSpec parse_workspace_spec(const Object& ws);

bool is_workspace(const Object& obj);
//! "vllm" unless annotated kaito.sh/runtime=transformers.
std::string runtime_of(const Object& ws);
//! status.targetNodeCount or 0.
int target_node_count(const Object& ws);
//! Effective matchLabels of the selector with reserved keys removed (KAITO strips them).
Labels sanitized_match_labels(const json& label_selector);
bool is_reserved_label(const std::string& key);
//! The workspace a NodeClaim (or node) was made for: KAITO's kaito.sh/workspace(+namespace) labels, or in
//! karpenter mode the NodePool template's karpenter.kaito.sh/workspace-name(-namespace). False if neither.
bool owning_workspace(const Object& obj, std::string& namespace_, std::string& name);

}  // namespace ktwin::kaito
