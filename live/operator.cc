#include "live/operator.h"

#include <httplib.h>
#include <unistd.h>

#include <array>
#include <map>
#include <random>
#include <thread>

#include "core/controllers/workspace_controller.h"
#include "core/k8s/events.h"
#include "core/runtime/controller.h"
#include "live/cached_cluster.h"
#include "live/threads.h"

namespace ktwin::live {

namespace {

// Limits a namespaced kind's lists and watches to one namespace (--namespace), so the operator works
// with a namespaced Role; cluster-scoped kinds (Nodes, NodeClaims) pass through.
class NamespacedCluster : public Cluster {
 public:
  NamespacedCluster(Cluster& inner, std::string ns) : inner_(inner), ns_(std::move(ns)) {}
  Result<ObjectPtr> get(std::string_view kind, std::string_view ns, std::string_view name) override {
    return inner_.get(kind, ns, name);
  }
  Result<std::vector<ObjectPtr>> list(std::string_view kind, const ListOptions& opts) override {
    ListOptions scoped = opts;
    if (scoped.namespace_.empty() && namespaced(kind)) scoped.namespace_ = ns_;
    return inner_.list(kind, scoped);
  }
  Result<ObjectPtr> create(Object obj) override { return inner_.create(std::move(obj)); }
  Result<ObjectPtr> update(Object obj) override { return inner_.update(std::move(obj)); }
  Result<ObjectPtr> update_status(Object obj) override { return inner_.update_status(std::move(obj)); }
  Result<ObjectPtr> patch(std::string_view kind, std::string_view ns, std::string_view name, const json& merge_patch,
                          bool status) override {
    return inner_.patch(kind, ns, name, merge_patch, status);
  }
  Status remove(std::string_view kind, std::string_view ns, std::string_view name, const DeleteOptions& opts) override {
    return inner_.remove(kind, ns, name, opts);
  }
  Status bind_pod(std::string_view ns, std::string_view name, std::string_view node_name) override {
    return inner_.bind_pod(ns, name, node_name);
  }
  std::unique_ptr<WatchSubscription> watch(std::string_view kind, std::string_view ns, WatchHandler handler) override {
    return inner_.watch(kind, ns.empty() && namespaced(kind) ? std::string_view(ns_) : ns, std::move(handler));
  }

 private:
  static bool namespaced(std::string_view kind) {
    const ResourceInfo* info = resource_info(kind);
    return info && info->namespaced;
  }
  Cluster& inner_;
  std::string ns_;
};

// Prometheus histogram buckets of controller-runtime's reconcile time.
constexpr std::array<double, 11> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// Times each reconcile, counts its result and logs errors, around the core's reconciler.
class InstrumentedReconciler : public Reconciler {
 public:
  InstrumentedReconciler(Reconciler& inner, Logger& log) : inner_(inner), log_(log) {}
  ReconcileResult reconcile(const Request& req, std::optional<ReconcileError>& error) override {
    const auto start = std::chrono::steady_clock::now();
    ReconcileResult r = inner_.reconcile(req, error);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const char* result = error ? "error" : r.requeue_after > 0 ? "requeue_after" : r.requeue ? "requeue" : "success";
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++results_[result];
      for (size_t i = 0; i < kBuckets.size(); ++i)
        if (seconds <= kBuckets[i]) ++buckets_[i];
      sum_ += seconds;
      ++count_;
    }
    if (error)
      log_.error("controller.workspace", "Reconciler error",
                 {{"workspace", req.to_string()},
                  {"error", error->message},
                  {"terminal", error->terminal ? "true" : "false"}});
    return r;
  }
  std::string metrics() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out =
        "# HELP controller_runtime_reconcile_total Total number of reconciliations per controller\n"
        "# TYPE controller_runtime_reconcile_total counter\n";
    for (const char* r : {"success", "error", "requeue", "requeue_after"}) {
      auto it = results_.find(r);
      out += std::string("controller_runtime_reconcile_total{controller=\"workspace\",result=\"") + r + "\"} " +
             std::to_string(it == results_.end() ? 0 : it->second) + "\n";
    }
    out +=
        "# HELP controller_runtime_reconcile_time_seconds Length of time per reconciliation per controller\n"
        "# TYPE controller_runtime_reconcile_time_seconds histogram\n";
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      char le[32];
      std::snprintf(le, sizeof le, "%g", kBuckets[i]);
      out += std::string("controller_runtime_reconcile_time_seconds_bucket{controller=\"workspace\",le=\"") + le +
             "\"} " + std::to_string(buckets_[i]) + "\n";
    }
    char sum[64];
    std::snprintf(sum, sizeof sum, "%.6f", sum_);
    out += "controller_runtime_reconcile_time_seconds_bucket{controller=\"workspace\",le=\"+Inf\"} " +
           std::to_string(count_) + "\n";
    out += std::string("controller_runtime_reconcile_time_seconds_sum{controller=\"workspace\"} ") + sum + "\n";
    out += "controller_runtime_reconcile_time_seconds_count{controller=\"workspace\"} " + std::to_string(count_) + "\n";
    return out;
  }

 private:
  Reconciler& inner_;
  Logger& log_;
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> results_;
  std::array<uint64_t, kBuckets.size()> buckets_{};
  double sum_ = 0;
  uint64_t count_ = 0;
};

