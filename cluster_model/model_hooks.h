// How the simulated actors draw modelled durations and report what they do, without depending on
// the simulator's RNG or event log: the runner injects both.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/object.h"
#include "core/time.h"

namespace ktwin::cluster_model {

//! Draws a duration for a modelled phase ("vm_create", "image_pull", ...) of a given subject
//! (usually the instance type); deterministic under the simulator.
using DurationSampler = std::function<Duration(std::string_view phase, std::string_view subject)>;

//! Records a model-level event (not an API object change): kind, object name, what happened.
using ModelEventSink = std::function<void(std::string_view kind, std::string_view name, const std::string& what)>;

//! What the kubelet reads off a tuning pod: the inputs of the tuning time model.
struct TuningJobFacts {
  std::string model;                 //!< --model (HF id)
  std::string method;                //!< --method: lora | qlora
  int gpus = 1;                      //!< nvidia.com/gpu of the tuning container
  std::string instance_type;         //!< node.kubernetes.io/instance-type of the node ("" if unlabelled)
  Labels node_labels;                //!< for BYO GPU discovery (nvidia.com/gpu.*)
  std::string training_config_yaml;  //!< training_config.yaml of the mounted ConfigMap; "" when none
  std::vector<std::string> inputs;   //!< dataset URLs, or the input image
};

//! How a tuning pod's run goes: the dataset fetch, then the training until it exits.
struct TuningOutcome {
  bool dataset_available = true;
  Duration dataset_fetch = 0;  //!< data-downloader init container
  Duration run = 0;            //!< main container start -> exit (success or failure)
  int exit_code = 0;           //!< 0 succeeds
  std::string failure_reason;  //!< container termination reason when exit_code != 0 (OOMKilled, Error)
  std::string message;         //!< termination message, or a summary of the run
};

using TuningModel = std::function<TuningOutcome(const TuningJobFacts&)>;

}  // namespace ktwin::cluster_model
