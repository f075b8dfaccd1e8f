// Garbage collector: watch-fed indexes say which objects to look at; a live get() confirms an owner or
// node is really gone before anything is deleted, so a lagging watch can never cause a wrong deletion.
#include "cluster_model/gc_controller.h"

namespace ktwin::cluster_model {

GarbageCollector::GarbageCollector(Cluster& cluster, Executor& executor, GcOptions opts)
    : cluster_(cluster), executor_(executor), opts_(opts) {}

GarbageCollector::~GarbageCollector() { stop(); }

void GarbageCollector::start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return;
    started_ = true;
  }
  auto alive = alive_;
  for (const auto& info : all_resources()) {
    watches_.push_back(cluster_.watch(info.kind, "", [this, alive](const WatchEvent& ev) {
      if (alive->load()) on_event(ev);
    }));
  }
  if (opts_.resync_period > 0) schedule_resync();
}

void GarbageCollector::schedule_resync() {
  auto alive = alive_;
  executor_.post_after(opts_.resync_period, [this, alive] {
    if (!alive->load()) return;
    resync();
    schedule_resync();
  });
}

void GarbageCollector::stop() {
  alive_->store(false);
  for (auto& w : watches_) w->stop();
  watches_.clear();
}

GcStats GarbageCollector::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void GarbageCollector::resync() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, dep] : dependents_) check_dependents_.insert(key);
  for (const auto& [key, pod] : bound_pods_) check_pods_.insert(key);
  schedule_locked();
}

void GarbageCollector::schedule_locked(Duration delay) {
  if (check_dependents_.empty() && check_pods_.empty()) return;
  if (scheduled_) return;
  scheduled_ = true;
  auto alive = alive_;
  executor_.post_after(delay, [this, alive] {
    if (alive->load()) process();
  });
}

void GarbageCollector::on_event(const WatchEvent& ev) {
  const Object& obj = *ev.object;
  const ObjectKey key = key_of(obj);
  std::lock_guard<std::mutex> lock(mu_);

  // Drop what we knew about this object (reindexed below unless it is gone).
  if (auto d = dependents_.find(key); d != dependents_.end()) {
    for (const auto& ref : d->second.owners) {
      auto o = by_owner_.find(ref.uid);
      if (o == by_owner_.end()) continue;
      o->second.erase(key);
      if (o->second.empty()) by_owner_.erase(o);
    }
    dependents_.erase(d);
  }
  if (auto p = bound_pods_.find(key); p != bound_pods_.end()) {
    auto n = pods_by_node_.find(p->second.node);
    if (n != pods_by_node_.end()) {
      n->second.erase(key);
      if (n->second.empty()) pods_by_node_.erase(n);
    }
    bound_pods_.erase(p);
  }

  if (ev.type == WatchEventType::kDeleted) {
    auto u = by_uid_.find(obj.meta.uid);
    if (u != by_uid_.end() && u->second == key) by_uid_.erase(u);
    if (auto o = by_owner_.find(obj.meta.uid); o != by_owner_.end())
      check_dependents_.insert(o->second.begin(), o->second.end());
    if (obj.kind == "Node") {
      nodes_.erase(obj.meta.name);
      if (auto n = pods_by_node_.find(obj.meta.name); n != pods_by_node_.end())
        check_pods_.insert(n->second.begin(), n->second.end());
    }
    schedule_locked();
    return;
  }

  by_uid_[obj.meta.uid] = key;
  if (!obj.meta.owner_references.empty() && !obj.meta.deletion_timestamp) {
    dependents_[key] = Dependent{obj.meta.uid, obj.meta.owner_references};
    bool unknown_owner = false;
    for (const auto& ref : obj.meta.owner_references) {
      by_owner_[ref.uid].insert(key);
      if (!by_uid_.count(ref.uid)) unknown_owner = true;
    }
    // Either the owner's events have not arrived yet or it is gone: process() asks the API to know.
    if (unknown_owner) check_dependents_.insert(key);
  }
  if (obj.kind == "Pod") {
    const std::string node = obj.str("/spec/nodeName");
    if (!node.empty()) {
      bound_pods_[key] = BoundPod{obj.meta.uid, node};
      pods_by_node_[node].insert(key);
      if (!nodes_.count(node)) check_pods_.insert(key);
    }
  }
  if (obj.kind == "Node") nodes_.insert(obj.meta.name);
  schedule_locked();
}

