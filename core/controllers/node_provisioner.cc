#include "core/controllers/node_provisioner.h"

#include <algorithm>
#include <tuple>

#include "core/controllers/workspace_manifests.h"

namespace ktwin {

void CreationExpectations::expect(const std::string& key, int count, Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& e = entries_[key];
  e.pending += count;
  e.since = now;
}

void CreationExpectations::observed(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.pending > 0) --it->second.pending;
}

void CreationExpectations::lower(const std::string& key) { observed(key); }

bool CreationExpectations::satisfied(const std::string& key, Time now) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() || it->second.pending <= 0 || now - it->second.since > ttl_;
}

void CreationExpectations::forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(key);
}

std::string workspace_key(const Object& ws) { return ws.meta.namespace_ + "/" + ws.meta.name; }

bool node_is_ready(const Object& node) {
  return !node.meta.deletion_timestamp && condition_is_true(node.at("/status/conditions"), "Ready");
}

Result<std::vector<ObjectPtr>> workspace_nodes(Cluster& cluster, const Object& ws, bool with_ownership_labels) {
  Labels labels = kaito::sanitized_match_labels(ws.at("/resource/labelSelector"));
  if (with_ownership_labels) {
    labels[kaito::kLabelWorkspace] = ws.meta.name;
    labels[kaito::kLabelWorkspaceNamespace] = ws.meta.namespace_;
  }
  return nodes_with_labels(cluster, labels);
}

Result<std::vector<ObjectPtr>> nodes_with_labels(Cluster& cluster, const Labels& labels) {
  ListOptions opts;
  opts.selector = LabelSelector{labels, {}};
  return cluster.list("Node", opts);
}

namespace {

int64_t gpu_capacity(const Object& node) {
  const json& cap = node.at("/status/capacity/nvidia.com~1gpu");
  if (cap.is_string()) {
    try {
      return std::stoll(cap.get<std::string>());
    } catch (const std::exception&) {
      return 0;
    }
  }
  return cap.is_number() ? cap.get<int64_t>() : 0;
}

std::string str_of(int64_t v) { return std::to_string(v); }

bool claim_ready(const Object& nc) {
  if (nc.meta.deletion_timestamp) return false;
  const std::string ready = condition_status(nc.at("/status/conditions"), "Ready");
  if (!ready.empty()) return ready == "True";
  return !nc.str("/status/nodeName").empty();
}

//! The earliest lifecycle condition (Launched, then Registered, Initialized) that is False with a
//! reason on any live NodeClaim: the cloud's error surfaces in the workspace (KAITO PR #2203).
std::optional<std::pair<std::string, std::string>> first_provisioning_failure(const std::vector<ObjectPtr>& claims) {
  for (const char* type : {"Launched", "Registered", "Initialized"})
    for (const auto& c : claims) {
      if (c->meta.deletion_timestamp) continue;
      auto cond = find_condition(c->at("/status/conditions"), type);
      if (cond && cond->status == "False" && !cond->reason.empty())
        return std::make_pair(cond->reason, "NodeClaim " + c->meta.name + " " + type + "=False: " + cond->message);
    }
  return std::nullopt;
}

//! KAITO's CheckIfNodePluginsReady over ready NodeClaims: each one's node exists and is Ready, gets the
//! `accelerator=nvidia` label, and advertises nvidia.com/gpu capacity. Returns whether all passed.
Result<bool> node_plugins_ready(Cluster& cluster, const std::vector<ObjectPtr>& claims, bool& nodes_changed) {
  for (const auto& c : claims) {
    if (c->meta.deletion_timestamp || !claim_ready(*c)) continue;
    const std::string node_name = c->str("/status/nodeName");
    if (node_name.empty()) return false;
    auto node = cluster.get("Node", "", node_name);
    if (!node || !node_is_ready(**node)) return false;
    const std::string* acc = (*node)->meta.label("accelerator");
    if (!acc || *acc != "nvidia") {
      auto patched = cluster.patch("Node", "", node_name, {{"metadata", {{"labels", {{"accelerator", "nvidia"}}}}}});
      if (!patched) return patched.error();
      nodes_changed = true;
    }
    if (gpu_capacity(**node) <= 0) return false;
  }
  return true;
}

//! ", warning: node X has MemoryPressure" for the first node under pressure, else "".
std::string pressure_warning(const std::vector<ObjectPtr>& nodes) {
  for (const auto& node : nodes)
    for (const char* p : {"MemoryPressure", "DiskPressure", "PIDPressure"})
      if (condition_is_true(node->at("/status/conditions"), p))
        return "; warning: node " + node->meta.name + " has " + p;
  return "";
}

// The gpu-provisioner backend: one NodeClaim per node; Azure/gpu-provisioner turns each into an
// agent pool with one VM.
class GpuProvisioner : public NodeProvisioner {
 public:
  explicit GpuProvisioner(const ProvisionerDeps& d) : d_(d) {}

