// The simulated API server. Objects are immutable snapshots (shared_ptr<const Object>) so get, list and
// watch hand out pointers without copying; every write builds a new snapshot and swaps it in.
#include "cluster_model/object_store.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "core/k8s/conditions.h"

namespace ktwin::cluster_model {
namespace {

struct Key {
  std::string ns;
  std::string name;
};
struct KeyView {
  std::string_view ns;
  std::string_view name;
};
KeyView view_of(const Key& k) { return {k.ns, k.name}; }
KeyView view_of(const KeyView& k) { return k; }
struct KeyLess {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    KeyView x = view_of(a), y = view_of(b);
    if (int c = x.ns.compare(y.ns); c != 0) return c < 0;
    return x.name < y.name;
  }
};
//! One kind's objects, ordered by (namespace, name): list order without sorting.
using Table = std::map<Key, ObjectPtr, KeyLess>;

//! One watch subscription. Events queue here in commit order; at most one drain task is scheduled at a
//! time, so a handler sees its events in order even on a multi-threaded executor.
struct Watcher {
  std::string ns;  // "" = all namespaces
  WatchHandler handler;
  Executor* executor = nullptr;
  std::atomic<bool> alive{true};
  std::mutex mu;
  std::deque<WatchEvent> pending;
  bool scheduled = false;
};

void drain(const std::shared_ptr<Watcher>& w) {
  if (!w->alive.load()) return;
  std::deque<WatchEvent> batch;
  {
    std::lock_guard<std::mutex> lock(w->mu);
    batch.swap(w->pending);
  }
  for (const auto& ev : batch) {
    if (!w->alive.load()) return;
    w->handler(ev);
  }
  {
    std::lock_guard<std::mutex> lock(w->mu);
    if (w->pending.empty()) {
      w->scheduled = false;
      return;
    }
  }
  // Events that arrived while delivering go in a new task, so a busy watch cannot starve others.
  w->executor->post([w] { drain(w); });
}

void wake(const std::vector<std::shared_ptr<Watcher>>& watchers) {
  for (const auto& w : watchers) w->executor->post([w] { drain(w); });
}

std::string resource_of(const ResourceInfo& info) {
  std::string out(info.plural);
  if (!info.group.empty()) out += "." + std::string(info.group);
  return out;
}

Error not_found(const ResourceInfo& info, std::string_view name) {
  return make_error(ErrorCode::kNotFound, resource_of(info) + " \"" + std::string(name) + "\" not found", "NotFound");
}

Error conflict(const ResourceInfo& info, std::string_view name) {
  return make_error(
      ErrorCode::kConflict,
      "Operation cannot be fulfilled on " + resource_of(info) + " \"" + std::string(name) +
          "\": the object has been modified; please apply your changes to the latest version and try again",
      "Conflict");
}

Error uid_precondition(std::string_view want, std::string_view have) {
  return make_error(
      ErrorCode::kConflict,
      "Precondition failed: UID in precondition: " + std::string(want) + ", UID in object meta: " + std::string(have),
      "Conflict");
}

Error invalid(std::string message) { return make_error(ErrorCode::kInvalid, std::move(message), "Invalid"); }

Error unknown_kind(std::string_view kind) {
  return make_error(ErrorCode::kNotFound, "the server doesn't have a resource type \"" + std::string(kind) + "\"",
                    "NotFound");
}

Error namespace_required(const ResourceInfo& info) { return invalid("namespace is required for " + resource_of(info)); }

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

//! Five characters from the API server's generateName alphabet (no vowels), derived from a counter.
std::string name_suffix(uint64_t seq) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  uint64_t x = splitmix64(seq);
  std::string out;
  for (int i = 0; i < 5; ++i) {
    out += kAlphabet[x % kAlphabet.size()];
    x /= kAlphabet.size();
  }
  return out;
}

std::string format_uid(uint64_t seq) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012llu", static_cast<unsigned long long>(seq));
  return buf;
}

bool same_except_status(const json& a, const json& b) {
  if (!a.is_object() || !b.is_object()) return a == b;
  const size_t na = a.size() - (a.contains("status") ? 1 : 0);
  const size_t nb = b.size() - (b.contains("status") ? 1 : 0);
  if (na != nb) return false;
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key() == "status") continue;
    auto jt = b.find(it.key());
    if (jt == b.end() || *jt != it.value()) return false;
  }
  return true;
}

