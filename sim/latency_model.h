// Modelled durations of provisioning and start-up phases, with defaults drawn from public figures
// (spec gpus-skus-coldstart.md §5, KAITO's 3-8 min node figure) and per-scenario overrides. Each
// phase draws from its own named RNG stream so adding a phase never shifts the others' samples.
#pragma once
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "sim/rng.h"
#include "sim/scenario.h"

namespace ktwin::sim {

struct PhaseInfo {
  std::string name;
  std::string help;
  DurationDist dist;
};

class LatencyModel {
 public:
  LatencyModel(uint64_t seed, const ProvisioningSpec& overrides);
  //! Draws a duration for `phase` of `subject` (an instance type, image or model id).
  Duration sample(std::string_view phase, std::string_view subject);
  //! The default phases and their distributions, for documentation and `--help`.
  static std::vector<PhaseInfo> defaults();

 private:
  DurationDist dist_for(std::string_view phase, std::string_view subject) const;
  double family_factor(std::string_view phase, std::string_view subject) const;

  uint64_t seed_;
  std::map<std::string, DurationDist, std::less<>> dists_;
  std::map<std::string, RngStream, std::less<>> streams_;
  std::set<std::string, std::less<>> overridden_;  //!< phases the scenario set: used as written
};

}  // namespace ktwin::sim
