#include "core/controllers/node_provisioner.h"

#include <algorithm>

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
  LabelSelector sel;
  sel.match_labels = kaito::sanitized_match_labels(ws.at("/resource/labelSelector"));
  if (with_ownership_labels) {
    sel.match_labels[kaito::kLabelWorkspace] = ws.meta.name;
    sel.match_labels[kaito::kLabelWorkspaceNamespace] = ws.meta.namespace_;
  }
  ListOptions opts;
  opts.selector = sel;
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

  static bool claim_ready(const Object& nc) {
    if (nc.meta.deletion_timestamp) return false;
    const std::string ready = condition_status(nc.at("/status/conditions"), "Ready");
    if (!ready.empty()) return ready == "True";
    return !nc.str("/status/nodeName").empty();
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
        d_.events.warning(ctx.ws, "NodeClaimCreationFailed",
                          "Failed to create NodeClaim: " + created.error().message);
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
      for (const auto& c : claims) {
        if (c->meta.deletion_timestamp || !claim_ready(*c)) continue;
        const std::string node_name = c->str("/status/nodeName");
        if (node_name.empty()) return NodesReadiness{false, true};
        auto node = d_.cluster.get("Node", "", node_name);
        if (!node) return NodesReadiness{false, true};
        if (!node_is_ready(**node)) return NodesReadiness{false, true};
        const std::string* acc = (*node)->meta.label("accelerator");
        if (!acc || *acc != "nvidia") {
          auto patched = d_.cluster.patch("Node", "", node_name, {{"metadata", {{"labels", {{"accelerator", "nvidia"}}}}}});
          if (!patched) return patched.error();
          ctx.owned_nodes.reset();
        }
        if (gpu_capacity(**node) <= 0) return NodesReadiness{false, true};
      }
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
      // Surface the earliest failing lifecycle condition of a NodeClaim (KAITO PR #2203).
      for (const char* type : {"Launched", "Registered", "Initialized"}) {
        bool found = false;
        for (const auto& c : claims) {
          if (c->meta.deletion_timestamp) continue;
          auto cond = find_condition(c->at("/status/conditions"), type);
          if (cond && cond->status == "False" && !cond->reason.empty()) {
            nc.reason = cond->reason;
            nc.message = "NodeClaim " + c->meta.name + " " + type + "=False: " + cond->message;
            found = true;
            break;
          }
        }
        if (found) break;
      }
    }

    const std::string& sku = ctx.spec.resource.instance_type;
    int ready_nodes = 0;
    std::string pressure;
    const auto& nodes = *ctx.owned_nodes;
    worker_nodes.clear();
    bool plugins_ready = true;
    for (const auto& node : nodes) {
      worker_nodes.push_back(node->meta.name);
      const std::string* it = node->meta.label(kLabelInstanceType);
      if (!node_is_ready(*node) || !it || *it != sku) continue;
      ++ready_nodes;
      if (d_.skus.find(d_.config.cloud, sku) && gpu_capacity(*node) <= 0) plugins_ready = false;
      for (const char* p : {"MemoryPressure", "DiskPressure", "PIDPressure"})
        if (condition_is_true(node->at("/status/conditions"), p) && pressure.empty())
          pressure = "; warning: node " + node->meta.name + " has " + p;
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

    Condition rr{kaito::kCondResourceReady, "True", "workspaceResourceStatusSuccess", "workspace resource is ready", gen, 0};
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
      return std::vector<Condition>{Condition{kaito::kCondNodesReady, "True", "NodesReady", "Enough nodes are ready " + counts, gen, 0},
              Condition{kaito::kCondResourceReady, "True", "workspaceResourceStatusSuccess", "workspace resource is ready", gen, 0}};
    return std::vector<Condition>{Condition{kaito::kCondNodesReady, "False", "NodeNotReady", "Ready nodes are not enough " + counts, gen, 0},
            Condition{kaito::kCondResourceReady, "False", "workspaceResourceStatusNotReady",
                      "Ready nodes are not enough " + counts, gen, 0}};
  }

 private:
  ProvisionerDeps d_;
};

}  // namespace

std::unique_ptr<NodeProvisioner> make_node_provisioner(const ProvisionerDeps& deps) {
  if (deps.config.node_provisioner == NodeProvisionerKind::kByo) return std::make_unique<ByoProvisioner>(deps);
  // Karpenter mode is modelled with the NodeClaim path until its NodePool backend lands.
  return std::make_unique<GpuProvisioner>(deps);
}

const char* node_provisioner_name(NodeProvisionerKind k) {
  switch (k) {
    case NodeProvisionerKind::kGpuProvisioner: return "gpu-provisioner";
    case NodeProvisionerKind::kKarpenter: return "karpenter";
    case NodeProvisionerKind::kByo: return "byo";
  }
  return "unknown";
}

bool parse_node_provisioner(const std::string& s, NodeProvisionerKind& out) {
  if (s == "gpu-provisioner" || s == "azure-gpu-provisioner") out = NodeProvisionerKind::kGpuProvisioner;
  else if (s == "karpenter") out = NodeProvisionerKind::kKarpenter;
  else if (s == "byo") out = NodeProvisionerKind::kByo;
  else return false;
  return true;
}

}  // namespace ktwin