bool same_meta_except_rv(const ObjectMeta& a, const ObjectMeta& b) {
  return a.name == b.name && a.namespace_ == b.namespace_ && a.generate_name == b.generate_name && a.uid == b.uid &&
         a.generation == b.generation && a.creation_timestamp == b.creation_timestamp &&
         a.deletion_timestamp == b.deletion_timestamp &&
         a.deletion_grace_period_seconds == b.deletion_grace_period_seconds && a.labels == b.labels &&
         a.annotations == b.annotations && a.owner_references == b.owner_references && a.finalizers == b.finalizers &&
         a.extra == b.extra;
}

//! What the API server's PrepareForCreate does to status for kinds with a status subresource.
void reset_status_on_create(const ResourceInfo& info, Object& obj) {
  if (!info.status_subresource || info.kind == "Node") return;  // kubelets register nodes with status
  obj.body.erase("status");
  if (info.kind == "Pod") obj.body["status"] = json{{"phase", "Pending"}};
  if (info.kind == "Namespace") obj.body["status"] = json{{"phase", "Active"}};
}

}  // namespace

struct ObjectStore::State {
  mutable std::mutex mu;
  std::map<std::string, Table, std::less<>> tables;
  //! kind -> subscription id -> watcher; ids grow, so delivery order follows subscription order.
  std::map<std::string, std::map<uint64_t, std::shared_ptr<Watcher>>, std::less<>> watchers;
  uint64_t next_watcher = 1;
  uint64_t rv = 0;
  uint64_t uids = 0;
  uint64_t names = 0;
  uint64_t writes = 0;
  size_t count = 0;
  AdmissionHook admission;

  //! kind -> "key=value" -> objects carrying that label; makes list-by-selector cost what matches,
  //! like an informer indexer, instead of a scan of the whole kind.
  std::map<std::string, std::unordered_map<std::string, std::set<Key, KeyLess>>, std::less<>> label_index;

  //! Moves an object's index entries from `before`'s labels to `after`'s (either may be null).
  void reindex(std::string_view kind, const Key& key, const Object* before, const Object* after) {
    if (before && after && before->meta.labels == after->meta.labels) return;
    auto kit = label_index.find(kind);
    if (kit == label_index.end()) kit = label_index.emplace(std::string(kind), decltype(kit->second){}).first;
    auto& idx = kit->second;
    if (before)
      for (const auto& [k, v] : before->meta.labels) {
        if (after) {
          auto same = after->meta.labels.find(k);
          if (same != after->meta.labels.end() && same->second == v) continue;
        }
        auto e = idx.find(k + "=" + v);
        if (e == idx.end()) continue;
        e->second.erase(key);
        if (e->second.empty()) idx.erase(e);
      }
    if (after)
      for (const auto& [k, v] : after->meta.labels) idx[k + "=" + v].insert(key);
  }

  Table& table(std::string_view kind) {
    auto it = tables.find(kind);
    if (it == tables.end()) it = tables.emplace(std::string(kind), Table{}).first;
    return it->second;
  }
  std::string next_rv() { return std::to_string(++rv); }
  //! Queues `type` for every matching watcher; the ones that need a drain task go to `out`.
  void notify(const ResourceInfo& info, WatchEventType type, const ObjectPtr& obj,
              std::vector<std::shared_ptr<Watcher>>& out) {
    auto it = watchers.find(info.kind);
    if (it == watchers.end()) return;
    for (auto& [id, w] : it->second) {
      if (info.namespaced && !w->ns.empty() && w->ns != obj->meta.namespace_) continue;
      std::lock_guard<std::mutex> lock(w->mu);
      w->pending.push_back(WatchEvent{type, obj});
      if (!w->scheduled) {
        w->scheduled = true;
        out.push_back(w);
      }
    }
  }
};

namespace {

class StoreSubscription : public WatchSubscription {
 public:
  StoreSubscription(std::weak_ptr<ObjectStore::State> state, std::string kind, uint64_t id,
                    std::shared_ptr<Watcher> watcher)
      : state_(std::move(state)), kind_(std::move(kind)), id_(id), watcher_(std::move(watcher)) {}
  ~StoreSubscription() override { stop(); }
  void stop() override {
    watcher_->alive.store(false);
    if (auto state = state_.lock()) {
      std::lock_guard<std::mutex> lock(state->mu);
      auto it = state->watchers.find(kind_);
      if (it != state->watchers.end()) it->second.erase(id_);
    }
  }

 private:
  std::weak_ptr<ObjectStore::State> state_;
  std::string kind_;
  uint64_t id_;
  std::shared_ptr<Watcher> watcher_;
};

}  // namespace