  // A failed list is an error, never "nothing there": treating it as empty would create duplicates.
  Status load(const ProvisionContext& ctx) {
    if (!ctx.nodeclaims) {
      auto r = claims_of(ctx.ws);
      if (!r) return r.error();
      ctx.nodeclaims = std::move(r.value());
    }
    if (!ctx.owned_nodes) {
      auto r = workspace_nodes(d_.cluster, ctx.ws, true);
      if (!r) return r.error();
      ctx.owned_nodes = std::move(r.value());
    }
    return {};
  }

  Result<std::vector<ObjectPtr>> claims_of(const Object& ws) {
    ListOptions opts;
    LabelSelector sel;
    sel.match_labels = {{kaito::kLabelWorkspace, ws.meta.name}, {kaito::kLabelWorkspaceNamespace, ws.meta.namespace_}};
    opts.selector = sel;
    return d_.cluster.list("NodeClaim", opts);
  }

  static int byo_ready(const ProvisionContext& ctx) {
    int n = 0;
    for (const auto& node : *ctx.owned_nodes)
      if (node_is_ready(*node) && !node->meta.label(kLabelNodePool)) ++n;
    return n;
  }

  Status provision_nodes(const ProvisionContext& ctx) override {
    if (Status s = load(ctx); !s) return s;
    const int needed = std::max(0, ctx.target_nodes - byo_ready(ctx));
    const int existing = static_cast<int>(ctx.nodeclaims->size());
    const int to_create = std::max(0, needed - existing);
    if (to_create == 0) return {};
    const std::string key = workspace_key(ctx.ws);
    ctx.nodeclaims.reset();  // about to create some
    d_.expectations.expect(key, to_create, d_.clock.now());
    for (int i = 0; i < to_create; ++i) {
      Result<ObjectPtr> created = make_error(ErrorCode::kAlreadyExists, "");
      for (int attempt = 0; attempt < 8 && created.is(ErrorCode::kAlreadyExists); ++attempt) {
        std::string name = nodeclaim_name(ctx.ws.meta.namespace_, ctx.ws.meta.name, d_.clock.now(), i * 8 + attempt);
        created = d_.cluster.create(build_nodeclaim(ctx.ws, ctx.spec, d_.config, name, ctx.disk_gib));
      }
      if (!created) {
        d_.expectations.lower(key);
        d_.events.warning(ctx.ws, "NodeClaimCreationFailed", "Failed to create NodeClaim: " + created.error().message);
        for (int rest = i + 1; rest < to_create; ++rest) d_.expectations.lower(key);
        return created.error();
      }
      d_.events.normal(ctx.ws, "NodeClaimCreated", "Successfully created NodeClaim " + created.value()->meta.name);
    }
    return {};
  }

