// Traffic on ready replicas: arrivals from the scenario's `traffic:` entries go through each
// workspace's Service to its ready endpoints (the pods its selector picks), each served by a vLLM-like
// ReplicaEngine (gpu_model/) sized from the pod's flags and its node's GPUs. Collects the vLLM
// benchmark metrics (TTFT, TPOT, ITL, E2EL, throughput) per workspace.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_model/kubelet.h"
#include "core/object.h"
#include "core/ports.h"
#include "sim/latency_samples.h"
#include "sim/run_data.h"
#include "sim/scenario.h"

namespace ktwin::catalog {
struct Catalog;
}

namespace ktwin::sim {

class Kernel;
class EventLog;

//! Reads an inference pod's flags and its node's GPUs (the kubelet model's reading).
using ProfileReader = std::function<cluster_model::AppProfile(const Object& pod, const Object* node)>;

class ServingModel {
 public:
  ServingModel(Kernel& kernel, Cluster& cluster, const Scenario& scenario, const catalog::Catalog& catalog,
               EventLog& log, uint64_t seed, ProfileReader profile);
  ~ServingModel();
  ServingModel(const ServingModel&) = delete;
  ServingModel& operator=(const ServingModel&) = delete;

  //! Watches pods and schedules the first arrivals. Throws InputError for an unreadable trace.
  void start();
  //! Lets engines finish the steps that started before the end of the run and stops counting.
  void finish(Time end);

  bool has_traffic() const { return !scenario_.traffic.empty(); }
  //! `metrics.<workspace>` of the run summary.
  json metrics_json() const;
  //! A metric of the vLLM benchmark vocabulary (known_metrics()) in its unit (seconds, tok/s, req/s,
  //! count); nullopt with `why` when the workspace served nothing to measure.
  std::optional<double> metric(const WorkspaceRef& ws, std::string_view name, std::string& why) const;
  //! Per-window series of every workspace with traffic (see docs/results.md for the names).
  std::vector<SeriesPoint> series() const;
  //! An evenly thinned sample of completed requests, at most a few thousand per workspace.
  std::vector<RequestSample> request_samples() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  const Scenario& scenario_;
};

}  // namespace ktwin::sim
