// A Cluster decorator that injects the failures a real API server produces (409 conflicts on
// writes, 429/503 on any call) with seeded, deterministic randomness. Wrap the operator's view of the
// cluster with it to prove reconcilers converge without duplicating work.
#pragma once
#include <cstdint>

#include "core/ports.h"

namespace ktwin::cluster_model {

struct FaultOptions {
  double conflict_rate = 0;     //!< fraction of update/update_status/patch calls answered 409
  double unavailable_rate = 0;  //!< fraction of all calls answered 503 (or 429 every other time)
  uint64_t seed = 1;
};

struct FaultStats {
  uint64_t calls = 0;
  uint64_t conflicts = 0;
  uint64_t unavailable = 0;
};

class FaultyCluster : public Cluster {
 public:
  FaultyCluster(Cluster& inner, FaultOptions opts)
      : inner_(inner), opts_(opts), state_(opts.seed * 0x9e3779b97f4a7c15ULL + 1) {}

  Result<ObjectPtr> get(std::string_view kind, std::string_view ns, std::string_view name) override;
  Result<std::vector<ObjectPtr>> list(std::string_view kind, const ListOptions& opts) override;
  Result<ObjectPtr> create(Object obj) override;
  Result<ObjectPtr> update(Object obj) override;
  Result<ObjectPtr> update_status(Object obj) override;
  Result<ObjectPtr> patch(std::string_view kind, std::string_view ns, std::string_view name, const json& merge_patch,
                          bool status) override;
  Status remove(std::string_view kind, std::string_view ns, std::string_view name, const DeleteOptions& opts) override;
  Status bind_pod(std::string_view ns, std::string_view name, std::string_view node_name) override;
  std::unique_ptr<WatchSubscription> watch(std::string_view kind, std::string_view ns, WatchHandler handler) override {
    return inner_.watch(kind, ns, std::move(handler));
  }
  FaultStats stats() const { return stats_; }

 private:
  double next_unit();  // splitmix64 -> [0, 1)
  std::optional<Error> fault(bool write, std::string_view kind, std::string_view name);

  Cluster& inner_;
  FaultOptions opts_;
  uint64_t state_;
  FaultStats stats_;
};

}  // namespace ktwin::cluster_model
