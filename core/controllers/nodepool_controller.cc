#include "core/controllers/nodepool_controller.h"

#include <algorithm>

#include "core/controllers/workspace_manifests.h"
#include "core/k8s/conditions.h"
#include "core/util/sha256.h"

namespace ktwin {

std::string karpenter_nodeclaim_name(const std::string& pool, Time now, uint64_t salt) {
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";  // Kubernetes' generateName alphabet
  const std::string digest = sha256_hex(pool + "/" + std::to_string(now) + "/" + std::to_string(salt));
  std::string suffix;
  for (size_t i = 0; i < 5; ++i) {
    const unsigned byte = static_cast<unsigned>(std::stoul(digest.substr(2 * i, 2), nullptr, 16));
    suffix += kAlphabet[byte % (sizeof(kAlphabet) - 1)];
  }
  return pool + "-" + suffix;
}

void NodePoolReconciler::setup_watches(Controller& c) {
  c.watch(cluster_, "NodePool", "", Controller::map_to_self());
  c.watch(cluster_, "NodeClaim", "", [](const WatchEvent& ev) {
    std::vector<Request> out;
    const std::string* pool = ev.object->meta.label(kLabelNodePool);
    if (pool && *pool != kNodeClaimNodePool) out.push_back(Request{"", *pool});
    return out;
  });
}

ReconcileResult NodePoolReconciler::reconcile(const Request& req, std::optional<ReconcileError>& error) {
  auto got = cluster_.get("NodePool", "", req.name);
  if (!got) {
    if (!got.is(ErrorCode::kNotFound)) error = ReconcileError{got.error().to_string(), false};
    return {};
  }
  const Object& pool = *got.value();
  if (pool.meta.deletion_timestamp) return {};  // owner references cascade to the NodeClaims
  ListOptions opts;
  opts.selector = LabelSelector{{{kLabelNodePool, pool.meta.name}}, {}};
  auto listed = cluster_.list("NodeClaim", opts);
  if (!listed) {
    error = ReconcileError{listed.error().to_string(), false};
    return {};
  }
  std::vector<ObjectPtr> live;
  for (const auto& c : listed.value())
    if (!c->meta.deletion_timestamp) live.push_back(c);
  const json& replicas_json = pool.at("/spec/replicas");
  const int64_t replicas = replicas_json.is_number_integer() ? replicas_json.get<int64_t>() : 0;

  const json& tmpl = pool.at("/spec/template");
  for (int64_t i = static_cast<int64_t>(live.size()); i < replicas; ++i) {
    Object nc;
    nc.api_version = "karpenter.sh/v1";
    nc.kind = "NodeClaim";
    nc.meta.name = karpenter_nodeclaim_name(pool.meta.name, clock_.now(), created_++);
    const json& labels = tmpl.contains("metadata") ? tmpl["metadata"].value("labels", json::object()) : json::object();
    for (auto it = labels.begin(); it != labels.end(); ++it)
      if (it.value().is_string()) nc.meta.labels[it.key()] = it.value().get<std::string>();
    nc.meta.labels[kLabelNodePool] = pool.meta.name;
    nc.meta.owner_references = {owner_reference_to(pool, false)};
    nc.meta.owner_references.back().block_owner_deletion = true;
    json spec = tmpl.value("spec", json::object());
    json reqs = spec.value("requirements", json::array());
    reqs.push_back({{"key", kLabelNodePool}, {"operator", "In"}, {"values", {pool.meta.name}}});
    spec["requirements"] = reqs;
    nc.body["spec"] = spec;
    auto r = cluster_.create(std::move(nc));
    if (!r) {
      error = ReconcileError{r.error().to_string(), false};
      return {};
    }
    events_.normal(pool, "NodeClaimCreated", "Created NodeClaim " + r.value()->meta.name + " for static capacity");
  }
  // Scale down: drop the newest NodeClaims, not-ready ones first.
  if (static_cast<int64_t>(live.size()) > replicas) {
    std::sort(live.begin(), live.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
      const bool ra = condition_is_true(a->at("/status/conditions"), "Ready");
      const bool rb = condition_is_true(b->at("/status/conditions"), "Ready");
      if (ra != rb) return !ra;
      if (a->meta.creation_timestamp != b->meta.creation_timestamp)
        return a->meta.creation_timestamp > b->meta.creation_timestamp;
      return a->meta.name > b->meta.name;
    });
    for (int64_t i = 0; i < static_cast<int64_t>(live.size()) - replicas; ++i) {
      Status s = cluster_.remove("NodeClaim", "", live[static_cast<size_t>(i)]->meta.name);
      if (!s && !s.is(ErrorCode::kNotFound)) error = ReconcileError{s.error().to_string(), false};
    }
  }
  const int64_t nodes = std::min<int64_t>(replicas, static_cast<int64_t>(live.size()));
  if (pool.at("/status/nodes") != json(nodes) && !error) {
    Object updated = pool;
    updated.body["status"]["nodes"] = nodes;
    auto r = cluster_.update_status(std::move(updated));
    if (!r && !r.is(ErrorCode::kNotFound) && !r.is(ErrorCode::kConflict))
      error = ReconcileError{r.error().to_string(), false};
  }
  return {};
}

}  // namespace ktwin
