// StatefulSet controller. Pods are found through a watch-fed index (owner -> ordinal -> pod), the way
// controller-runtime's cached client finds them; every decision re-reads the StatefulSet and is
// level-based, so stale cache entries only cost an AlreadyExists or NotFound that is ignored.
#include "cluster_model/statefulset_controller.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "core/k8s/conditions.h"
#include "core/runtime/controller.h"

namespace ktwin::cluster_model {
namespace {

constexpr const char* kPodNameLabel = "statefulset.kubernetes.io/pod-name";
constexpr const char* kPodIndexLabel = "apps.kubernetes.io/pod-index";
constexpr const char* kRevisionLabel = "controller-revision-hash";

uint32_t fnv32a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

//! k8s.io/apimachinery's SafeEncodeString: each character mapped into an alphabet without vowels.
std::string safe_encode(const std::string& s) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  for (unsigned char c : s) out += kAlphabet[c % kAlphabet.size()];
  return out;
}

std::optional<int> ordinal_of(const std::string& pod_name, const std::string& sts_name) {
  if (pod_name.size() <= sts_name.size() + 1 || pod_name.compare(0, sts_name.size(), sts_name) != 0 ||
      pod_name[sts_name.size()] != '-')
    return std::nullopt;
  int v = 0;
  for (size_t i = sts_name.size() + 1; i < pod_name.size(); ++i) {
    const char c = pod_name[i];
    if (c < '0' || c > '9' || v > 100'000'000) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (std::to_string(v) != pod_name.substr(sts_name.size() + 1)) return std::nullopt;  // no leading zeros
  return v;
}

bool terminating(const Object& pod) { return pod.meta.deletion_timestamp.has_value(); }
bool finished(const Object& pod) {
  const std::string phase = pod.str("/status/phase");
  return phase == "Failed" || phase == "Succeeded";
}
bool running_and_ready(const Object& pod) {
  return pod.str("/status/phase") == "Running" && condition_is_true(pod.at("/status/conditions"), "Ready");
}
bool healthy(const Object& pod) { return running_and_ready(pod) && !terminating(pod); }
std::string revision_of_pod(const Object& pod) {
  const std::string* r = pod.meta.label(kRevisionLabel);
  return r ? *r : std::string();
}

//! What a StatefulSet's pods add up to, kept up to date from the pod watch so a reconcile that has
//! nothing to do costs O(1) instead of a pass over every pod (1,000-pod sets at fleet scale).
struct PodTally {
  int64_t pods = 0, ready = 0, finished_live = 0, live = 0;  // live: not terminating
  std::map<std::string, int64_t> live_by_revision;

  void add(const Object& pod, int sign) {
    pods += sign;
    if (running_and_ready(pod)) ready += sign;
    if (terminating(pod)) return;
    live += sign;
    if (finished(pod)) finished_live += sign;
    auto& n = live_by_revision[revision_of_pod(pod)];
    n += sign;
    if (n == 0) live_by_revision.erase(revision_of_pod(pod));
  }
  int64_t live_at(const std::string& revision) const {
    auto it = live_by_revision.find(revision);
    return it == live_by_revision.end() ? 0 : it->second;
  }
};

}  // namespace

std::string StatefulSetController::revision_of(const Object& sts) {
  return sts.meta.name + "-" + safe_encode(std::to_string(fnv32a(sts.at("/spec/template").dump())));
}

class StatefulSetController::Impl : public Reconciler {
 public:
  Impl(Cluster& cluster, Executor& executor, Clock& clock, StatefulSetControllerOptions opts)
      : cluster_(cluster),
        opts_(std::move(opts)),
        controller_(ControllerOptions{"statefulset"}, *this, executor, clock) {}
  ~Impl() override { stop(); }

  void start() {
    if (pod_watch_) return;
    controller_.watch(cluster_, "StatefulSet", opts_.namespace_, Controller::map_to_self());
    auto alive = alive_;
    pod_watch_ = cluster_.watch("Pod", opts_.namespace_, [this, alive](const WatchEvent& ev) {
      if (alive->load()) on_pod(ev);
    });
  }

