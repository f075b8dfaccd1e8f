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
#include "sim/world.h"

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
  if (!sc.models.empty()) extended = with_generic_models(base_catalog, sc.models);
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

  const OperatorConfig op = operator_config_of(sc.cluster);

  // The API server's admission: KAITO's validating webhook for Workspaces.
  admission::AdmissionContext actx;
  actx.presets = &cat.presets;
  actx.skus = &cat.skus;
  actx.cloud = cloud;
  actx.node_auto_provisioning = op.nap();
  std::vector<ObjectPtr> admission_pins;  // keeps looked-up objects alive during a review
  lookups_from(store, admission_pins, actx);
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

  // The simulated world: the modelled actors on the store, the provisioner roles on the operator's API.
  WorldConfig world_cfg;
  world_cfg.cloud = cloud;
  world_cfg.region = sc.cluster.region;
  world_cfg.provisioner = op.node_provisioner;
  world_cfg.quota = sc.cluster.quota;
  world_cfg.datasets = &sc.cluster.datasets;
  World world(store, api, exec, clock, cat, world_cfg, sample, sink, events);
  cluster_model::SimCloud& sim_cloud = *world.cloud();
  cluster_model::Kubelet& kubelet = *world.kubelet();
  world.start();

  WorkspaceReconciler ws_reconciler(operator_api, clock, cat.presets, cat.skus, events, op);
  Controller ws_controller(ControllerOptions{"workspace", op.max_concurrent_reconciles}, ws_reconciler, exec, clock);
  if (options.builtin_operator) ws_reconciler.setup_watches(ws_controller);
  world.start_provisioner();
  if (op.node_provisioner == NodeProvisionerKind::kKarpenter)
    world.create_node_classes(
        [&](const std::string& name, const std::string& what) { log.record(op.node_class.kind, name, what); });

  // Pre-existing nodes, then manifests and timeline at their times.
  for (const auto& spec : sc.cluster.nodes)
    for (const auto& name : spec.node_names()) {
      auto r = store.create(World::preexisting_node(spec, name, cat.skus, cloud, kSimEpoch));
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
      Object updated = apply_onto(*existing.value(), obj);
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
      world.perform(*a, apply, [&](const std::string& what) { log.record("Timeline", text, what); });
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
                     {"nodeclaim", world.nodeclaim_stats().reconciles},
                     {"errors", ws_controller.stats().errors + world.nodeclaim_stats().errors}};
  if (&api == &faulty)
    s["injected_faults"] = {{"calls", faulty.stats().calls},
                            {"conflicts", faulty.stats().conflicts},
                            {"unavailable", faulty.stats().unavailable}};
  out.summary = std::move(s);

  // Stop everything that could post work before the kernel and store go away.
  ws_controller.stop();
  recorder.stop();
  return out;  // the world stops its parts as it goes
}

}  // namespace ktwin::sim