  Result<NodesReadiness> ensure_nodes_ready(const ProvisionContext& ctx) override {
    if (Status s = load(ctx); !s) return s.error();
    const int needed = std::max(0, ctx.target_nodes - byo_ready(ctx));
    const auto& claims = *ctx.nodeclaims;
    int ready_claims = 0;
    for (const auto& c : claims) ready_claims += claim_ready(*c) ? 1 : 0;
    if (ready_claims < needed) return NodesReadiness{false, false};  // NodeClaim events wake us

    const std::string& sku = ctx.spec.resource.instance_type;
    int ready_nodes = 0;
    for (const auto& node : *ctx.owned_nodes) {
      const std::string* it = node->meta.label(kLabelInstanceType);
      if (node_is_ready(*node) && it && *it == sku) ++ready_nodes;
    }
    if (ready_nodes < ctx.target_nodes) return NodesReadiness{false, true};

    // GPU plugin check, only for SKUs KAITO knows.
    if (d_.skus.find(d_.config.cloud, sku)) {
      bool nodes_changed = false;
      auto plugins = node_plugins_ready(d_.cluster, claims, nodes_changed);
      if (nodes_changed) ctx.owned_nodes.reset();
      if (!plugins) return plugins.error();
      if (!*plugins) return NodesReadiness{false, true};
    }
    return NodesReadiness{true, false};
  }

  Status delete_nodes(const Object& ws) override {
    auto claims = claims_of(ws);
    if (!claims) return claims.error();
    for (const auto& c : claims.value()) {
      if (c->meta.deletion_timestamp) continue;
      Status s = d_.cluster.remove("NodeClaim", "", c->meta.name);
      if (!s && !s.is(ErrorCode::kNotFound)) return s;
      d_.events.normal(ws, "NodeClaimDeleted", "Deleted NodeClaim " + c->meta.name);
    }
    return {};
  }

  std::vector<std::string> condition_types() const override {
    return {kaito::kCondNodeClaimReady, kaito::kCondNodesReady, kaito::kCondResourceReady};
  }

  Result<std::vector<Condition>> collect_conditions(const ProvisionContext& ctx,
                                                    std::vector<std::string>& worker_nodes) override {
    if (Status s = load(ctx); !s) return s.error();
    const int64_t gen = ctx.ws.meta.generation;
    const int needed = std::max(0, ctx.target_nodes - byo_ready(ctx));
    const auto& claims = *ctx.nodeclaims;
    int ready_claims = 0;
    for (const auto& c : claims) ready_claims += claim_ready(*c) ? 1 : 0;

    Condition nc{kaito::kCondNodeClaimReady, "True", "NodeClaimsReady", "", gen, 0};
    if (ready_claims >= needed) {
      nc.message = "Enough NodeClaims are ready (TargetNodeClaims: " + str_of(needed) +
                   ", CurrentReadyNodeClaims: " + str_of(ready_claims) + ")";
    } else {
      nc.status = "False";
      nc.reason = "NodeClaimNotReady";
      nc.message = "Ready NodeClaims are not enough (TargetNodeClaims: " + str_of(needed) +
                   ", CurrentReadyNodeClaims: " + str_of(ready_claims) + ")";
      if (auto failure = first_provisioning_failure(claims)) std::tie(nc.reason, nc.message) = *failure;
    }

    const std::string& sku = ctx.spec.resource.instance_type;
    int ready_nodes = 0;
    const auto& nodes = *ctx.owned_nodes;
    const std::string pressure = pressure_warning(nodes);
    worker_nodes.clear();
    bool plugins_ready = true;
    for (const auto& node : nodes) {
      worker_nodes.push_back(node->meta.name);
      const std::string* it = node->meta.label(kLabelInstanceType);
      if (!node_is_ready(*node) || !it || *it != sku) continue;
      ++ready_nodes;
      if (d_.skus.find(d_.config.cloud, sku) && gpu_capacity(*node) <= 0) plugins_ready = false;
    }
    std::sort(worker_nodes.begin(), worker_nodes.end());
    Condition nr{kaito::kCondNodesReady, "True", "NodesReady", "", gen, 0};
    if (ready_nodes < ctx.target_nodes) {
      nr.status = "False";
      nr.reason = "NodeNotReady";
      nr.message = "Ready nodes are not enough (TargetNodes: " + str_of(ctx.target_nodes) +
                   ", CurrentReadyNodes: " + str_of(ready_nodes) + ")";
    } else if (!plugins_ready) {
      nr.status = "False";
      nr.reason = "NodePluginsNotReady";
      nr.message = "GPU device plugins are not ready on all nodes";
    } else {
      nr.message = "Enough nodes are ready (TargetNodes: " + str_of(ctx.target_nodes) +
                   ", CurrentReadyNodes: " + str_of(ready_nodes) + ")" + pressure;
    }

    Condition rr{kaito::kCondResourceReady,     "True", "workspaceResourceStatusSuccess",
                 "workspace resource is ready", gen,    0};
    if (nc.status != "True" || nr.status != "True") {
      rr.status = "False";
      const Condition& failing = nc.status != "True" ? nc : nr;
      const bool specific = failing.reason != "NodeClaimNotReady" && failing.reason != "NodeNotReady";
      rr.reason = specific ? failing.reason : "workspaceResourceStatusNotReady";
      rr.message = failing.message;
    }
    return std::vector<Condition>{nc, nr, rr};
  }