  void stop() {
    alive_->store(false);
    if (pod_watch_) pod_watch_->stop();
    controller_.stop();
  }

  ReconcileResult reconcile(const Request& req, std::optional<ReconcileError>& error) override {
    auto got = cluster_.get("StatefulSet", req.namespace_, req.name);
    if (got.is(ErrorCode::kNotFound)) return ReconcileResult::done();  // pods go with the garbage collector
    if (!got.ok()) {
      error = ReconcileError{got.error().message, false};
      return ReconcileResult::done();
    }
    const ObjectPtr sts = got.value();
    if (sts->meta.deletion_timestamp) return ReconcileResult::done();

    std::string failure;
    PodTally tally;
    if (!settled(req, *sts, tally)) {
      std::map<int, ObjectPtr> pods;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (auto it = pods_.find(req); it != pods_.end())
          for (const auto& [ord, pod] : it->second) {
            const OwnerReference* ref = pod->meta.controller_ref();
            if (ref && ref->uid == sts->meta.uid) pods.emplace(ord, pod);  // skip pods of an older namesake
          }
      }
      act(*sts, pods, failure);
      if (!failure.empty()) error = ReconcileError{failure, false};
      tally = PodTally{};
      for (const auto& [ord, pod] : pods) tally.add(*pod, 1);
    }
    Status s = write_status(*sts, tally);
    if (!s.ok() && !s.is(ErrorCode::kNotFound)) {
      if (s.is(ErrorCode::kConflict)) return ReconcileResult{0, true};
      error = ReconcileError{s.error().message, false};
    }
    return ReconcileResult::done();
  }

