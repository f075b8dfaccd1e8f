#include "core/controllers/nodeclaim_controller.h"

#include <algorithm>
#include <regex>
#include <set>

#include "core/api/workspace.h"
#include "core/controllers/workspace_manifests.h"
#include "core/k8s/conditions.h"

namespace ktwin {

namespace {

bool made_by_kaito(const Object& nc) {
  return nc.meta.label(kaito::kLabelWorkspace) || nc.meta.label("kaito.sh/ragengine");
}

//! KAITO's own NodeClaims (gpu-provisioner) and those of Karpenter NodePools (karpenter mode).
bool handled_here(const Object& nc) { return made_by_kaito(nc) || nc.meta.label(kLabelNodePool); }

bool in_kaito_pool(const Object& nc) {
  const std::string* pool = nc.meta.label(kLabelNodePool);
  return !pool || *pool == kNodeClaimNodePool;
}

// KAITO's AKSNodeClasses ask for a 300 GB OS disk; Karpenter NodeClaims carry no storage request.
constexpr int64_t kKarpenterOsDiskGb = 300;

int64_t parse_gib(const std::string& q) {
  static const std::regex kQty(R"(^([0-9]+)(Gi|G|Ti|T|Mi)?$)");
  std::smatch m;
  if (!std::regex_match(q, m, kQty)) return 0;
  int64_t v = std::stoll(m[1].str());
  const std::string unit = m[2].str();
  if (unit == "Ti" || unit == "T") return v * 1024;
  if (unit == "Mi") return v / 1024;
  return v;
}

std::string label_safe_time(Time t) {
  std::string s = format_rfc3339(t);
  std::replace(s.begin(), s.end(), ':', '-');
  return s;
}

Time condition_time(const json& conds, const char* type) {
  auto c = find_condition(conds, type);
  return c ? c->last_transition_time : 0;
}

}  // namespace

NodeClaimReconciler::NodeClaimReconciler(Cluster& cluster, Clock& clock, CloudProvider& cloud, const SkuCatalog& skus,
                                         EventRecorder& events, NodeClaimLifecycleConfig config)
    : cluster_(cluster), clock_(clock), cloud_(cloud), skus_(skus), events_(events), config_(std::move(config)) {}

void NodeClaimReconciler::setup_watches(Controller& c) {
  c.watch(cluster_, "NodeClaim", "", Controller::map_to_self());
  // Nodes of a machine carry the agent-pool name, which is the NodeClaim name.
  c.watch(cluster_, "Node", "", [](const WatchEvent& ev) {
    std::vector<Request> out;
    if (const std::string* pool = ev.object->meta.label(kLabelAgentPool)) out.push_back(Request{"", *pool});
    return out;
  });
}

InstanceSpec NodeClaimReconciler::instance_spec(const Object& nc, std::string& problem) const {
  InstanceSpec spec;
  spec.name = nc.meta.name;
  spec.owner = nc.meta.name;
  // gpu-provisioner makes each NodeClaim an AKS agent pool, whose names are short; Karpenter makes VMs.
  const bool agent_pool = in_kaito_pool(nc);
  static const std::regex kPoolName("^[a-z][a-z0-9]{0,11}$");
  if (agent_pool && !std::regex_match(spec.name, kPoolName))
    problem = "agent pool name " + spec.name + " is invalid: must match ^[a-z][a-z0-9]{0,11}$";
  const json& reqs = nc.at("/spec/requirements");
  if (reqs.is_array())
    for (const auto& r : reqs)
      if (r.value("key", "") == kLabelInstanceType && r.contains("values") && !r["values"].empty())
        spec.instance_type = r["values"][0].get<std::string>();
  if (spec.instance_type.empty() && problem.empty()) problem = "no instance type requirement";
  spec.os_disk_gb = parse_gib(nc.str("/spec/resources/requests/storage"));
  if (!agent_pool && spec.os_disk_gb <= 0) spec.os_disk_gb = kKarpenterOsDiskGb;
  if (spec.os_disk_gb <= 0 && problem.empty()) problem = "storage request must be greater than 0";
  spec.labels = nc.meta.labels;
  if (agent_pool) {
    spec.labels[kLabelNodePool] = kNodeClaimNodePool;
    spec.labels[kaito::kLabelMachineType] =
        spec.instance_type.rfind("Standard_N", 0) == 0 || config_.cloud != "azure" ? "gpu" : "cpu";
  }
  spec.labels["kaito.sh/creation-timestamp"] = label_safe_time(nc.meta.creation_timestamp);
  const std::string* family = nc.meta.annotation(kaito::kAnnotationNodeImageFamily);
  spec.image_family = family ? *family : "ubuntu";
  const json& taints = nc.at("/spec/taints");
  if (taints.is_array())
    for (const auto& t : taints)
      spec.taints.push_back(Taint{t.value("key", ""), t.value("value", ""), t.value("effect", "")});
  return spec;
}

ReconcileResult NodeClaimReconciler::reconcile(const Request& req, std::optional<ReconcileError>& error) {
  auto got = cluster_.get("NodeClaim", "", req.name);
  if (!got) {
    if (!got.is(ErrorCode::kNotFound)) error = ReconcileError{got.error().to_string(), false};
    return {};
  }
  ObjectPtr snapshot = got.value();
  if (!handled_here(*snapshot)) return {};
  if (snapshot->meta.deletion_timestamp) return finalize(*snapshot, error);

  if (!snapshot->meta.has_finalizer(kTerminationFinalizer)) {
    json finalizers = snapshot->meta.finalizers;
    finalizers.push_back(kTerminationFinalizer);
    auto r = cluster_.patch("NodeClaim", "", snapshot->meta.name, {{"metadata", {{"finalizers", finalizers}}}});
    if (!r) {
      error = ReconcileError{r.error().to_string(), false};
      return {};
    }
    snapshot = r.value();
  }
  const Object& nc = *snapshot;

  const Time now = clock_.now();
  static const json kEmpty = json::object();
  const json& before = nc.at("/status").is_object() ? nc.at("/status") : kEmpty;
  json status = before;
  json& conds = status["conditions"];
  if (!conds.is_array()) conds = json::array();
  auto set = [&](const char* type, const char* st, const std::string& reason, const std::string& msg) {
    set_condition(conds, Condition{type, st, reason, msg, nc.meta.generation, 0}, now);
  };
  for (const char* type : {"Launched", "Registered", "Initialized", "Ready"})
    if (!find_condition(conds, type))
      set(type, "Unknown", "AwaitingReconciliation", "object is awaiting reconciliation");

  ReconcileResult result;
  auto requeue_at = [&](Duration d) {
    if (d <= 0) d = kSecond;
    if (result.requeue_after == 0 || d < result.requeue_after) result.requeue_after = d;
  };
  bool delete_claim = false;
  std::string delete_reason;

  // Launch.
  if (!condition_is_true(conds, "Launched")) {
    std::string problem;
    InstanceSpec spec = instance_spec(nc, problem);
    if (!problem.empty()) {
      set("Launched", "False", "LaunchFailed", problem);
    } else {
      auto inst = cloud_.get(nc.meta.name);
      if (!inst && inst.is(ErrorCode::kNotFound)) {
        auto created = cloud_.create(spec);
        if (!created) {
          const Error& e = created.error();
          set("Launched", "False", e.reason.empty() ? error_code_name(e.code) : e.reason, e.message);
          events_.warning(nc, "LaunchFailed", e.message);
        } else {
          // A create in progress clears an earlier failure, so liveness does not kill it.
          set("Launched", "Unknown", "Launching", "creating agent pool " + spec.name);
          events_.normal(nc, "Launching", "creating agent pool " + spec.name + " (" + spec.instance_type + ")");
        }
        requeue_at(config_.poll_interval);
      } else if (!inst) {
        error = ReconcileError{inst.error().to_string(), false};
      } else if (inst->state == InstanceState::kCreating) {
        set("Launched", "Unknown", "Launching", "creating agent pool " + spec.name);
        requeue_at(config_.poll_interval);
      } else if (inst->state == InstanceState::kFailed) {
        set("Launched", "False", inst->error_reason.empty() ? "LaunchFailed" : inst->error_reason, inst->error_message);
        (void)cloud_.remove(nc.meta.name);  // the next attempt creates it afresh
        requeue_at(config_.poll_interval);
      } else if (inst->state == InstanceState::kRunning) {
        status["providerID"] = inst->provider_id;
        if (const Sku* sku = skus_.find(config_.cloud, inst->instance_type)) {
          json cap = {{"cpu", std::to_string(sku->vcpus)},
                      {"memory", std::to_string(static_cast<int64_t>(sku->memory_gib)) + "Gi"},
                      {"pods", "110"}};
          if (sku->gpu.gpu_count > 0) cap[kResourceGpu] = std::to_string(sku->gpu.gpu_count);
          status["capacity"] = cap;
          status["allocatable"] = cap;
        }
        set("Launched", "True", "Launched", "");
      } else {
        requeue_at(config_.poll_interval);
      }
    }
    // Liveness: a launch that keeps failing (Launched=False) for 5 minutes gives up; a create still in
    // progress (Launched=Unknown) is waited for, as gpu-provisioner blocks on the operation.
    if (condition_status(conds, "Launched") == "False") {
      if (now - nc.meta.creation_timestamp >= config_.launch_timeout) {
        delete_claim = true;
        delete_reason = "launch failed for " + format_duration(config_.launch_timeout);
      } else {
        requeue_at(nc.meta.creation_timestamp + config_.launch_timeout - now);
      }
    }
  }

  // Register and initialize.
  ObjectPtr node;
  if (condition_is_true(conds, "Launched") && !delete_claim) {
    const std::string provider_id = status.value("providerID", "");
    ListOptions opts;
    opts.selector = LabelSelector{{{kLabelAgentPool, nc.meta.name}}, {}};
    auto nodes = cluster_.list("Node", opts);
    if (!nodes) {
      // Unknown is not absent: deciding "node gone" here would delete a healthy NodeClaim.
      error = ReconcileError{nodes.error().to_string(), false};
      return {};
    }
    for (const auto& n : nodes.value())
      if (n->str("/spec/providerID") == provider_id && !n->meta.deletion_timestamp) node = n;
    if (!node) {
      const Time launched = condition_time(conds, "Launched");
      if (condition_is_true(conds, "Registered")) {
        delete_claim = true;
        delete_reason = "node " + status.value("nodeName", "") + " no longer exists";
      } else if (now - launched >= config_.registration_timeout) {
        delete_claim = true;
        delete_reason = "node did not register within " + format_duration(config_.registration_timeout);
      } else {
        set("Registered", "Unknown", "AwaitingReconciliation", "node has not registered yet");
        requeue_at(launched + config_.registration_timeout - now);
      }
    } else {
      status["nodeName"] = node->meta.name;
      set("Registered", "True", "Registered", "");
      json labels = json::object();
      if (!node->meta.label("karpenter.sh/registered")) labels["karpenter.sh/registered"] = "true";
      const bool node_ready = condition_is_true(node->at("/status/conditions"), "Ready");
      if (node_ready) {
        set("Initialized", "True", "Initialized", "");
        if (!node->meta.label("karpenter.sh/initialized")) labels["karpenter.sh/initialized"] = "true";
      } else if (!condition_is_true(conds, "Initialized")) {
        set("Initialized", "Unknown", "AwaitingReconciliation", "node is not ready yet");
      }
      if (!labels.empty()) (void)cluster_.patch("Node", "", node->meta.name, {{"metadata", {{"labels", labels}}}});
      // Repair: a node that stays NotReady/Unknown is replaced.
      if (!node_ready && condition_is_true(conds, "Initialized")) {
        auto rc = find_condition(node->at("/status/conditions"), "Ready");
        const Time since = rc ? rc->last_transition_time : now;
        if (now - since >= config_.repair_after) {
          delete_claim = true;
          delete_reason = "node " + node->meta.name + " has been NotReady for " + format_duration(now - since);
        } else {
          requeue_at(since + config_.repair_after - now);
        }
      }
    }
  }

  // Ready summarises the three.
  const bool all = condition_is_true(conds, "Launched") && condition_is_true(conds, "Registered") &&
                   condition_is_true(conds, "Initialized");
  bool any_false = false;
  for (const char* t : {"Launched", "Registered", "Initialized"})
    any_false = any_false || condition_status(conds, t) == "False";
  if (all)
    set("Ready", "True", "Ready", "");
  else if (any_false)
    set("Ready", "False", "NotReady", "a lifecycle condition is False");
  else
    set("Ready", "Unknown", "AwaitingReconciliation", "object is awaiting reconciliation");

  if (status != before) {
    Object updated = nc;  // copy only when there is something to write
    updated.body["status"] = std::move(status);
    auto r = cluster_.update_status(std::move(updated));
    if (!r && !r.is(ErrorCode::kNotFound)) error = ReconcileError{r.error().to_string(), false};
  }
  if (delete_claim) {
    events_.warning(nc, "Disrupting", "deleting NodeClaim: " + delete_reason);
    Status s = cluster_.remove("NodeClaim", "", nc.meta.name);
    if (!s && !s.is(ErrorCode::kNotFound)) error = ReconcileError{s.error().to_string(), false};
    return {};
  }
  return result;
}

ReconcileResult NodeClaimReconciler::finalize(const Object& nc, std::optional<ReconcileError>& error) {
  if (!nc.meta.has_finalizer(kTerminationFinalizer)) return {};
  // The node goes first (Karpenter's termination drains and deletes it), then the machine.
  ListOptions opts;
  opts.selector = LabelSelector{{{kLabelAgentPool, nc.meta.name}}, {}};
  auto nodes = cluster_.list("Node", opts);
  if (!nodes) {
    error = ReconcileError{nodes.error().to_string(), false};
    return {};
  }
  for (const auto& n : nodes.value())
    if (!n->meta.deletion_timestamp) (void)cluster_.remove("Node", "", n->meta.name);
  auto inst = cloud_.get(nc.meta.name);
  if (inst) {
    if (inst->state != InstanceState::kDeleting) {
      Status s = cloud_.remove(nc.meta.name);
      if (!s && !s.is(ErrorCode::kNotFound)) {
        error = ReconcileError{s.error().to_string(), false};
        return {};
      }
    }
    return ReconcileResult::after(config_.poll_interval);  // wait for the delete to finish
  }
  if (!inst.is(ErrorCode::kNotFound)) {
    error = ReconcileError{inst.error().to_string(), false};
    return {};
  }
  Object updated = nc;
  updated.meta.remove_finalizer(kTerminationFinalizer);
  auto r = cluster_.update(updated);
  if (!r && !r.is(ErrorCode::kNotFound)) error = ReconcileError{r.error().to_string(), false};
  return {};
}

void NodeClaimReconciler::start_garbage_collection(Executor& executor) {
  auto alive = gc_alive_;
  executor.post_after(config_.gc_interval, [this, alive, &executor] {
    if (!*alive) return;
    collect_garbage();
    start_garbage_collection(executor);
  });
}

void NodeClaimReconciler::collect_garbage() {
  auto instances = cloud_.list();
  if (!instances) return;
  auto claims = cluster_.list("NodeClaim");
  if (!claims) return;  // without the full picture nothing may be called a leak
  std::set<std::string> claimed;
  for (const auto& c : claims.value()) claimed.insert(c->meta.name);
  const Time now = clock_.now();
  for (const auto& inst : instances.value()) {
    if (inst.state == InstanceState::kDeleting || now - inst.created_at < config_.gc_min_age) continue;
    if (claimed.count(inst.name)) continue;
    // Re-check one by one: the list may predate a NodeClaim created since.
    auto nc = cluster_.get("NodeClaim", "", inst.name);
    if (nc || !nc.is(ErrorCode::kNotFound)) continue;
    (void)cloud_.remove(inst.name);
    ListOptions opts;
    opts.selector = LabelSelector{{{kLabelAgentPool, inst.name}}, {}};
    if (auto nodes = cluster_.list("Node", opts))
      for (const auto& n : nodes.value()) (void)cluster_.remove("Node", "", n->meta.name);
  }
}

}  // namespace ktwin