 private:
  ProvisionerDeps d_;
};

// BYO: nodes are already there; only check that enough matching nodes are Ready.
class ByoProvisioner : public NodeProvisioner {
 public:
  explicit ByoProvisioner(const ProvisionerDeps& d) : d_(d) {}

  Result<int> ready_nodes(const Object& ws, std::vector<std::string>* names) {
    auto nodes = workspace_nodes(d_.cluster, ws, false);
    if (!nodes) return nodes.error();
    int n = 0;
    for (const auto& node : nodes.value()) {
      if (names) names->push_back(node->meta.name);
      if (node_is_ready(*node)) ++n;
    }
    return n;
  }

  Status provision_nodes(const ProvisionContext&) override { return {}; }

  Result<NodesReadiness> ensure_nodes_ready(const ProvisionContext& ctx) override {
    auto ready = ready_nodes(ctx.ws, nullptr);
    if (!ready) return ready.error();
    return NodesReadiness{*ready >= ctx.target_nodes, true};
  }

  Status delete_nodes(const Object&) override { return {}; }

  std::vector<std::string> condition_types() const override {
    return {kaito::kCondNodesReady, kaito::kCondResourceReady};
  }

  Result<std::vector<Condition>> collect_conditions(const ProvisionContext& ctx,
                                                    std::vector<std::string>& worker_nodes) override {
    worker_nodes.clear();
    auto ready_or = ready_nodes(ctx.ws, &worker_nodes);
    if (!ready_or) return ready_or.error();
    const int ready = *ready_or;
    std::sort(worker_nodes.begin(), worker_nodes.end());
    const int64_t gen = ctx.ws.meta.generation;
    const std::string counts =
        "(TargetNodes: " + str_of(ctx.target_nodes) + ", CurrentReadyNodes: " + str_of(ready) + ")";
    if (ready >= ctx.target_nodes)
      return std::vector<Condition>{
          Condition{kaito::kCondNodesReady, "True", "NodesReady", "Enough nodes are ready " + counts, gen, 0},
          Condition{kaito::kCondResourceReady, "True", "workspaceResourceStatusSuccess", "workspace resource is ready",
                    gen, 0}};
    return std::vector<Condition>{
        Condition{kaito::kCondNodesReady, "False", "NodeNotReady", "Ready nodes are not enough " + counts, gen, 0},
        Condition{kaito::kCondResourceReady, "False", "workspaceResourceStatusNotReady",
                  "Ready nodes are not enough " + counts, gen, 0}};
  }

