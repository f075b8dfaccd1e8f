// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules: a Lease held by someone
// else counts as expired only when this process has seen it unchanged for leaseDurationSeconds (its own
// clock, so clock skew between nodes cannot steal leadership), writes use the Lease's resourceVersion
// (two candidates cannot both win), and a leader that stops releases the Lease for a fast hand-over.
#pragma once
#include <optional>
#include <string>

#include "core/ports.h"

namespace ktwin::live {

struct LeaderElectionConfig {
  std::string namespace_ = "kaito-system";
  std::string name = "kaito-twin-operator";
  std::string identity;  //!< unique per process, e.g. "<pod name>_<random>"
  Duration lease_duration = 15 * kSecond;
  //! For the loop that drives the lock (the operator process): a leader that cannot renew for this long
  //! steps down; rounds run every retry_period.
  Duration renew_deadline = 10 * kSecond;
  Duration retry_period = 2 * kSecond;
};

class LeaseLock {
 public:
  LeaseLock(Cluster& cluster, Clock& clock, LeaderElectionConfig config);

  //! One round: creates the Lease if absent, takes it over if its holder let it expire, renews it if
  //! ours. True when this process holds the Lease afterwards.
  bool try_acquire_or_renew();
  //! Clears the holder if we hold the Lease, so a successor need not wait out the lease duration.
  void release();

  bool leading() const { return leading_; }
  const std::string& observed_holder() const { return observed_holder_; }
  const LeaderElectionConfig& config() const { return config_; }

 private:
  Cluster& cluster_;
  Clock& clock_;
  LeaderElectionConfig config_;
  bool leading_ = false;
  std::string observed_spec_;  //!< the Lease spec as last seen (JSON), to notice renewals
  std::string observed_holder_;
  Time observed_at_ = 0;  //!< our clock when the spec last changed
};

//! metav1.MicroTime as the API writes it: "2026-12-04T15:30:00.123456Z".
std::string format_micro_time(Time t);

}  // namespace ktwin::live
