// The kube-controller-manager's garbage collector and pod GC, as an actor that uses only the Cluster
// port: background cascading deletion through metadata.ownerReferences, and force deletion of pods
// bound to nodes that no longer exist. Works the same against the simulated store or a real API server.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/ports.h"

namespace ktwin::cluster_model {

struct GcOptions {
  Duration resync_period = 0;      //!< > 0: re-check every owned object and bound pod this often
  Duration retry_delay = kSecond;  //!< after a failed API call
};

struct GcStats {
  uint64_t dependents_deleted = 0;   //!< objects deleted because all their owners were gone
  uint64_t orphan_pods_deleted = 0;  //!< pods force-deleted because their node was gone
};

//! Background propagation only: a dependent is deleted once none of its owners exists (an owner
//! "exists" when an object of that kind, name and uid can be read). Foreground and orphan propagation
//! are not modelled; owners that are merely deleting (finalizers) keep their dependents.
//! Watches every kind in all_resources(). The indexes are fed by watch events; a deletion decision is
//! always confirmed with a live get() of the owner (or node), as the real collector does.
//! Thread-safe; no lock is held during Cluster calls.
class GarbageCollector {
 public:
  GarbageCollector(Cluster& cluster, Executor& executor, GcOptions opts = {});
  ~GarbageCollector();
  GarbageCollector(const GarbageCollector&) = delete;
  GarbageCollector& operator=(const GarbageCollector&) = delete;

  //! Starts the watches. Orphans present at startup are collected once the initial lists arrive.
  void start();
  void stop();
  //! Queues a check of every known dependent and bound pod.
  void resync();
  GcStats stats() const;

 private:
  struct Dependent {
    std::string uid;
    std::vector<OwnerReference> owners;
  };
  struct BoundPod {
    std::string uid;
    std::string node;
  };

  void on_event(const WatchEvent& ev);
  void schedule_locked(Duration delay = 0);
  void schedule_resync();
  void process();
  bool owner_exists(const ObjectKey& dependent, const OwnerReference& ref, bool& retry);

  Cluster& cluster_;
  Executor& executor_;
  GcOptions opts_;

  mutable std::mutex mu_;
  std::map<std::string, ObjectKey> by_uid_;              //!< every object seen, by uid
  std::map<ObjectKey, Dependent> dependents_;            //!< objects with ownerReferences
  std::map<std::string, std::set<ObjectKey>> by_owner_;  //!< owner uid -> dependents
  std::set<std::string> nodes_;
  std::map<ObjectKey, BoundPod> bound_pods_;
  std::map<std::string, std::set<ObjectKey>> pods_by_node_;
  std::set<ObjectKey> check_dependents_;
  std::set<ObjectKey> check_pods_;
  bool scheduled_ = false;
  bool started_ = false;
  GcStats stats_;
  std::vector<std::unique_ptr<WatchSubscription>> watches_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace ktwin::cluster_model
