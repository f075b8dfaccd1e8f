// `ktwin serve`: a scenario's simulated cluster, paced by the wall clock and served as a Kubernetes API,
// with the core's controllers in-process or left to an external operator.
#pragma once
#include <atomic>
#include <functional>
#include <mutex>
#include <string>

#include "catalog/catalog.h"
#include "serve/paced_driver.h"
#include "serve/rest_server.h"
#include "sim/runner.h"
#include "sim/scenario.h"

namespace ktwin::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 0;  //!< 0: any free port
  double speed = 1;
  //! False (`--controllers none`): no workspace controller; an external operator reconciles Workspaces
  //! while the twin plays the cloud and gpu-provisioner, the nodes, kubelets and device plugin.
  bool builtin_controllers = true;
  Duration until = 0;  //!< > 0: stop at this virtual time since the scenario's start
  RestServerOptions server;
  //! Called once the API is listening (from the serving thread).
  std::function<void(RestServer& server)> on_ready;
  //! Called when serving ends, with the world's API server (lock held), e.g. to snapshot its objects.
  std::function<void(Cluster& store)> on_finish;
};

class ScenarioServer {
 public:
  ScenarioServer(const sim::Scenario& scenario, const catalog::Catalog& catalog, ServeOptions options);
  //! Serves until stop() or `until`; returns the run's outcome (expectations, tables) at that point.
  //! Throws std::runtime_error when the address cannot be bound.
  sim::RunOutcome run();
  //! Thread-safe; run() returns soon after.
  void stop();
  //! The API server while run() is serving (else nullptr); stop()/start() it to play a restart.
  RestServer* server();
  //! The API server's counters when serving ended.
  RestServerStats final_stats() const { return final_stats_; }

 private:
  const sim::Scenario& scenario_;
  const catalog::Catalog& catalog_;
  ServeOptions options_;
  PacedDriver driver_;
  std::mutex mu_;
  RestServer* server_ = nullptr;
  bool stop_requested_ = false;
  RestServerStats final_stats_;
};

}  // namespace ktwin::serve