ObjectStore::ObjectStore(Executor& executor, Clock& clock)
    : executor_(executor), clock_(clock), state_(std::make_shared<State>()) {}

ObjectStore::~ObjectStore() {
  std::lock_guard<std::mutex> lock(state_->mu);
  for (auto& [kind, ws] : state_->watchers)
    for (auto& [id, w] : ws) w->alive.store(false);  // queued deliveries must not call into a dead store
  state_->watchers.clear();
}

void ObjectStore::set_admission(AdmissionHook hook) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->admission = std::move(hook);
}

size_t ObjectStore::object_count() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->count;
}

uint64_t ObjectStore::writes() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->writes;
}

std::string ObjectStore::resource_version() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return std::to_string(state_->rv);
}

Result<ObjectPtr> ObjectStore::get(std::string_view kind, std::string_view ns, std::string_view name) {
  const ResourceInfo* info = resource_info(kind);
  if (!info) return unknown_kind(kind);
  if (info->namespaced && ns.empty()) return namespace_required(*info);
  const std::string_view scoped = info->namespaced ? ns : std::string_view();
  std::lock_guard<std::mutex> lock(state_->mu);
  auto t = state_->tables.find(kind);
  if (t != state_->tables.end()) {
    auto it = t->second.find(KeyView{scoped, name});
    if (it != t->second.end()) return it->second;
  }
  return not_found(*info, name);
}

Result<std::vector<ObjectPtr>> ObjectStore::list(std::string_view kind, const ListOptions& opts) {
  const ResourceInfo* info = resource_info(kind);
  if (!info) return unknown_kind(kind);
  std::vector<ObjectPtr> out;
  auto keep = [&](const ObjectPtr& obj) {
    if (!opts.selector || opts.selector->matches(obj->meta.labels)) out.push_back(obj);
  };
  std::lock_guard<std::mutex> lock(state_->mu);
  auto t = state_->tables.find(kind);
  if (t == state_->tables.end()) return out;
  const Table& table = t->second;
  if (opts.selector && !opts.selector->match_labels.empty()) {
    // Walk the smallest posting list of the selector's matchLabels; it is in table order already.
    const std::set<Key, KeyLess>* best = nullptr;
    auto kit = state_->label_index.find(kind);
    if (kit == state_->label_index.end()) return out;
    for (const auto& [k, v] : opts.selector->match_labels) {
      auto e = kit->second.find(k + "=" + v);
      if (e == kit->second.end()) return out;
      if (!best || e->second.size() < best->size()) best = &e->second;
    }
    const bool by_ns = info->namespaced && !opts.namespace_.empty();
    for (const Key& key : *best) {
      if (by_ns && key.ns != opts.namespace_) continue;
      auto it = table.find(key);
      if (it != table.end()) keep(it->second);
    }
    return out;
  }
  if (info->namespaced && !opts.namespace_.empty()) {
    const std::string_view ns = opts.namespace_;
    for (auto it = table.lower_bound(KeyView{ns, ""}); it != table.end() && it->first.ns == ns; ++it) keep(it->second);
  } else {
    for (const auto& [key, obj] : table) keep(obj);
  }
  return out;
}

