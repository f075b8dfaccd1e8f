// The kube-scheduler for the simulated cluster, acting only through the Cluster port and the controller
// runtime: filters nodes (readiness, cordon, taints, nodeSelector/affinity, resources), bin-packs GPUs,
// binds, and reports unschedulable pods with the scheduler's own message. Works against a real API too.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/ports.h"
#include "core/runtime/controller.h"

namespace ktwin::cluster_model {

//! Resource name -> amount in milli-units (Kubernetes MilliValue).
using ResourceList = std::map<std::string, int64_t>;

//! A Kubernetes quantity in milli-units, rounded up: "500m" -> 500, "4" -> 4000, "1Gi" -> 2^30*1000,
//! "1G" -> 10^9*1000, "1e3" -> 10^6. Accepts JSON strings and numbers; nullopt when malformed.
std::optional<int64_t> parse_quantity_milli(const json& q);

//! What the scheduler counts for a pod spec: per resource, the larger of the sum over containers
//! (requests, else limits, as the API server defaults them) and the largest init container, plus
//! spec.overhead; and "pods" = 1 (1000 milli).
ResourceList pod_requests(const json& pod_spec);

//! Kubernetes toleration matching of `taint` against a pod's spec.tolerations (null or array).
bool tolerates(const json& tolerations, const Taint& taint);

//! The taint the node lifecycle controller keeps on a Node until it is Ready (NoSchedule).
inline constexpr const char* kNotReadyTaintKey = "node.kubernetes.io/not-ready";

struct SchedulerOptions {
  std::string scheduler_name = "default-scheduler";  //!< pods naming another scheduler are left alone
  std::string gpu_resource = "nvidia.com/gpu";       //!< the resource bin-packing scores on
};

struct SchedulerStats {
  uint64_t bound = 0;
  uint64_t unschedulable = 0;  //!< failed attempts
  uint64_t bind_errors = 0;
  size_t pending = 0;  //!< pods waiting for a node now
};

//! Filters, in the kube-scheduler's plugin order (the first failing one is the node's reason; every
//! insufficient resource counts): node being deleted; spec.unschedulable unless tolerated; NoSchedule /
//! NoExecute taints, with a not-Ready node carrying node.kubernetes.io/not-ready:NoSchedule as the node
//! lifecycle controller would taint it; nodeSelector and required node affinity; resources against
//! status.allocatable (else capacity; absent = 0; "pods" only when the node declares it), counting
//! bound non-terminated pods. Score: most GPUs already requested on the node, ties by name.
//! Unschedulable pods get PodScheduled=False/Unschedulable and are retried when a node is added or
//! changes or a pod on a node goes away, but only if that node now fits their kind of pod.
//! Not modelled: pod (anti-)affinity, topology spread, preemption, volume binding, host ports.
//! Indexes are fed by watches and binds are assumed at once (like the real scheduler's cache), so a
//! decision costs O(nodes that may fit) instead of a list of pods.
class Scheduler {
 public:
  Scheduler(Cluster& cluster, Executor& executor, Clock& clock, SchedulerOptions opts = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void start();
  void stop();
  SchedulerStats stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ktwin::cluster_model
