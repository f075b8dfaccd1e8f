// Karpenter's static-capacity NodePool controller (the cluster side of karpenter mode): keeps
// spec.replicas NodeClaims stamped from the NodePool's template; the NodeClaim lifecycle then
// launches, registers, heals and terminates them.
#pragma once
#include "core/k8s/events.h"
#include "core/runtime/controller.h"

namespace ktwin {

class NodePoolReconciler : public Reconciler {
 public:
  NodePoolReconciler(Cluster& cluster, Clock& clock, EventRecorder& events)
      : cluster_(cluster), clock_(clock), events_(events) {}
  ReconcileResult reconcile(const Request& req, std::optional<ReconcileError>& error) override;
  void setup_watches(Controller& controller);

 private:
  Cluster& cluster_;
  Clock& clock_;
  EventRecorder& events_;
  uint64_t created_ = 0;  //!< salts NodeClaim names made at the same instant
};

//! "<pool>-<5 lowercase letters/digits>", as Karpenter names the NodeClaims of a pool.
std::string karpenter_nodeclaim_name(const std::string& pool, Time now, uint64_t salt);

}  // namespace ktwin