Result<ObjectPtr> ObjectStore::create(Object obj) {
  const ResourceInfo* info = resource_info(obj.kind);
  if (!info) return unknown_kind(obj.kind);
  if (!obj.meta.resource_version.empty()) return invalid("resourceVersion should not be set on objects to be created");
  if (info->namespaced && obj.meta.namespace_.empty()) return namespace_required(*info);
  if (!info->namespaced) obj.meta.namespace_.clear();
  if (obj.api_version.empty()) obj.api_version = api_version_of(*info);
  if (obj.meta.name.empty() && obj.meta.generate_name.empty())
    return invalid("metadata.name: Required value: name or generateName is required");

  AdmissionHook admission;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (obj.meta.name.empty()) {
      // The API server does not retry a taken generated name; we skip names already taken instead.
      std::string prefix = obj.meta.generate_name.substr(0, 58);
      Table& table = state_->table(obj.kind);
      for (int tries = 0; tries < 64; ++tries) {
        obj.meta.name = prefix + name_suffix(++state_->names);
        if (!table.count(KeyView{obj.meta.namespace_, obj.meta.name})) break;
      }
    }
    admission = state_->admission;
  }
  reset_status_on_create(*info, obj);
  const Time now = clock_.now();
  obj.meta.creation_timestamp = now - ((now % kSecond) + kSecond) % kSecond;
  obj.meta.deletion_timestamp.reset();
  obj.meta.deletion_grace_period_seconds.reset();
  obj.meta.generation = 1;
  obj.meta.uid.clear();
  if (admission) {
    Status verdict = admission(nullptr, obj);
    if (!verdict.ok()) return verdict.error();
  }

  std::vector<std::shared_ptr<Watcher>> to_wake;
  ObjectPtr ptr;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    Table& table = state_->table(obj.kind);
    if (table.count(KeyView{obj.meta.namespace_, obj.meta.name}))
      return make_error(ErrorCode::kAlreadyExists, resource_of(*info) + " \"" + obj.meta.name + "\" already exists",
                        "AlreadyExists");
    obj.meta.uid = format_uid(++state_->uids);
    obj.meta.resource_version = state_->next_rv();
    Key key{obj.meta.namespace_, obj.meta.name};
    ptr = std::make_shared<const Object>(std::move(obj));
    state_->reindex(ptr->kind, key, nullptr, ptr.get());
    table.emplace(std::move(key), ptr);
    ++state_->count;
    ++state_->writes;
    state_->notify(*info, WatchEventType::kAdded, ptr, to_wake);
  }
  wake(to_wake);
  return ptr;
}

Result<ObjectPtr> ObjectStore::mutate(std::string_view kind, std::string_view ns, std::string_view name, WriteMode mode,
                                      bool admit, const std::function<Result<Object>(const Object& old)>& change) {
  const ResourceInfo* info = resource_info(kind);
  if (!info) return unknown_kind(kind);
  if (mode == WriteMode::kStatus && !info->status_subresource)
    return make_error(ErrorCode::kNotFound,
                      "the server could not find the requested resource (" + resource_of(*info) + "/status)",
                      "NotFound");
  if (info->namespaced && ns.empty()) return namespace_required(*info);
  if (name.empty()) return invalid("metadata.name: Required value: name is required");
  const std::string_view scoped = info->namespaced ? ns : std::string_view();

  // Optimistic loop: build the new snapshot and run admission without the lock, then commit only if
  // nobody wrote in between (a client's resourceVersion precondition is checked by `change`).
  for (int attempt = 0;; ++attempt) {
    ObjectPtr old;
    AdmissionHook admission;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      auto t = state_->tables.find(kind);
      if (t == state_->tables.end()) return not_found(*info, name);
      auto it = t->second.find(KeyView{scoped, name});
      if (it == t->second.end()) return not_found(*info, name);
      old = it->second;
      if (admit) admission = state_->admission;
    }
    Result<Object> changed = change(*old);
    if (!changed.ok()) return changed.error();
    Object next = std::move(changed.value());

    // Identity and system fields belong to the server.
    next.kind = old->kind;
    if (next.api_version.empty()) next.api_version = old->api_version;
    next.meta.name = old->meta.name;
    next.meta.namespace_ = old->meta.namespace_;
    next.meta.uid = old->meta.uid;
    next.meta.creation_timestamp = old->meta.creation_timestamp;
    next.meta.deletion_timestamp = old->meta.deletion_timestamp;
    next.meta.deletion_grace_period_seconds = old->meta.deletion_grace_period_seconds;
    next.meta.resource_version = old->meta.resource_version;
    next.meta.generation = old->meta.generation;
    if (mode == WriteMode::kStatus) {
      json status = next.body.contains("status") ? next.body["status"] : json();
      next = *old;
      if (status.is_null())
        next.body.erase("status");
      else
        next.body["status"] = std::move(status);
    } else if (mode == WriteMode::kObject && info->status_subresource) {
      if (old->body.contains("status"))
        next.body["status"] = old->body["status"];
      else
        next.body.erase("status");
    }
    if (mode != WriteMode::kStatus && !same_except_status(old->body, next.body)) ++next.meta.generation;
    if (old->meta.deletion_timestamp) {
      for (const auto& f : next.meta.finalizers)
        if (!old->meta.has_finalizer(f))
          return invalid(
              "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being "
              "deleted, found new finalizers [\"" +
              f + "\"]");
    }
    if (next.api_version == old->api_version && same_meta_except_rv(next.meta, old->meta) && next.body == old->body)
      return old;  // no-op write: no new resourceVersion, no event
    if (admission) {
      Status verdict = admission(old.get(), next);
      if (!verdict.ok()) return verdict.error();
    }

    std::vector<std::shared_ptr<Watcher>> to_wake;
    ObjectPtr ptr;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      Table& table = state_->table(kind);
      auto it = table.find(KeyView{scoped, name});
      if (it == table.end() || it->second != old) {
        if (attempt < 100) continue;
        return conflict(*info, name);
      }
      next.meta.resource_version = state_->next_rv();
      ++state_->writes;
      const bool gone = next.meta.deletion_timestamp && next.meta.finalizers.empty() &&
                        next.meta.deletion_grace_period_seconds.value_or(0) == 0;
      ptr = std::make_shared<const Object>(std::move(next));
      state_->reindex(kind, it->first, old.get(), gone ? nullptr : ptr.get());
      if (gone) {  // the last finalizer of a deleting object went away
        table.erase(it);
        --state_->count;
        state_->notify(*info, WatchEventType::kDeleted, ptr, to_wake);
      } else {
        it->second = ptr;
        state_->notify(*info, WatchEventType::kModified, ptr, to_wake);
      }
    }
    wake(to_wake);
    return ptr;
  }
}

