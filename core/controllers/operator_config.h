// Settings of the operator core (flags of KAITO's controller), shared by both worlds.
#pragma once
#include <string>

#include "core/time.h"

namespace ktwin {

enum class NodeProvisionerKind { kGpuProvisioner, kKarpenter, kByo };
const char* node_provisioner_name(NodeProvisionerKind k);
//! Accepts gpu-provisioner, azure-gpu-provisioner, karpenter, byo; false when unknown.
bool parse_node_provisioner(const std::string& s, NodeProvisionerKind& out);

struct OperatorConfig {
  std::string cloud = "azure";  //!< CLOUD_PROVIDER: azure | aws | arc
  NodeProvisionerKind node_provisioner = NodeProvisionerKind::kGpuProvisioner;
  std::string preset_registry = "mcr.microsoft.com/aks/kaito";  //!< PRESET_REGISTRY_NAME
  std::string base_image_tag = "0.5.0";
  std::string release_namespace = "kaito-workspace";            //!< RELEASE_NAMESPACE
  int max_concurrent_reconciles = 5;
  Duration node_ready_requeue = 2 * kSecond;      //!< EnsureNodesReady polling while nodes come up
  Duration expectations_ttl = 5 * kMinute;        //!< NodeClaim creation expectations
  int revision_history_limit = 10;

  bool nap() const { return node_provisioner != NodeProvisionerKind::kByo; }
};

}  // namespace ktwin
