#include "sim/world.h"

#include <sstream>
#include <stdexcept>

#include "cluster_model/device_plugin.h"
#include "cluster_model/gc_controller.h"
#include "cluster_model/job_controller.h"
#include "cluster_model/kubelet.h"
#include "cluster_model/scheduler.h"
#include "cluster_model/sim_cloud.h"
#include "cluster_model/statefulset_controller.h"
#include "core/admission/workspace_validation.h"
#include "core/api/workspace.h"
#include "core/controllers/nodeclaim_controller.h"
#include "core/controllers/nodepool_controller.h"
#include "core/k8s/events.h"
#include "core/runtime/controller.h"
#include "gpu_model/specs.h"
#include "sim/tuning_model.h"

namespace ktwin::sim {

namespace {

constexpr const char* kPartNames[] = {"cloud",       "device-plugin", "scheduler", "kubelet",
                                      "statefulset", "job",           "gc",        "node-lifecycle"};

bool* part_flag(WorldParts& p, std::string_view name) {
  if (name == "cloud") return &p.cloud;
  if (name == "device-plugin") return &p.device_plugin;
  if (name == "scheduler") return &p.scheduler;
  if (name == "kubelet") return &p.kubelet;
  if (name == "statefulset") return &p.statefulset;
  if (name == "job") return &p.job;
  if (name == "gc") return &p.gc;
  if (name == "node-lifecycle") return &p.node_lifecycle;
  return nullptr;
}

Object ready_node_class(const KarpenterNodeClassConfig& cfg, const std::string& name, Time now) {
  Object nc;
  nc.api_version = cfg.group + "/" + cfg.version;
  nc.kind = cfg.kind;
  nc.meta.name = name;
  if (name == cfg.default_name) nc.meta.labels["karpenter.kaito.sh/default"] = "true";
  nc.body["spec"] = json::object();
  if (cfg.kind == "AKSNodeClass") {
    nc.body["spec"]["imageFamily"] = name == "image-family-azure-linux" ? "AzureLinux" : "Ubuntu";
    nc.body["spec"]["osDiskSizeGB"] = 300;
  }
  nc.body["status"] = {{"conditions", json::array({{{"type", "Ready"},
                                                    {"status", "True"},
                                                    {"reason", "Ready"},
                                                    {"message", ""},
                                                    {"lastTransitionTime", format_rfc3339(now)}}})}};
  return nc;
}

}  // namespace

WorldParts parse_world_parts(const std::string& spec) {
  WorldParts parts;
  if (spec.empty() || spec == "all") return parts;
  std::stringstream in(spec);
  std::string item;
  bool removals = false, additions = false;
  WorldParts chosen{false, false, false, false, false, false, false, false};
  while (std::getline(in, item, ',')) {
    const bool remove = !item.empty() && item[0] == '-';
    const std::string name = remove ? item.substr(1) : item;
    bool* flag = part_flag(remove ? parts : chosen, name);
    if (!flag) {
      std::string known;
      for (const char* n : kPartNames) known += std::string(known.empty() ? "" : ", ") + n;
      throw std::invalid_argument("unknown part \"" + name + "\" (parts: " + known + ")");
    }
    *flag = !remove;
    (remove ? removals : additions) = true;
  }
  if (removals && additions) throw std::invalid_argument("list parts to run, or parts to leave out (-name), not both");
  return removals ? parts : chosen;
}

std::string world_parts_text(const WorldParts& parts) {
  std::string out;
  WorldParts copy = parts;
  for (const char* n : kPartNames)
    if (*part_flag(copy, n)) out += std::string(out.empty() ? "" : ",") + n;
  return out.empty() ? "none" : out;
}

Object apply_onto(const Object& existing, const Object& manifest) {
  Object updated = existing;
  updated.api_version = manifest.api_version;
  updated.meta.labels = manifest.meta.labels;
  updated.meta.annotations = manifest.meta.annotations;
  for (const auto& [k, v] : existing.meta.annotations)  // annotations the controller wrote
    if (k.rfind("workspace.kaito.io/", 0) == 0 && !updated.meta.annotations.count(k)) updated.meta.annotations[k] = v;
  const json status = updated.body.contains("status") ? updated.body["status"] : json();
  updated.body = manifest.body;
  if (!status.is_null()) updated.body["status"] = status;
  return updated;
}

NodeProvisionerKind node_provisioner_of(ProvisionerKind kind) {
  switch (kind) {
    case ProvisionerKind::kKarpenter:
      return NodeProvisionerKind::kKarpenter;
    case ProvisionerKind::kByo:
      return NodeProvisionerKind::kByo;
    case ProvisionerKind::kGpuProvisioner:
      break;
  }
  return NodeProvisionerKind::kGpuProvisioner;
}

OperatorConfig operator_config_of(const ClusterSpec& cluster) {
  OperatorConfig op;
  op.cloud = cloud_kind_name(cluster.cloud);
  op.node_class = default_node_class_config(op.cloud);
  op.node_provisioner = node_provisioner_of(cluster.node_provisioner);
  return op;
}

void lookups_from(Cluster& api, std::vector<ObjectPtr>& pins, admission::AdmissionContext& ctx) {
  ctx.find_config_map = [&api, &pins](std::string_view ns, std::string_view name) -> const Object* {
    auto cm = api.get("ConfigMap", ns, name);
    if (!cm) return nullptr;
    pins.push_back(cm.value());
    return cm.value().get();
  };
  ctx.find_nodes = [&api, &pins](const LabelSelector& sel) {
    std::vector<const Object*> nodes;
    ListOptions opts;
    opts.selector = sel;
    if (auto r = api.list("Node", opts))
      for (const auto& n : r.value()) {
        pins.push_back(n);
        nodes.push_back(n.get());
      }
    return nodes;
  };
}

struct World::Parts {
  std::unique_ptr<cluster_model::GarbageCollector> gc;
  std::unique_ptr<cluster_model::Scheduler> scheduler;
  std::unique_ptr<cluster_model::StatefulSetController> statefulset;
  std::unique_ptr<cluster_model::JobController> job;
  std::unique_ptr<cluster_model::SimCloud> cloud;
  std::unique_ptr<cluster_model::DevicePlugin> device_plugin;
  std::unique_ptr<cluster_model::Kubelet> kubelet;
  std::unique_ptr<TuningWorld> tuning;
  std::unique_ptr<NodeClaimReconciler> nodeclaims;
  std::unique_ptr<Controller> nodeclaim_controller;
  std::unique_ptr<NodePoolReconciler> nodepools;
  std::unique_ptr<Controller> nodepool_controller;
  Executor* executor = nullptr;
  OperatorConfig op;
};

World::World(Cluster& api, Cluster& provisioner_api, Executor& executor, Clock& clock, const catalog::Catalog& cat,
             WorldConfig config, const cluster_model::DurationSampler& sample,
             const cluster_model::ModelEventSink& sink, EventRecorder& events)
    : api_(api), clock_(clock), config_(std::move(config)), parts_(std::make_unique<Parts>()) {
  Parts& p = *parts_;
  const WorldParts& on = config_.parts;
  p.executor = &executor;
  p.op.cloud = config_.cloud;
  p.op.node_class = default_node_class_config(config_.cloud);
  p.op.node_provisioner = config_.provisioner;
  if (on.gc) p.gc = std::make_unique<cluster_model::GarbageCollector>(api, executor);
  if (on.scheduler) p.scheduler = std::make_unique<cluster_model::Scheduler>(api, executor, clock);
  if (on.statefulset) p.statefulset = std::make_unique<cluster_model::StatefulSetController>(api, executor, clock);
  if (on.job) p.job = std::make_unique<cluster_model::JobController>(api, executor, clock);
  // The cloud exists whenever the timeline may address it; only its provisioner role is switchable.
  p.cloud = std::make_unique<cluster_model::SimCloud>(api, executor, clock, cat.skus, sample, sink,
                                                      cluster_model::SimCloudConfig{config_.cloud, config_.region});
  for (const auto& [sku, count] : config_.quota) p.cloud->set_quota(sku, static_cast<int>(count));
  if (on.device_plugin)
    p.device_plugin =
        std::make_unique<cluster_model::DevicePlugin>(api, executor, cat.skus, config_.cloud, sample, sink);
  if (on.kubelet) {
    p.kubelet = std::make_unique<cluster_model::Kubelet>(api, executor, clock, cat.presets, cat.skus, config_.cloud,
                                                         sample, sink);
    static const std::vector<DatasetSpec> kNoDatasets;
    p.tuning = std::make_unique<TuningWorld>(TuningWorld{
        &cat.presets, &cat.skus, config_.cloud, config_.datasets ? config_.datasets : &kNoDatasets,
        [](const GpuConfig& g) {
          const gpu::GpuSpec* spec = g.gpu_id.empty() ? nullptr : gpu::default_hardware().find_gpu(g.gpu_id);
          return spec ? spec->fp16_tflops : 0.0;
        },
        sample});
    p.kubelet->set_tuning_model(
        [tuning = p.tuning.get()](const cluster_model::TuningJobFacts& f) { return predict_tuning(f, *tuning); });
  }
  if (on.cloud && p.op.nap()) {
    NodeClaimLifecycleConfig nc_cfg;
    nc_cfg.cloud = config_.cloud;
    p.nodeclaims = std::make_unique<NodeClaimReconciler>(provisioner_api, clock, *p.cloud, cat.skus, events, nc_cfg);
    p.nodeclaim_controller =
        std::make_unique<Controller>(ControllerOptions{"nodeclaim", 10}, *p.nodeclaims, executor, clock);
  }
  if (on.cloud && config_.provisioner == NodeProvisionerKind::kKarpenter) {
    p.nodepools = std::make_unique<NodePoolReconciler>(provisioner_api, clock, events);
    p.nodepool_controller =
        std::make_unique<Controller>(ControllerOptions{"nodepool", 10}, *p.nodepools, executor, clock);
  }
}

World::~World() {
  // Stop everything that could post work before the executor and API go away.
  Parts& p = *parts_;
  if (p.nodeclaim_controller) p.nodeclaim_controller->stop();
  if (p.nodepool_controller) p.nodepool_controller->stop();
  if (p.kubelet) p.kubelet->stop();
  if (p.device_plugin) p.device_plugin->stop();
  if (p.scheduler) p.scheduler->stop();
  if (p.statefulset) p.statefulset->stop();
  if (p.job) p.job->stop();
  if (p.gc) p.gc->stop();
}

void World::start() {
  Parts& p = *parts_;
  if (p.gc) p.gc->start();
  if (p.scheduler) p.scheduler->start();
  if (p.statefulset) p.statefulset->start();
  if (p.job) p.job->start();
  if (p.device_plugin) p.device_plugin->start();
  if (p.kubelet) p.kubelet->start();
}

void World::start_provisioner() {
  Parts& p = *parts_;
  if (p.nodeclaims) {
    p.nodeclaims->setup_watches(*p.nodeclaim_controller);
    p.nodeclaims->start_garbage_collection(*p.executor);
  }
  if (p.nodepools) p.nodepools->setup_watches(*p.nodepool_controller);
}

cluster_model::SimCloud* World::cloud() { return parts_->cloud.get(); }
cluster_model::Kubelet* World::kubelet() { return parts_->kubelet.get(); }

ControllerStats World::nodeclaim_stats() const {
  return parts_->nodeclaim_controller ? parts_->nodeclaim_controller->stats() : ControllerStats{};
}

void World::create_node_classes(const std::function<void(const std::string&, const std::string&)>& record) {
  const KarpenterNodeClassConfig& cfg = parts_->op.node_class;
  for (const auto& name : cfg.allowed_names) {
    Object node_class = ready_node_class(cfg, name, clock_.now());
    auto r = api_.create(node_class);  // status is a subresource: written by the provider afterwards
    if (!r && r.error().code == ErrorCode::kAlreadyExists) r = api_.get(cfg.kind, "", name);
    if (r) {
      node_class.meta = r.value()->meta;
      r = api_.update_status(std::move(node_class));
    }
    if (!r) record(name, "create failed: " + r.error().message);
  }
}

Object World::preexisting_node(const NodeSpec& spec, const std::string& name, const SkuCatalog& skus,
                               const std::string& cloud, Time now) {
  Object node;
  node.api_version = "v1";
  node.kind = "Node";
  node.meta.name = name;
  node.meta.labels = spec.labels;
  node.meta.labels["kubernetes.io/hostname"] = name;
  node.meta.labels["kubernetes.io/os"] = "linux";
  json cap = {{"pods", "110"}, {"cpu", "8"}, {"memory", "64Gi"}};
  if (!spec.instance_type.empty()) {
    node.meta.labels["node.kubernetes.io/instance-type"] = spec.instance_type;
    if (const Sku* sku = skus.find(cloud, spec.instance_type)) {
      cap["cpu"] = std::to_string(sku->vcpus);
      cap["memory"] = std::to_string(static_cast<int64_t>(sku->memory_gib)) + "Gi";
      if (sku->gpu.nvidia() && sku->gpu.gpu_count > 0) {
        cap["nvidia.com/gpu"] = std::to_string(sku->gpu.gpu_count);
        node.meta.labels["nvidia.com/gpu.product"] = sku->gpu.gpu_model;
        node.meta.labels["nvidia.com/gpu.count"] = std::to_string(sku->gpu.gpu_count);
        node.meta.labels["nvidia.com/gpu.memory"] =
            std::to_string(static_cast<int64_t>(sku->gpu.per_gpu_memory_gib() * 1024));
      }
    }
  }
  if (spec.gpu) {
    node.meta.labels["nvidia.com/gpu.product"] = spec.gpu->product;
    node.meta.labels["nvidia.com/gpu.count"] = std::to_string(spec.gpu->count);
    if (spec.gpu->memory_mib > 0) node.meta.labels["nvidia.com/gpu.memory"] = std::to_string(spec.gpu->memory_mib);
    cap["nvidia.com/gpu"] = std::to_string(spec.gpu->count);
  }
  json taints = json::array();
  for (const auto& t : spec.taints) taints.push_back({{"key", t.key}, {"value", t.value}, {"effect", t.effect}});
  node.body["spec"] = json::object();
  if (!taints.empty()) node.body["spec"]["taints"] = taints;
  node.body["status"] = {{"capacity", cap},
                         {"allocatable", cap},
                         {"conditions", json::array({{{"type", "Ready"},
                                                      {"status", "True"},
                                                      {"reason", "KubeletReady"},
                                                      {"message", "kubelet is posting ready status"},
                                                      {"lastTransitionTime", format_rfc3339(now)}}})},
                         {"nodeInfo", {{"kubeletVersion", "v1.30.5"}}}};
  return node;
}

void World::perform(const TimelineAction& action, const std::function<void(const ManifestSource&)>& apply,
                    const std::function<void(const std::string&)>& record) {
  cluster_model::SimCloud& cloud = *parts_->cloud;
  std::visit(
      [&](const auto& act) {
        using T = std::decay_t<decltype(act)>;
        if constexpr (std::is_same_v<T, ApplyAction>) {
          for (const auto& m : act.manifests) apply(m);
        } else if constexpr (std::is_same_v<T, DeleteAction>) {
          Status s = api_.remove(act.kind, act.namespace_, act.name);
          record(s ? "done" : "failed: " + s.error().message);
        } else if constexpr (std::is_same_v<T, SetQuotaAction>) {
          cloud.set_quota(act.sku, static_cast<int>(act.count));
          record("done");
        } else if constexpr (std::is_same_v<T, RegistryOutageAction>) {
          if (!parts_->kubelet) {
            record("not applied: the kubelet part is off");
            return;
          }
          parts_->kubelet->set_registry_outage(act.registry, clock_.now() + act.duration);
          record("done");
        } else if constexpr (std::is_same_v<T, CapacityOutageAction>) {
          cloud.capacity_outage(act.sku, clock_.now() + act.duration);
          record("done");
        } else if constexpr (std::is_same_v<T, FailNodeAction>) {
          std::vector<std::string> victims;
          if (!act.node.empty()) {
            victims.push_back(act.node);
          } else if (act.workspace) {
            ListOptions opts;
            opts.selector = LabelSelector{{{kaito::kLabelWorkspace, act.workspace->name},
                                           {kaito::kLabelWorkspaceNamespace, act.workspace->namespace_}},
                                          {}};
            if (auto nodes = api_.list("Node", opts))
              for (const auto& n : nodes.value())
                if (static_cast<int64_t>(victims.size()) < act.count && !n->meta.deletion_timestamp)
                  victims.push_back(n->meta.name);
          }
          for (const auto& node : victims) {
            std::string inst = cloud.instance_of_node(node);
            Status s = inst.empty() ? Status(make_error(ErrorCode::kNotFound, "node " + node + " has no simulated VM"))
                                    : cloud.fail_instance(inst);
            if (inst.empty()) {
              // A pre-existing node: its kubelet stops posting status.
              auto r = api_.patch(
                  "Node", "", node,
                  {{"status",
                    {{"conditions", json::array({{{"type", "Ready"},
                                                  {"status", "Unknown"},
                                                  {"reason", "NodeStatusUnknown"},
                                                  {"message", "Kubelet stopped posting node status."},
                                                  {"lastTransitionTime", format_rfc3339(clock_.now())}}})}}}},
                  true);
              s = r ? Status{} : Status{r.error()};
            }
            record(s ? "failed node " + node : "failed: " + s.error().message);
          }
          if (victims.empty()) record("failed: no node to fail");
        } else if constexpr (std::is_same_v<T, ScaleAction>) {
          // KAITO freezes status.targetNodeCount; a Workspace cannot be scaled (InferenceSet can).
          record("not supported: a Workspace's targetNodeCount is immutable; scale an InferenceSet instead");
        }
      },
      action.action);
}

}  // namespace ktwin::sim