bool GarbageCollector::owner_exists(const ObjectKey& dependent, const OwnerReference& ref, bool& retry) {
  const ResourceInfo* info = resource_info(ref.kind);
  if (!info) return true;                                             // a kind we cannot look up: keep the dependent
  if (info->namespaced && dependent.namespace_.empty()) return true;  // invalid reference: keep, like kube
  auto owner = cluster_.get(ref.kind, info->namespaced ? dependent.namespace_ : "", ref.name);
  if (owner.ok()) return owner.value()->meta.uid == ref.uid;  // same name, new uid: the owner is gone
  if (owner.is(ErrorCode::kNotFound)) return false;
  retry = true;
  return true;
}

void GarbageCollector::process() {
  std::map<ObjectKey, Dependent> deps;
  std::map<ObjectKey, BoundPod> pods;
  {
    std::lock_guard<std::mutex> lock(mu_);
    scheduled_ = false;
    for (const auto& key : check_dependents_)
      if (auto d = dependents_.find(key); d != dependents_.end()) deps.emplace(key, d->second);
    for (const auto& key : check_pods_)
      if (auto p = bound_pods_.find(key); p != bound_pods_.end()) pods.emplace(key, p->second);
    check_dependents_.clear();
    check_pods_.clear();
  }

  std::set<ObjectKey> retry_deps, retry_pods;
  for (const auto& [key, dep] : deps) {
    bool owned = false, retry = false;
    for (const auto& ref : dep.owners) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (by_uid_.count(ref.uid)) {
          owned = true;
          break;
        }
      }
      if (owner_exists(key, ref, retry)) {
        owned = true;
        break;
      }
    }
    if (retry) {
      retry_deps.insert(key);
      continue;
    }
    if (owned) continue;
    DeleteOptions opts;
    opts.precondition_uid = dep.uid;  // never delete a newer object that took the name
    Status s = cluster_.remove(key.kind, key.namespace_, key.name, opts);
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.dependents_deleted;
    } else if (!s.is(ErrorCode::kNotFound) && !s.is(ErrorCode::kConflict)) {
      retry_deps.insert(key);
    }
  }

  for (const auto& [key, pod] : pods) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (nodes_.count(pod.node)) continue;
    }
    auto node = cluster_.get("Node", "", pod.node);
    if (node.ok()) continue;  // the node's watch events are behind; nothing to do
    if (!node.is(ErrorCode::kNotFound)) {
      retry_pods.insert(key);
      continue;
    }
    DeleteOptions opts;
    opts.grace_period_seconds = 0;  // nobody is left to run the pod: force delete
    opts.precondition_uid = pod.uid;
    Status s = cluster_.remove("Pod", key.namespace_, key.name, opts);
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.orphan_pods_deleted;
    } else if (!s.is(ErrorCode::kNotFound) && !s.is(ErrorCode::kConflict)) {
      retry_pods.insert(key);
    }
  }

  if (!retry_deps.empty() || !retry_pods.empty()) {
    auto alive = alive_;
    executor_.post_after(opts_.retry_delay, [this, alive, retry_deps, retry_pods] {
      if (!alive->load()) return;
      std::lock_guard<std::mutex> lock(mu_);
      check_dependents_.insert(retry_deps.begin(), retry_deps.end());
      check_pods_.insert(retry_pods.begin(), retry_pods.end());
      schedule_locked();
    });
  }
}

}  // namespace ktwin::cluster_model