 private:
  ProvisionerDeps d_;
};

// Karpenter mode: one NodePool per workspace with static capacity (spec.replicas); Karpenter creates
// and heals the NodeClaims. Ready BYO nodes and legacy gpu-provisioner NodeClaims cover part of the
// target, and replicas only ever grow so running Karpenter nodes are never disrupted.
class KarpenterProvisioner : public NodeProvisioner {
 public:
  explicit KarpenterProvisioner(const ProvisionerDeps& d) : d_(d) {}

  struct Snapshot {
    int ready_with_instance_type = 0;  //!< BYO + legacy + Karpenter nodes, Ready, of the right SKU
    int covered_by_others = 0;         //!< ready BYO nodes + live legacy NodeClaims
    int target_claims = 0;
    std::vector<ObjectPtr> claims;  //!< this workspace's NodePool's NodeClaims
    std::vector<ObjectPtr> ready_claims;
  };

  std::string node_class_name(const Object& ws) const {
    const std::string* a = ws.meta.annotation(kaito::kAnnotationNodeClassName);
    return a && !a->empty() ? *a : d_.config.node_class.default_name;
  }

  Status check_node_class(const std::string& name) {
    auto nc = d_.cluster.get(d_.config.node_class.kind, "", name);
    std::string why;
    if (!nc)
      why = "getting NodeClass \"" + name + "\": " + nc.error().message;
    else if (!(*nc)->at("/status/conditions").is_array())
      why = "NodeClass \"" + name + "\" has no status conditions";
    else if (!condition_is_true((*nc)->at("/status/conditions"), "Ready"))
      why = "NodeClass \"" + name + "\" exists but is not Ready";
    if (why.empty()) return {};
    return make_error(ErrorCode::kUnavailable, "NodeClass \"" + name + "\" is not ready: " + why, "NodeClassNotReady");
  }

  // KAITO's countCoveredNodes: nodes of sibling workspaces sharing the selector do not count.
  Status count_covered(const ProvisionContext& ctx, Snapshot& snap) {
    if (!ctx.ws.at("/resource/labelSelector").is_object()) return {};
    auto nodes = workspace_nodes(d_.cluster, ctx.ws, false);
    if (!nodes) return nodes.error();
    int byo = 0;
    for (const auto& node : nodes.value()) {
      const std::string* it = node->meta.label(kLabelInstanceType);
      if (!node_is_ready(*node) || !it || *it != ctx.spec.resource.instance_type) continue;
      const std::string* karpenter_owner = node->meta.label(kaito::kLabelKarpenterWorkspaceName);
      const std::string* legacy_owner = node->meta.label(kaito::kLabelWorkspace);
      if ((karpenter_owner && *karpenter_owner != ctx.ws.meta.name) ||
          (legacy_owner && *legacy_owner != ctx.ws.meta.name))
        continue;
      ++snap.ready_with_instance_type;
      if (!karpenter_owner && !legacy_owner) ++byo;
    }
    ListOptions legacy_opts;
    legacy_opts.selector = LabelSelector{
        {{kaito::kLabelWorkspace, ctx.ws.meta.name}, {kaito::kLabelWorkspaceNamespace, ctx.ws.meta.namespace_}}, {}};
    auto legacy = d_.cluster.list("NodeClaim", legacy_opts);
    if (!legacy) return legacy.error();
    int legacy_live = 0;
    for (const auto& c : legacy.value()) legacy_live += c->meta.deletion_timestamp ? 0 : 1;
    snap.covered_by_others = byo + legacy_live;
    return {};
  }

  Result<Snapshot> snapshot(const ProvisionContext& ctx) {
    Snapshot snap;
    ListOptions opts;
    opts.selector = LabelSelector{{{kLabelNodePool, nodepool_name(ctx.ws.meta.namespace_, ctx.ws.meta.name)}}, {}};
    auto claims = d_.cluster.list("NodeClaim", opts);
    if (!claims) return claims.error();
    snap.claims = std::move(claims.value());
    for (const auto& c : snap.claims)
      if (claim_ready(*c)) snap.ready_claims.push_back(c);
    if (Status s = count_covered(ctx, snap); !s) return s.error();
    snap.target_claims = std::max(0, ctx.target_nodes - snap.covered_by_others);
    return snap;
  }

