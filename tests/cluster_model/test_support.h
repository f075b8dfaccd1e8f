// A hand-driven Executor + Clock for cluster_model tests: tasks wait in a (time, seq) queue until the
// test drains it, so every test controls exactly when asynchronous work (watch delivery) happens.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <utility>

#include "core/k8s/conditions.h"
#include "core/object.h"
#include "core/ports.h"

namespace ktwin::cluster_model::testing {

class ManualLoop : public Executor, public Clock {
 public:
  Time now() const override { return now_; }
  void post(std::function<void()> task) override { post_after(0, std::move(task)); }
  void post_after(Duration delay, std::function<void()> task) override {
    tasks_.emplace(std::make_pair(now_ + (delay > 0 ? delay : 0), seq_++), std::move(task));
  }

  //! Runs every task due now (including ones they post for now); returns how many ran.
  size_t drain(size_t limit = 10'000'000) {
    size_t n = 0;
    while (n < limit && !tasks_.empty() && tasks_.begin()->first.first <= now_) run_front(), ++n;
    return n;
  }
  //! Moves time forward by `d`, running everything due on the way, in (time, seq) order.
  void advance(Duration d) { run_until(now_ + d); }
  void run_until(Time t) {
    while (!tasks_.empty() && tasks_.begin()->first.first <= t) {
      now_ = std::max(now_, tasks_.begin()->first.first);
      run_front();
    }
    now_ = std::max(now_, t);
  }
  size_t pending() const { return tasks_.size(); }

 private:
  void run_front() {
    auto node = tasks_.extract(tasks_.begin());
    node.mapped()();
  }
  Time now_ = kSimEpoch;
  uint64_t seq_ = 0;
  std::map<std::pair<Time, uint64_t>, std::function<void()>> tasks_;
};

inline Object make_object(std::string kind, std::string ns, std::string name, json body = json::object()) {
  Object o;
  o.kind = std::move(kind);
  o.meta.namespace_ = std::move(ns);
  o.meta.name = std::move(name);
  o.body = std::move(body);
  return o;
}

//! A Ready node with the given allocatable resources (JSON map, e.g. {"nvidia.com/gpu":"1"}).
inline Object make_node(std::string name, json allocatable, Labels labels = {}) {
  Object n = make_object("Node", "", std::move(name));
  n.meta.labels = std::move(labels);
  n.body["spec"] = json::object();
  n.body["status"] = {{"allocatable", allocatable},
                      {"capacity", allocatable},
                      {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}};
  return n;
}

//! A pod with one container requesting `requests` (JSON map).
inline Object make_pod(std::string ns, std::string name, json requests = json::object()) {
  Object p = make_object("Pod", std::move(ns), std::move(name));
  p.body["spec"] = {
      {"containers", json::array({{{"name", "main"}, {"image", "busybox"}, {"resources", {{"requests", requests}}}}})}};
  return p;
}

//! A stand-in kubelet for controller tests, acting through the Cluster port: pods (bound ones only when
//! `require_binding`) become Running and Ready; pods being deleted are removed with grace 0.
class TestKubelet {
 public:
  TestKubelet(Cluster& cluster, Clock& clock, bool require_binding)
      : cluster_(cluster), clock_(clock), require_binding_(require_binding) {
    sub_ = cluster.watch("Pod", "", [this](const WatchEvent& ev) { on_pod(ev); });
  }
  bool auto_ready = true;
  bool auto_remove = true;

  //! Sets a pod's phase (and Ready condition) by hand.
  void set_phase(const std::string& ns, const std::string& name, const std::string& phase, bool ready) {
    auto pod = cluster_.get("Pod", ns, name);
    if (!pod.ok()) return;
    json conditions = pod.value()->at("/status/conditions");
    set_condition(conditions, Condition{"Ready", ready ? "True" : "False", "", "", 0, 0}, clock_.now());
    (void)cluster_.patch("Pod", ns, name, {{"status", {{"phase", phase}, {"conditions", conditions}}}}, true);
  }

 private:
  void on_pod(const WatchEvent& ev) {
    if (ev.type == WatchEventType::kDeleted) return;
    const Object& pod = *ev.object;
    if (require_binding_ && pod.str("/spec/nodeName").empty()) return;
    if (pod.meta.deletion_timestamp) {
      if (!auto_remove) return;
      DeleteOptions force;
      force.grace_period_seconds = 0;
      (void)cluster_.remove("Pod", pod.meta.namespace_, pod.meta.name, force);
      return;
    }
    if (auto_ready && pod.str("/status/phase") == "Pending")
      set_phase(pod.meta.namespace_, pod.meta.name, "Running", true);
  }

  Cluster& cluster_;
  Clock& clock_;
  bool require_binding_;
  std::unique_ptr<WatchSubscription> sub_;
};

}  // namespace ktwin::cluster_model::testing
