#include "twin/twin.h"

#include <map>
#include <set>
#include <thread>

#include "cluster_model/scheduler.h"
#include "cluster_model/sim_cloud.h"
#include "core/admission/workspace_validation.h"
#include "core/k8s/conditions.h"
#include "core/k8s/events.h"
#include "live/leader_election.h"
#include "live/threads.h"
#include "sim/latency_model.h"

namespace ktwin::twin {

ScaledClock::ScaledClock(double speed)
    : speed_(speed), origin_(live::WallClock().now()), steady_origin_(std::chrono::steady_clock::now()) {}

Time ScaledClock::now() const {
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - steady_origin_).count();
  return origin_ + static_cast<Time>(static_cast<double>(elapsed) * speed_);
}

Time ScaledClock::from_wall(Time wall) const {
  return origin_ + static_cast<Time>(static_cast<double>(wall - origin_) * speed_);
}

namespace {

// One worker thread (the modelled actors were written for the simulator's single thread), delays divided by
// the speed. shutdown() joins the worker; later posts are dropped.
class ScaledExecutor final : public Executor {
 public:
  explicit ScaledExecutor(double speed) : speed_(speed), pool_(std::make_unique<live::ThreadPoolExecutor>(1)) {}
  void post(std::function<void()> task) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (pool_) pool_->post(std::move(task));
  }
  void post_after(Duration delay, std::function<void()> task) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (pool_) pool_->post_after(static_cast<Duration>(static_cast<double>(delay) / speed_), std::move(task));
  }
  void shutdown() {
    std::unique_ptr<live::ThreadPoolExecutor> pool;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pool = std::move(pool_);
    }
    pool.reset();  // outside the lock: running tasks may post
  }

 private:
  double speed_;
  std::mutex mu_;
  std::unique_ptr<live::ThreadPoolExecutor> pool_;
};

// The actors' view of the API server. Serialized: every watch event is handed to the executor, so the actors
// see them on their own thread, in order; close() stops deliveries before the actors go away. Retrying:
// the actors were written against the simulated API server, which never goes away; a real one restarts.
// Calls that fail as unavailable or throttled are retried until it is back (the world pauses meanwhile, as
// a kubelet keeps retrying), for at most two minutes or until close(). A create or delete whose earlier
// attempt may have landed counts AlreadyExists / NotFound as done.
// On the twin's timeline: the server stamps creationTimestamp and deletionTimestamp on its wall clock, in
// whole seconds, while the actors compare them with the sped-up clock (e.g. a NodeClaim's 5-minute launch
// liveness). Every object the actors see carries them in virtual time: its creation is when the twin first
// saw it (a watch event or an answer follows a create within moments), but no later than the server's stamp
// allows; deletion stamps are mapped.
class SerializedRetryingCluster final : public Cluster {
 public:
  SerializedRetryingCluster(Cluster& inner, Executor& executor, const ScaledClock& clock)
      : inner_(inner), executor_(executor), clock_(clock), open_(std::make_shared<std::atomic<bool>>(true)) {}
  void close() { *open_ = false; }

