// The gpu-provisioner role (spec §5): turns each KAITO NodeClaim into one machine through the
// CloudProvider port and runs Karpenter's lifecycle on it: Launched -> Registered -> Initialized ->
// Ready, liveness (5 min to launch, 15 min to register), 10 min NotReady repair, termination with a
// finalizer, and the 2-minute garbage collection of leaked machines. In karpenter mode the same
// lifecycle runs the NodeClaims of per-workspace NodePools (Karpenter core + its cloud provider).
#pragma once
#include <string>

#include "core/k8s/events.h"
#include "core/presets/sku.h"
#include "core/runtime/controller.h"

namespace ktwin {

inline constexpr const char* kTerminationFinalizer = "karpenter.sh/termination";
inline constexpr const char* kLabelAgentPool = "agentpool";

struct NodeClaimLifecycleConfig {
  std::string cloud = "azure";
  Duration launch_timeout = 5 * kMinute;  //!< Launched=False this long after creation -> delete
  Duration registration_timeout = 15 * kMinute;
  Duration repair_after = 10 * kMinute;   //!< node Ready False/Unknown this long -> replace
  Duration poll_interval = 30 * kSecond;  //!< long-running cloud operations (Azure SDK poller default)
  Duration gc_interval = 2 * kMinute;
  Duration gc_min_age = 30 * kSecond;
};

class NodeClaimReconciler : public Reconciler {
 public:
  NodeClaimReconciler(Cluster& cluster, Clock& clock, CloudProvider& cloud, const SkuCatalog& skus,
                      EventRecorder& events, NodeClaimLifecycleConfig config);
  ~NodeClaimReconciler() override { *gc_alive_ = false; }
  ReconcileResult reconcile(const Request& req, std::optional<ReconcileError>& error) override;
  void setup_watches(Controller& controller);
  //! Starts the periodic garbage collection of machines without a NodeClaim.
  void start_garbage_collection(Executor& executor);
  //! One pass of the garbage collection (public for tests).
  void collect_garbage();

 private:
  ReconcileResult finalize(const Object& nc, std::optional<ReconcileError>& error);
  InstanceSpec instance_spec(const Object& nc, std::string& problem) const;

  Cluster& cluster_;
  Clock& clock_;
  CloudProvider& cloud_;
  const SkuCatalog& skus_;
  EventRecorder& events_;
  NodeClaimLifecycleConfig config_;
  std::shared_ptr<bool> gc_alive_ = std::make_shared<bool>(true);
};

}  // namespace ktwin
