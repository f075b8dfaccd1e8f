#include "sim/runner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "catalog/yaml_json.h"
#include "cluster_model/device_plugin.h"
#include "cluster_model/fault_injection.h"
#include "cluster_model/gc_controller.h"
#include "cluster_model/job_controller.h"
#include "cluster_model/kubelet.h"
#include "cluster_model/object_store.h"
#include "cluster_model/scheduler.h"
#include "cluster_model/sim_cloud.h"
#include "cluster_model/statefulset_controller.h"
#include "core/admission/workspace_validation.h"
#include "core/api/workspace.h"
#include "core/controllers/nodeclaim_controller.h"
#include "core/controllers/nodepool_controller.h"
#include "core/controllers/workspace_controller.h"
#include "core/k8s/conditions.h"
#include "core/k8s/printers.h"
#include "gpu_model/specs.h"
#include "sim/kernel.h"
#include "sim/latency_model.h"
#include "sim/serving.h"
#include "sim/tuning_model.h"

namespace ktwin::sim {

namespace {

// Forwards to the API and reports each call as RBAC would authorise it.
class AuditedCluster : public Cluster {
 public:
  using Audit = std::function<void(std::string_view, std::string_view, std::string_view)>;
  AuditedCluster(Cluster& inner, Audit audit) : inner_(inner), audit_(std::move(audit)) {}

  Result<ObjectPtr> get(std::string_view kind, std::string_view ns, std::string_view name) override {
    report(kind, "", "get");
    return inner_.get(kind, ns, name);
  }
  Result<std::vector<ObjectPtr>> list(std::string_view kind, const ListOptions& opts) override {
    report(kind, "", "list");
    return inner_.list(kind, opts);
  }
  Result<ObjectPtr> create(Object obj) override {
    report(obj.kind, "", "create");
    return inner_.create(std::move(obj));
  }
  Result<ObjectPtr> update(Object obj) override {
    report(obj.kind, "", "update");
    return inner_.update(std::move(obj));
  }
  Result<ObjectPtr> update_status(Object obj) override {
    report(obj.kind, "status", "update");
    return inner_.update_status(std::move(obj));
  }
  Result<ObjectPtr> patch(std::string_view kind, std::string_view ns, std::string_view name, const json& merge_patch,
                          bool status) override {
    report(kind, status ? "status" : "", "patch");
    return inner_.patch(kind, ns, name, merge_patch, status);
  }
  Status remove(std::string_view kind, std::string_view ns, std::string_view name, const DeleteOptions& opts) override {
    report(kind, "", "delete");
    return inner_.remove(kind, ns, name, opts);
  }
  Status bind_pod(std::string_view ns, std::string_view name, std::string_view node_name) override {
    report("Pod", "binding", "create");
    return inner_.bind_pod(ns, name, node_name);
  }
  std::unique_ptr<WatchSubscription> watch(std::string_view kind, std::string_view ns, WatchHandler handler) override {
    report(kind, "", "list");  // an informer lists, then watches
    report(kind, "", "watch");
    return inner_.watch(kind, ns, std::move(handler));
  }

 private:
  void report(std::string_view kind, std::string_view subresource, std::string_view verb) {
    const ResourceInfo* info = resource_info(kind);
    if (!info) return;
    // Kinds without a status subresource keep status in the resource itself.
    const bool sub = !subresource.empty() && (subresource != "status" || info->status_subresource);
    audit_(info->group, sub ? std::string(info->plural) + "/" + std::string(subresource) : std::string(info->plural),
           verb);
  }
  Cluster& inner_;
  Audit audit_;
};

std::string ws_key(const WorkspaceRef& ref) { return ref.namespace_ + "/" + ref.name; }

Object preexisting_node(const NodeSpec& spec, const std::string& name, const SkuCatalog& skus,
                        const std::string& cloud) {
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
                                                      {"lastTransitionTime", format_rfc3339(kSimEpoch)}}})},
                         {"nodeInfo", {{"kubeletVersion", "v1.30.5"}}}};
  return node;
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

