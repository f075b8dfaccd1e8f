#include "cluster_model/kubelet.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/k8s/conditions.h"

namespace ktwin::cluster_model {

namespace {

std::string command_line(const json& container) {
  std::string out;
  for (const char* key : {"command", "args"})
    if (container.contains(key) && container[key].is_array())
      for (const auto& part : container[key])
        if (part.is_string()) out += part.get<std::string>() + " ";
  return out;
}

// The value of "--flag=value" or "--flag value" in a shell command line ("" when absent).
std::string flag_value(const std::string& cmd, const std::string& flag) {
  const std::string needle = "--" + flag;
  for (size_t pos = cmd.find(needle); pos != std::string::npos; pos = cmd.find(needle, pos + 1)) {
    const size_t end = pos + needle.size();
    if (pos > 0 && cmd[pos - 1] != ' ') continue;
    if (end >= cmd.size() || (cmd[end] != '=' && cmd[end] != ' ')) continue;
    const size_t start = end + 1;
    size_t stop = start;
    while (stop < cmd.size() && cmd[stop] != ' ' && cmd[stop] != ';') ++stop;
    if (stop > start) return cmd.substr(start, stop - start);
  }
  return std::string();
}

int int_flag(const std::string& cmd, const std::string& flag, int fallback) {
  const std::string v = flag_value(cmd, flag);
  if (v.empty()) return fallback;
  try {
    return std::stoi(v);
  } catch (const std::exception&) {
    return fallback;
  }
}

int64_t quantity_int(const json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    try {
      return std::stoll(v.get<std::string>());
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

int probe_int(const json& probe, const char* key, int fallback) {
  return probe.is_object() && probe.contains(key) && probe[key].is_number_integer() ? probe[key].get<int>() : fallback;
}

json set_pod_condition(json& status, const char* type, const char* st, Time now, const std::string& reason = "") {
  json& conds = status["conditions"];
  set_condition(conds, Condition{type, st, reason, "", 0, 0}, now);
  return conds;
}

// The kubelet's back-off for crash loops and image pulls alike: 10 s after the first failure,
// doubling, at most 5 minutes.
Duration kubelet_backoff(int earlier_failures) {
  Duration backoff = 10 * kSecond;
  for (int i = 0; i < earlier_failures && backoff < 300 * kSecond; ++i) backoff *= 2;
  return std::min<Duration>(backoff, 300 * kSecond);
}

}  // namespace

Kubelet::Kubelet(Cluster& cluster, Executor& executor, Clock& clock, const PresetRegistry& presets,
                 const SkuCatalog& skus, std::string cloud, DurationSampler sample, ModelEventSink sink)
    : cluster_(cluster),
      executor_(executor),
      clock_(clock),
      presets_(presets),
      skus_(skus),
      cloud_(std::move(cloud)),
      sample_(std::move(sample)),
      sink_(std::move(sink)) {}

void Kubelet::start() {
  node_watch_ = cluster_.watch("Node", "", [this](const WatchEvent& ev) { on_node(ev); });
  pod_watch_ = cluster_.watch("Pod", "", [this](const WatchEvent& ev) { on_pod(ev); });
}

void Kubelet::stop() {
  *alive_ = false;
  pod_watch_.reset();
  node_watch_.reset();
}

bool Kubelet::current(const std::string& uid, uint64_t epoch) const {
  auto it = runs_.find(uid);
  return *alive_ && it != runs_.end() && it->second.epoch == epoch && !dead_nodes_.count(it->second.node);
}

bool Kubelet::write_status(const std::string& uid, const std::function<void(Object&)>& fn) {
  auto it = runs_.find(uid);
  if (it == runs_.end()) return false;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto got = cluster_.get("Pod", it->second.ns, it->second.name);
    if (!got || (*got)->meta.uid != uid) return false;
    Object pod = *got.value();
    fn(pod);
    auto r = cluster_.update_status(std::move(pod));
    if (r) return true;
    if (!r.is(ErrorCode::kConflict)) return false;
  }
  return false;
}

AppProfile Kubelet::profile(const Object& pod, const Object* node) const {
  AppProfile p;
  const json& containers = pod.at("/spec/containers");
  if (!containers.is_array() || containers.empty()) return p;
  const json& main = containers[0];
  const std::string cmd = command_line(main);
  if (main.contains("resources"))
    for (const char* section : {"limits", "requests"})
      if (main["resources"].contains(section) && main["resources"][section].contains("nvidia.com/gpu")) {
        p.gpus = static_cast<int>(quantity_int(main["resources"][section]["nvidia.com/gpu"]));
        break;
      }
  if (cmd.find("fine_tuning.py") != std::string::npos) {
    p.kind = AppProfile::Kind::kTuning;
    p.model = flag_value(cmd, "model");
  } else if (cmd.find("inference_api.py") != std::string::npos) {
    const bool vllm = cmd.find("/vllm/") != std::string::npos;
    p.kind = vllm ? AppProfile::Kind::kVllm : AppProfile::Kind::kTransformers;
    p.model = flag_value(cmd, vllm ? "model" : "pretrained_model_name_or_path");
    p.tensor_parallel = int_flag(cmd, "tensor-parallel-size", vllm ? 1 : std::max(1, p.gpus));
    p.pipeline_parallel = int_flag(cmd, "pipeline-parallel-size", 1);
    p.data_parallel = int_flag(cmd, "data-parallel-size", 1);
    p.max_model_len = int_flag(cmd, "max-model-len", 0);
    const std::string util = flag_value(cmd, "gpu-memory-utilization");
    p.gpu_memory_utilization = vllm ? 0.9 : 1.0;
    try {
      if (!util.empty()) p.gpu_memory_utilization = std::stod(util);  // may be a shell variable
    } catch (const std::exception&) {
    }
  }
  if (const ModelPreset* preset = presets_.find(p.model)) p.weights_gib = preset->weights_gib;

  // Does the model fit? Each GPU holds 1/(TP*PP) of the weights (all of them with data parallelism)
  // plus the runtime's fixed overhead, within the memory vLLM may use.
  if (node && p.weights_gib > 0 && p.kind != AppProfile::Kind::kGeneric) {
    std::optional<GpuConfig> gpu;
    if (const std::string* it = node->meta.label("node.kubernetes.io/instance-type"))
      if (const Sku* sku = skus_.find(cloud_, *it)) gpu = sku->gpu;
    if (!gpu) gpu = gpu_config_from_node_labels(node->meta.labels);
    if (gpu && gpu->per_gpu_memory_gib() > 0) {
      const int shards = p.data_parallel > 1 ? 1 : std::max(1, p.tensor_parallel * p.pipeline_parallel);
      const double need = p.weights_gib * 1.02 / shards + 2.3;
      const double avail = gpu->per_gpu_memory_gib() * std::min(1.0, p.gpu_memory_utilization);
      if (need > avail) {
        p.fits_in_gpu_memory = false;
        char buf[200];
        std::snprintf(buf, sizeof buf, "CUDA out of memory: needs %.1f GiB per GPU, %.1f GiB usable", need, avail);
        p.oom_detail = buf;
      }
    }
  }
  return p;
}

void Kubelet::on_node(const WatchEvent& ev) {
  const Object& node = *ev.object;
  if (ev.type == WatchEventType::kDeleted) {
    dead_nodes_.erase(node.meta.name);
    images_.erase(node.meta.name);
    return;
  }
  const std::string ready = condition_status(node.at("/status/conditions"), "Ready");
  const bool was_dead = dead_nodes_.count(node.meta.name) > 0;
  // A node that had been Ready and is now Unknown lost its kubelet (VM failure).
  if (ready == "Unknown" && !was_dead) {
    dead_nodes_.insert(node.meta.name);
    // The node lifecycle controller marks the pods on an unreachable node not ready.
    for (auto& [uid, run] : runs_) {
      if (run.node != node.meta.name) continue;
      const std::string u = uid;
      auto got = cluster_.get("Pod", run.ns, run.name);
      if (!got) continue;
      Object pod = *got.value();
      json& status = pod.mut("/status");
      set_pod_condition(status, "Ready", "False", clock_.now(), "NodeNotReady");
      (void)cluster_.update_status(std::move(pod));
    }
  } else if (ready == "True" && was_dead) {
    dead_nodes_.erase(node.meta.name);
  }
}

void Kubelet::on_pod(const WatchEvent& ev) {
  const Object& pod = *ev.object;
  const std::string& uid = pod.meta.uid;
  if (ev.type == WatchEventType::kDeleted) {
    auto it = runs_.find(uid);
    if (it != runs_.end()) runs_.erase(it);
    return;
  }
  const std::string node = pod.str("/spec/nodeName");
  if (node.empty()) return;
  auto it = runs_.find(uid);
  if (pod.meta.deletion_timestamp) {
    if (it == runs_.end()) {
      runs_[uid] = Run{pod.meta.namespace_, pod.meta.name, node};
      it = runs_.find(uid);
    }
    if (!it->second.terminating) terminate(uid);
    return;
  }
  if (it != runs_.end()) return;  // already running its lifecycle
  const std::string phase = pod.str("/status/phase");
  if (phase == "Succeeded" || phase == "Failed") return;
  begin(pod);
}

void Kubelet::terminate(const std::string& uid) {
  Run& run = runs_[uid];
  run.terminating = true;
  const uint64_t epoch = ++run.epoch;
  if (dead_nodes_.count(run.node)) return;  // nobody left to confirm; pod GC removes it with the node
  executor_.post_after(sample_("pod_terminate", run.node), [this, uid, epoch] {
    auto it = runs_.find(uid);
    if (!*alive_ || it == runs_.end() || it->second.epoch != epoch) return;
    DeleteOptions opts;
    opts.grace_period_seconds = 0;
    opts.precondition_uid = uid;
    (void)cluster_.remove("Pod", it->second.ns, it->second.name, opts);
  });
}

void Kubelet::begin(const Object& pod) {
  const std::string uid = pod.meta.uid;
  Run run{pod.meta.namespace_, pod.meta.name, pod.str("/spec/nodeName")};
  runs_[uid] = run;
  if (dead_nodes_.count(run.node)) return;
  const uint64_t n = next_ip_++;
  const std::string ip = "10.244." + std::to_string(n / 250) + "." + std::to_string(n % 250 + 2);
  const Time now = clock_.now();
  const bool has_init = pod.at("/spec/initContainers").is_array() && !pod.at("/spec/initContainers").empty();
  write_status(uid, [&](Object& p) {
    json& st = p.mut("/status");
    st["phase"] = "Pending";
    st["podIP"] = ip;
    st["podIPs"] = json::array({{{"ip", ip}}});
    st["startTime"] = format_rfc3339(now);
    set_pod_condition(st, "Initialized", has_init ? "False" : "True", now);
    set_pod_condition(st, "Ready", "False", now);
    set_pod_condition(st, "ContainersReady", "False", now);
    json statuses = json::array();
    for (const auto& c : p.at("/spec/containers"))
      statuses.push_back({{"name", c.value("name", "")},
                          {"image", c.value("image", "")},
                          {"ready", false},
                          {"started", false},
                          {"restartCount", 0},
                          {"state", {{"waiting", {{"reason", has_init ? "PodInitializing" : "ContainerCreating"}}}}}});
    st["containerStatuses"] = statuses;
  });
  run_init_containers(uid, 0, 0);
}

std::string Kubelet::registry_of(const std::string& image) {
  const size_t slash = image.find('/');
  if (slash == std::string::npos) return "docker.io";
  const std::string first = image.substr(0, slash);
  const bool host =
      first.find('.') != std::string::npos || first.find(':') != std::string::npos || first == "localhost";
  return host ? first : "docker.io";
}

Duration Kubelet::pull_blocked(const std::string& uid, const std::string& image, const std::string& container,
                               bool init) {
  Run& run = runs_[uid];
  if (images_[run.node].count(image)) return 0;  // already on the node (or being pulled)
  const std::string registry = registry_of(image);
  auto outage = registry_outages_.find(registry);
  if (outage == registry_outages_.end() || clock_.now() >= outage->second) {
    run.pull_failures = 0;
    return 0;
  }
  const Duration backoff = kubelet_backoff(run.pull_failures);
  const bool first = run.pull_failures++ == 0;
  const std::string reason = first ? "ErrImagePull" : "ImagePullBackOff";
  const std::string message = first ? "failed to pull and unpack image \"" + image +
                                          "\": failed to resolve reference: dial tcp: lookup " + registry +
                                          ": no such host"
                                    : "Back-off pulling image \"" + image + "\"";
  write_status(uid, [&](Object& p) {
    json& st = p.mut("/status");
    json& statuses = st[init ? "initContainerStatuses" : "containerStatuses"];
    if (!statuses.is_array()) statuses = json::array();
    json* entry = nullptr;
    for (auto& cs : statuses)
      if (cs.value("name", "") == container) entry = &cs;
    if (!entry) {
      statuses.push_back({{"name", container}, {"image", image}, {"ready", false}, {"restartCount", 0}});
      entry = &statuses.back();
    }
    (*entry)["state"] = {{"waiting", {{"reason", reason}, {"message", message}}}};
  });
  if (first) sink_("Pod", run.ns + "/" + run.name, "image pull failed: " + image + " (" + registry + " unreachable)");
  return backoff;
}

Duration Kubelet::pull_time(const std::string& node, const std::string& image, Duration& total) {
  // A pod arriving during a pull waits for that pull to finish; after it, the image is cached.
  auto& pulls = images_[node];
  const Time now = clock_.now();
  auto it = pulls.find(image);
  Duration d = 0;
  if (it != pulls.end()) {
    d = std::max<Duration>(0, it->second - now);
  } else {
    d = sample_("image_pull", image);
    pulls.emplace(image, now + d);
  }
  total = std::max(total, d);  // images of one pod pull in parallel
  return d;
}

TuningJobFacts Kubelet::tuning_facts(const Object& pod, const Object* node) const {
  TuningJobFacts f;
  const json& main = pod.at("/spec/containers/0");
  const std::string cmd = command_line(main);
  f.model = flag_value(cmd, "model");
  f.method = flag_value(cmd, "method");
  f.gpus = std::max(1, profile(pod, node).gpus);
  if (node) {
    f.node_labels = node->meta.labels;
    if (const std::string* it = node->meta.label("node.kubernetes.io/instance-type")) f.instance_type = *it;
  }
  if (pod.at("/spec/volumes").is_array())
    for (const auto& v : pod.at("/spec/volumes"))
      if (v.contains("configMap") && v["configMap"].contains("name")) {
        auto cm = cluster_.get("ConfigMap", pod.meta.namespace_, v["configMap"]["name"].get<std::string>());
        if (cm) f.training_config_yaml = (*cm)->str("/data/training_config.yaml");
      }
  if (pod.at("/spec/initContainers").is_array())
    for (const auto& c : pod.at("/spec/initContainers")) {
      if (c.value("name", "") == "data-downloader" && c.contains("env")) {
        for (const auto& e : c["env"])
          if (e.value("name", "") == "DATA_URLS") {
            std::istringstream urls(e.value("value", ""));
            for (std::string u; urls >> u;) f.inputs.push_back(u);
          }
      } else if (c.value("name", "") != "data-downloader") {
        f.inputs.push_back(c.value("image", ""));
      }
    }
  return f;
}

const TuningOutcome& Kubelet::tuning_outcome(const std::string& uid, const Object& pod) {
  Run& run = runs_[uid];
  if (!run.tuning) {
    if (tuning_model_) {
      auto node = cluster_.get("Node", "", run.node);
      run.tuning = tuning_model_(tuning_facts(pod, node ? node->get() : nullptr));
    } else {
      TuningOutcome o;
      o.run = sample_("tuning_job", flag_value(command_line(pod.at("/spec/containers/0")), "model"));
      run.tuning = o;
    }
  }
  return *run.tuning;
}

void Kubelet::init_failed(const std::string& uid, const std::string& container, int exit_code,
                          const std::string& message) {
  const Time now = clock_.now();
  write_status(uid, [&](Object& p) {
    json& st = p.mut("/status");
    st["phase"] = "Failed";
    set_pod_condition(st, "Initialized", "False", now);
    json& inits = st["initContainerStatuses"];
    if (!inits.is_array()) inits = json::array();
    inits.push_back({{"name", container},
                     {"ready", false},
                     {"restartCount", 0},
                     {"state",
                      {{"terminated",
                        {{"exitCode", exit_code},
                         {"reason", "Error"},
                         {"message", message},
                         {"finishedAt", format_rfc3339(now)}}}}}});
    for (auto& cs : st["containerStatuses"]) cs["state"] = {{"waiting", {{"reason", "PodInitializing"}}}};
  });
  sink_("Pod", runs_[uid].ns + "/" + runs_[uid].name,
        "init container " + container + " failed (exit " + std::to_string(exit_code) + "): " + message);
}

void Kubelet::run_init_containers(const std::string& uid, uint64_t epoch, size_t index) {
  if (!current(uid, epoch)) return;
  const Run& run = runs_[uid];
  auto got = cluster_.get("Pod", run.ns, run.name);
  if (!got || (*got)->meta.uid != uid) return;
  const json& inits = (*got)->at("/spec/initContainers");
  if (!inits.is_array() || index >= inits.size()) {
    pull_main_images(uid, epoch);
    return;
  }
  const std::string image = inits[index].value("image", "");
  const std::string name = inits[index].value("name", "");
  if (Duration retry = pull_blocked(uid, image, name, true); retry > 0) {
    executor_.post_after(retry, [this, uid, epoch, index] { run_init_containers(uid, epoch, index); });
    return;
  }
  Duration total = 0;
  pull_time(run.node, image, total);
  Duration d = total + sample_("init_container", name);
  sink_("Pod", run.ns + "/" + run.name, "init container " + name + " started");
  // The dataset download of a tuning pod takes as long as its data; a missing dataset fails the pod.
  const bool fetch = name == "data-downloader" && (*got)->str("/spec/restartPolicy", "Always") == "Never";
  if (fetch) {
    const TuningOutcome& tuning = tuning_outcome(uid, **got);
    d = total + tuning.dataset_fetch;
    if (!tuning.dataset_available) {
      const std::string why = tuning.message;
      executor_.post_after(d, [this, uid, epoch, name, why] {
        if (current(uid, epoch)) init_failed(uid, name, 22, why);
      });
      return;
    }
  }
  executor_.post_after(d, [this, uid, epoch, index, name] {
    if (!current(uid, epoch)) return;
    sink_("Pod", runs_[uid].ns + "/" + runs_[uid].name, "init container " + name + " completed");
    run_init_containers(uid, epoch, index + 1);
  });
}

void Kubelet::pull_main_images(const std::string& uid, uint64_t epoch) {
  const Run& run = runs_[uid];
  auto got = cluster_.get("Pod", run.ns, run.name);
  if (!got || (*got)->meta.uid != uid) return;
  for (const auto& c : (*got)->at("/spec/containers"))
    if (Duration retry = pull_blocked(uid, c.value("image", ""), c.value("name", ""), false); retry > 0) {
      executor_.post_after(retry, [this, uid, epoch] {
        if (current(uid, epoch)) pull_main_images(uid, epoch);
      });
      return;
    }
  Duration total = 0;
  for (const auto& c : (*got)->at("/spec/containers")) pull_time(run.node, c.value("image", ""), total);
  const std::string who = run.ns + "/" + run.name;
  if (total > 0) sink_("Pod", who, "image pull started");
  executor_.post_after(total + sample_("container_start", run.node), [this, uid, epoch, total, who] {
    if (!current(uid, epoch)) return;
    if (total > 0) sink_("Pod", who, "image pulled");
    start_containers(uid, epoch);
  });
}

void Kubelet::start_containers(const std::string& uid, uint64_t epoch) {
  if (!current(uid, epoch)) return;
  Run& run = runs_[uid];
  auto got = cluster_.get("Pod", run.ns, run.name);
  if (!got || (*got)->meta.uid != uid) return;
  const Object pod = *got.value();
  auto node = cluster_.get("Node", "", run.node);
  const AppProfile app = profile(pod, node ? node->get() : nullptr);
  const Time now = clock_.now();
  run.container_start = now;
  const std::string who = run.ns + "/" + run.name;
  write_status(uid, [&](Object& p) {
    json& st = p.mut("/status");
    st["phase"] = "Running";
    set_pod_condition(st, "Initialized", "True", now);
    for (auto& cs : st["containerStatuses"]) {
      cs["state"] = {{"running", {{"startedAt", format_rfc3339(now)}}}};
      cs["ready"] = false;
      cs["started"] = false;
      cs["restartCount"] = run.restarts;
    }
  });
  sink_("Pod", who,
        run.restarts ? "container restarted (restart " + std::to_string(run.restarts) + ")" : "container started");

  const json& main = pod.at("/spec/containers/0");
  const std::string restart_policy = pod.str("/spec/restartPolicy", "Always");

  // Time until the application answers /health (or finishes, for a Job).
  Duration app_time = 0;
  const std::string subject = pod.meta.label("node.kubernetes.io/instance-type") ? "" : run.node;
  if (app.kind == AppProfile::Kind::kTuning) {
    const TuningOutcome& tuning = tuning_outcome(uid, pod);
    if (!tuning.message.empty()) sink_("Pod", who, "tuning: " + tuning.message);
    if (tuning.exit_code != 0) {
      const TuningOutcome failed = tuning;
      executor_.post_after(failed.run, [this, uid, epoch, failed] {
        crash(uid, epoch, failed.failure_reason, failed.exit_code, failed.message);
      });
      return;
    }
    executor_.post_after(tuning.run, [this, uid, epoch, who] {
      if (!current(uid, epoch)) return;
      const Time t = clock_.now();
      write_status(uid, [&](Object& p) {
        json& st = p.mut("/status");
        st["phase"] = "Succeeded";
        set_pod_condition(st, "Ready", "False", t, "PodCompleted");
        set_pod_condition(st, "ContainersReady", "False", t, "PodCompleted");
        for (auto& cs : st["containerStatuses"]) {
          cs["state"] = {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}, {"finishedAt", format_rfc3339(t)}}}};
          cs["ready"] = false;
        }
      });
      sink_("Pod", who, "completed");
    });
    return;
  }
  if (app.kind == AppProfile::Kind::kVllm || app.kind == AppProfile::Kind::kTransformers) {
    const double weights = app.weights_gib > 0 ? app.weights_gib : 10.0;
    Duration download = 0;
    if (!run.weights_cached) {
      download = static_cast<Duration>(weights * static_cast<double>(sample_("weights_download_per_gib", app.model)));
      sink_("Pod", who, "downloading weights (" + std::to_string(static_cast<int>(std::lround(weights))) + " GiB)");
    }
    run.weights_cached = true;
    // Each GPU loads its shard: 1/(TP x PP) of the weights (all of them with data parallelism).
    const int loaders = std::max(1, app.data_parallel > 1 ? 1 : app.tensor_parallel * app.pipeline_parallel);
    const Duration load =
        static_cast<Duration>(weights / loaders * static_cast<double>(sample_("model_load_per_gib", app.model)));
    if (!app.fits_in_gpu_memory) {
      const std::string detail = app.oom_detail;
      executor_.post_after(download + load,
                           [this, uid, epoch, detail] { crash(uid, epoch, "OOMKilled", 137, detail); });
      return;
    }
    app_time = download + load + sample_("engine_init", app.model);
  } else {
    app_time = sample_("app_start", main.value("image", ""));
  }

  // Probes: the startup probe passes at its first tick after the app answers; the readiness probe
  // then passes at its first tick after initialDelaySeconds.
  const json& startup = main.contains("startupProbe") ? main["startupProbe"] : json();
  const json& readiness = main.contains("readinessProbe") ? main["readinessProbe"] : json();
  Duration started_at = app_time;
  if (startup.is_object()) {
    const Duration period = probe_int(startup, "periodSeconds", 10) * kSecond;
    const Duration delay = probe_int(startup, "initialDelaySeconds", 0) * kSecond;
    const int threshold = probe_int(startup, "failureThreshold", 3);
    const Duration deadline = delay + threshold * period;
    if (app_time > deadline) {
      executor_.post_after(deadline, [this, uid, epoch] {
        crash(uid, epoch, "Error", 137, "Startup probe failed: HTTP probe failed with statuscode: 503");
      });
      return;
    }
    started_at = delay + std::max<Duration>(1, (app_time - delay + period - 1) / period) * period;
  }
  Duration ready_at = started_at;
  if (readiness.is_object()) {
    const Duration period = probe_int(readiness, "periodSeconds", 10) * kSecond;
    const Duration delay = probe_int(readiness, "initialDelaySeconds", 0) * kSecond;
    ready_at = delay;
    if (started_at > delay) ready_at = delay + ((started_at - delay + period - 1) / period) * period;
  }
  (void)restart_policy;
  executor_.post_after(ready_at, [this, uid, epoch, who, app_time] {
    if (!current(uid, epoch)) return;
    const Time t = clock_.now();
    write_status(uid, [&](Object& p) {
      json& st = p.mut("/status");
      set_pod_condition(st, "ContainersReady", "True", t);
      set_pod_condition(st, "Ready", "True", t);
      for (auto& cs : st["containerStatuses"]) {
        cs["ready"] = true;
        cs["started"] = true;
      }
    });
    sink_("Pod", who, "ready (server up after " + format_duration(app_time / kSecond * kSecond) + ")");
  });
}