std::string default_identity() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "ktwin");
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", rd());
  return std::string(host) + "_" + suffix;
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

struct Operator::State {
  std::shared_ptr<HttpClient> client;
  std::unique_ptr<LiveCluster> live;
  std::unique_ptr<CachedCluster> cache;  // what the controller reads: its watched kinds from informers
  std::unique_ptr<NamespacedCluster> scoped;
  Cluster* api = nullptr;
  WallClock clock;
  std::unique_ptr<ThreadPoolExecutor> exec;
  std::unique_ptr<EventRecorder> events;
  std::unique_ptr<WorkspaceReconciler> reconciler;
  std::unique_ptr<InstrumentedReconciler> instrumented;
  std::unique_ptr<Controller> controller;
  std::unique_ptr<WatchSubscription> workspace_states_watch;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  bool leading = false;
  bool ready = false;
  std::map<std::string, std::string> workspace_states;  // namespace/name -> status.state
  // What /metrics reads from the HTTP thread; set and cleared under mu while run() builds and tears down.
  Controller* controller_view = nullptr;
  ThreadPoolExecutor* exec_view = nullptr;
  InstrumentedReconciler* instrumented_view = nullptr;

  std::unique_ptr<httplib::Server> http;
  std::thread http_thread;

  // Waits up to `d` or until stop(); true when stopping.
  bool sleep_for(Duration d) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::nanoseconds(d), [this] { return stopping; });
  }
};

Operator::Operator(OperatorOptions options, const catalog::Catalog& catalog, Logger& log)
    : options_(std::move(options)), catalog_(catalog), log_(log), state_(std::make_unique<State>()) {
  if (options_.election.identity.empty()) options_.election.identity = default_identity();
}

Operator::~Operator() {
  stop();
  if (state_->http) state_->http->stop();
  if (state_->http_thread.joinable()) state_->http_thread.join();
}

void Operator::stop() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->stopping = true;
  state_->cv.notify_all();
}

OperatorStatus Operator::status() const {
  OperatorStatus s;
  std::lock_guard<std::mutex> lock(state_->mu);
  s.leading = state_->leading;
  s.ready = state_->ready;
  if (state_->controller_view) {
    const ControllerStats cs = state_->controller_view->stats();
    s.reconciles = cs.reconciles;
    s.reconcile_errors = cs.errors;
    s.requeues = cs.requeues;
    s.queue_depth = cs.queue_depth;
  }
  if (state_->cache) {
    const CachedCluster::Stats rs = state_->cache->stats();
    s.cache_reads = rs.cache_reads;
    s.api_reads = rs.api_reads;
  }
  return s;
}