std::string format_metric(double v, MetricUnit unit) {
  char buf[64];
  switch (unit) {
    case MetricUnit::kSeconds:
      if (v < 1)
        std::snprintf(buf, sizeof buf, "%.1f ms", v * 1000);
      else
        std::snprintf(buf, sizeof buf, "%.2f s", v);
      break;
    case MetricUnit::kTokensPerSecond:
      std::snprintf(buf, sizeof buf, "%.1f tok/s", v);
      break;
    case MetricUnit::kRequestsPerSecond:
      std::snprintf(buf, sizeof buf, "%.2f req/s", v);
      break;
    case MetricUnit::kCount:
      if (v == std::floor(v))
        std::snprintf(buf, sizeof buf, "%.0f", v);
      else
        std::snprintf(buf, sizeof buf, "%.2f", v);
      break;
    case MetricUnit::kFraction:
      std::snprintf(buf, sizeof buf, "%.1f%%", v * 100);
      break;
  }
  return buf;
}

}  // namespace

RunOutcome run_scenario(const Scenario& sc, const catalog::Catalog& base_catalog, const RunOptions& options) {
  // Generic org/model presets the scenario describes join KAITO's catalog for this run only.
  std::optional<catalog::Catalog> extended;
  if (!sc.models.empty()) {
    extended = base_catalog;
    for (const auto& m : sc.models)
      if (Status st = extended->presets.add(m.preset); !st)
        throw sc.doc->error(m.pointer + "/hf_id",
                            st.error().message + "; KAITO already has this model, remove it from models:");
  }
  const catalog::Catalog& cat = extended ? *extended : base_catalog;
  RunOutcome out;
  out.scenario = sc.name;
  out.seed = options.seed.value_or(sc.seed);
  const std::string cloud = cloud_kind_name(sc.cluster.cloud);

  Kernel kernel(kSimEpoch);
  kernel.shuffle_ties(options.shuffle_ties_seed);
  Clock& clock = kernel.clock();
  Executor& exec = kernel.executor();
  cluster_model::ObjectStore store(exec, clock);
  EventLog log(clock, kSimEpoch);
  TransitionRecorder recorder(store, log, clock, kSimEpoch);
  LatencyModel latency(out.seed, sc.cluster.provisioning);
  cluster_model::DurationSampler sample = [&latency](std::string_view phase, std::string_view subject) {
    return latency.sample(phase, subject);
  };
  cluster_model::ModelEventSink sink = [&log](std::string_view kind, std::string_view name, const std::string& what) {
    log.record(std::string(kind), std::string(name), what);
  };

  OperatorConfig op;
  op.cloud = cloud;
  op.node_class = default_node_class_config(cloud);
  switch (sc.cluster.node_provisioner) {
    case ProvisionerKind::kGpuProvisioner:
      op.node_provisioner = NodeProvisionerKind::kGpuProvisioner;
      break;
    case ProvisionerKind::kKarpenter:
      op.node_provisioner = NodeProvisionerKind::kKarpenter;
      break;
    case ProvisionerKind::kByo:
      op.node_provisioner = NodeProvisionerKind::kByo;
      break;
  }

  // The API server's admission: KAITO's validating webhook for Workspaces.
  admission::AdmissionContext actx;
  actx.presets = &cat.presets;
  actx.skus = &cat.skus;
  actx.cloud = cloud;
  actx.node_auto_provisioning = op.nap();
  std::vector<ObjectPtr> admission_pins;  // keeps looked-up objects alive during a review
  actx.find_config_map = [&store, &admission_pins](std::string_view ns, std::string_view name) -> const Object* {
    auto cm = store.get("ConfigMap", ns, name);
    if (!cm) return nullptr;
    admission_pins.push_back(cm.value());
    return cm.value().get();
  };
  actx.find_nodes = [&store, &admission_pins](const LabelSelector& sel) {
    std::vector<const Object*> nodes;
    ListOptions opts;
    opts.selector = sel;
    if (auto r = store.list("Node", opts))
      for (const auto& n : r.value()) {
        admission_pins.push_back(n);
        nodes.push_back(n.get());
      }
    return nodes;
  };
  store.set_admission([&actx, &admission_pins](const Object* old_obj, const Object& obj) -> Status {
    if (obj.kind != "Workspace") return {};
    auto result = old_obj ? admission::review_workspace_update(*old_obj, obj, actx)
                          : admission::review_workspace_create(obj, actx);
    admission_pins.clear();
    if (result.allowed()) return {};
    std::string msg = "admission webhook \"validation.workspace.kaito.sh\" denied the request: ";
    for (size_t i = 0; i < result.violations.size(); ++i)
      msg += (i ? "; " : "") + admission::to_string(result.violations[i]);
    return make_error(ErrorCode::kInvalid, msg, "Invalid");
  });

  recorder.start();

  // The simulated world.
  cluster_model::GarbageCollector gc(store, exec);
  cluster_model::Scheduler scheduler(store, exec, clock);
  cluster_model::StatefulSetController sts_controller(store, exec, clock);
  cluster_model::JobController job_controller(store, exec, clock);
  cluster_model::SimCloud sim_cloud(store, exec, clock, cat.skus, sample, sink,
                                    cluster_model::SimCloudConfig{cloud, sc.cluster.region});
  cluster_model::DevicePlugin device_plugin(store, exec, cat.skus, cloud, sample, sink);
  cluster_model::Kubelet kubelet(store, exec, clock, cat.presets, cat.skus, cloud, sample, sink);
  TuningWorld tuning_world{&cat.presets,
                           &cat.skus,
                           cloud,
                           &sc.cluster.datasets,
                           [](const GpuConfig& g) {
                             const gpu::GpuSpec* spec =
                                 g.gpu_id.empty() ? nullptr : gpu::default_hardware().find_gpu(g.gpu_id);
                             return spec ? spec->fp16_tflops : 0.0;
                           },
                           sample};
  kubelet.set_tuning_model(
      [&tuning_world](const cluster_model::TuningJobFacts& f) { return predict_tuning(f, tuning_world); });
  for (const auto& [sku, count] : sc.cluster.quota) sim_cloud.set_quota(sku, static_cast<int>(count));
  gc.start();
  scheduler.start();
  sts_controller.start();
  job_controller.start();
  device_plugin.start();
  kubelet.start();

  // The operator core, exactly as live mode runs it (optionally behind injected API faults).
  cluster_model::FaultyCluster faulty(
      store, cluster_model::FaultOptions{options.operator_conflict_rate, options.operator_unavailable_rate, out.seed});
  Cluster& api = (options.operator_conflict_rate > 0 || options.operator_unavailable_rate > 0)
                     ? static_cast<Cluster&>(faulty)
                     : static_cast<Cluster&>(store);
  AuditedCluster audited(api, options.audit_operator_calls);
  Cluster& operator_api = options.audit_operator_calls ? static_cast<Cluster&>(audited) : api;
  EventRecorder events(operator_api, clock, "kaito-twin");
  events.set_enabled(options.record_k8s_events);
  WorkspaceReconciler ws_reconciler(operator_api, clock, cat.presets, cat.skus, events, op);
  Controller ws_controller(ControllerOptions{"workspace", op.max_concurrent_reconciles}, ws_reconciler, exec, clock);
  if (options.builtin_operator) ws_reconciler.setup_watches(ws_controller);
  NodeClaimLifecycleConfig nc_cfg;
  nc_cfg.cloud = cloud;
  NodeClaimReconciler nc_reconciler(api, clock, sim_cloud, cat.skus, events, nc_cfg);
  Controller nc_controller(ControllerOptions{"nodeclaim", 10}, nc_reconciler, exec, clock);
  if (op.nap()) {
    nc_reconciler.setup_watches(nc_controller);
    nc_reconciler.start_garbage_collection(exec);
  }
  // Karpenter mode: Karpenter's static NodePool controller, and the NodeClasses KAITO creates at start
  // (from its ConfigMap) which the Karpenter provider reports Ready.
  NodePoolReconciler np_reconciler(api, clock, events);
  Controller np_controller(ControllerOptions{"nodepool", 10}, np_reconciler, exec, clock);
  if (op.node_provisioner == NodeProvisionerKind::kKarpenter) {
    np_reconciler.setup_watches(np_controller);
    for (const auto& name : op.node_class.allowed_names) {
      Object node_class = ready_node_class(op.node_class, name, clock.now());
      auto r = store.create(node_class);  // status is a subresource: written by the provider afterwards
      if (r) {
        node_class.meta = r.value()->meta;
        r = store.update_status(std::move(node_class));
      }
      if (!r) log.record(op.node_class.kind, name, "create failed: " + r.error().message);
    }
  }

  // Pre-existing nodes, then manifests and timeline at their times.
  for (const auto& spec : sc.cluster.nodes)
    for (const auto& name : spec.node_names()) {
      auto r = store.create(preexisting_node(spec, name, cat.skus, cloud));
      if (!r) log.record("Node", name, "create failed: " + r.error().message);
    }
  json rejected = json::array();
  // Logs each violation at its field's source position and records the rejection; false if any.
  auto admitted = [&](const ManifestSource& m, const std::string& who, const admission::AdmissionResult& review,
                      const std::string& prefix) {
    admission_pins.clear();
    if (review.allowed()) return true;
    json messages = json::array();
    for (const auto& v : review.violations) {
      const std::string where = m.error(v.pointer, v.message).what();
      log.record(m.kind, who, prefix + where);
      messages.push_back(where);
    }
    rejected.push_back({{"kind", m.kind},
                        {"name", m.name},
                        {"namespace", m.namespace_},
                        {"file", m.file},
                        {"line", m.line},
                        {"violations", messages}});
    return false;
  };
  auto apply = [&](const ManifestSource& m) {
    Object obj;
    try {
      obj = object_from_json(m.manifest);
    } catch (const std::invalid_argument& e) {
      log.record(m.kind, m.namespace_.empty() ? m.name : m.namespace_ + "/" + m.name,
                 std::string("invalid: ") + e.what());
      return;
    }
    const std::string who = m.namespace_.empty() ? m.name : m.namespace_ + "/" + m.name;
    // kubectl apply: update what exists, keeping what the server owns (status, uid, finalizers...).
    auto existing = store.get(m.kind, m.namespace_, m.name);
    if (existing) {
      Object updated = *existing.value();
      updated.api_version = obj.api_version;
      updated.meta.labels = obj.meta.labels;
      updated.meta.annotations = obj.meta.annotations;
      for (const auto& [k, v] : existing.value()->meta.annotations)  // annotations the controller wrote
        if (k.rfind("workspace.kaito.io/", 0) == 0 && !updated.meta.annotations.count(k))
          updated.meta.annotations[k] = v;
      const json status = updated.body.contains("status") ? updated.body["status"] : json();
      updated.body = obj.body;
      if (!status.is_null()) updated.body["status"] = status;
      if (m.is_workspace() && !admitted(m, who, admission::review_workspace_update(*existing.value(), updated, actx),
                                        "update rejected by admission: "))
        return;
      auto r = store.update(std::move(updated));
      log.record(m.kind, who, r ? "configured" : "update failed: " + r.error().message);
      return;
    }
    // Review here too, so each violation points at its field's file:line:column.
    if (m.is_workspace() && !admitted(m, who, admission::review_workspace_create(obj, actx), "rejected by admission: "))
      return;
    auto r = store.create(obj);
    if (!r) {
      log.record(m.kind, who, "rejected: " + r.error().message);
      rejected.push_back({{"kind", m.kind},
                          {"name", m.name},
                          {"namespace", m.namespace_},
                          {"file", m.file},
                          {"line", m.line},
                          {"violations", json::array({r.error().message})}});
    }
  };
  // What the scenario does at each instant runs as one event, in file order (manifests, then timeline
  // actions), so it never depends on how the kernel orders same-time events.
  std::map<Duration, std::vector<std::function<void()>>> script;
  for (const auto& m : sc.manifests) script[m.at].push_back([&apply, &m] { apply(m); });
  for (const auto& action : sc.timeline) {
    script[action.at].push_back([&, a = &action] {
      const std::string text = a->text();
      std::visit(
          [&](const auto& act) {
            using T = std::decay_t<decltype(act)>;
            if constexpr (std::is_same_v<T, ApplyAction>) {
              for (const auto& m : act.manifests) apply(m);
            } else if constexpr (std::is_same_v<T, DeleteAction>) {
              Status s = store.remove(act.kind, act.namespace_, act.name);
              log.record("Timeline", text, s ? "done" : "failed: " + s.error().message);
            } else if constexpr (std::is_same_v<T, SetQuotaAction>) {
              sim_cloud.set_quota(act.sku, static_cast<int>(act.count));
              log.record("Timeline", text, "done");
            } else if constexpr (std::is_same_v<T, RegistryOutageAction>) {
              kubelet.set_registry_outage(act.registry, clock.now() + act.duration);
              log.record("Timeline", text, "done");
            } else if constexpr (std::is_same_v<T, CapacityOutageAction>) {
              sim_cloud.capacity_outage(act.sku, clock.now() + act.duration);
              log.record("Timeline", text, "done");
            } else if constexpr (std::is_same_v<T, FailNodeAction>) {
              std::vector<std::string> victims;
              if (!act.node.empty()) {
                victims.push_back(act.node);
              } else if (act.workspace) {
                ListOptions opts;
                opts.selector = LabelSelector{{{kaito::kLabelWorkspace, act.workspace->name},
                                               {kaito::kLabelWorkspaceNamespace, act.workspace->namespace_}},
                                              {}};
                if (auto nodes = store.list("Node", opts))
                  for (const auto& n : nodes.value())
                    if (static_cast<int64_t>(victims.size()) < act.count && !n->meta.deletion_timestamp)
                      victims.push_back(n->meta.name);
              }
              for (const auto& node : victims) {
                std::string inst = sim_cloud.instance_of_node(node);
                Status s = inst.empty()
                               ? Status(make_error(ErrorCode::kNotFound, "node " + node + " has no simulated VM"))
                               : sim_cloud.fail_instance(inst);
                if (inst.empty()) {
                  // A pre-existing node: its kubelet stops posting status.
                  auto r = store.patch(
                      "Node", "", node,
                      {{"status",
                        {{"conditions", json::array({{{"type", "Ready"},
                                                      {"status", "Unknown"},
                                                      {"reason", "NodeStatusUnknown"},
                                                      {"message", "Kubelet stopped posting node status."},
                                                      {"lastTransitionTime", format_rfc3339(clock.now())}}})}}}},
                      true);
                  s = r ? Status{} : Status{r.error()};
                }
                log.record("Timeline", text, s ? "failed node " + node : "failed: " + s.error().message);
              }
              if (victims.empty()) log.record("Timeline", text, "failed: no node to fail");
            } else if constexpr (std::is_same_v<T, ScaleAction>) {
              // KAITO freezes status.targetNodeCount; a Workspace cannot be scaled (InferenceSet can).
              log.record("Timeline", text,
                         "not supported: a Workspace's targetNodeCount is immutable; scale an InferenceSet instead");
            }
          },
          a->action);
    });
  }
  for (const auto& entry : script) {
    const auto& steps = entry.second;  // named, not a structured binding: clang 14 cannot capture those
    kernel.post_at(kSimEpoch + entry.first, [&steps] {
      for (const auto& step : steps) step();
    });
  }

  // Traffic on the workspaces' ready endpoints.
  ServingModel serving(kernel, store, sc, cat, log, out.seed,
                       [&kubelet](const Object& pod, const Object* node) { return kubelet.profile(pod, node); });
  serving.start();

  Time end = kSimEpoch + sc.duration;
  if (options.drive)
    end = options.drive(kernel, store);
  else
    kernel.run_until(end);
  serving.finish(end);
  out.sim_end = end - kSimEpoch;
  out.kernel_events = kernel.events_executed();

  // Results.
  out.log = log.entries();
  out.events_jsonl = log.to_jsonl();
  out.fingerprint = log.fingerprint();
  const Time now = clock.now();
  auto list = [&](const char* kind) {
    auto r = store.list(kind);
    return r ? r.value() : std::vector<ObjectPtr>{};
  };
  const auto workspaces = list("Workspace");
  const auto& hist = recorder.workspaces();

  std::string ws_version = kaito::kV1beta1;
  for (const auto& m : sc.manifests)
    if (m.is_workspace()) {
      ws_version = m.api_version;
      break;
    }
  auto get_cmd = [](const char* resource, const std::vector<ObjectPtr>& objs) {
    bool all = false;
    for (const auto& o : objs) all = all || o->meta.namespace_ != objs.front()->meta.namespace_;
    return std::string("$ kubectl get ") + resource + (all ? " -A" : "") + "\n";
  };
  const auto statefulsets = list("StatefulSet");
  out.tables += get_cmd("workspace", workspaces) + print_objects("Workspace", workspaces, now, ws_version);
  if (const auto pools = list("NodePool"); !pools.empty())
    out.tables += "\n$ kubectl get nodepools\n" + print_objects("NodePool", pools, now);
  out.tables += "\n$ kubectl get nodeclaims\n" + print_objects("NodeClaim", list("NodeClaim"), now);
  out.tables += "\n$ kubectl get nodes\n" + print_objects("Node", list("Node"), now);
  out.tables += "\n" + get_cmd("statefulsets", statefulsets) + print_objects("StatefulSet", statefulsets, now);

  auto find_ws = [&](const WorkspaceRef& ref) -> ObjectPtr {
    for (const auto& w : workspaces)
      if (w->meta.name == ref.name && w->meta.namespace_ == ref.namespace_) return w;
    return nullptr;
  };
  for (const auto& e : sc.expect) {
    ExpectationResult r{e.text(), false, ""};
    auto h = hist.find(ws_key(e.workspace));
    const WorkspaceHistory* wh = h == hist.end() ? nullptr : &h->second;
    ObjectPtr ws = find_ws(e.workspace);
    switch (e.kind) {
      case Expectation::Kind::kReadyWithin:
        if (wh && wh->ready_at) {
          r.passed = *wh->ready_at <= e.ready_within;
          r.detail = "ready after " + format_duration(*wh->ready_at / kSecond * kSecond);
        } else {
          r.detail = "never ready";
        }
        break;
      case Expectation::Kind::kNeverReady:
        r.passed = !(wh && wh->ready_at);
        r.detail = r.passed ? "never ready" : "ready after " + format_duration(*wh->ready_at / kSecond * kSecond);
        break;
      case Expectation::Kind::kCondition: {
        auto c = ws ? find_condition(ws->at("/status/conditions"), e.condition_type) : std::nullopt;
        if (!c) {
          r.detail = ws ? "condition " + e.condition_type + " absent" : "workspace does not exist";
        } else {
          r.passed = c->status == e.condition_status && (e.condition_reason.empty() || c->reason == e.condition_reason);
          r.detail = e.condition_type + "=" + c->status + " (" + c->reason + ")";
        }
        break;
      }
      case Expectation::Kind::kNodeClaims: {
        const int64_t n = wh ? wh->nodeclaims_created : 0;
        r.passed = (!e.min || n >= *e.min) && (!e.max || n <= *e.max) && (!e.equals || n == *e.equals);
        r.detail = std::to_string(n) + " NodeClaim(s) created";
        break;
      }
      case Expectation::Kind::kState: {
        const std::string state = ws ? ws->str("/status/state") : "";
        r.passed = state == e.state;
        r.detail = ws ? "state " + (state.empty() ? std::string("<none>") : state) : "workspace does not exist";
        break;
      }
      case Expectation::Kind::kMetric: {
        std::string why;
        const auto v = serving.metric(e.workspace, e.metric, why);
        if (!v) {
          r.detail = why;
          break;
        }
        r.passed = e.below ? *v < e.threshold : *v > e.threshold;
        r.detail = e.metric + " = " + format_metric(*v, e.unit);
        break;
      }
    }
    out.passed = out.passed && r.passed;
    out.expectations.push_back(std::move(r));
  }

  // Summary document.
  json s = json::object();
  s["scenario"] = sc.name;
  s["scenario_hash"] = sc.scenario_hash;
  s["seed"] = out.seed;
  s["fingerprint"] = out.fingerprint;
  s["sim_end_s"] = to_seconds(out.sim_end);
  s["kernel_events"] = out.kernel_events;
  json wss = json::array();
  for (const auto& w : workspaces) {
    json conds = json::object();
    if (w->at("/status/conditions").is_array())
      for (const auto& c : w->at("/status/conditions"))
        conds[c.value("type", "")] = {{"status", c.value("status", "")}, {"reason", c.value("reason", "")}};
    auto h = hist.find(w->meta.namespace_ + "/" + w->meta.name);
    json ready = nullptr;
    int created = 0;
    if (h != hist.end()) {
      if (h->second.ready_at) ready = to_seconds(*h->second.ready_at);
      created = h->second.nodeclaims_created;
    }
    wss.push_back(
        {{"name", w->meta.name},
         {"namespace", w->meta.namespace_},
         {"api_version", w->api_version},
         {"instance_type", w->str("/resource/instanceType")},
         {"state", w->str("/status/state")},
         {"target_node_count", w->num("/status/targetNodeCount")},
         {"ready_at_s", ready},
         {"conditions", conds},
         {"worker_nodes", w->at("/status/workerNodes").is_array() ? w->at("/status/workerNodes") : json::array()},
         {"nodeclaims_created", created}});
  }
  // Workspaces that no longer exist still report their history.
  for (const auto& [key, h] : hist) {
    bool present = false;
    for (const auto& w : workspaces) present = present || (w->meta.namespace_ + "/" + w->meta.name) == key;
    if (present) continue;
    const auto slash = key.find('/');
    wss.push_back({{"name", key.substr(slash + 1)},
                   {"namespace", key.substr(0, slash)},
                   {"state", "Deleted"},
                   {"ready_at_s", h.ready_at ? json(to_seconds(*h.ready_at)) : json(nullptr)},
                   {"nodeclaims_created", h.nodeclaims_created}});
  }
  s["workspaces"] = wss;
  json nodes = json::array();
  const auto ready_times = recorder.node_ready_times();
  for (const auto& n : list("Node")) {
    auto rt = ready_times.find(n->meta.name);
    nodes.push_back(
        {{"name", n->meta.name},
         {"instance_type",
          n->meta.label("node.kubernetes.io/instance-type") ? *n->meta.label("node.kubernetes.io/instance-type") : ""},
         {"ready", condition_is_true(n->at("/status/conditions"), "Ready")},
         {"ready_at_s", rt == ready_times.end() ? json(nullptr) : json(to_seconds(rt->second))}});
  }
  s["nodes"] = nodes;
  json nodeclaims = json::array();
  for (const auto& nc : list("NodeClaim"))
    nodeclaims.push_back({{"name", nc->meta.name},
                          {"node", nc->str("/status/nodeName")},
                          {"ready", condition_status(nc->at("/status/conditions"), "Ready")}});
  s["nodeclaims"] = nodeclaims;
  // Pods by phase, and when the last Ready one became Ready (what the scale benchmarks time).
  {
    std::map<std::string, int64_t> phases;
    int64_t ready = 0, total = 0;
    std::optional<Time> last_ready;
    for (const auto& p : list("Pod")) {
      ++total;
      ++phases[p->str("/status/phase", "Pending")];
      const json& conds = p->at("/status/conditions");
      if (!condition_is_true(conds, "Ready")) continue;
      ++ready;
      for (const auto& c : conds)
        if (c.value("type", "") == "Ready")
          if (auto t = parse_rfc3339(c.value("lastTransitionTime", "")); t && (!last_ready || *t > *last_ready))
            last_ready = *t;
    }
    s["pods"] = {{"total", total},
                 {"ready", ready},
                 {"phases", phases},
                 {"last_ready_at_s", last_ready ? json(to_seconds(*last_ready - kSimEpoch)) : json(nullptr)}};
  }
  s["rejected"] = rejected;
  out.rejected = rejected.size();
  json exps = json::array();
  for (const auto& e : out.expectations) exps.push_back({{"text", e.text}, {"passed", e.passed}, {"detail", e.detail}});
  s["expectations"] = exps;
  if (serving.has_traffic()) {
    s["metrics"] = serving.metrics_json();
    out.series = serving.series();
    out.request_samples = serving.request_samples();
  }
  s["passed"] = out.passed;
  const auto cs = sim_cloud.stats();
  s["cloud"] = {{"machines_created", cs.created},
                {"quota_rejections", cs.quota_rejections},
                {"capacity_failures", cs.capacity_failures},
                {"machines_deleted", cs.deleted}};
  s["reconciles"] = {{"workspace", ws_controller.stats().reconciles},
                     {"nodeclaim", nc_controller.stats().reconciles},
                     {"errors", ws_controller.stats().errors + nc_controller.stats().errors}};
  if (&api == &faulty)
    s["injected_faults"] = {{"calls", faulty.stats().calls},
                            {"conflicts", faulty.stats().conflicts},
                            {"unavailable", faulty.stats().unavailable}};
  out.summary = std::move(s);

  // Stop everything that could post work before the kernel and store go away.
  ws_controller.stop();
  nc_controller.stop();
  recorder.stop();
  kubelet.stop();
  device_plugin.stop();
  scheduler.stop();
  sts_controller.stop();
  job_controller.stop();
  gc.stop();
  return out;
}

}  // namespace ktwin::sim
