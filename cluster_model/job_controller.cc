// Job controller: pods are found through a watch-fed owner index; each reconcile re-reads the Job and
// derives counts from the pods, so it is level-based and a stale index only delays a decision.
#include "cluster_model/job_controller.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "core/k8s/conditions.h"
#include "core/runtime/controller.h"

namespace ktwin::cluster_model {
namespace {

bool pod_ready(const Object& pod) { return condition_is_true(pod.at("/status/conditions"), "Ready"); }

//! When a finished pod finished: the latest container finishedAt, else the latest condition change.
Time finish_time(const Object& pod) {
  Time latest = 0;
  if (const json& cs = pod.at("/status/containerStatuses"); cs.is_array())
    for (const auto& c : cs) {
      auto t = c.find("state");
      if (t == c.end() || !t->is_object()) continue;
      auto term = t->find("terminated");
      if (term == t->end() || !term->is_object()) continue;
      if (auto f = term->find("finishedAt"); f != term->end() && f->is_string())
        latest = std::max(latest, parse_rfc3339(f->get<std::string>()).value_or(0));
    }
  if (latest > 0) return latest;
  if (const json& conds = pod.at("/status/conditions"); conds.is_array())
    for (const auto& c : conds)
      if (auto t = c.find("lastTransitionTime"); t != c.end() && t->is_string())
        latest = std::max(latest, parse_rfc3339(t->get<std::string>()).value_or(0));
  return latest > 0 ? latest : pod.meta.creation_timestamp;
}

bool finished_now(const json& conditions) {
  return condition_is_true(conditions, "Complete") || condition_is_true(conditions, "Failed");
}

void set_count(json& status, const char* field, int64_t n) {
  if (n > 0)
    status[field] = n;
  else
    status.erase(field);  // omitempty, as the API writes these counters
}

}  // namespace

class JobController::Impl : public Reconciler {
 public:
  Impl(Cluster& cluster, Executor& executor, Clock& clock, JobControllerOptions opts)
      : cluster_(cluster),
        clock_(clock),
        opts_(std::move(opts)),
        controller_(ControllerOptions{"job"}, *this, executor, clock) {}
  ~Impl() override { stop(); }

  void start() {
    if (pod_watch_) return;
    controller_.watch(cluster_, "Job", opts_.namespace_, Controller::map_to_self());
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
    auto got = cluster_.get("Job", req.namespace_, req.name);
    if (got.is(ErrorCode::kNotFound)) return ReconcileResult::done();
    if (!got.ok()) {
      error = ReconcileError{got.error().message, false};
      return ReconcileResult::done();
    }
    const Object& job = *got.value();
    if (job.meta.deletion_timestamp) return ReconcileResult::done();

    std::vector<ObjectPtr> pods;
    int64_t expected = 0;  // pods we created whose ADDED event has not arrived yet
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto e = expected_.find(req); e != expected_.end()) expected = e->second;
      if (auto it = pods_.find(req); it != pods_.end())
        for (const auto& [name, pod] : it->second) {
          const OwnerReference* ref = pod->meta.controller_ref();
          if (ref && ref->uid == job.meta.uid) pods.push_back(pod);
        }
    }

    const Time now = clock_.now();
    const json status = job.at("/status").is_object() ? job.at("/status") : json::object();
    json next = status;
    json conditions = status.contains("conditions") ? status["conditions"] : json::array();
    const bool finished = condition_is_true(conditions, "Complete") || condition_is_true(conditions, "Failed");

    int64_t succeeded = 0, failed = 0, ready = 0;
    Time last_failure = 0;
    std::vector<ObjectPtr> active;
    for (const auto& pod : pods) {
      const std::string phase = pod->str("/status/phase");
      if (phase == "Succeeded") {
        ++succeeded;
      } else if (phase == "Failed") {
        ++failed;
        last_failure = std::max(last_failure, finish_time(*pod));
      } else if (!pod->meta.deletion_timestamp) {
        active.push_back(pod);
        if (pod_ready(*pod)) ++ready;
      }
    }
    failed = std::max(failed, status.value("failed", int64_t{0}));
    succeeded = std::max(succeeded, status.value("succeeded", int64_t{0}));
    if (!next.contains("startTime")) next["startTime"] = format_rfc3339(now);
    const Time start = parse_rfc3339(next["startTime"].get<std::string>()).value_or(now);

    Duration requeue = 0;
    std::string failure;
    if (!finished) {
      const int64_t backoff_limit = job.num("/spec/backoffLimit", 6);
      const int64_t deadline_s = job.num("/spec/activeDeadlineSeconds", 0);
      auto fail = [&](const char* reason, const char* message) {
        set_condition(conditions, Condition{"Failed", "True", reason, message, 0, 0}, now);
        for (const auto& pod : active) delete_pod(*pod, failure);
        active.clear();
        ready = 0;
      };
      if (succeeded > 0) {
        succeeded = 1;
        next["completionTime"] = format_rfc3339(now);
        set_condition(
            conditions,
            Condition{"Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods", 0, 0},
            now);
      } else if (failed > backoff_limit) {
        fail("BackoffLimitExceeded", "Job has reached the specified backoff limit");
      } else if (deadline_s > 0 && now >= start + deadline_s * kSecond) {
        fail("DeadlineExceeded", "Job was active longer than specified deadline");
      } else {
        if (active.empty() && expected == 0) {
          Duration delay = 0;
          if (failed > 0) {
            delay = opts_.backoff_base;
            for (int64_t i = 1; i < failed && delay < opts_.backoff_max; ++i) delay *= 2;
            delay = std::min(delay, opts_.backoff_max);
          }
          if (now < last_failure + delay) {
            requeue = last_failure + delay - now;
          } else if (create_pod(req, job, failure)) {
            ++expected;  // counted now, like the real controller; the watch confirms it
          }
        }
        if (deadline_s > 0) {
          const Duration left = start + deadline_s * kSecond - now;
          requeue = requeue > 0 ? std::min(requeue, left) : left;
        }
      }
    }

