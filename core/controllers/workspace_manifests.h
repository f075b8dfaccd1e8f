// The objects a Workspace owns, built exactly as KAITO builds them (spec §4.3, §4.4): NodeClaims,
// the Service and headless Service, the inference StatefulSet and ControllerRevisions.
#pragma once
#include <string>

#include "core/api/workspace.h"
#include "core/controllers/operator_config.h"
#include "core/controllers/vllm_command.h"
#include "core/object.h"

namespace ktwin {

inline constexpr const char* kNodeClaimNodePool = "kaito";
inline constexpr const char* kLabelNodePool = "karpenter.sh/nodepool";
inline constexpr const char* kLabelInstanceType = "node.kubernetes.io/instance-type";
inline constexpr const char* kLabelPodName = "statefulset.kubernetes.io/pod-name";
inline constexpr const char* kResourceGpu = "nvidia.com/gpu";

//! "ws" + first 9 hex chars of sha256(namespace + name + timestamp + attempt): 11 characters, a valid
//! AKS agent-pool name. `attempt` keeps names unique when several are made at the same instant.
std::string nodeclaim_name(const std::string& ns, const std::string& name, Time now, int attempt);

Object build_nodeclaim(const Object& ws, const kaito::WorkspaceSpec& spec, const OperatorConfig& cfg,
                       const std::string& name, double disk_gib);

//! Karpenter mode: the workspace's NodePool is "<namespace>-<name>", cut to 253 characters with a
//! 9-hex-digit sha256 suffix when longer.
std::string nodepool_name(const std::string& ns, const std::string& name);

//! The per-workspace Karpenter NodePool (static capacity: spec.replicas) KAITO creates in karpenter mode.
Object build_nodepool(const Object& ws, const kaito::WorkspaceSpec& spec, const OperatorConfig& cfg,
                      const std::string& node_class_name, int64_t replicas);

Object build_service(const Object& ws, bool vllm);
Object build_headless_service(const Object& ws);

struct WorkloadInput {
  const ModelPreset* preset = nullptr;  //!< nullptr for template workspaces
  GpuConfig gpu;
  int replicas = 1;
  std::string runtime = "vllm";
  int64_t revision = 1;
  std::optional<int64_t> user_max_model_len;
};

//! The inference StatefulSet of a preset or template workspace.
Object build_inference_statefulset(const Object& ws, const kaito::WorkspaceSpec& spec, const OperatorConfig& cfg,
                                   const WorkloadInput& in);

//! The tuning Job of a tuning workspace.
Object build_tuning_job(const Object& ws, const kaito::WorkspaceSpec& spec, const OperatorConfig& cfg,
                        const WorkloadInput& in);

//! sha256 over JSON(resource) + JSON(inference) + JSON(tuning), hex.
std::string workspace_spec_hash(const Object& ws);

Object build_controller_revision(const Object& ws, const std::string& hash, int64_t revision);

//! Required node affinity labels for workload pods, and the selector of a workspace's nodes: user
//! matchLabels plus the provisioner's ownership labels (kaito.sh/workspace for gpu-provisioner,
//! karpenter.kaito.sh/workspace-name for karpenter, none for BYO).
Labels workload_node_labels(const Object& ws, const OperatorConfig& cfg);

}  // namespace ktwin
