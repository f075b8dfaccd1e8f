// The scheduler keeps three watch-fed indexes: nodes (with incremental per-node usage), nodes by free
// GPU (for bin-packing without a full scan), and pending pods grouped by scheduling requirements
// ("classes"), so a node event retries only the classes that now fit on that node, and a class that
// failed is not re-diagnosed until something changes.
#include "cluster_model/scheduler.h"

#include <algorithm>
#include <climits>
#include <mutex>
#include <set>
#include <vector>

#include "core/k8s/conditions.h"
#include "core/k8s/selector.h"

namespace ktwin::cluster_model {

std::optional<int64_t> parse_quantity_milli(const json& q) {
  constexpr int64_t kMax = INT64_MAX;
  if (q.is_number_integer()) {
    if (q.is_number_unsigned() && q.get<uint64_t>() > static_cast<uint64_t>(kMax / 1000)) return std::nullopt;
    const int64_t v = q.get<int64_t>();
    if (v > kMax / 1000 || v < -kMax / 1000) return std::nullopt;
    return v * 1000;
  }
  if (q.is_number_float()) {
    const double v = q.get<double>() * 1000.0;
    if (!(v < 9.2e18 && v > -9.2e18)) return std::nullopt;
    const auto whole = static_cast<int64_t>(v);
    return whole + (static_cast<double>(whole) < v ? 1 : 0);  // round up, as MilliValue does
  }
  if (!q.is_string()) return std::nullopt;
  const std::string& s = q.get_ref<const std::string&>();
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  __int128 mantissa = 0;
  int frac_digits = 0;
  bool digits = false;
  auto digit = [&](char c) { return c >= '0' && c <= '9'; };
  for (; i < s.size() && digit(s[i]); ++i, digits = true) {
    mantissa = mantissa * 10 + (s[i] - '0');
    if (mantissa > (static_cast<__int128>(1) << 100)) return std::nullopt;
  }
  if (i < s.size() && s[i] == '.') {
    for (++i; i < s.size() && digit(s[i]); ++i, ++frac_digits, digits = true) {
      mantissa = mantissa * 10 + (s[i] - '0');
      if (mantissa > (static_cast<__int128>(1) << 100)) return std::nullopt;
    }
  }
  if (!digits) return std::nullopt;
  const std::string suffix = s.substr(i);
  int exp10 = 0;
  int bin_shift = 0;
  static const std::map<std::string, int> kBinary = {{"Ki", 10}, {"Mi", 20}, {"Gi", 30},
                                                     {"Ti", 40}, {"Pi", 50}, {"Ei", 60}};
  static const std::map<std::string, int> kDecimal = {{"", 0},  {"n", -9}, {"u", -6}, {"m", -3}, {"k", 3},
                                                      {"M", 6}, {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
  if (auto b = kBinary.find(suffix); b != kBinary.end()) {
    bin_shift = b->second;
  } else if (auto d = kDecimal.find(suffix); d != kDecimal.end()) {
    exp10 = d->second;
  } else if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    size_t j = 1;
    bool neg_exp = false;
    if (suffix[j] == '+' || suffix[j] == '-') neg_exp = suffix[j++] == '-';
    if (j >= suffix.size()) return std::nullopt;
    for (; j < suffix.size(); ++j) {
      if (!digit(suffix[j]) || exp10 > 100) return std::nullopt;
      exp10 = exp10 * 10 + (suffix[j] - '0');
    }
    if (neg_exp) exp10 = -exp10;
  } else {
    return std::nullopt;
  }
  __int128 v = mantissa << bin_shift;
  int scale = exp10 + 3 - frac_digits;
  if (v != 0 && scale > 30) return std::nullopt;
  for (; scale > 0; --scale) v *= 10;
  if (scale < 0) {
    __int128 div = 1;
    for (; scale < 0 && div < (static_cast<__int128>(1) << 100); ++scale) div *= 10;
    v = (v + div - 1) / div;
  }
  if (v > kMax) return std::nullopt;
  return negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
}

namespace {

//! One container's requests, defaulting each to its limit when only the limit is given.
ResourceList container_requests(const json& container) {
  ResourceList out;
  const json* resources = nullptr;
  if (auto r = container.find("resources"); r != container.end() && r->is_object()) resources = &*r;
  if (!resources) return out;
  for (const char* field : {"limits", "requests"}) {  // requests win over limits
    auto f = resources->find(field);
    if (f == resources->end() || !f->is_object()) continue;
    for (auto it = f->begin(); it != f->end(); ++it)
      if (auto q = parse_quantity_milli(it.value())) out[it.key()] = *q;
  }
  return out;
}

}  // namespace

ResourceList pod_requests(const json& spec) {
  ResourceList sum;
  if (!spec.is_object()) return {{"pods", 1000}};
  if (auto cs = spec.find("containers"); cs != spec.end() && cs->is_array())
    for (const auto& c : *cs)
      for (const auto& [name, q] : container_requests(c)) sum[name] += q;
  if (auto ics = spec.find("initContainers"); ics != spec.end() && ics->is_array())
    for (const auto& c : *ics)
      for (const auto& [name, q] : container_requests(c)) sum[name] = std::max(sum[name], q);
  if (auto oh = spec.find("overhead"); oh != spec.end() && oh->is_object())
    for (auto it = oh->begin(); it != oh->end(); ++it)
      if (auto q = parse_quantity_milli(it.value())) sum[it.key()] += *q;
  sum["pods"] = 1000;
  return sum;
}

bool tolerates(const json& tolerations, const Taint& taint) {
  if (!tolerations.is_array()) return false;
  for (const auto& t : tolerations) {
    if (!t.is_object()) continue;
    const std::string effect = t.value("effect", "");
    const std::string key = t.value("key", "");
    const std::string op = t.value("operator", "Equal");
    if (!effect.empty() && effect != taint.effect) continue;
    if (!key.empty() && key != taint.key) continue;
    if (op == "Exists") return true;
    if ((op.empty() || op == "Equal") && t.value("value", "") == taint.value) return true;
  }
  return false;
}

namespace {

constexpr const char* kUnschedulableTaint = "node.kubernetes.io/unschedulable";

//! Resources by interned id (index into Impl::resource_names_), so filters index arrays, not maps.
using Amounts = std::vector<std::pair<size_t, int64_t>>;

int64_t at(const std::vector<int64_t>& v, size_t id) { return id < v.size() ? v[id] : 0; }
void add(std::vector<int64_t>& v, size_t id, int64_t q) {
  if (id >= v.size()) v.resize(id + 1, 0);
  v[id] += q;
}

struct PodReq {
  Amounts requests;
  json tolerations;    // spec.tolerations or null
  json selector_spec;  // {nodeSelector, affinity} as node_matches_pod_selectors reads them
  int64_t gpu = 0;
};

struct PodClass {
  PodReq req;
  std::set<Request> pods;  // pending pods with these requirements
  uint64_t diagnosed_epoch = UINT64_MAX;
  std::string failure_message;
};

struct PendingPod {
  std::string uid;
  std::string resource_version;
  std::string signature;
  json conditions;  // status.conditions as last seen
};

struct Assigned {
  std::string uid;
  std::string node;
  Amounts requests;
  bool observed = false;  // false: assumed by our bind, the watch has not confirmed it yet
};

struct NodeInfo {
  bool exists = false;
  Labels labels;
  std::vector<Taint> taints;  // NoSchedule and NoExecute only
  bool ready = false;
  bool unschedulable = false;
  bool deleting = false;
  std::vector<int64_t> allocatable;
  bool declares_pods = false;
  std::vector<int64_t> used;
  size_t pods = 0;
  bool indexed = false;
  int64_t index_free = 0;
  int64_t index_used = 0;
};

std::string join_reasons(const std::map<std::string, int>& counts) {
  std::vector<std::string> parts;
  for (const auto& [reason, n] : counts) parts.push_back(std::to_string(n) + " " + reason);
  std::sort(parts.begin(), parts.end());  // the scheduler sorts "count reason" strings
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

}  // namespace

class Scheduler::Impl : public Reconciler {
 public:
  Impl(Cluster& cluster, Executor& executor, Clock& clock, SchedulerOptions opts)
      : cluster_(cluster),
        executor_(executor),
        clock_(clock),
        opts_(std::move(opts)),
        controller_(ControllerOptions{"scheduler"}, *this, executor, clock) {}

  ~Impl() override { stop(); }

  void start() {
    if (node_watch_) return;
    auto alive = alive_;
    node_watch_ = cluster_.watch("Node", "", [this, alive](const WatchEvent& ev) {
      if (alive->load()) on_node(ev);
    });
    pod_watch_ = cluster_.watch("Pod", "", [this, alive](const WatchEvent& ev) {
      if (alive->load()) on_pod(ev);
    });
  }

  void stop() {
    alive_->store(false);
    if (node_watch_) node_watch_->stop();
    if (pod_watch_) pod_watch_->stop();
    controller_.stop();
  }

  SchedulerStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    SchedulerStats s = stats_;
    s.pending = pending_.size();
    return s;
  }

  ReconcileResult reconcile(const Request& req, std::optional<ReconcileError>& error) override {
    std::string node;
    PendingPod pod;
    PodReq pod_req;
    std::string message;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = pending_.find(req);
      if (it == pending_.end()) return ReconcileResult::done();
      pod = it->second;
      PodClass& cls = classes_.at(pod.signature);
      node = find_node_locked(cls.req);
      if (!node.empty()) {
        pod_req = cls.req;
        // Assume the bind, so the next decision sees this pod's usage before the watch confirms it.
        assign_locked(req, pod.uid, node, cls.req.requests, false);
        remove_pending_locked(req);
      } else {
        if (cls.diagnosed_epoch != epoch_) {
          cls.failure_message = diagnose_locked(cls.req);
          cls.diagnosed_epoch = epoch_;
        }
        message = cls.failure_message;
        ++stats_.unschedulable;
      }
    }

    if (!node.empty()) {
      Status s = cluster_.bind_pod(req.namespace_, req.name, node);
      std::lock_guard<std::mutex> lock(mu_);
      if (s.ok()) {
        ++stats_.bound;
        return ReconcileResult::done();
      }
      ++stats_.bind_errors;
      if (auto a = assigned_.find(req); a != assigned_.end() && !a->second.observed && a->second.uid == pod.uid)
        release_locked(req);
      // Not found / conflict (bound elsewhere, being deleted): the pod watch tells us what happened.
      if (s.is(ErrorCode::kNotFound) || s.is(ErrorCode::kConflict)) return ReconcileResult::done();
      add_pending_locked(req, pod, pod_req);
      error = ReconcileError{s.error().message, false};
      return ReconcileResult::done();
    }

    json conditions = pod.conditions;
    Condition c{"PodScheduled", "False", "Unschedulable", message, 0, 0};
    if (!set_condition(conditions, c, clock_.now())) return ReconcileResult::done();
    json patch = {{"metadata", {{"resourceVersion", pod.resource_version}}}, {"status", {{"conditions", conditions}}}};
    auto r = cluster_.patch("Pod", req.namespace_, req.name, patch, true);
    if (r.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = pending_.find(req); it != pending_.end() && it->second.uid == pod.uid) {
        it->second.conditions = r.value()->at("/status/conditions");
        it->second.resource_version = r.value()->meta.resource_version;
      }
      return ReconcileResult::done();
    }
    if (r.is(ErrorCode::kNotFound)) return ReconcileResult::done();
    if (r.is(ErrorCode::kConflict)) return ReconcileResult{0, true};  // retry with the newer pod
    error = ReconcileError{r.error().message, false};
    return ReconcileResult::done();
  }

