// `ktwin operator`: the core's workspace controller on a real (or served) Kubernetes API, on wall-clock
// time with worker threads, behind an optional Lease leader election, with /healthz, /readyz and
// Prometheus /metrics, structured logs, and a clean stop that releases the Lease.
#pragma once
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "catalog/catalog.h"
#include "core/controllers/operator_config.h"
#include "live/http_client.h"
#include "live/kubeconfig.h"
#include "live/leader_election.h"
#include "live/live_cluster.h"
#include "live/log.h"

namespace ktwin::live {

struct OperatorOptions {
  RestConfig rest;
  HttpOptions http;
  LiveClusterOptions informers;
  OperatorConfig core;          //!< cloud, node provisioner, max concurrent reconciles
  std::string watch_namespace;  //!< "" : all namespaces
  bool leader_elect = false;
  LeaderElectionConfig election;                //!< identity filled in when empty
  std::string metrics_addr = "127.0.0.1:8080";  //!< HOST:PORT (port 0: any); "0" or "": no HTTP endpoint
  bool record_events = true;                    //!< core/v1 Events, as KAITO's controller records them
};

//! Counters for /metrics and tests.
struct OperatorStatus {
  bool leading = false;
  bool ready = false;
  uint64_t reconciles = 0;
  uint64_t reconcile_errors = 0;
  uint64_t requeues = 0;
  size_t queue_depth = 0;
  uint64_t cache_reads = 0;  //!< controller reads answered by the informer cache
  uint64_t api_reads = 0;    //!< and by the API server (kinds without a synced informer)
};

class Operator {
 public:
  Operator(OperatorOptions options, const catalog::Catalog& catalog, Logger& log);
  ~Operator();
  Operator(const Operator&) = delete;
  Operator& operator=(const Operator&) = delete;

  //! Serves the health/metrics endpoint, waits for leadership (when electing), runs the controller until
  //! stop(), then stops it and releases the Lease. Returns 0 after stop(), 1 when leadership was lost
  //! (the process should exit so a successor takes over), 3 when the metrics address cannot be bound.
  int run();
  //! Thread-safe and idempotent.
  void stop();

  //! The metrics endpoint's port once run() has bound it (0 before, or when disabled).
  int metrics_port() const { return metrics_port_.load(); }
  OperatorStatus status() const;
  //! The Prometheus text exposition served at /metrics.
  std::string metrics_text() const;

  struct State;

 private:
  OperatorOptions options_;
  const catalog::Catalog& catalog_;
  Logger& log_;
  std::unique_ptr<State> state_;
  std::atomic<int> metrics_port_{0};
};

}  // namespace ktwin::live
