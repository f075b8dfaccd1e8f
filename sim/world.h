// The parts of a cluster the twin models, wired onto any Cluster, Executor and Clock: the kernel and object
// store in `ktwin run`, a real API server and the (sped-up) wall clock in `ktwin twin`. The cloud behind the
// gpu-provisioner (or Karpenter), the device plugin, scheduler, kubelets, and the StatefulSet, Job and
// garbage-collection controllers; each can be left out when the cluster already runs the real one.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "cluster_model/model_hooks.h"
#include "core/controllers/operator_config.h"
#include "core/ports.h"
#include "core/runtime/controller.h"
#include "sim/scenario.h"

namespace ktwin {
class EventRecorder;
}
namespace ktwin::admission {
struct AdmissionContext;
}
namespace ktwin::cluster_model {
class SimCloud;
class Kubelet;
}  // namespace ktwin::cluster_model

namespace ktwin::sim {

struct WorldParts {
  bool cloud = true;  //!< the cloud and the provisioner role (gpu-provisioner, or Karpenter's NodePools)
  bool device_plugin = true;
  bool scheduler = true;
  bool kubelet = true;
  bool statefulset = true;
  bool job = true;
  bool gc = true;
  //! The node-lifecycle controller's condition taints: a real API server taints new Nodes not-ready
  //! (TaintNodesByCondition) and the controller-manager lifts it once Ready. Only the twin plays it.
  bool node_lifecycle = true;
};

//! Parses "cloud,scheduler,..." (or "all", or "-gc" style removals from all) into parts.
//! Throws std::invalid_argument naming an unknown part.
WorldParts parse_world_parts(const std::string& spec);
std::string world_parts_text(const WorldParts& parts);

struct WorldConfig {
  std::string cloud = "azure";
  std::string region = "eastus";
  NodeProvisionerKind provisioner = NodeProvisionerKind::kGpuProvisioner;
  WorldParts parts;
  std::map<std::string, int64_t> quota;                //!< machines per SKU
  const std::vector<DatasetSpec>* datasets = nullptr;  //!< for tuning Jobs
};

//! What `kubectl apply` of `manifest` onto `existing` leaves: the manifest's spec, labels and annotations,
//! with what the server and controllers own kept (status, uid, finalizers, KAITO's workspace annotations).
Object apply_onto(const Object& existing, const Object& manifest);

//! The core's provisioner kind for a scenario's `node_provisioner`.
NodeProvisionerKind node_provisioner_of(ProvisionerKind kind);

//! The operator settings a scenario's cluster implies: its cloud, that cloud's default Karpenter node
//! class, and its node provisioner (the rest as KAITO's defaults).
OperatorConfig operator_config_of(const ClusterSpec& cluster);

//! Points the admission context's ConfigMap and Node lookups at `api`; looked-up objects stay in `pins`
//! until the caller clears it after the review.
void lookups_from(Cluster& api, std::vector<ObjectPtr>& pins, admission::AdmissionContext& ctx);

class World {
 public:
  //! `api`: what the modelled actors use. `provisioner_api`: what the core's provisioner roles use (the
  //! simulator may put injected faults there). `events` records the provisioner's Events.
  World(Cluster& api, Cluster& provisioner_api, Executor& executor, Clock& clock, const catalog::Catalog& catalog,
        WorldConfig config, const cluster_model::DurationSampler& sample, const cluster_model::ModelEventSink& sink,
        EventRecorder& events);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  //! Starts the enabled modelled actors' watches and timers.
  void start();
  //! Starts the provisioner roles (NodeClaim lifecycle and its garbage collection, NodePools). Separate from
  //! start() so the simulator keeps its order of watch registration, and with it the event log.
  void start_provisioner();
  //! Pre-existing nodes of the scenario (created by whoever owns nodes: the twin creates them too).
  static Object preexisting_node(const NodeSpec& spec, const std::string& name, const SkuCatalog& skus,
                                 const std::string& cloud, Time now);
  //! Karpenter mode: the NodeClasses KAITO creates at start, reported Ready as the provider would.
  void create_node_classes(const std::function<void(const std::string& name, const std::string& what)>& record);

  //! One timeline action (not `apply`, which the caller does with its own admission): reports what
  //! happened through `record`, once per outcome (a fail-node action may name several nodes).
  void perform(const TimelineAction& action, const std::function<void(const ManifestSource&)>& apply,
               const std::function<void(const std::string&)>& record);

  cluster_model::SimCloud* cloud();   //!< nullptr when the cloud part is off
  cluster_model::Kubelet* kubelet();  //!< nullptr when the kubelet part is off
  const WorldConfig& config() const { return config_; }
  ControllerStats nodeclaim_stats() const;

  struct Parts;

 private:
  Cluster& api_;
  Clock& clock_;
  WorldConfig config_;
  std::unique_ptr<Parts> parts_;
};

}  // namespace ktwin::sim
