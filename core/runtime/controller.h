// A controller-runtime-style controller: a deduplicating work queue of object keys, level-based
// Reconcile, rate-limited retry (per-item exponential 5 ms -> 1000 s, like client-go's default) and
// requeue_after. Work runs on the Executor port, so it is the same code under virtual or wall time.
#pragma once
#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/ports.h"

namespace ktwin {

//! The key a reconciler is asked about.
struct Request {
  std::string namespace_;
  std::string name;
  auto operator<=>(const Request&) const = default;
  std::string to_string() const { return namespace_.empty() ? name : namespace_ + "/" + name; }
};

struct ReconcileResult {
  Duration requeue_after = 0;  //!< > 0: reconcile again after this long
  bool requeue = false;        //!< requeue with rate limiting (as if an error, but not counted as one)
  static ReconcileResult done() { return {}; }
  static ReconcileResult after(Duration d) { return {d, false}; }
};

//! A failed reconcile: retried with exponential backoff. Terminal errors are not retried.
struct ReconcileError {
  std::string message;
  bool terminal = false;
};

class Reconciler {
 public:
  virtual ~Reconciler() = default;
  //! Level-based: look at the world, move it one step towards the desired state.
  //! Returns either a result or an error (std::variant-like via the out parameter).
  virtual ReconcileResult reconcile(const Request& req, std::optional<ReconcileError>& error) = 0;
};

struct ControllerOptions {
  std::string name;
  int max_concurrent_reconciles = 1;
  Duration base_backoff = 5 * kMillisecond;
  Duration max_backoff = 1000 * kSecond;
};

struct ControllerStats {
  uint64_t reconciles = 0;
  uint64_t errors = 0;
  uint64_t requeues = 0;
  size_t queue_depth = 0;
};

//! Maps a watch event of some kind to the requests it should trigger.
using EventMapper = std::function<std::vector<Request>(const WatchEvent&)>;

class Controller {
 public:
  Controller(ControllerOptions opts, Reconciler& reconciler, Executor& executor, Clock& clock);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  //! Adds a key now (deduplicated while queued; re-added after a reconcile in flight finishes).
  void enqueue(const Request& req);
  void enqueue_after(const Request& req, Duration delay);
  //! Watches `kind` through the cluster and enqueues what `mapper` returns for each event.
  void watch(Cluster& cluster, std::string_view kind, std::string_view ns, EventMapper mapper);
  //! Convenience mapper: the object's own namespace/name.
  static EventMapper map_to_self();
  //! Convenience mapper: the controller owner of the given kind.
  static EventMapper map_to_owner(std::string owner_kind);
  //! Stops watches and drops queued work; reconciles in flight finish.
  void stop();

  ControllerStats stats() const;
  const std::string& name() const { return opts_.name; }

 private:
  void maybe_dispatch();  // called with mu_ held
  void work();
  Duration backoff_for(const Request& req);                  // called with mu_ held
  void schedule_locked(const Request& req, Duration delay);  // called with mu_ held

  ControllerOptions opts_;
  Reconciler& reconciler_;
  Executor& executor_;
  Clock& clock_;

  mutable std::mutex mu_;
  std::deque<Request> queue_;
  std::set<Request> dirty_;
  std::set<Request> processing_;
  std::map<Request, int> failures_;
  std::map<Request, Time> waiting_;  //!< the one pending delayed add per key
  int active_workers_ = 0;
  bool stopped_ = false;
  ControllerStats stats_;
  std::vector<std::unique_ptr<WatchSubscription>> watches_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace ktwin