  Result<ObjectPtr> get(std::string_view kind, std::string_view ns, std::string_view name) override {
    return on_timeline(outlast([&](bool) { return inner_.get(kind, ns, name); }));
  }
  Result<std::vector<ObjectPtr>> list(std::string_view kind, const ListOptions& opts = {}) override {
    auto r = outlast([&](bool) { return inner_.list(kind, opts); });
    if (r)
      for (auto& o : r.value()) o = on_timeline(o);
    return r;
  }
  Result<ObjectPtr> create(Object obj) override {
    return on_timeline(outlast([&](bool retried) -> Result<ObjectPtr> {
      auto r = inner_.create(obj);
      if (!r && retried && r.error().code == ErrorCode::kAlreadyExists && obj.meta.generate_name.empty())
        return inner_.get(obj.kind, obj.meta.namespace_, obj.meta.name);
      return r;
    }));
  }
  Result<ObjectPtr> update(Object obj) override {
    return on_timeline(outlast([&](bool) { return inner_.update(obj); }));
  }
  Result<ObjectPtr> update_status(Object obj) override {
    return on_timeline(outlast([&](bool) { return inner_.update_status(obj); }));
  }
  Result<ObjectPtr> patch(std::string_view kind, std::string_view ns, std::string_view name, const json& merge_patch,
                          bool status = false) override {
    return on_timeline(outlast([&](bool) { return inner_.patch(kind, ns, name, merge_patch, status); }));
  }
  Status remove(std::string_view kind, std::string_view ns, std::string_view name,
                const DeleteOptions& opts = {}) override {
    return outlast([&](bool retried) -> Status {
      Status st = inner_.remove(kind, ns, name, opts);
      if (!st && retried && st.error().code == ErrorCode::kNotFound) return {};
      return st;
    });
  }
  Status bind_pod(std::string_view ns, std::string_view name, std::string_view node_name) override {
    return outlast([&](bool) { return inner_.bind_pod(ns, name, node_name); });
  }
  std::unique_ptr<WatchSubscription> watch(std::string_view kind, std::string_view ns, WatchHandler handler) override {
    auto h = std::make_shared<WatchHandler>(std::move(handler));
    auto open = open_;
    Executor* exec = &executor_;
    // Placed on the timeline as it arrives, not when the worker gets to it.
    return inner_.watch(kind, ns, [this, h, open, exec](const WatchEvent& e) {
      if (!*open) return;
      WatchEvent seen{e.type, on_timeline(e.object)};
      if (e.type == WatchEventType::kDeleted) forget(*e.object);
      exec->post([h, open, seen = std::move(seen)] {
        if (*open) (*h)(seen);
      });
    });
  }

 private:
  ObjectPtr on_timeline(const ObjectPtr& obj) {
    if (!obj || (obj->meta.creation_timestamp == 0 && !obj->meta.deletion_timestamp)) return obj;
    auto copy = std::make_shared<Object>(*obj);
    if (Time stamped = obj->meta.creation_timestamp) {
      // The stamp is whole seconds, so the creation happened before the next one.
      const Time latest = clock_.from_wall(stamped + kSecond) - 1;
      std::lock_guard<std::mutex> lock(created_mu_);
      auto [it, fresh] = created_.try_emplace(obj->meta.uid, 0);
      if (fresh || obj->meta.uid.empty()) it->second = std::min(clock_.now(), latest);
      copy->meta.creation_timestamp = it->second;
    }
    if (copy->meta.deletion_timestamp)
      copy->meta.deletion_timestamp =
          std::max(copy->meta.creation_timestamp, clock_.from_wall(*copy->meta.deletion_timestamp));
    return copy;
  }
  Result<ObjectPtr> on_timeline(Result<ObjectPtr> r) {
    if (r) return on_timeline(r.value());
    return r;
  }
  void forget(const Object& obj) {
    std::lock_guard<std::mutex> lock(created_mu_);
    created_.erase(obj.meta.uid);
  }

  template <typename Call>
  auto outlast(const Call& call) -> decltype(call(false)) {
    auto backoff = std::chrono::milliseconds(200);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    for (bool retried = false;; retried = true) {
      auto r = call(retried);
      if (r || !*open_ || std::chrono::steady_clock::now() > deadline) return r;
      const ErrorCode code = r.error().code;
      if (code != ErrorCode::kUnavailable && code != ErrorCode::kTooManyRequests) return r;
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }

  Cluster& inner_;
  Executor& executor_;
  const ScaledClock& clock_;
  std::shared_ptr<std::atomic<bool>> open_;
  std::mutex created_mu_;
  std::map<std::string, Time> created_;  // uid -> creation on the twin's timeline
};

std::string who(const std::string& ns, const std::string& name) { return ns.empty() ? name : ns + "/" + name; }

}  // namespace