void Kubelet::crash(const std::string& uid, uint64_t epoch, const std::string& reason, int exit_code,
                    const std::string& message) {
  if (!current(uid, epoch)) return;
  Run& run = runs_[uid];
  ++run.restarts;
  const Time now = clock_.now();
  const std::string who = run.ns + "/" + run.name;
  auto got = cluster_.get("Pod", run.ns, run.name);
  const bool never_restart = got && (*got)->str("/spec/restartPolicy", "Always") == "Never";
  const Duration backoff = kubelet_backoff(run.restarts - 1);  // CrashLoopBackOff
  write_status(uid, [&](Object& p) {
    json& st = p.mut("/status");
    json terminated = {
        {"exitCode", exit_code}, {"reason", reason}, {"message", message}, {"finishedAt", format_rfc3339(now)}};
    for (auto& cs : st["containerStatuses"]) {
      cs["ready"] = false;
      cs["started"] = false;
      cs["restartCount"] = run.restarts;
      if (never_restart) {
        cs["state"] = {{"terminated", terminated}};
      } else {
        cs["lastState"] = {{"terminated", terminated}};
        cs["state"] = {{"waiting",
                        {{"reason", "CrashLoopBackOff"},
                         {"message", "back-off " + format_duration(backoff) + " restarting failed container"}}}};
      }
    }
    if (never_restart) st["phase"] = "Failed";
    set_pod_condition(st, "Ready", "False", now);
    set_pod_condition(st, "ContainersReady", "False", now);
  });
  sink_("Pod", who, "container " + reason + " (exit " + std::to_string(exit_code) + ")");
  if (never_restart) return;
  executor_.post_after(backoff, [this, uid, epoch] { start_containers(uid, epoch); });
}

}  // namespace ktwin::cluster_model