  Status provision_nodes(const ProvisionContext& ctx) override {
    const std::string class_name = node_class_name(ctx.ws);
    if (Status s = check_node_class(class_name); !s) return s;
    Snapshot snap;
    if (Status s = count_covered(ctx, snap); !s) return s;
    const int64_t desired = static_cast<int64_t>(ctx.target_nodes) - snap.covered_by_others;
    if (desired <= 0) return {};
    const std::string name = nodepool_name(ctx.ws.meta.namespace_, ctx.ws.meta.name);
    auto existing = d_.cluster.get("NodePool", "", name);
    if (!existing) {
      if (!existing.is(ErrorCode::kNotFound)) return existing.error();
      auto created = d_.cluster.create(build_nodepool(ctx.ws, ctx.spec, d_.config, class_name, desired));
      if (!created && !created.is(ErrorCode::kAlreadyExists)) {
        d_.events.warning(ctx.ws, "NodePoolCreationFailed",
                          "Failed to create NodePool " + name + ": " + created.error().message);
        return created.error();
      }
      if (created)
        d_.events.normal(ctx.ws, "NodePoolCreated",
                         "Created NodePool " + name + " with " + str_of(desired) + " replicas");
      return {};
    }
    const json& current = existing.value()->at("/spec/replicas");
    if (current.is_number_integer() && current.get<int64_t>() >= desired) return {};  // never scale down
    Object updated = *existing.value();
    updated.body["spec"]["replicas"] = desired;
    auto r = d_.cluster.update(std::move(updated));
    if (!r) return r.error();
    d_.events.normal(ctx.ws, "NodePoolUpdated", "Updated NodePool " + name + " replicas to " + str_of(desired));
    return {};
  }

  Result<NodesReadiness> ensure_nodes_ready(const ProvisionContext& ctx) override {
    auto snap = snapshot(ctx);
    if (!snap) return snap.error();
    if (static_cast<int>(snap->ready_claims.size()) < snap->target_claims) return NodesReadiness{false, false};
    if (snap->ready_with_instance_type < ctx.target_nodes) return NodesReadiness{false, true};
    bool nodes_changed = false;
    auto plugins = node_plugins_ready(d_.cluster, snap->ready_claims, nodes_changed);
    if (!plugins) return plugins.error();
    return *plugins ? NodesReadiness{true, false} : NodesReadiness{false, true};
  }

  // Karpenter cascades NodePool -> NodeClaims -> nodes -> VMs.
  Status delete_nodes(const Object& ws) override {
    const std::string name = nodepool_name(ws.meta.namespace_, ws.meta.name);
    auto np = d_.cluster.get("NodePool", "", name);
    if (!np) return np.is(ErrorCode::kNotFound) ? Status{} : Status(np.error());
    if (np.value()->meta.deletion_timestamp) return {};
    Status s = d_.cluster.remove("NodePool", "", name);
    if (!s && !s.is(ErrorCode::kNotFound)) return s;
    d_.events.normal(ws, "NodePoolDeleted", "Deleted NodePool " + name);
    return {};
  }

  std::vector<std::string> condition_types() const override {
    return {kaito::kCondNodeClaimReady, kaito::kCondNodesReady, kaito::kCondResourceReady};
  }

