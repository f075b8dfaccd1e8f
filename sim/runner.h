// Runs a scenario in the simulated cluster: wires the operator core (workspace controller, the
// gpu-provisioner role) and the simulated world (API server, scheduler, kubelets, device plugin,
// StatefulSet/Job/GC controllers, cloud) onto one discrete-event kernel, applies the scenario's
// manifests and timeline, and checks its expectations.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "sim/event_log.h"
#include "sim/run_data.h"
#include "sim/scenario.h"

namespace ktwin::cluster_model {
class ObjectStore;
}

namespace ktwin::sim {

class Kernel;

struct RunOptions {
  std::optional<uint64_t> seed;   //!< overrides the scenario's seed
  bool record_k8s_events = true;  //!< create core/v1 Event objects as controllers do
  //! Faults injected between the operator core and the API server (the world's actors are spared).
  double operator_conflict_rate = 0;
  double operator_unavailable_rate = 0;
  //! Non-zero: same-time events run in a seeded random order (flushes out order dependence).
  uint64_t shuffle_ties_seed = 0;
  //! When set, told of every API call the KAITO operator's part of the core makes (the workspace
  //! controller and its event recorder; not the gpu-provisioner or Karpenter roles) in RBAC's terms:
  //! API group, resource ("workspaces/status", "pods/binding") and verb. deploy/rbac.yaml is checked
  //! against it.
  std::function<void(std::string_view group, std::string_view resource, std::string_view verb)> audit_operator_calls;
  //! False: the world runs without KAITO's workspace controller, leaving Workspaces to an external
  //! operator (`ktwin serve --controllers none`); the cloud, gpu-provisioner, nodes and kubelets still run.
  bool builtin_operator = true;
  //! Replaces running the kernel to the scenario's end: called once the world is wired and the scenario
  //! scripted, it runs the kernel (e.g. paced by the wall clock while serving the store over HTTP) and
  //! returns the virtual time it stopped at. The kernel is single-threaded: the driver serialises access.
  std::function<Time(Kernel& kernel, cluster_model::ObjectStore& store)> drive;
};

struct ExpectationResult {
  std::string text;
  bool passed = false;
  std::string detail;  //!< what was observed
};

struct RunOutcome {
  std::string scenario;
  uint64_t seed = 0;
  Duration sim_end = 0;
  std::vector<LogEntry> log;
  std::string events_jsonl;
  std::string fingerprint;
  std::vector<ExpectationResult> expectations;
  bool passed = true;
  std::string tables;  //!< final kubectl-style tables
  json summary;        //!< the --summary-json document
  uint64_t kernel_events = 0;
  size_t rejected = 0;                         //!< manifests the API server refused (admission)
  std::vector<SeriesPoint> series;             //!< per-window traffic series (results database)
  std::vector<RequestSample> request_samples;  //!< thinned per-request timings (results database)
};

RunOutcome run_scenario(const Scenario& scenario, const catalog::Catalog& catalog, const RunOptions& options = {});

}  // namespace ktwin::sim