Result<ObjectPtr> ObjectStore::update(Object obj) {
  const std::string kind = obj.kind, ns = obj.meta.namespace_, name = obj.meta.name;
  return mutate(kind, ns, name, WriteMode::kObject, true, [&obj](const Object& old) -> Result<Object> {
    if (!obj.meta.resource_version.empty() && obj.meta.resource_version != old.meta.resource_version)
      return conflict(*resource_info(old.kind), old.meta.name);
    if (!obj.meta.uid.empty() && obj.meta.uid != old.meta.uid) return uid_precondition(obj.meta.uid, old.meta.uid);
    return obj;
  });
}

Result<ObjectPtr> ObjectStore::update_status(Object obj) {
  const std::string kind = obj.kind, ns = obj.meta.namespace_, name = obj.meta.name;
  return mutate(kind, ns, name, WriteMode::kStatus, false, [&obj](const Object& old) -> Result<Object> {
    if (!obj.meta.resource_version.empty() && obj.meta.resource_version != old.meta.resource_version)
      return conflict(*resource_info(old.kind), old.meta.name);
    if (!obj.meta.uid.empty() && obj.meta.uid != old.meta.uid) return uid_precondition(obj.meta.uid, old.meta.uid);
    return obj;
  });
}

Result<ObjectPtr> ObjectStore::patch(std::string_view kind, std::string_view ns, std::string_view name,
                                     const json& merge_patch, bool status) {
  const WriteMode mode = status ? WriteMode::kStatus : WriteMode::kObject;
  return mutate(kind, ns, name, mode, !status, [&merge_patch](const Object& old) -> Result<Object> {
    Object out;
    try {
      json j = to_json(old);
      j.merge_patch(merge_patch);
      out = object_from_json(j);
    } catch (const std::exception& e) {
      return invalid(std::string("invalid merge patch: ") + e.what());
    }
    if (out.kind != old.kind) return invalid("kind cannot be changed by a patch");
    if (out.meta.name != old.meta.name)
      return invalid("the name of the object (" + out.meta.name + ") does not match the name on the URL (" +
                     old.meta.name + ")");
    // A resourceVersion or uid in the patch is a precondition, as with kubectl patch.
    if (!out.meta.resource_version.empty() && out.meta.resource_version != old.meta.resource_version)
      return conflict(*resource_info(old.kind), old.meta.name);
    if (!out.meta.uid.empty() && out.meta.uid != old.meta.uid) return uid_precondition(out.meta.uid, old.meta.uid);
    return out;
  });
}

Status ObjectStore::bind_pod(std::string_view ns, std::string_view name, std::string_view node_name) {
  if (node_name.empty()) return invalid("target.name: Required value");
  const std::string node(node_name);
  Clock& clock = clock_;
  auto res = mutate("Pod", ns, name, WriteMode::kAll, false, [&](const Object& old) -> Result<Object> {
    if (old.meta.deletion_timestamp)
      return make_error(ErrorCode::kConflict,
                        "pod " + old.meta.name + " is being deleted, cannot be assigned to a host", "Conflict");
    const std::string current = old.str("/spec/nodeName");
    if (current == node) return old;
    if (!current.empty())
      return make_error(ErrorCode::kConflict,
                        "pod " + old.meta.name + " is already assigned to node \"" + current + "\"", "Conflict");
    Object out = old;
    out.body["spec"]["nodeName"] = node;
    if (!out.body["status"].is_object()) out.body["status"] = json::object();
    json& conditions = out.body["status"]["conditions"];
    set_condition(conditions, Condition{"PodScheduled", "True", "", "", 0, 0}, clock.now());
    return out;
  });
  if (!res.ok()) return res.error();
  return {};
}