    set_count(next, "active", static_cast<int64_t>(active.size()) + (finished_now(conditions) ? 0 : expected));
    set_count(next, "succeeded", succeeded);
    set_count(next, "failed", failed);
    next["ready"] = ready;
    if (!conditions.empty()) next["conditions"] = conditions;
    if (next != status) {
      Object out = job;
      out.body["status"] = next;
      auto w = cluster_.update_status(std::move(out));
      if (w.is(ErrorCode::kConflict)) return ReconcileResult{0, true};
      if (!w.ok() && !w.is(ErrorCode::kNotFound)) failure = w.error().message;
    }
    if (!failure.empty()) error = ReconcileError{failure, false};
    return requeue > 0 ? ReconcileResult::after(requeue) : ReconcileResult::done();
  }

 private:
  void on_pod(const WatchEvent& ev) {
    const Object& pod = *ev.object;
    const Request key{pod.meta.namespace_, pod.meta.name};
    std::vector<Request> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto o = owner_of_.find(key); o != owner_of_.end()) {
        auto p = pods_.find(o->second);
        if (p != pods_.end()) {
          p->second.erase(pod.meta.name);
          if (p->second.empty()) pods_.erase(p);
        }
        wake.push_back(o->second);
        owner_of_.erase(o);
      }
      const OwnerReference* ref = pod.meta.controller_ref();
      if (ev.type != WatchEventType::kDeleted && ref && ref->kind == "Job") {
        const Request owner{pod.meta.namespace_, ref->name};
        if (ev.type == WatchEventType::kAdded) {
          auto e = expected_.find(owner);
          if (e != expected_.end() && --e->second <= 0) expected_.erase(e);
        }
        pods_[owner][pod.meta.name] = ev.object;
        owner_of_[key] = owner;
        if (wake.empty() || wake.back() != owner) wake.push_back(owner);
      }
    }
    for (const auto& r : wake) controller_.enqueue(r);
  }

  bool create_pod(const Request& req, const Object& job, std::string& failure) {
    Object pod;
    pod.api_version = "v1";
    pod.kind = "Pod";
    pod.meta.namespace_ = job.meta.namespace_;
    pod.meta.generate_name = job.meta.name + "-";
    try {
      if (const json& tmeta = job.at("/spec/template/metadata"); tmeta.is_object()) {
        ObjectMeta m = meta_from_json(tmeta);
        pod.meta.labels = m.labels;
        pod.meta.annotations = m.annotations;
      }
    } catch (const std::exception& e) {
      failure = "invalid pod template: " + std::string(e.what());
      return false;
    }
    pod.meta.labels["batch.kubernetes.io/controller-uid"] = job.meta.uid;
    pod.meta.labels["batch.kubernetes.io/job-name"] = job.meta.name;
    pod.meta.labels["controller-uid"] = job.meta.uid;
    pod.meta.labels["job-name"] = job.meta.name;
    pod.meta.owner_references.push_back(owner_reference_to(job, true));
    if (pod.meta.owner_references.back().api_version.empty()) pod.meta.owner_references.back().api_version = "batch/v1";
    json spec = job.at("/spec/template/spec");
    if (!spec.is_object()) spec = json::object();
    if (spec.value("restartPolicy", "") != "OnFailure") spec["restartPolicy"] = "Never";
    pod.body["spec"] = std::move(spec);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++expected_[req];  // before the call: the ADDED event may be handled before create() returns
    }
    auto r = cluster_.create(std::move(pod));
    if (r.ok()) return true;
    failure = r.error().message;
    std::lock_guard<std::mutex> lock(mu_);
    if (auto e = expected_.find(req); e != expected_.end() && --e->second <= 0) expected_.erase(e);
    return false;
  }

  void delete_pod(const Object& pod, std::string& failure) {
    DeleteOptions opts;
    opts.precondition_uid = pod.meta.uid;
    Status s = cluster_.remove("Pod", pod.meta.namespace_, pod.meta.name, opts);
    if (!s.ok() && !s.is(ErrorCode::kNotFound) && !s.is(ErrorCode::kConflict)) failure = s.error().message;
  }

  Cluster& cluster_;
  Clock& clock_;
  JobControllerOptions opts_;
  std::mutex mu_;
  std::map<Request, std::map<std::string, ObjectPtr>> pods_;  // Job -> pod name -> pod
  std::map<Request, Request> owner_of_;                       // pod -> Job
  std::map<Request, int64_t> expected_;                       // Job -> creations not yet seen
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  std::unique_ptr<WatchSubscription> pod_watch_;
  Controller controller_;  // last: destroyed first
};

JobController::JobController(Cluster& cluster, Executor& executor, Clock& clock, JobControllerOptions opts)
    : impl_(std::make_unique<Impl>(cluster, executor, clock, std::move(opts))) {}
JobController::~JobController() = default;
void JobController::start() { impl_->start(); }
void JobController::stop() { impl_->stop(); }

}  // namespace ktwin::cluster_model
