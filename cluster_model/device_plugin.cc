#include "cluster_model/device_plugin.h"

#include "core/k8s/conditions.h"

namespace ktwin::cluster_model {

DevicePlugin::DevicePlugin(Cluster& cluster, Executor& executor, const SkuCatalog& skus, std::string cloud,
                           DurationSampler sample, ModelEventSink sink)
    : cluster_(cluster),
      executor_(executor),
      skus_(skus),
      cloud_(std::move(cloud)),
      sample_(std::move(sample)),
      sink_(std::move(sink)) {}

void DevicePlugin::start() {
  watch_ = cluster_.watch("Node", "", [this](const WatchEvent& ev) { on_node(ev); });
}

int DevicePlugin::gpus_of(const Object& node) const {
  if (const std::string* it = node.meta.label("node.kubernetes.io/instance-type"))
    if (const Sku* sku = skus_.find(cloud_, *it)) return sku->gpu.nvidia() ? sku->gpu.gpu_count : 0;
  if (auto gpu = gpu_config_from_node_labels(node.meta.labels)) return gpu->gpu_count;
  return 0;
}

void DevicePlugin::on_node(const WatchEvent& ev) {
  if (ev.type == WatchEventType::kDeleted) {
    pending_.erase(ev.object->meta.uid);
    return;
  }
  const Object& node = *ev.object;
  if (!condition_is_true(node.at("/status/conditions"), "Ready")) return;
  if (!node.at("/status/capacity/nvidia.com~1gpu").is_null()) return;
  const int gpus = gpus_of(node);
  if (gpus <= 0 || pending_.count(node.meta.uid)) return;
  pending_.insert(node.meta.uid);
  const std::string name = node.meta.name;
  const std::string uid = node.meta.uid;
  const std::string* sku = node.meta.label("node.kubernetes.io/instance-type");
  executor_.post_after(sample_("device_plugin", sku ? *sku : ""), [this, name, uid, gpus] {
    if (!pending_.erase(uid)) return;
    auto cur = cluster_.get("Node", "", name);
    if (!cur || (*cur)->meta.uid != uid) return;
    const std::string n = std::to_string(gpus);
    auto r = cluster_.patch(
        "Node", "", name,
        {{"status", {{"capacity", {{"nvidia.com/gpu", n}}}, {"allocatable", {{"nvidia.com/gpu", n}}}}}}, true);
    if (r) sink_("Node", name, "device plugin registered " + n + " nvidia.com/gpu");
  });
}

}  // namespace ktwin::cluster_model