 private:
  void on_pod(const WatchEvent& ev) {
    const Object& pod = *ev.object;
    const Request key{pod.meta.namespace_, pod.meta.name};
    std::vector<Request> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto o = owner_of_.find(key); o != owner_of_.end()) {
        auto p = pods_.find(o->second.first);
        if (p != pods_.end()) {
          if (auto old = p->second.find(o->second.second); old != p->second.end())
            untally(o->second.first, *old->second);
          p->second.erase(o->second.second);
          if (p->second.empty()) pods_.erase(p);
        }
        wake.push_back(o->second.first);
        owner_of_.erase(o);
      }
      const OwnerReference* ref = pod.meta.controller_ref();
      if (ev.type != WatchEventType::kDeleted && ref && ref->kind == "StatefulSet") {
        if (auto ord = ordinal_of(pod.meta.name, ref->name)) {
          const Request owner{pod.meta.namespace_, ref->name};
          auto& slot = pods_[owner][*ord];
          if (slot) untally(owner, *slot);  // a namesake pod replaced without a delete event
          slot = ev.object;
          tallies_[owner][ref->uid].add(pod, 1);
          owner_of_[key] = {owner, *ord};
          if (wake.empty() || wake.back() != owner) wake.push_back(owner);
        }
      }
    }
    for (const auto& r : wake) controller_.enqueue(r);
  }

  void untally(const Request& owner, const Object& pod) {
    const OwnerReference* ref = pod.meta.controller_ref();
    if (!ref) return;
    auto t = tallies_.find(owner);
    if (t == tallies_.end()) return;
    auto u = t->second.find(ref->uid);
    if (u == t->second.end()) return;
    u->second.add(pod, -1);
    if (u->second.pods == 0) t->second.erase(u);
    if (t->second.empty()) tallies_.erase(t);
  }

  //! True when act() would do nothing: every ordinal below spec.replicas has a live, unfinished pod of
  //! this StatefulSet, none above, and (RollingUpdate) all at the update revision. Fills `tally` then.
  bool settled(const Request& req, const Object& sts, PodTally& tally) {
    const int64_t replicas = std::max<int64_t>(0, sts.num("/spec/replicas", 1));
    std::lock_guard<std::mutex> lock(mu_);
    auto t = tallies_.find(req);
    auto p = pods_.find(req);
    if (t == tallies_.end() || p == pods_.end()) return replicas == 0 && t == tallies_.end();
    if (t->second.size() != 1 || t->second.begin()->first != sts.meta.uid) return false;  // an older namesake's pods
    const PodTally& mine = t->second.begin()->second;
    if (mine.pods != replicas || mine.live != replicas || mine.finished_live != 0) return false;
    if (p->second.rbegin()->first != replicas - 1) return false;  // ordinals are unique: 0..replicas-1
    if (sts.str("/spec/updateStrategy/type", "RollingUpdate") == "RollingUpdate" &&
        mine.live_at(cached_revision(sts)) != replicas)
      return false;
    tally = mine;
    return true;
  }

  Object new_pod(const Object& sts, int ordinal, const std::string& revision) const {
    Object pod;
    pod.api_version = "v1";
    pod.kind = "Pod";
    pod.meta.namespace_ = sts.meta.namespace_;
    pod.meta.name = sts.meta.name + "-" + std::to_string(ordinal);
    const json& tmeta = sts.at("/spec/template/metadata");
    if (tmeta.is_object()) {
      ObjectMeta m = meta_from_json(tmeta);
      pod.meta.labels = m.labels;
      pod.meta.annotations = m.annotations;
    }
    pod.meta.labels[kPodNameLabel] = pod.meta.name;
    pod.meta.labels[kPodIndexLabel] = std::to_string(ordinal);
    pod.meta.labels[kRevisionLabel] = revision;
    pod.meta.owner_references.push_back(owner_reference_to(sts, true));
    if (pod.meta.owner_references.back().api_version.empty()) pod.meta.owner_references.back().api_version = "apps/v1";
    json spec = sts.at("/spec/template/spec");
    if (!spec.is_object()) spec = json::object();
    spec["hostname"] = pod.meta.name;
    if (const std::string svc = sts.str("/spec/serviceName"); !svc.empty()) spec["subdomain"] = svc;
    if (!spec.contains("restartPolicy")) spec["restartPolicy"] = "Always";
    pod.body["spec"] = std::move(spec);
    return pod;
  }

  bool create_pod(const Object& sts, int ordinal, const std::string& revision, std::string& failure) {
    Object pod;
    try {
      pod = new_pod(sts, ordinal, revision);
    } catch (const std::exception& e) {
      failure = "invalid pod template: " + std::string(e.what());
      return false;
    }
    auto r = cluster_.create(std::move(pod));
    if (r.ok() || r.is(ErrorCode::kAlreadyExists)) return true;  // exists: our index is behind
    failure = r.error().message;
    return false;
  }

  void delete_pod(const Object& pod, std::string& failure) {
    DeleteOptions opts;
    opts.precondition_uid = pod.meta.uid;
    Status s = cluster_.remove("Pod", pod.meta.namespace_, pod.meta.name, opts);
    if (!s.ok() && !s.is(ErrorCode::kNotFound) && !s.is(ErrorCode::kConflict)) failure = s.error().message;
  }

  //! revision_of() hashes the whole pod template; it only changes with the generation.
  std::string cached_revision(const Object& sts) {
    std::lock_guard<std::mutex> lock(revision_mu_);
    auto& entry = revisions_[sts.meta.uid];
    if (entry.second.empty() || entry.first != sts.meta.generation) entry = {sts.meta.generation, revision_of(sts)};
    return entry.second;
  }

  //! One pass of the StatefulSet control loop; returns early where the controller must wait.
  void act(const Object& sts, const std::map<int, ObjectPtr>& pods, std::string& failure) {
    const int replicas = static_cast<int>(std::max<int64_t>(0, sts.num("/spec/replicas", 1)));
    const bool parallel = sts.str("/spec/podManagementPolicy") == "Parallel";
    const std::string strategy = sts.str("/spec/updateStrategy/type", "RollingUpdate");
    const int partition = static_cast<int>(sts.num("/spec/updateStrategy/rollingUpdate/partition", 0));
    const std::string update_revision = cached_revision(sts);

    std::vector<ObjectPtr> slots(static_cast<size_t>(replicas));
    std::vector<ObjectPtr> condemned;
    for (const auto& [ord, pod] : pods) {
      if (ord < replicas)
        slots[static_cast<size_t>(ord)] = pod;
      else
        condemned.push_back(pod);
    }
    std::reverse(condemned.begin(), condemned.end());  // highest ordinal first

    for (int i = 0; i < replicas; ++i) {
      ObjectPtr pod = slots[static_cast<size_t>(i)];
      if (pod && finished(*pod) && !terminating(*pod)) {
        delete_pod(*pod, failure);  // a finished pod has no grace period: gone at once unless finalized
        if (!parallel) return;
        continue;
      }
      if (!pod) {
        if (!create_pod(sts, i, update_revision, failure) || !parallel) return;
        continue;
      }
      if (!parallel && (terminating(*pod) || !running_and_ready(*pod))) return;
    }

    for (const auto& pod : condemned) {
      if (terminating(*pod)) {
        if (!parallel) return;
        continue;
      }
      delete_pod(*pod, failure);
      if (!parallel) return;
    }

    if (strategy != "RollingUpdate") return;  // OnDelete: users delete pods themselves
    for (int target = replicas - 1; target >= std::max(partition, 0); --target) {
      const ObjectPtr& pod = slots[static_cast<size_t>(target)];
      if (!pod) return;  // being created
      if (revision_of_pod(*pod) != update_revision && !terminating(*pod)) {
        delete_pod(*pod, failure);
        return;
      }
      if (!healthy(*pod)) return;  // wait for the replacement to be Running and Ready
    }
  }

  Status write_status(const Object& sts, const PodTally& tally) {
    const int64_t want = std::max<int64_t>(0, sts.num("/spec/replicas", 1));
    const std::string update_revision = cached_revision(sts);
    std::string current_revision = sts.str("/status/currentRevision");
    if (current_revision.empty()) current_revision = update_revision;
    const int64_t replicas = tally.pods, ready = tally.ready;
    int64_t current = tally.live_at(current_revision);
    const int64_t updated = tally.live_at(update_revision);
    // A finished rolling update makes the update revision current.
    if (sts.str("/spec/updateStrategy/type", "RollingUpdate") == "RollingUpdate" && updated == replicas &&
        ready == replicas && replicas == want) {
      current_revision = update_revision;
      current = updated;
    }
    json status = sts.at("/status").is_object() ? sts.at("/status") : json::object();
    json next = status;
    next["observedGeneration"] = sts.meta.generation;
    next["replicas"] = replicas;
    next["readyReplicas"] = ready;
    next["availableReplicas"] = ready;
    next["currentReplicas"] = current;
    next["updatedReplicas"] = updated;
    next["currentRevision"] = current_revision;
    next["updateRevision"] = update_revision;
    if (!next.contains("collisionCount")) next["collisionCount"] = 0;
    if (next == status) return {};
    Object out = sts;
    out.body["status"] = std::move(next);
    auto r = cluster_.update_status(std::move(out));
    if (!r.ok()) return r.error();
    return {};
  }

  Cluster& cluster_;
  StatefulSetControllerOptions opts_;
  std::mutex mu_;
  std::map<Request, std::map<int, ObjectPtr>> pods_;            // StatefulSet -> ordinal -> pod
  std::map<Request, std::pair<Request, int>> owner_of_;         // pod -> (StatefulSet, ordinal)
  std::map<Request, std::map<std::string, PodTally>> tallies_;  // StatefulSet -> owner uid -> its pods
  std::mutex revision_mu_;
  std::map<std::string, std::pair<int64_t, std::string>> revisions_;  // uid -> (generation, revision)
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  std::unique_ptr<WatchSubscription> pod_watch_;
  Controller controller_;  // last: destroyed first
};

StatefulSetController::StatefulSetController(Cluster& cluster, Executor& executor, Clock& clock,
                                             StatefulSetControllerOptions opts)
    : impl_(std::make_unique<Impl>(cluster, executor, clock, std::move(opts))) {}
StatefulSetController::~StatefulSetController() = default;
void StatefulSetController::start() { impl_->start(); }
void StatefulSetController::stop() { impl_->stop(); }

}  // namespace ktwin::cluster_model