std::string Operator::metrics_text() const {
  const OperatorStatus s = status();
  std::string out;
  out += "# HELP workqueue_depth Current depth of workqueue\n# TYPE workqueue_depth gauge\n";
  out += "workqueue_depth{name=\"workspace\"} " + std::to_string(s.queue_depth) + "\n";
  out +=
      "# HELP ktwin_executor_pending Tasks queued or waiting on the timer in the worker pool\n"
      "# TYPE ktwin_executor_pending gauge\n";
  std::string reconcile_metrics;
  size_t pending = 0;
  std::map<std::string, int> by_state;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->exec_view) pending = state_->exec_view->pending();
    if (state_->instrumented_view) reconcile_metrics = state_->instrumented_view->metrics();
    for (const auto& [key, st] : state_->workspace_states) ++by_state[st];
  }
  out += "ktwin_executor_pending " + std::to_string(pending) + "\n";
  out +=
      "# HELP leader_election_master_status 1 when this process holds the leader Lease\n"
      "# TYPE leader_election_master_status gauge\n";
  out += "leader_election_master_status{name=\"" + escape_label(options_.election.name) + "\"} " +
         (s.leading ? "1" : "0") + "\n";
  out += reconcile_metrics;
  if (state_->cache) {
    const CachedCluster::Stats cs = state_->cache->stats();
    out +=
        "# HELP ktwin_client_reads_total Reads by the controller, from the informer cache or the API server\n"
        "# TYPE ktwin_client_reads_total counter\n";
    out += "ktwin_client_reads_total{source=\"cache\"} " + std::to_string(cs.cache_reads) + "\n";
    out += "ktwin_client_reads_total{source=\"api\"} " + std::to_string(cs.api_reads) + "\n";
  }
  out += "# HELP ktwin_workspaces Workspaces seen by the operator, by status.state\n# TYPE ktwin_workspaces gauge\n";
  for (const auto& [st, n] : by_state)
    out += "ktwin_workspaces{state=\"" + escape_label(st) + "\"} " + std::to_string(n) + "\n";
  return out;
}

