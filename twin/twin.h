// `ktwin twin`: the simulated cluster's world (cloud behind the gpu-provisioner, nodes and their heartbeats,
// device plugin, scheduler, kubelets, StatefulSet/Job/GC controllers) played against any Kubernetes API
// server, KWOK-style, on the wall clock sped up `speed` times, so a real control plane and any operator
// can be exercised without a GPU. Optionally it also applies a scenario's manifests and timeline.
#pragma once
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "catalog/catalog.h"
#include "live/http_client.h"
#include "live/kubeconfig.h"
#include "live/live_cluster.h"
#include "live/log.h"
#include "sim/scenario.h"
#include "sim/world.h"

namespace ktwin::twin {

struct TwinOptions {
  live::RestConfig rest;
  live::HttpOptions http;
  live::LiveClusterOptions informers;
  double speed = 1;  //!< virtual seconds per wall-clock second
  //! Manifests, timeline, cluster settings (cloud, region, provisioner, quota, nodes, delays, seed);
  //! nullptr: an Azure cluster in eastus with the gpu-provisioner and nothing applied.
  const sim::Scenario* scenario = nullptr;
  sim::WorldParts parts = sim::parse_world_parts("all");
  std::optional<uint64_t> seed;                //!< overrides the scenario's
  Duration until = 0;                          //!< > 0: stop this long (virtual) after start
  Duration heartbeat_interval = 10 * kSecond;  //!< node Lease renewals (kubelet's default)
};

struct TwinStatus {
  bool started = false;
  uint64_t applied = 0;         //!< manifests created or updated
  uint64_t apply_failures = 0;  //!< rejected (client-side admission or by the server)
  uint64_t heartbeats = 0;
  uint64_t model_events = 0;  //!< what the modelled actors reported (pull done, model loaded, VM created...)
};

class Twin {
 public:
  Twin(TwinOptions options, const catalog::Catalog& catalog, live::Logger& log);
  ~Twin();
  Twin(const Twin&) = delete;
  Twin& operator=(const Twin&) = delete;

  //! Plays the world until stop() or `until`; returns 0, or 2 when the API server cannot be reached.
  int run();
  //! Thread-safe and idempotent.
  void stop();
  TwinStatus status() const;

  struct State;

 private:
  TwinOptions options_;
  const catalog::Catalog& catalog_;
  live::Logger& log_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  TwinStatus status_;
};

//! Virtual time running `speed` times as fast as the wall clock, from the wall-clock time at construction.
class ScaledClock final : public Clock {
 public:
  explicit ScaledClock(double speed);
  Time now() const override;
  double speed() const { return speed_; }
  //! A wall-clock time (e.g. a timestamp the API server stamped) on this clock's timeline.
  Time from_wall(Time wall) const;

 private:
  double speed_;
  Time origin_;
  std::chrono::steady_clock::time_point steady_origin_;
};

}  // namespace ktwin::twin
