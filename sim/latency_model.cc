#include "sim/latency_model.h"

#include <cmath>

namespace ktwin::sim {

namespace {
DurationDist lognormal(Duration median, Duration p90, std::optional<Duration> min, std::optional<Duration> max) {
  return DurationDist::lognormal(median, p90, min, max);
}
}  // namespace

std::vector<PhaseInfo> LatencyModel::defaults() {
  return {
      {"vm_create", "ARM agent-pool create until the VM boots (KAITO: 3-8 min; telescope: A100/H100 often >10 min)",
       lognormal(4 * kMinute + 30 * kSecond, 8 * kMinute, 2 * kMinute, 30 * kMinute)},
      {"node_join", "VM boot to Node registration (kubelet bootstrap)",
       lognormal(30 * kSecond, 60 * kSecond, 10 * kSecond, 5 * kMinute)},
      {"node_ready", "Node registered to Ready (CNI, kubelet ready)",
       lognormal(25 * kSecond, 50 * kSecond, 5 * kSecond, 5 * kMinute)},
      {"device_plugin", "Node Ready to nvidia.com/gpu allocatable (NVIDIA device plugin; ~90 s reported)",
       lognormal(75 * kSecond, 120 * kSecond, 20 * kSecond, 15 * kMinute)},
      {"image_pull", "pull of the KAITO base image (~1-2 min); small images take a fraction",
       lognormal(80 * kSecond, 140 * kSecond, 20 * kSecond, 20 * kMinute)},
      {"container_start", "container create and start", DurationDist::fixed(2 * kSecond)},
      {"init_container", "an init container's work (adapter copy, data download)",
       lognormal(15 * kSecond, 40 * kSecond, 2 * kSecond, 10 * kMinute)},
      {"weights_download_per_gib", "weight download time per GiB (~200 MiB/s from Hugging Face)",
       lognormal(5 * kSecond, 9 * kSecond, 1 * kSecond, 60 * kSecond)},
      {"model_load_per_gib", "weight load time per GiB per loading GPU (safetensors, page cache)",
       lognormal(1500 * kMillisecond, 3 * kSecond, 200 * kMillisecond, 20 * kSecond)},
      {"engine_init", "vLLM engine init: torch.compile, KV profiling, CUDA graph capture",
       lognormal(70 * kSecond, 140 * kSecond, 20 * kSecond, 15 * kMinute)},
      {"app_start", "start-up of a non-preset container until its probes pass",
       lognormal(20 * kSecond, 60 * kSecond, 2 * kSecond, 10 * kMinute)},
      {"pod_terminate", "graceful pod termination", DurationDist::uniform(2 * kSecond, 10 * kSecond)},
      {"vm_delete", "agent-pool delete", lognormal(3 * kMinute, 6 * kMinute, 1 * kMinute, 20 * kMinute)},
      {"capacity_error", "time until ARM reports AllocationFailed during a capacity outage",
       lognormal(90 * kSecond, 4 * kMinute, 20 * kSecond, 15 * kMinute)},
      {"tuning_job", "run time of a tuning Job", lognormal(45 * kMinute, 90 * kMinute, 5 * kMinute, 12 * kHour)},
  };
}

LatencyModel::LatencyModel(uint64_t seed, const ProvisioningSpec& o) : seed_(seed) {
  for (auto& p : defaults()) dists_.emplace(p.name, p.dist);
  auto apply = [&](const char* name, const std::optional<DurationDist>& d) {
    if (!d) return;
    dists_[name] = *d;
    overridden_.insert(name);  // used exactly as written: no SKU-family factor
  };
  apply("vm_create", o.vm_create);
  apply("node_join", o.node_join);
  apply("node_ready", o.node_ready);
  apply("device_plugin", o.device_plugin);
  apply("image_pull", o.image_pull);
  apply("model_load_per_gib", o.model_load);
  apply("engine_init", o.engine_init);
  apply("vm_delete", o.vm_delete);
  if (o.weights_download_gibps && *o.weights_download_gibps > 0)
    dists_["weights_download_per_gib"] = DurationDist::fixed(from_seconds(1.0 / *o.weights_download_gibps));
}

double LatencyModel::family_factor(std::string_view phase, std::string_view subject) const {
  if (phase == "vm_create") {
    // Large GPU SKUs take longer to allocate (Azure telescope GPU CRUD runs).
    if (subject.find("H100") != std::string_view::npos || subject.find("H200") != std::string_view::npos ||
        subject.find("p5") == 0)
      return 1.5;
    if (subject.find("A100") != std::string_view::npos || subject.find("p4") == 0) return 1.25;
  }
  if (phase == "image_pull" && subject.find("kaito-base") == std::string_view::npos) return 0.2;
  return 1.0;
}

Duration LatencyModel::sample(std::string_view phase, std::string_view subject) {
  auto d = dists_.find(phase);
  if (d == dists_.end()) return 0;  // an unmodelled phase takes no time
  auto s = streams_.find(phase);
  if (s == streams_.end())
    s = streams_.emplace(std::string(phase), RngStream(seed_, "latency/" + std::string(phase))).first;
  const double f = overridden_.count(phase) ? 1.0 : family_factor(phase, subject);
  if (f == 1.0) return d->second.sample(s->second);
  // Scale the distribution, not the sample, so its min/max clamps still hold.
  DurationDist scaled = d->second;
  auto scale = [f](Duration x) {
    return static_cast<Duration>(std::llround(static_cast<double>(x) * f / 1e6)) * 1000000;
  };
  scaled.value = scale(scaled.value);
  scaled.median = scale(scaled.median);
  scaled.p90 = scale(scaled.p90);
  scaled.mean = scale(scaled.mean);
  return scaled.sample(s->second);
}

}  // namespace ktwin::sim