Status ObjectStore::remove(std::string_view kind, std::string_view ns, std::string_view name,
                           const DeleteOptions& opts) {
  const ResourceInfo* info = resource_info(kind);
  if (!info) return unknown_kind(kind);
  if (info->namespaced && ns.empty()) return namespace_required(*info);
  const std::string_view scoped = info->namespaced ? ns : std::string_view();
  const Time raw_now = clock_.now();
  const Time now = raw_now - ((raw_now % kSecond) + kSecond) % kSecond;

  std::vector<std::shared_ptr<Watcher>> to_wake;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto t = state_->tables.find(kind);
    if (t == state_->tables.end()) return not_found(*info, name);
    auto it = t->second.find(KeyView{scoped, name});
    if (it == t->second.end()) return not_found(*info, name);
    const ObjectPtr old = it->second;
    if (!opts.precondition_uid.empty() && opts.precondition_uid != old->meta.uid)
      return uid_precondition(opts.precondition_uid, old->meta.uid);

    // Graceful deletion applies to pods a kubelet may be running: bound and not terminated.
    int64_t grace = 0;
    if (info->kind == "Pod") {
      const std::string phase = old->str("/status/phase");
      const bool running = !old->str("/spec/nodeName").empty() && phase != "Succeeded" && phase != "Failed";
      if (running) {
        grace = opts.grace_period_seconds ? *opts.grace_period_seconds
                                          : old->num("/spec/terminationGracePeriodSeconds", 30);
        grace = std::max<int64_t>(grace, 0);
      }
    }

    bool gone = false;
    Object next = *old;
    if (old->meta.deletion_timestamp) {
      // Already deleting: a delete may only shorten the grace period (the kubelet's final grace-0 delete).
      if (grace >= old->meta.deletion_grace_period_seconds.value_or(0)) return {};
      next.meta.deletion_timestamp = now + grace * kSecond;
      next.meta.deletion_grace_period_seconds = grace;
      gone = grace == 0 && next.meta.finalizers.empty();
    } else if (grace > 0 || !old->meta.finalizers.empty()) {
      next.meta.deletion_timestamp = now + grace * kSecond;
      next.meta.deletion_grace_period_seconds = grace;
      if (next.meta.generation > 0) ++next.meta.generation;
    } else {
      gone = true;
    }
    next.meta.resource_version = state_->next_rv();
    ++state_->writes;
    auto ptr = std::make_shared<const Object>(std::move(next));
    state_->reindex(kind, it->first, old.get(), gone ? nullptr : ptr.get());
    if (gone) {
      t->second.erase(it);
      --state_->count;
      state_->notify(*info, WatchEventType::kDeleted, ptr, to_wake);
    } else {
      it->second = ptr;
      state_->notify(*info, WatchEventType::kModified, ptr, to_wake);
    }
  }
  wake(to_wake);
  return {};
}

std::unique_ptr<WatchSubscription> ObjectStore::watch(std::string_view kind, std::string_view ns,
                                                      WatchHandler handler) {
  const ResourceInfo* info = resource_info(kind);
  auto w = std::make_shared<Watcher>();
  w->ns = info && info->namespaced ? std::string(ns) : std::string();
  w->handler = std::move(handler);
  w->executor = &executor_;
  uint64_t id = 0;
  bool need_drain = false;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    id = state_->next_watcher++;
    state_->watchers[std::string(kind)].emplace(id, w);
    // The initial ADDED events are queued under the same lock as later changes, so nothing is missed
    // or delivered twice.
    auto t = state_->tables.find(kind);
    if (t != state_->tables.end()) {
      std::lock_guard<std::mutex> wlock(w->mu);
      const Table& table = t->second;
      auto it = w->ns.empty() ? table.begin() : table.lower_bound(KeyView{w->ns, ""});
      for (; it != table.end() && (w->ns.empty() || it->first.ns == w->ns); ++it)
        w->pending.push_back(WatchEvent{WatchEventType::kAdded, it->second});
      need_drain = !w->pending.empty();
      w->scheduled = need_drain;
    }
  }
  if (need_drain) executor_.post([w] { drain(w); });
  return std::make_unique<StoreSubscription>(state_, std::string(kind), id, w);
}

}  // namespace ktwin::cluster_model