struct Twin::State {
  std::shared_ptr<live::HttpClient> client;
  std::unique_ptr<live::LiveCluster> live;
  std::unique_ptr<ScaledClock> clock;
  std::unique_ptr<ScaledExecutor> executor;
  std::unique_ptr<SerializedRetryingCluster> api;
  std::unique_ptr<EventRecorder> events;
  std::unique_ptr<sim::LatencyModel> latency;
  std::unique_ptr<sim::World> world;
  std::map<std::string, bool> namespaces;  // known to exist
};

Twin::Twin(TwinOptions options, const catalog::Catalog& catalog, live::Logger& log)
    : options_(std::move(options)), catalog_(catalog), log_(log) {}

Twin::~Twin() { stop(); }

void Twin::stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = true;
  cv_.notify_all();
}

TwinStatus Twin::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

int Twin::run() {
  const sim::Scenario* sc = options_.scenario;
  static const sim::ClusterSpec kDefaultCluster;
  const sim::ClusterSpec& cluster = sc ? sc->cluster : kDefaultCluster;
  const std::string cloud = sim::cloud_kind_name(cluster.cloud);
  const uint64_t seed = options_.seed.value_or(sc ? sc->seed : 1);

  State s;
  s.client = std::make_shared<live::HttpClient>(options_.rest, options_.http);
  s.live = std::make_unique<live::LiveCluster>(s.client, options_.informers);
  if (auto probe = s.live->list("Node"); !probe) {
    log_.error("twin", "cannot reach the API server",
               {{"server", options_.rest.server}, {"error", probe.error().message}});
    return 2;
  }
  s.clock = std::make_unique<ScaledClock>(options_.speed);
  s.executor = std::make_unique<ScaledExecutor>(options_.speed);
  s.api = std::make_unique<SerializedRetryingCluster>(*s.live, *s.executor, *s.clock);
  s.events = std::make_unique<EventRecorder>(*s.api, *s.clock, "gpu-provisioner");
  s.latency = std::make_unique<sim::LatencyModel>(seed, cluster.provisioning);
  cluster_model::DurationSampler sample = [&s](std::string_view phase, std::string_view subject) {
    return s.latency->sample(phase, subject);
  };
  cluster_model::ModelEventSink sink = [this](std::string_view kind, std::string_view name, const std::string& what) {
    log_.info("twin", what, {{"kind", std::string(kind)}, {"name", std::string(name)}});
    std::lock_guard<std::mutex> lock(mu_);
    ++status_.model_events;
  };

  sim::WorldConfig wc;
  wc.cloud = cloud;
  wc.region = cluster.region.empty() ? "eastus" : cluster.region;
  wc.provisioner = sim::node_provisioner_of(cluster.node_provisioner);
  wc.parts = options_.parts;
  wc.quota = cluster.quota;
  wc.datasets = &cluster.datasets;
  s.world = std::make_unique<sim::World>(*s.api, *s.api, *s.executor, *s.clock, catalog_, wc, sample, sink, *s.events);
  log_.info("twin", "playing the cluster",
            {{"server", options_.rest.server},
             {"parts", sim::world_parts_text(options_.parts)},
             {"speed", std::to_string(options_.speed)},
             {"cloud", cloud},
             {"scenario", sc ? sc->name : ""}});

  auto count = [this](bool ok) {
    std::lock_guard<std::mutex> lock(mu_);
    ++(ok ? status_.applied : status_.apply_failures);
  };
  auto ensure_namespace = [&s](const std::string& ns) {
    if (ns.empty() || s.namespaces.count(ns)) return;
    Object obj;
    obj.api_version = "v1";
    obj.kind = "Namespace";
    obj.meta.name = ns;
    auto r = s.api->create(obj);
    if (r || r.error().code == ErrorCode::kAlreadyExists) s.namespaces[ns] = true;
  };
  // KAITO's validating webhook, client side: a real API server without KAITO installed has none.
  admission::AdmissionContext actx;
  actx.presets = &catalog_.presets;
  actx.skus = &catalog_.skus;
  actx.cloud = cloud;
  actx.node_auto_provisioning = wc.provisioner != NodeProvisionerKind::kByo;
  std::vector<ObjectPtr> pins;
  sim::lookups_from(*s.api, pins, actx);
  // kubectl apply: create, or update what exists keeping what the server and controllers own.
  auto apply = [&](const sim::ManifestSource& m) {
    const std::string name = who(m.namespace_, m.name);
    Object obj;
    try {
      obj = object_from_json(m.manifest);
    } catch (const std::invalid_argument& e) {
      log_.error("twin", "invalid manifest", {{"kind", m.kind}, {"name", name}, {"error", e.what()}});
      count(false);
      return;
    }
    ensure_namespace(m.namespace_);
    auto existing = s.api->get(m.kind, m.namespace_, m.name);
    Object target = existing ? sim::apply_onto(*existing.value(), obj) : obj;
    if (m.is_workspace()) {
      auto review = existing ? admission::review_workspace_update(*existing.value(), target, actx)
                             : admission::review_workspace_create(target, actx);
      pins.clear();
      if (!review.allowed()) {
        for (const auto& v : review.violations)
          log_.error("twin", "rejected by admission",
                     {{"kind", m.kind}, {"name", name}, {"error", m.error(v.pointer, v.message).what()}});
        count(false);
        return;
      }
    }
    auto r = existing ? s.api->update(std::move(target)) : s.api->create(std::move(target));
    if (!r) {
      log_.error("twin", existing ? "update failed" : "create failed",
                 {{"kind", m.kind},
                  {"name", name},
                  {"file", m.file + ":" + std::to_string(m.line)},
                  {"error", r.error().message}});
    } else {
      log_.info("twin", existing ? "configured" : "created", {{"kind", m.kind}, {"name", name}});
    }
    count(static_cast<bool>(r));
  };

  s.world->start();
  s.world->start_provisioner();
  if (wc.parts.cloud && wc.provisioner == NodeProvisionerKind::kKarpenter)
    s.world->create_node_classes([this, &wc](const std::string& name, const std::string& what) {
      log_.error("twin", what, {{"kind", default_node_class_config(wc.cloud).kind}, {"name", name}});
    });

  // The node-lifecycle controller's part: lift the not-ready taint the API server put on a new Node once it
  // is Ready (retried on conflict, since others write Nodes too).
  std::unique_ptr<WatchSubscription> lifecycle;
  if (wc.parts.node_lifecycle)
    lifecycle = s.api->watch("Node", "", [this, &s](const WatchEvent& e) {
      if (e.type == WatchEventType::kDeleted || !condition_is_true(e.object->at("/status/conditions"), "Ready")) return;
      for (int attempt = 0; attempt < 5; ++attempt) {
        auto node = attempt == 0 ? Result<ObjectPtr>(e.object) : s.api->get("Node", "", e.object->meta.name);
        if (!node) return;
        const json& taints = node.value()->at("/spec/taints");
        if (!taints.is_array()) return;
        json kept = json::array();
        for (const auto& t : taints)
          if (t.value("key", "") != cluster_model::kNotReadyTaintKey) kept.push_back(t);
        if (kept.size() == taints.size()) return;
        Object updated = *node.value();
        if (kept.empty())
          updated.body["spec"].erase("taints");
        else
          updated.body["spec"]["taints"] = kept;
        auto r = s.api->update(std::move(updated));
        if (r) {
          log_.info("twin", "node ready: removed taint " + std::string(cluster_model::kNotReadyTaintKey),
                    {{"node", e.object->meta.name}});
          return;
        }
        if (r.error().code != ErrorCode::kConflict) return;
      }
    });

  // Node heartbeats: the kubelet renews its Lease in kube-node-lease for every node the twin plays.
  std::shared_ptr<std::function<void()>> heartbeat;
  std::set<std::string> own_nodes;
  if (wc.parts.kubelet && options_.heartbeat_interval > 0) {
    heartbeat = std::make_shared<std::function<void()>>();
    std::weak_ptr<std::function<void()>> weak = heartbeat;
    *heartbeat = [this, &s, &own_nodes, weak] {
      auto nodes = s.api->list("Node");
      if (nodes) {
        for (const auto& n : nodes.value()) {
          const bool ours = own_nodes.count(n->meta.name) || !s.world->cloud()->instance_of_node(n->meta.name).empty();
          if (!ours || !condition_is_true(n->at("/status/conditions"), "Ready")) continue;
          const std::string now = live::format_micro_time(s.clock->now());
          // Renewal is the common case: one patch; create only when the Lease is not there yet.
          Result<ObjectPtr> r =
              s.api->patch("Lease", "kube-node-lease", n->meta.name, {{"spec", {{"renewTime", now}}}});
          if (!r && r.error().code == ErrorCode::kNotFound) {
            Object l;
            l.api_version = "coordination.k8s.io/v1";
            l.kind = "Lease";
            l.meta.namespace_ = "kube-node-lease";
            l.meta.name = n->meta.name;
            l.meta.owner_references.push_back(OwnerReference{"v1", "Node", n->meta.name, n->meta.uid});
            json spec = json::object();
            spec["holderIdentity"] = n->meta.name;
            spec["leaseDurationSeconds"] = 40;
            spec["renewTime"] = now;
            l.body["spec"] = spec;
            r = s.api->create(std::move(l));
          }
          if (r) {
            std::lock_guard<std::mutex> lock(mu_);
            ++status_.heartbeats;
          }
        }
      }
      if (auto self = weak.lock()) s.executor->post_after(options_.heartbeat_interval, [self] { (*self)(); });
    };
  }

  // The scenario: pre-existing nodes at once, manifests and timeline actions at their (virtual) times.
  std::map<Duration, std::vector<std::function<void()>>> script;  // outlives the executor's tasks
  if (sc) {
    for (const auto& spec : sc->cluster.nodes)
      for (const auto& name : spec.node_names()) {
        own_nodes.insert(name);
        auto r = s.api->create(sim::World::preexisting_node(spec, name, catalog_.skus, cloud, s.clock->now()));
        if (!r && r.error().code != ErrorCode::kAlreadyExists)
          log_.error("twin", "create failed", {{"kind", "Node"}, {"name", name}, {"error", r.error().message}});
      }
    for (const auto& m : sc->manifests) script[m.at].push_back([&apply, &m] { apply(m); });
    for (const auto& action : sc->timeline)
      script[action.at].push_back([&, a = &action] {
        const std::string text = a->text();
        s.world->perform(*a, apply, [&](const std::string& what) {
          log_.info("twin", "timeline", {{"action", text}, {"result", what}});
        });
      });
    for (const auto& entry : script) {
      const auto& steps = entry.second;
      s.executor->post_after(entry.first, [&steps] {
        for (const auto& step : steps) step();
      });
    }
  }
  if (heartbeat) s.executor->post([heartbeat] { (*heartbeat)(); });
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_.started = true;
  }

  {
    std::unique_lock<std::mutex> lock(mu_);
    if (options_.until > 0) {
      const auto wall =
          std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(options_.until) / options_.speed));
      cv_.wait_for(lock, wall, [this] { return stopping_; });
    } else {
      cv_.wait(lock, [this] { return stopping_; });
    }
  }
  log_.info("twin", "stopping");
  // Order matters: no new deliveries, then no more tasks (the worker is joined), then the actors' watches.
  s.api->close();
  s.executor->shutdown();
  heartbeat.reset();
  lifecycle.reset();
  s.world.reset();
  return 0;
}

}  // namespace ktwin::twin
