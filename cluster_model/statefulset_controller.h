// The StatefulSet controller of kube-controller-manager, acting only through the Cluster port and the
// controller runtime: stable pod names <sts>-<i>, OrderedReady / Parallel pod management, RollingUpdate
// from the highest ordinal one pod at a time, scale down from the top, replacement of lost or finished pods.
#pragma once
#include <memory>
#include <string>

#include "core/ports.h"

namespace ktwin::cluster_model {

struct StatefulSetControllerOptions {
  std::string namespace_;  //!< "" = all namespaces
};

//! Behaviour (as apps/v1 StatefulSet, with partition and OnDelete honoured):
//! - pods <sts>-<i>, i in [0, spec.replicas) (default 1): template labels + statefulset.kubernetes.io/pod-name,
//!   apps.kubernetes.io/pod-index, controller-revision-hash; controller ownerReference; hostname = pod name,
//!   subdomain = spec.serviceName; restartPolicy Always unless the template says otherwise.
//! - OrderedReady (default) creates one pod at a time and waits for it to be Running and Ready (condition
//!   Ready=True); Parallel creates all at once.
//! - the revision is "<sts>-<hash of spec.template>"; RollingUpdate deletes pods of another revision from
//!   the highest ordinal down, one at a time, waiting until the replacement is Running and Ready.
//! - scale down deletes the highest ordinals (OrderedReady: one at a time, each gone before the next).
//! - Failed or Succeeded pods are deleted and recreated; vanished pods are recreated.
//! - status: observedGeneration, replicas, readyReplicas, availableReplicas (= ready; minReadySeconds is
//!   ignored), currentReplicas, updatedReplicas, currentRevision, updateRevision, collisionCount.
//! Not modelled: volumeClaimTemplates (no PVCs are created), ControllerRevision objects, maxUnavailable,
//! minReadySeconds, adoption of orphaned pods.
class StatefulSetController {
 public:
  StatefulSetController(Cluster& cluster, Executor& executor, Clock& clock, StatefulSetControllerOptions opts = {});
  ~StatefulSetController();
  StatefulSetController(const StatefulSetController&) = delete;
  StatefulSetController& operator=(const StatefulSetController&) = delete;

  void start();
  void stop();

  //! The revision name the controller gives pods of this StatefulSet's current template.
  static std::string revision_of(const Object& statefulset);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ktwin::cluster_model
