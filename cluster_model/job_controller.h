// The batch/v1 Job controller of kube-controller-manager for single-pod Jobs (parallelism = completions
// = 1, which is what KAITO's tuning Jobs use), acting only through the Cluster port and controller runtime.
#pragma once
#include <memory>
#include <string>

#include "core/ports.h"

namespace ktwin::cluster_model {

struct JobControllerOptions {
  std::string namespace_;                //!< "" = all namespaces
  Duration backoff_base = 10 * kSecond;  //!< delay before the replacement of the n-th failed pod: base*2^(n-1)
  Duration backoff_max = 6 * kMinute;
};

//! Behaviour:
//! - one pod at a time, named by generateName "<job>-" + 5 characters; labels = template labels +
//!   job-name, controller-uid, batch.kubernetes.io/job-name, batch.kubernetes.io/controller-uid; controller
//!   ownerReference; restartPolicy Never unless the template sets OnFailure.
//! - a Failed pod is replaced (after the exponential backoff above) until more than spec.backoffLimit
//!   (default 6) pods have failed; then condition Failed=True, reason BackoffLimitExceeded, and active
//!   pods are deleted. spec.activeDeadlineSeconds -> Failed, reason DeadlineExceeded.
//! - a Succeeded pod -> status.succeeded = 1, condition Complete=True, completionTime.
//! - status.active / ready / failed / succeeded / startTime are kept up to date.
//! Failed pods are counted from the pods that still exist (status.failed never decreases); pods deleted
//! before finishing are replaced without counting as failures. Not modelled: completions/parallelism > 1,
//! indexed Jobs, pod failure policies, suspend, ttlSecondsAfterFinished, pod tracking finalizers.
class JobController {
 public:
  JobController(Cluster& cluster, Executor& executor, Clock& clock, JobControllerOptions opts = {});
  ~JobController();
  JobController(const JobController&) = delete;
  JobController& operator=(const JobController&) = delete;

  void start();
  void stop();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ktwin::cluster_model
