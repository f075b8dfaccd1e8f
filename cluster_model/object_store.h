// The simulated API server: an in-memory Cluster with the API server's semantics (resourceVersion,
// generation, 409 conflicts, status subresource, finalizers, graceful pod deletion, ordered async watch).
// It is a plain implementation of the port, not a back door: simulated actors use it only as a Cluster.
// Thread-safe: one mutex guards all objects; watch handlers and the admission hook never run under it.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/ports.h"

namespace ktwin::cluster_model {

//! Validates a create (old_obj == nullptr) or update (not status writes); an error rejects the write
//! and is returned to the caller as is (use kInvalid with a message).
using AdmissionHook = std::function<Status(const Object* old_obj, const Object& new_obj)>;

//! Semantics beyond the Cluster contract (all as the Kubernetes API server does them):
//! - resourceVersion: one global counter (decimal); uid: "00000000-0000-4000-8000-<12 digits>";
//!   creation/deletion timestamps come from the Clock truncated to whole seconds (the wire precision).
//! - create: rejects a set resourceVersion; namespaced kinds need a namespace (kInvalid), cluster-scoped
//!   kinds drop it; generateName appends 5 deterministic characters. Kinds with a status subresource
//!   start with an empty status (Pod: phase Pending, Namespace: phase Active), except Node.
//! - update/patch: a write that changes nothing is a no-op (same resourceVersion, no event);
//!   generation +1 when anything but status (and metadata) changes; no new finalizers once deleting;
//!   a set metadata.uid that differs is a precondition failure (kConflict).
//! - update_status / patch(status) of a kind without a status subresource: kNotFound.
//! - remove: bound, non-terminated Pods are deleted gracefully: deletionTimestamp = now + grace,
//!   deletionGracePeriodSeconds = grace (options, else spec.terminationGracePeriodSeconds, else 30);
//!   the kubelet's delete with grace 0 (or a shorter grace) completes it. Objects with finalizers get
//!   deletionTimestamp = now and grace 0. Setting deletionTimestamp bumps generation. Propagation
//!   policy is not interpreted here (the garbage collector does background cascading).
//! - watch: per subscription, events are queued in order and delivered by tasks on the Executor.
class ObjectStore : public Cluster {
 public:
  ObjectStore(Executor& executor, Clock& clock);
  ~ObjectStore() override;
  ObjectStore(const ObjectStore&) = delete;
  ObjectStore& operator=(const ObjectStore&) = delete;

  Result<ObjectPtr> get(std::string_view kind, std::string_view ns, std::string_view name) override;
  Result<std::vector<ObjectPtr>> list(std::string_view kind, const ListOptions& opts = {}) override;
  Result<ObjectPtr> create(Object obj) override;
  Result<ObjectPtr> update(Object obj) override;
  Result<ObjectPtr> update_status(Object obj) override;
  Result<ObjectPtr> patch(std::string_view kind, std::string_view ns, std::string_view name, const json& merge_patch,
                          bool status = false) override;
  Status remove(std::string_view kind, std::string_view ns, std::string_view name,
                const DeleteOptions& opts = {}) override;
  Status bind_pod(std::string_view ns, std::string_view name, std::string_view node_name) override;
  std::unique_ptr<WatchSubscription> watch(std::string_view kind, std::string_view ns, WatchHandler handler) override;

  //! Replaces the admission hook (empty function: admit everything).
  void set_admission(AdmissionHook hook);
  //! Objects currently stored, over all kinds.
  size_t object_count() const;
  //! Committed writes (creates, updates, deletions) since construction.
  uint64_t writes() const;
  //! The latest resourceVersion handed out ("0" before the first write): what a list is consistent with.
  std::string resource_version() const;

  struct State;  // shared with watch subscriptions, so they outlive the store safely

 private:
  enum class WriteMode { kObject, kStatus, kAll };
  Result<ObjectPtr> mutate(std::string_view kind, std::string_view ns, std::string_view name, WriteMode mode,
                           bool admit, const std::function<Result<Object>(const Object& old)>& change);

  Executor& executor_;
  Clock& clock_;
  std::shared_ptr<State> state_;
};

}  // namespace ktwin::cluster_model
