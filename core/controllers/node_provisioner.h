// KAITO's node-provisioner abstraction (pkg/nodeprovision): gets nodes for a workspace and reports
// NodeClaimReady / NodesReady / ResourceReady. Backends: gpu-provisioner (NodeClaims), karpenter
// (a NodePool per workspace) and BYO.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/api/workspace.h"
#include "core/controllers/operator_config.h"
#include "core/k8s/conditions.h"
#include "core/k8s/events.h"
#include "core/ports.h"
#include "core/presets/model_preset.h"
#include "core/presets/sku.h"

namespace ktwin {

//! Counts NodeClaim creations the watch has not confirmed yet (controller-runtime "expectations"),
//! so a reconcile racing its own creates does not create twice.
class CreationExpectations {
 public:
  explicit CreationExpectations(Duration ttl) : ttl_(ttl) {}
  void expect(const std::string& key, int count, Time now);
  void observed(const std::string& key);
  void lower(const std::string& key);  //!< a create failed
  bool satisfied(const std::string& key, Time now) const;
  void forget(const std::string& key);

 private:
  struct Entry {
    int pending = 0;
    Time since = 0;
  };
  Duration ttl_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

struct NodesReadiness {
  bool ready = false;
  bool requeue = false;  //!< poll again after 2 s (nodes/plugins are not watched)
};

struct ProvisionContext {
  const Object& ws;
  const kaito::WorkspaceSpec& spec;
  int target_nodes = 0;
  double disk_gib = 0;
  //! Lists memoized for one reconcile; the provisioner drops them after its own writes.
  mutable std::optional<std::vector<ObjectPtr>> owned_nodes;
  mutable std::optional<std::vector<ObjectPtr>> nodeclaims;
};

class NodeProvisioner {
 public:
  virtual ~NodeProvisioner() = default;
  virtual Status provision_nodes(const ProvisionContext& ctx) = 0;
  virtual Result<NodesReadiness> ensure_nodes_ready(const ProvisionContext& ctx) = 0;
  virtual Status delete_nodes(const Object& ws) = 0;
  //! Conditions this provisioner owns (NodeClaimReady, NodesReady, ResourceReady) and workerNodes.
  virtual Result<std::vector<Condition>> collect_conditions(const ProvisionContext& ctx,
                                                            std::vector<std::string>& worker_nodes) = 0;
  //! Condition types this provisioner writes; others of the family are removed from status.
  virtual std::vector<std::string> condition_types() const = 0;
};

struct ProvisionerDeps {
  Cluster& cluster;
  Clock& clock;
  EventRecorder& events;
  const SkuCatalog& skus;
  const OperatorConfig& config;
  CreationExpectations& expectations;
};

std::unique_ptr<NodeProvisioner> make_node_provisioner(const ProvisionerDeps& deps);

//! Nodes that carry the workspace's sanitized matchLabels (+ ownership labels with NAP).
Result<std::vector<ObjectPtr>> workspace_nodes(Cluster& cluster, const Object& ws, bool with_ownership_labels);
Result<std::vector<ObjectPtr>> nodes_with_labels(Cluster& cluster, const Labels& labels);
bool node_is_ready(const Object& node);
//! Key used for expectations: "namespace/name".
std::string workspace_key(const Object& ws);

}  // namespace ktwin
