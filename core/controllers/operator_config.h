// Settings of the operator core (flags of KAITO's controller), shared by both worlds.
#pragma once
#include <string>
#include <vector>

#include "core/time.h"

namespace ktwin {

enum class NodeProvisionerKind { kGpuProvisioner, kKarpenter, kByo };
const char* node_provisioner_name(NodeProvisionerKind k);
//! Accepts gpu-provisioner, azure-gpu-provisioner, karpenter, byo; false when unknown.
bool parse_node_provisioner(const std::string& s, NodeProvisionerKind& out);

//! The Karpenter NodeClass KAITO points its NodePools at (flags --karpenter-node-class-*; KAITO creates
//! the classes from a ConfigMap at start and picks the one labelled karpenter.kaito.sh/default=true).
struct KarpenterNodeClassConfig {
  std::string group;  //!< karpenter.azure.com | karpenter.k8s.aws
  std::string version;
  std::string kind;          //!< AKSNodeClass | EC2NodeClass
  std::string default_name;  //!< image-family-ubuntu on Azure
  std::vector<std::string> allowed_names;
};
KarpenterNodeClassConfig default_node_class_config(const std::string& cloud);

struct OperatorConfig {
  std::string cloud = "azure";  //!< CLOUD_PROVIDER: azure | aws | arc
  NodeProvisionerKind node_provisioner = NodeProvisionerKind::kGpuProvisioner;
  std::string preset_registry = "mcr.microsoft.com/aks/kaito";  //!< PRESET_REGISTRY_NAME
  std::string base_image_tag = "0.5.0";
  std::string release_namespace = "kaito-workspace";  //!< RELEASE_NAMESPACE
  int max_concurrent_reconciles = 5;
  Duration node_ready_requeue = 2 * kSecond;  //!< EnsureNodesReady polling while nodes come up
  Duration expectations_ttl = 5 * kMinute;    //!< NodeClaim creation expectations
  int revision_history_limit = 10;
  KarpenterNodeClassConfig node_class = default_node_class_config("azure");  //!< karpenter mode only

  bool nap() const { return node_provisioner != NodeProvisionerKind::kByo; }
};

}  // namespace ktwin
