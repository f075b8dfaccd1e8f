// KAITO's workspace controller (spec §4.2-§4.7): finalizer, ControllerRevision, frozen
// targetNodeCount, nodes through the node provisioner, Service + StatefulSet (or tuning Job), and
// the status engine recomputed from the world on every reconcile.
#pragma once
#include <map>
#include <memory>
#include <mutex>

#include "core/controllers/node_provisioner.h"
#include "core/controllers/operator_config.h"
#include "core/runtime/controller.h"

namespace ktwin {

class WorkspaceReconciler : public Reconciler {
 public:
  WorkspaceReconciler(Cluster& cluster, Clock& clock, const PresetRegistry& presets, const SkuCatalog& skus,
                      EventRecorder& events, OperatorConfig config);
  ReconcileResult reconcile(const Request& req, std::optional<ReconcileError>& error) override;

  //! Wires the watches KAITO's controller sets up (Workspace, owned objects, NodeClaims, pods).
  void setup_watches(Controller& controller);
  const OperatorConfig& config() const { return config_; }

 private:
  struct Outcome {
    ReconcileResult result;
    std::optional<ReconcileError> error;
  };

  Outcome reconcile_deletion(const Object& ws);
  Status ensure_finalizer(ObjectPtr& ws);
  Status sync_controller_revision(ObjectPtr& ws);
  Status ensure_target_node_count(ObjectPtr& ws, const kaito::WorkspaceSpec& spec);
  Outcome add_or_update(const Object& ws, const kaito::WorkspaceSpec& spec);
  Status ensure_services(const Object& ws, bool vllm);
  Status apply_inference(const Object& ws, const kaito::WorkspaceSpec& spec);
  Status apply_tuning(const Object& ws, const kaito::WorkspaceSpec& spec);
  //! Recomputes status from the world; writes only when it changed. Conflicts are retried.
  Status sync_status(const Request& req, const std::optional<ReconcileError>& err);

  std::optional<GpuConfig> gpu_config_for(const Object& ws, const kaito::WorkspaceSpec& spec);
  std::optional<int64_t> user_max_model_len(const Object& ws, const kaito::WorkspaceSpec& spec);
  const ModelPreset* preset_of(const kaito::WorkspaceSpec& spec) const;
  double disk_gib(const kaito::WorkspaceSpec& spec) const;

  Cluster& cluster_;
  Clock& clock_;
  const PresetRegistry& presets_;
  const SkuCatalog& skus_;
  EventRecorder& events_;
  OperatorConfig config_;
  CreationExpectations expectations_;
  std::mutex hash_mu_;
  std::map<std::string, std::pair<int64_t, std::string>> synced_revisions_;  //!< uid -> (generation, hash)
  std::unique_ptr<NodeProvisioner> provisioner_;
};

//! Pod failure classification for InferenceReady (spec §4.5), or "" when nothing is wrong.
std::string classify_pod_failure(const Object& pod, std::string& message);

}  // namespace ktwin