int Operator::run() {
  State& s = *state_;
  s.client = std::make_shared<HttpClient>(options_.rest, options_.http);
  s.live = std::make_unique<LiveCluster>(s.client, options_.informers);
  s.cache = std::make_unique<CachedCluster>(*s.live);
  s.api = s.cache.get();
  if (!options_.watch_namespace.empty()) {
    s.scoped = std::make_unique<NamespacedCluster>(*s.cache, options_.watch_namespace);
    s.api = s.scoped.get();
  }
  log_.info("setup", "starting ktwin operator",
            {{"server", options_.rest.describe()},
             {"namespace", options_.watch_namespace.empty() ? "all" : options_.watch_namespace},
             {"nodeProvisioner", node_provisioner_name(options_.core.node_provisioner)},
             {"cloud", options_.core.cloud},
             {"maxConcurrentReconciles", std::to_string(options_.core.max_concurrent_reconciles)},
             {"leaderElect", options_.leader_elect ? "true" : "false"}});

  // Health and metrics.
  if (!options_.metrics_addr.empty() && options_.metrics_addr != "0") {
    const size_t colon = options_.metrics_addr.rfind(':');
    const std::string host = colon == std::string::npos ? "127.0.0.1" : options_.metrics_addr.substr(0, colon);
    const int port = std::atoi(options_.metrics_addr.substr(colon == std::string::npos ? 0 : colon + 1).c_str());
    s.http = std::make_unique<httplib::Server>();
    s.http->set_socket_options([](socket_t sock) {  // no SO_REUSEPORT: a busy port is an error
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof(yes));
    });
    s.http->Get("/healthz",
                [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    s.http->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      const bool ready = status().ready;
      res.status = ready ? 200 : 503;
      res.set_content(ready ? "ok" : "not ready: the API server has not answered a Workspace list yet", "text/plain");
    });
    s.http->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_text(), "text/plain; version=0.0.4");
    });
    const int bound = port == 0 ? s.http->bind_to_any_port(host) : (s.http->bind_to_port(host, port) ? port : -1);
    if (bound <= 0) {
      log_.error("setup", "cannot listen for health and metrics", {{"address", options_.metrics_addr}});
      return 3;
    }
    metrics_port_ = bound;
    httplib::Server* http = s.http.get();
    s.http_thread = std::thread([http] { http->listen_after_bind(); });
    log_.info("setup", "serving health probes and metrics",
              {{"address", host + ":" + std::to_string(bound)}, {"paths", "/healthz /readyz /metrics"}});
  }

  // Ready once the API answers: a Workspace list proves the address, credentials, RBAC and the CRD.
  for (Duration backoff = kSecond;;) {
    auto r = s.api->list("Workspace", ListOptions{options_.watch_namespace, std::nullopt});
    if (r) break;
    log_.error("setup", "cannot list Workspaces; retrying", {{"error", r.error().message}});
    if (s.sleep_for(backoff)) return 0;
    backoff = std::min<Duration>(backoff * 2, 30 * kSecond);
  }
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.ready = true;
  }

  // Leader election: wait for the Lease.
  std::unique_ptr<LeaseLock> lease;
  if (options_.leader_elect) {
    lease = std::make_unique<LeaseLock>(*s.live, s.clock, options_.election);
    log_.info("leader-election", "attempting to acquire leader lease",
              {{"lease", options_.election.namespace_ + "/" + options_.election.name},
               {"identity", options_.election.identity}});
    std::string last_holder;
    while (!lease->try_acquire_or_renew()) {
      if (lease->observed_holder() != last_holder) {
        last_holder = lease->observed_holder();
        log_.info("leader-election", "lease is held by another candidate", {{"holder", last_holder}});
      }
      if (s.sleep_for(options_.election.retry_period)) return 0;
    }
    log_.info("leader-election", "successfully acquired lease", {{"identity", options_.election.identity}});
  }
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.leading = true;
  }

  // The core's workspace controller.
  s.exec = std::make_unique<ThreadPoolExecutor>(std::max(2, options_.core.max_concurrent_reconciles + 1));
  s.events = std::make_unique<EventRecorder>(*s.api, s.clock, "kaito-twin");
  s.events->set_enabled(options_.record_events);
  s.reconciler =
      std::make_unique<WorkspaceReconciler>(*s.api, s.clock, catalog_.presets, catalog_.skus, *s.events, options_.core);
  s.instrumented = std::make_unique<InstrumentedReconciler>(*s.reconciler, log_);
  s.controller = std::make_unique<Controller>(ControllerOptions{"workspace", options_.core.max_concurrent_reconciles},
                                              *s.instrumented, *s.exec, s.clock);
  s.reconciler->setup_watches(*s.controller);
  s.workspace_states_watch = s.api->watch("Workspace", "", [&s](const WatchEvent& ev) {
    const std::string key = ev.object->meta.namespace_ + "/" + ev.object->meta.name;
    std::lock_guard<std::mutex> lock(s.mu);
    if (ev.type == WatchEventType::kDeleted)
      s.workspace_states.erase(key);
    else
      s.workspace_states[key] = ev.object->str("/status/state", "Pending");
  });
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.controller_view = s.controller.get();
    s.exec_view = s.exec.get();
    s.instrumented_view = s.instrumented.get();
  }
  log_.info("controller.workspace", "starting workers",
            {{"workers", std::to_string(options_.core.max_concurrent_reconciles)}});

  // Run; a leader renews every retry period and steps down when it cannot for renew_deadline.
  int exit_code = 0;
  Time last_renew = s.clock.now();
  for (;;) {
    const Duration wait = options_.leader_elect ? options_.election.retry_period : kSecond;
    if (s.sleep_for(wait)) break;
    if (!lease) continue;
    if (lease->try_acquire_or_renew()) {
      last_renew = s.clock.now();
    } else if (s.clock.now() - last_renew > options_.election.renew_deadline) {
      log_.error(
          "leader-election", "leader election lost: the lease could not be renewed in time",
          {{"renewDeadline", format_duration(options_.election.renew_deadline)}, {"holder", lease->observed_holder()}});
      exit_code = 1;
      break;
    }
  }

  // Shut down: stop watches and queued work, let reconciles in flight finish, then hand the Lease over.
  log_.info("setup", "stopping", {});
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.leading = false;
    s.controller_view = nullptr;
    s.exec_view = nullptr;
    s.instrumented_view = nullptr;
  }
  s.workspace_states_watch.reset();
  s.controller->stop();
  s.exec.reset();
  if (lease && exit_code == 0) {
    lease->release();
    log_.info("leader-election", "released leader lease", {{"identity", options_.election.identity}});
  }
  log_.info("setup", "stopped", {});
  return exit_code;
}

}  // namespace ktwin::live
