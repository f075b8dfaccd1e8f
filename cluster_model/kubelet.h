// The kubelets of every simulated node, and what runs in their containers: image pulls (with a
// per-node image cache), init containers, the inference server's start-up (weight download, load,
// engine init), probes, OOM crash loops, Job pods that run to completion, graceful termination and
// dead nodes. Acts only through the Cluster port.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "cluster_model/model_hooks.h"
#include "core/ports.h"
#include "core/presets/model_preset.h"
#include "core/presets/sku.h"

namespace ktwin::cluster_model {

//! What the kubelet model reads off a pod to predict its start-up.
struct AppProfile {
  enum class Kind { kGeneric, kVllm, kTransformers, kTuning } kind = Kind::kGeneric;
  std::string model;       //!< HF id or preset name from the command line
  double weights_gib = 0;  //!< 0 when unknown
  int gpus = 0;            //!< nvidia.com/gpu limit of the main container
  int tensor_parallel = 1;
  int pipeline_parallel = 1;
  int data_parallel = 1;
  double gpu_memory_utilization = 0.9;
  int64_t max_model_len = 0;  //!< --max-model-len; 0 when not given
  bool fits_in_gpu_memory = true;
  std::string oom_detail;
};

class Kubelet {
 public:
  Kubelet(Cluster& cluster, Executor& executor, Clock& clock, const PresetRegistry& presets, const SkuCatalog& skus,
          std::string cloud, DurationSampler sample, ModelEventSink sink);
  void start();
  void stop();

  //! Until `until`, pulls of images from `registry` fail (ErrImagePull, then ImagePullBackOff).
  void set_registry_outage(const std::string& registry, Time until) { registry_outages_[registry] = until; }
  //! The registry host of an image reference ("docker.io" when none is named).
  static std::string registry_of(const std::string& image);

  //! Reads the inference server's configuration from the pod and the node's GPUs.
  AppProfile profile(const Object& pod, const Object* node) const;
  //! Predicts tuning Jobs (dataset fetch, training time, failures); without one a tuning run is a
  //! "tuning_job" duration draw that always succeeds.
  void set_tuning_model(TuningModel model) { tuning_model_ = std::move(model); }
  //! The tuning model's inputs, read off a tuning pod, its node and its training ConfigMap.
  TuningJobFacts tuning_facts(const Object& pod, const Object* node) const;

 private:
  struct Run {
    std::string ns, name, node;
    uint64_t epoch = 0;
    int restarts = 0;
    bool weights_cached = false;  //!< emptyDir survives container restarts
    bool terminating = false;
    int pull_failures = 0;  //!< consecutive failed pulls: drives the image back-off
    Time container_start = 0;
    std::optional<TuningOutcome> tuning{};  //!< decided once per pod, when its data is fetched or it starts
  };

  void on_pod(const WatchEvent& ev);
  void on_node(const WatchEvent& ev);
  void begin(const Object& pod);
  void run_init_containers(const std::string& uid, uint64_t epoch, size_t index);
  void pull_main_images(const std::string& uid, uint64_t epoch);
  void start_containers(const std::string& uid, uint64_t epoch);
  const TuningOutcome& tuning_outcome(const std::string& uid, const Object& pod);
  //! Pod with restartPolicy Never whose init container exited non-zero: the pod fails.
  void init_failed(const std::string& uid, const std::string& container, int exit_code, const std::string& message);
  void crash(const std::string& uid, uint64_t epoch, const std::string& reason, int exit_code,
             const std::string& message);
  void terminate(const std::string& uid);
  bool current(const std::string& uid, uint64_t epoch) const;
  //! Applies `fn` to the pod's status and writes it; false when the pod is gone or changed identity.
  bool write_status(const std::string& uid, const std::function<void(Object&)>& fn);
  Duration pull_time(const std::string& node, const std::string& image, Duration& out_total);
  //! When `image` cannot be pulled now: records ErrImagePull/ImagePullBackOff on the container and
  //! returns the back-off before the next attempt; 0 when the pull can proceed.
  Duration pull_blocked(const std::string& uid, const std::string& image, const std::string& container, bool init);

  Cluster& cluster_;
  Executor& executor_;
  Clock& clock_;
  const PresetRegistry& presets_;
  const SkuCatalog& skus_;
  std::string cloud_;
  DurationSampler sample_;
  ModelEventSink sink_;
  TuningModel tuning_model_;
  std::map<std::string, Run> runs_;                            //!< by pod uid
  std::map<std::string, std::map<std::string, Time>> images_;  //!< node -> image -> time its pull completes
  std::set<std::string> dead_nodes_;
  std::map<std::string, Time> registry_outages_;
  uint64_t next_ip_ = 0;
  std::unique_ptr<WatchSubscription> pod_watch_, node_watch_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace ktwin::cluster_model
