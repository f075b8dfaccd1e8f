// The ports through which the operator core touches the world. The core never knows whether they are
// served by a live API server and real threads or by the simulated cluster and virtual time.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/k8s/selector.h"
#include "core/object.h"
#include "core/result.h"
#include "core/time.h"

namespace ktwin {

//! Reads the current time. Simulated: virtual time. Live: the wall clock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Time now() const = 0;
};

//! Runs work later. Simulated: events on the discrete-event kernel, in (time, seq) order.
//! Live: a worker pool and a timer thread. Tasks posted with the same delay run in posting order
//! in the simulated world; live gives no ordering guarantee across threads.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void post(std::function<void()> task) = 0;
  virtual void post_after(Duration delay, std::function<void()> task) = 0;
};

enum class WatchEventType { kAdded, kModified, kDeleted };
const char* watch_event_type_name(WatchEventType t);

struct WatchEvent {
  WatchEventType type;
  ObjectPtr object;  //!< for kDeleted: the last state before deletion
};
using WatchHandler = std::function<void(const WatchEvent&)>;

//! Stops delivering events when destroyed or when stop() is called.
class WatchSubscription {
 public:
  virtual ~WatchSubscription() = default;
  virtual void stop() = 0;
};

struct ListOptions {
  std::string namespace_;  //!< empty: all namespaces (or cluster-scoped kinds)
  std::optional<LabelSelector> selector;
};

enum class Propagation { kBackground, kForeground, kOrphan };

struct DeleteOptions {
  std::optional<int64_t> grace_period_seconds;  //!< pods: 0 forces immediate removal
  std::string precondition_uid;                 //!< delete only if the uid still matches
  Propagation propagation = Propagation::kBackground;
};

//! The Kubernetes API as the core sees it. Contract (both worlds):
//! - create: fails kAlreadyExists; assigns uid, resourceVersion, generation 1, creationTimestamp;
//!   honours metadata.generateName.
//! - update: replaces metadata and everything but `status` (for kinds with a status subresource);
//!   fails kConflict when metadata.resourceVersion is set and stale; bumps generation when the
//!   non-status body changes. update_status changes only `status`.
//! - remove: with finalizers present sets deletionTimestamp; otherwise the object is gone.
//!   Removing the last finalizer of a deleting object deletes it.
//! - watch: delivers kAdded for every existing object first, then every change, asynchronously
//!   (never from inside the call that made the change).
class Cluster {
 public:
  virtual ~Cluster() = default;
  virtual Result<ObjectPtr> get(std::string_view kind, std::string_view ns, std::string_view name) = 0;
  virtual Result<std::vector<ObjectPtr>> list(std::string_view kind, const ListOptions& opts = {}) = 0;
  virtual Result<ObjectPtr> create(Object obj) = 0;
  virtual Result<ObjectPtr> update(Object obj) = 0;
  virtual Result<ObjectPtr> update_status(Object obj) = 0;
  //! JSON merge patch (RFC 7386) of the object, or of its status when `status` is true.
  virtual Result<ObjectPtr> patch(std::string_view kind, std::string_view ns, std::string_view name,
                                  const json& merge_patch, bool status = false) = 0;
  virtual Status remove(std::string_view kind, std::string_view ns, std::string_view name,
                        const DeleteOptions& opts = {}) = 0;
  //! Binds a pending pod to a node (the pods/binding subresource).
  virtual Status bind_pod(std::string_view ns, std::string_view name, std::string_view node_name) = 0;
  virtual std::unique_ptr<WatchSubscription> watch(std::string_view kind, std::string_view ns,
                                                   WatchHandler handler) = 0;
};

struct Taint {
  std::string key;
  std::string value;
  std::string effect;  //!< NoSchedule, PreferNoSchedule, NoExecute
  bool operator==(const Taint&) const = default;
};

//! What the provisioner asks the cloud for: one machine (one agent pool with one VM on AKS).
struct InstanceSpec {
  std::string name;           //!< agent-pool name = NodeClaim name
  std::string instance_type;  //!< VM size / SKU
  Labels labels;              //!< become node labels
  std::vector<Taint> taints;
  int64_t os_disk_gb = 0;
  std::string image_family;  //!< ubuntu | azurelinux
  std::string owner;         //!< NodeClaim name that asked for it
};

enum class InstanceState { kCreating, kRunning, kFailed, kDeleting };
const char* instance_state_name(InstanceState s);

struct Instance {
  std::string name;
  std::string instance_type;
  std::string provider_id;  //!< set once the VM exists, e.g. azure:///subscriptions/.../virtualMachines/0
  InstanceState state = InstanceState::kCreating;
  std::string error_reason;  //!< for kFailed: cloud error code, e.g. "AllocationFailed"
  std::string error_message;
  Time created_at = 0;
  Labels labels;
};

//! The cloud behind the gpu-provisioner: create/get/delete/list machines. create() starts a
//! long-running operation and returns at once (kCreating); get() reports its progress.
//! Quota errors come back from create() synchronously (kQuotaExceeded); capacity errors may come
//! back synchronously (kCapacityUnavailable) or as a kFailed instance later.
class CloudProvider {
 public:
  virtual ~CloudProvider() = default;
  virtual std::string name() const = 0;  //!< "azure", "aws"
  virtual Result<Instance> create(const InstanceSpec& spec) = 0;
  virtual Result<Instance> get(std::string_view name) = 0;
  virtual Status remove(std::string_view name) = 0;
  virtual Result<std::vector<Instance>> list() = 0;
};

}  // namespace ktwin