 private:
  // ---- watch handlers ----

  void on_node(const WatchEvent& ev) {
    const Object& obj = *ev.object;
    std::lock_guard<std::mutex> lock(mu_);
    ++epoch_;
    NodeInfo& n = nodes_[obj.meta.name];
    if (ev.type == WatchEventType::kDeleted) {
      n.exists = false;
      reindex_locked(obj.meta.name, n);
      if (n.pods == 0) nodes_.erase(obj.meta.name);
      return;
    }
    n.exists = true;
    n.labels = obj.meta.labels;
    n.taints.clear();
    if (const json& taints = obj.at("/spec/taints"); taints.is_array()) {
      for (const auto& t : taints) {
        if (!t.is_object()) continue;
        Taint taint{t.value("key", ""), t.value("value", ""), t.value("effect", "")};
        if (taint.effect == "NoSchedule" || taint.effect == "NoExecute") n.taints.push_back(std::move(taint));
      }
    }
    n.ready = condition_is_true(obj.at("/status/conditions"), "Ready");
    n.unschedulable = obj.at("/spec/unschedulable") == true;
    n.deleting = obj.meta.deletion_timestamp.has_value();
    const json* alloc = &obj.at("/status/allocatable");
    if (!alloc->is_object() || alloc->empty()) alloc = &obj.at("/status/capacity");
    n.allocatable.clear();
    n.declares_pods = false;
    if (alloc->is_object())
      for (auto it = alloc->begin(); it != alloc->end(); ++it)
        if (auto q = parse_quantity_milli(it.value())) {
          add(n.allocatable, intern_locked(it.key()), *q);
          n.declares_pods = n.declares_pods || it.key() == "pods";
        }
    reindex_locked(obj.meta.name, n);
    mark_changed_locked(obj.meta.name);
  }

