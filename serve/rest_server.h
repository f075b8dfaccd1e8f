// The Kubernetes REST API over an in-process Cluster (the simulated API server), so that kubectl and any
// controller can use the twin: discovery, get/list/watch/create/update/patch/delete, the status and
// binding subresources, resourceVersion semantics (409 on a stale write, 410 Gone for a watch older than
// the kept history), and meta.k8s.io Tables with the printer columns for kubectl.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "core/ports.h"

namespace ktwin::serve {

//! The world behind the API. Every call into `cluster` is made with `lock` held; the world's own thread
//! (which runs watch deliveries) holds it too while it runs.
struct ServedWorld {
  Cluster* cluster = nullptr;
  Clock* clock = nullptr;
  std::mutex* lock = nullptr;
  std::function<std::string()> resource_version;  //!< latest resourceVersion of the store (lock held)
  std::function<void()> catch_up;                 //!< advance the world to the present (lock held); may be empty
  std::function<void()> wake;                     //!< after a write, so its consequences run soon; may be empty
};

//! Faults injected at the HTTP layer, for testing clients (seeded; rates are per request).
struct HttpFaults {
  uint64_t seed = 1;
  double throttle = 0;     //!< 429 Too Many Requests with Retry-After: 1
  double unavailable = 0;  //!< 503 Service Unavailable
  double conflict = 0;     //!< 409 Conflict on update and patch, without applying
  double truncate = 0;     //!< a GET answered 200 with half its JSON body
  double slow = 0;         //!< a request delayed by slow_delay before it is served
  std::chrono::milliseconds slow_delay{300};
  double watch_gone = 0;     //!< a watch answered with a 410 Gone ERROR event
  int watch_drop_after = 0;  //!< > 0: a watch stream ends abruptly (torn line) after this many events
  bool any() const {
    return throttle > 0 || unavailable > 0 || conflict > 0 || truncate > 0 || slow > 0 || watch_gone > 0 ||
           watch_drop_after > 0;
  }
};
//! "throttle=0.05,conflict=0.1,slow=0.1:200ms,watch-drop-after=20,seed=7"; throws std::invalid_argument.
HttpFaults parse_http_faults(const std::string& spec);

struct RestServerOptions {
  size_t history_per_kind = 20000;  //!< watch events kept per kind; older resourceVersions get 410
  std::chrono::milliseconds bookmark_interval{30000};
  std::chrono::seconds default_watch_timeout{1800};
  int threads = 128;  //!< each open watch holds one
  HttpFaults faults;
};

struct RestServerStats {
  uint64_t requests = 0;
  uint64_t watches = 0;
  uint64_t faults = 0;
  uint64_t writes = 0;
};

class RestServer {
 public:
  RestServer(ServedWorld world, RestServerOptions options = {});
  ~RestServer();
  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  //! Binds host:port (0: a free port) and serves on threads of its own; false when it cannot bind.
  bool start(const std::string& host, int port);
  int port() const;
  //! Stops serving: open watches end and the port is released. History is kept, so a restarted server
  //! resumes watches from where clients were (like an API server restart over the same etcd).
  void stop();
  //! Forgets the watch history, as etcd compaction does: watches from an earlier version get 410 Gone.
  void compact();
  void set_faults(const HttpFaults& faults);
  RestServerStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

//! Parses a labelSelector query ("a=b,c!=d,e in (f,g),h notin (i),j,!k"); throws std::invalid_argument.
LabelSelector parse_label_selector(const std::string& text);

}  // namespace ktwin::serve