  Result<std::vector<Condition>> collect_conditions(const ProvisionContext& ctx,
                                                    std::vector<std::string>& worker_nodes) override {
    auto snap_or = snapshot(ctx);
    if (!snap_or) return snap_or.error();
    const Snapshot& snap = *snap_or;
    const int64_t gen = ctx.ws.meta.generation;
    Condition nc{kaito::kCondNodeClaimReady, "False", "NodeClaimNotReady", "Ready NodeClaims are not enough", gen, 0};
    Condition nr{kaito::kCondNodesReady, "False", "NodeNotReady", "Not enough Nodes are ready", gen, 0};
    Condition rr{kaito::kCondResourceReady,
                 "False",
                 "workspaceResourceStatusNotReady",
                 "node claim or node status condition not ready",
                 gen,
                 0};
    if (static_cast<int>(snap.ready_claims.size()) >= snap.target_claims) {
      nc.status = "True";
      nc.reason = "NodeClaimsReady";
      nc.message = "Enough NodeClaims are ready";
    } else if (auto failure = first_provisioning_failure(snap.claims)) {
      std::tie(nc.reason, nc.message) = *failure;
    }

    auto nodes = nodes_with_labels(d_.cluster, workload_node_labels(ctx.ws, d_.config));
    if (!nodes) return nodes.error();
    worker_nodes.clear();
    for (const auto& node : nodes.value()) worker_nodes.push_back(node->meta.name);
    std::sort(worker_nodes.begin(), worker_nodes.end());

    if (snap.ready_with_instance_type >= ctx.target_nodes) {
      bool plugins_ready = true;
      if (!snap.ready_claims.empty()) {
        // Status computation only reads: the accelerator label is added by ensure_nodes_ready.
        for (const auto& c : snap.ready_claims) {
          auto node = d_.cluster.get("Node", "", c->str("/status/nodeName"));
          if (!node || !node_is_ready(**node) || gpu_capacity(**node) <= 0) plugins_ready = false;
        }
      }
      if (plugins_ready) {
        nr.status = "True";
        nr.reason = "NodesReady";
        nr.message = "Enough Nodes are ready with GPU resources";
      } else {
        nr.reason = "NodePluginsNotReady";
        nr.message = "waiting all node plugins to be ready";
      }
    }
    nr.message += pressure_warning(nodes.value());

    if (nr.status == "True" && nc.status == "True") {
      rr.status = "True";
      rr.reason = "workspaceResourceStatusSuccess";
      rr.message = "workspace resource is ready";
    } else {
      const Condition& failing = nc.status != "True" ? nc : nr;
      rr.reason = failing.reason;
      rr.message = failing.message;
    }
    return std::vector<Condition>{nr, nc, rr};
  }

 private:
  ProvisionerDeps d_;
};

}  // namespace

std::unique_ptr<NodeProvisioner> make_node_provisioner(const ProvisionerDeps& deps) {
  switch (deps.config.node_provisioner) {
    case NodeProvisionerKind::kByo:
      return std::make_unique<ByoProvisioner>(deps);
    case NodeProvisionerKind::kKarpenter:
      return std::make_unique<KarpenterProvisioner>(deps);
    case NodeProvisionerKind::kGpuProvisioner:
      break;
  }
  return std::make_unique<GpuProvisioner>(deps);
}

const char* node_provisioner_name(NodeProvisionerKind k) {
  switch (k) {
    case NodeProvisionerKind::kGpuProvisioner:
      return "gpu-provisioner";
    case NodeProvisionerKind::kKarpenter:
      return "karpenter";
    case NodeProvisionerKind::kByo:
      return "byo";
  }
  return "unknown";
}

KarpenterNodeClassConfig default_node_class_config(const std::string& cloud) {
  if (cloud == "aws") return {"karpenter.k8s.aws", "v1", "EC2NodeClass", "default", {"default"}};
  return {"karpenter.azure.com",
          "v1beta1",
          "AKSNodeClass",
          "image-family-ubuntu",
          {"image-family-azure-linux", "image-family-ubuntu"}};
}

bool parse_node_provisioner(const std::string& s, NodeProvisionerKind& out) {
  if (s == "gpu-provisioner" || s == "azure-gpu-provisioner")
    out = NodeProvisionerKind::kGpuProvisioner;
  else if (s == "karpenter")
    out = NodeProvisionerKind::kKarpenter;
  else if (s == "byo")
    out = NodeProvisionerKind::kByo;
  else
    return false;
  return true;
}

}  // namespace ktwin