  void on_pod(const WatchEvent& ev) {
    const Object& pod = *ev.object;
    const Request key{pod.meta.namespace_, pod.meta.name};
    bool enqueue = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto a = assigned_.find(key);
      if (ev.type == WatchEventType::kDeleted) {
        if (a != assigned_.end() && a->second.uid == pod.meta.uid) release_locked(key);
        if (auto p = pending_.find(key); p != pending_.end() && p->second.uid == pod.meta.uid)
          remove_pending_locked(key);
        return;
      }
      const std::string node = pod.str("/spec/nodeName");
      const std::string phase = pod.str("/status/phase");
      const bool terminated = phase == "Succeeded" || phase == "Failed";
      if (!node.empty()) {
        remove_pending_locked(key);
        if (terminated) {
          if (a != assigned_.end()) release_locked(key);
          return;
        }
        if (a != assigned_.end() && a->second.uid == pod.meta.uid && a->second.node == node) {
          a->second.observed = true;
          return;
        }
        if (a != assigned_.end()) release_locked(key);
        assign_locked(key, pod.meta.uid, node, to_amounts_locked(pod_requests(pod.at("/spec"))), true);
        return;
      }
      if (a != assigned_.end()) {
        if (a->second.uid == pod.meta.uid && !a->second.observed) return;  // older than our bind
        release_locked(key);
      }
      std::string scheduler = pod.str("/spec/schedulerName");
      if (scheduler.empty()) scheduler = "default-scheduler";
      if (pod.meta.deletion_timestamp || terminated || scheduler != opts_.scheduler_name) {
        remove_pending_locked(key);
        return;
      }
      if (auto p = pending_.find(key); p != pending_.end()) {
        if (p->second.uid == pod.meta.uid) {
          p->second.resource_version = pod.meta.resource_version;
          p->second.conditions = pod.at("/status/conditions");
          return;
        }
        remove_pending_locked(key);
      }
      PodReq req;
      const json& spec = pod.at("/spec");
      const ResourceList requests = pod_requests(spec);
      req.requests = to_amounts_locked(requests);
      req.tolerations = pod.at("/spec/tolerations");
      req.selector_spec = json::object();
      if (const json& ns = pod.at("/spec/nodeSelector"); !ns.is_null()) req.selector_spec["nodeSelector"] = ns;
      if (const json& na = pod.at("/spec/affinity/nodeAffinity"); !na.is_null())
        req.selector_spec["affinity"] = {{"nodeAffinity", na}};
      auto g = requests.find(opts_.gpu_resource);
      req.gpu = g == requests.end() ? 0 : g->second;
      const std::string signature = json{{"r", requests}, {"t", req.tolerations}, {"s", req.selector_spec}}.dump();
      PodClass& cls = classes_[signature];
      if (cls.pods.empty()) cls.req = std::move(req);
      cls.pods.insert(key);
      pending_[key] = PendingPod{pod.meta.uid, pod.meta.resource_version, signature, pod.at("/status/conditions")};
      enqueue = true;
    }
    if (enqueue) controller_.enqueue(key);
  }

  // ---- indexes (all *_locked run with mu_ held) ----

  void add_pending_locked(const Request& key, const PendingPod& pod, const PodReq& req) {
    PodClass& cls = classes_[pod.signature];
    if (cls.pods.empty()) cls.req = req;
    cls.pods.insert(key);
    pending_[key] = pod;
  }

  void remove_pending_locked(const Request& key) {
    auto p = pending_.find(key);
    if (p == pending_.end()) return;
    auto cls = classes_.find(p->second.signature);
    if (cls != classes_.end()) {
      cls->second.pods.erase(key);
      if (cls->second.pods.empty()) classes_.erase(cls);
    }
    pending_.erase(p);
  }

  size_t intern_locked(const std::string& resource) {
    auto [it, added] = resource_ids_.emplace(resource, resource_names_.size());
    if (added) resource_names_.push_back(resource);
    return it->second;
  }

  Amounts to_amounts_locked(const ResourceList& list) {
    Amounts out;
    for (const auto& [r, q] : list) out.emplace_back(intern_locked(r), q);
    return out;
  }

  void assign_locked(const Request& key, const std::string& uid, const std::string& node, const Amounts& req,
                     bool observed) {
    NodeInfo& n = nodes_[node];
    for (const auto& [r, q] : req) add(n.used, r, q);
    ++n.pods;
    reindex_locked(node, n);
    assigned_[key] = Assigned{uid, node, req, observed};
    ++epoch_;
  }

  void release_locked(const Request& key) {
    auto a = assigned_.find(key);
    if (a == assigned_.end()) return;
    const std::string node = a->second.node;
    auto it = nodes_.find(node);
    if (it != nodes_.end()) {
      NodeInfo& n = it->second;
      for (const auto& [r, q] : a->second.requests) add(n.used, r, -q);
      --n.pods;
      if (!n.exists && n.pods == 0) {
        reindex_locked(node, n);
        nodes_.erase(it);
      } else {
        reindex_locked(node, n);
        mark_changed_locked(node);  // freed capacity may fit a pending pod
      }
    }
    assigned_.erase(a);
    ++epoch_;
  }

  void reindex_locked(const std::string& name, NodeInfo& n) {
    if (n.indexed) {
      auto b = by_free_gpu_.find(n.index_free);
      if (b != by_free_gpu_.end()) {
        b->second.erase({-n.index_used, name});
        if (b->second.empty()) by_free_gpu_.erase(b);
      }
      n.indexed = false;
    }
    if (!n.exists) return;
    n.index_used = at(n.used, gpu_id_);
    n.index_free = at(n.allocatable, gpu_id_) - n.index_used;
    by_free_gpu_[n.index_free].emplace(std::make_pair(-n.index_used, name), &n);
    n.indexed = true;
  }

  //! The filters. With `reasons`, records why the node does not fit (k8s wording); otherwise stops early.
  bool fits(const NodeInfo& n, const PodReq& req, std::vector<std::string>* reasons) const {
    if (!n.exists) return false;
    auto fail = [&](std::string why) {
      if (reasons) reasons->push_back(std::move(why));
      return false;
    };
    if (n.deleting) return fail("node(s) were being deleted");
    if (n.unschedulable && !tolerates(req.tolerations, Taint{kUnschedulableTaint, "", "NoSchedule"}))
      return fail("node(s) were unschedulable");
    if (!n.ready) {
      bool tainted = false;
      for (const auto& t : n.taints) tainted = tainted || t.key == kNotReadyTaintKey;
      if (!tainted && !tolerates(req.tolerations, Taint{kNotReadyTaintKey, "", "NoSchedule"}))
        return fail(std::string("node(s) had untolerated taint {") + kNotReadyTaintKey + ": }");
    }
    for (const auto& t : n.taints)
      if (!tolerates(req.tolerations, t)) return fail("node(s) had untolerated taint {" + t.key + ": " + t.value + "}");
    if (!req.selector_spec.empty() && !node_matches_pod_selectors(n.labels, req.selector_spec))
      return fail("node(s) didn't match Pod's node affinity/selector");
    bool ok = true;
    for (const auto& [r, q] : req.requests) {
      if (q <= 0) continue;
      if (r == pods_id_ && !n.declares_pods) continue;
      if (at(n.used, r) + q <= at(n.allocatable, r)) continue;
      ok = false;
      if (!reasons) return false;
      reasons->push_back(r == pods_id_ ? "Too many pods" : "Insufficient " + resource_names_[r]);
    }
    return ok;
  }

  //! Best feasible node: a merge over the free-GPU buckets that can hold the request, in score order
  //! (most GPUs in use, then name); the first node that passes every filter wins.
  std::string find_node_locked(const PodReq& req) const {
    using Entry = Bucket;
    std::vector<std::pair<Entry::const_iterator, Entry::const_iterator>> cursors;
    for (auto b = by_free_gpu_.lower_bound(req.gpu > 0 ? req.gpu : INT64_MIN); b != by_free_gpu_.end(); ++b)
      cursors.emplace_back(b->second.begin(), b->second.end());
    for (;;) {
      int best = -1;
      for (size_t i = 0; i < cursors.size(); ++i) {
        if (cursors[i].first == cursors[i].second) continue;
        if (best < 0 || cursors[i].first->first < cursors[static_cast<size_t>(best)].first->first)
          best = static_cast<int>(i);
      }
      if (best < 0) return {};
      auto& cur = cursors[static_cast<size_t>(best)].first;
      if (fits(*cur->second, req, nullptr)) return cur->first.second;
      ++cur;
    }
  }

  std::string diagnose_locked(const PodReq& req) const {
    std::map<std::string, int> counts;
    int total = 0;
    for (const auto& [name, n] : nodes_) {
      if (!n.exists) continue;
      ++total;
      std::vector<std::string> reasons;
      fits(n, req, &reasons);
      for (auto& r : reasons) ++counts[r];
    }
    if (total == 0) return "no nodes available to schedule pods";
    std::string out = "0/" + std::to_string(total) + " nodes are available";
    if (!counts.empty()) out += ": " + join_reasons(counts);
    return out + ".";
  }

  // ---- retries ----

  void mark_changed_locked(const std::string& node) {
    if (pending_.empty()) return;  // pods that arrive later are tried against the current state anyway
    changed_nodes_.insert(node);
    if (retry_scheduled_) return;
    retry_scheduled_ = true;
    auto alive = alive_;
    executor_.post([this, alive] {
      if (alive->load()) retry();
    });
  }

  //! One pass per batch of node changes: a class is retried when one changed node now fits it.
  void retry() {
    std::vector<Request> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      retry_scheduled_ = false;
      std::set<std::string> changed;
      changed.swap(changed_nodes_);
      for (const auto& [sig, cls] : classes_) {
        for (const auto& name : changed) {
          auto n = nodes_.find(name);
          if (n == nodes_.end() || !fits(n->second, cls.req, nullptr)) continue;
          wake.insert(wake.end(), cls.pods.begin(), cls.pods.end());
          break;
        }
      }
    }
    for (const auto& r : wake) controller_.enqueue(r);
  }

  Cluster& cluster_;
  Executor& executor_;
  Clock& clock_;
  SchedulerOptions opts_;

  mutable std::mutex mu_;
  std::map<std::string, size_t> resource_ids_;
  std::vector<std::string> resource_names_;
  size_t gpu_id_ = intern_locked(opts_.gpu_resource);
  size_t pods_id_ = intern_locked("pods");
  std::map<std::string, NodeInfo> nodes_;
  //! Free GPUs -> (-GPUs used, name) -> node: score order within a bucket. NodeInfo addresses are stable.
  using Bucket = std::map<std::pair<int64_t, std::string>, const NodeInfo*>;
  std::map<int64_t, Bucket> by_free_gpu_;
  std::map<Request, Assigned> assigned_;
  std::map<Request, PendingPod> pending_;
  std::map<std::string, PodClass> classes_;
  std::set<std::string> changed_nodes_;
  bool retry_scheduled_ = false;
  uint64_t epoch_ = 0;  // bumped on every node or usage change; invalidates cached diagnoses
  SchedulerStats stats_;

  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  std::unique_ptr<WatchSubscription> node_watch_;
  std::unique_ptr<WatchSubscription> pod_watch_;
  Controller controller_;  // last: destroyed first
};

Scheduler::Scheduler(Cluster& cluster, Executor& executor, Clock& clock, SchedulerOptions opts)
    : impl_(std::make_unique<Impl>(cluster, executor, clock, std::move(opts))) {}

Scheduler::~Scheduler() = default;

void Scheduler::start() { impl_->start(); }
void Scheduler::stop() { impl_->stop(); }
SchedulerStats Scheduler::stats() const { return impl_->stats(); }

}  // namespace ktwin::cluster_model
