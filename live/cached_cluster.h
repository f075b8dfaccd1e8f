// The informer cache, as controller-runtime's: every watch of a kind shares one informer (list, then
// watch), whose store is updated before its events reach any handler, and once it has synced, get and
// list of that kind are answered from the store. A reconcile triggered by an event therefore reads a
// state at least as new as that event. Writes go to the API server, and its answers enter the store at
// once (see create()); everything else the cache learns by watch.
#pragma once
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "core/ports.h"
#include "live/live_cluster.h"

namespace ktwin::live {

class CachedCluster : public Cluster {
 public:
  explicit CachedCluster(LiveCluster& live);
  ~CachedCluster() override;
  CachedCluster(const CachedCluster&) = delete;
  CachedCluster& operator=(const CachedCluster&) = delete;

  Result<ObjectPtr> get(std::string_view kind, std::string_view ns, std::string_view name) override;
  Result<std::vector<ObjectPtr>> list(std::string_view kind, const ListOptions& opts = {}) override;
  //! Writes go to the API server; what it answers also enters the cache at once (when newer than what is
  //! cached), so a reconcile that follows its own write sees it even before the watch event arrives. Without
  //! this a second reconcile triggered meanwhile would, like any cache reader, create a NodeClaim twice.
  //! An answer is not cached when the watch has already gone past it and the object is gone (deleted in
  //! between), and a relist drops cached writes it does not list (deleted while the watch was broken).
  Result<ObjectPtr> create(Object obj) override { return remember(live_.create(std::move(obj))); }
  Result<ObjectPtr> update(Object obj) override { return remember(live_.update(std::move(obj))); }
  Result<ObjectPtr> update_status(Object obj) override { return remember(live_.update_status(std::move(obj))); }
  Result<ObjectPtr> patch(std::string_view kind, std::string_view ns, std::string_view name, const json& merge_patch,
                          bool status = false) override {
    return remember(live_.patch(kind, ns, name, merge_patch, status));
  }
  Status remove(std::string_view kind, std::string_view ns, std::string_view name,
                const DeleteOptions& opts = {}) override {
    return live_.remove(kind, ns, name, opts);
  }
  Status bind_pod(std::string_view ns, std::string_view name, std::string_view node_name) override {
    return live_.bind_pod(ns, name, node_name);
  }
  //! Joins (or starts) the kind's shared informer; a late joiner first gets ADDED for what is cached.
  //! Events reach handlers on one dispatcher thread, in each informer's order.
  std::unique_ptr<WatchSubscription> watch(std::string_view kind, std::string_view ns, WatchHandler handler) override;

  struct Stats {
    uint64_t cache_reads = 0;
    uint64_t api_reads = 0;
  };
  Stats stats() const;

  struct Informer;
  struct Subscription;

 private:
  friend struct Subscription;
  void dispatch();
  Result<ObjectPtr> remember(Result<ObjectPtr> written);
  void unsubscribe(const std::shared_ptr<Informer>& inf, uint64_t id);
  std::shared_ptr<Informer> synced_informer(std::string_view kind, std::string_view ns);

  LiveCluster& live_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Informer>> informers_;  // "Kind/namespace" ("" = all namespaces)
  struct Pending {
    std::shared_ptr<Informer> informer;
    uint64_t handler_id;  // 0: every handler registered when the event was queued
    std::vector<uint64_t> handlers;
    WatchEvent event;
  };
  std::deque<Pending> queue_;
  uint64_t next_id_ = 1;
  uint64_t delivering_ = 0;  // handler id being called by the dispatcher (0: none)
  bool stopping_ = false;
  Stats stats_;
  std::thread dispatcher_;
};

}  // namespace ktwin::live
