#include "core/controllers/workspace_controller.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <regex>

#include "core/controllers/workspace_manifests.h"
#include "core/presets/estimator.h"

namespace ktwin {

using namespace kaito;

WorkspaceReconciler::WorkspaceReconciler(Cluster& cluster, Clock& clock, const PresetRegistry& presets,
                                         const SkuCatalog& skus, EventRecorder& events, OperatorConfig config)
    : cluster_(cluster),
      clock_(clock),
      presets_(presets),
      skus_(skus),
      events_(events),
      config_(std::move(config)),
      expectations_(config_.expectations_ttl) {
  provisioner_ = make_node_provisioner(ProvisionerDeps{cluster_, clock_, events_, skus_, config_, expectations_});
}

void WorkspaceReconciler::setup_watches(Controller& c) {
  c.watch(cluster_, "Workspace", "", Controller::map_to_self());
  for (const char* kind : {"Service", "ControllerRevision", "StatefulSet", "Job", "Deployment"})
    c.watch(cluster_, kind, "", Controller::map_to_owner("Workspace"));
  if (config_.nap()) {
    c.watch(cluster_, "NodeClaim", "", [this](const WatchEvent& ev) {
      std::vector<Request> out;
      std::string ns, name;
      if (!owning_workspace(*ev.object, ns, name)) return out;
      if (ev.type == WatchEventType::kAdded) expectations_.observed(ns + "/" + name);
      out.push_back(Request{ns, name});
      return out;
    });
  }
  // KAITO learns about pod failures through StatefulSet updates; watching the pods directly surfaces
  // them without waiting for an unrelated event.
  c.watch(cluster_, "Pod", "", [](const WatchEvent& ev) {
    std::vector<Request> out;
    if (const std::string* name = ev.object->meta.label(kLabelWorkspace))
      out.push_back(Request{ev.object->meta.namespace_, *name});
    return out;
  });
}

const ModelPreset* WorkspaceReconciler::preset_of(const WorkspaceSpec& spec) const {
  if (spec.inference && spec.inference->preset) return presets_.find(spec.inference->preset->name);
  if (spec.tuning && spec.tuning->preset) return presets_.find(spec.tuning->preset->name);
  return nullptr;
}

double WorkspaceReconciler::disk_gib(const WorkspaceSpec& spec) const {
  const ModelPreset* p = preset_of(spec);
  return p && p->disk_gib > 0 ? p->disk_gib : 1024;
}

std::optional<GpuConfig> WorkspaceReconciler::gpu_config_for(const Object& ws, const WorkspaceSpec& spec) {
  if (config_.nap()) {
    if (const Sku* sku = skus_.find(config_.cloud, spec.resource.instance_type)) return sku->gpu;
    return std::nullopt;
  }
  // BYO: the GPU config of the first ready node matching the selector.
  auto nodes = workspace_nodes(cluster_, ws, false);
  if (!nodes) return std::nullopt;  // surfaces as an error and a retry
  for (const auto& node : nodes.value())
    if (node_is_ready(*node))
      if (auto gpu = gpu_config_from_node_labels(node->meta.labels)) return gpu;
  return std::nullopt;
}

std::optional<int64_t> WorkspaceReconciler::user_max_model_len(const Object& ws, const WorkspaceSpec& spec) {
  if (!spec.inference || spec.inference->config.empty()) return std::nullopt;
  auto cm = cluster_.get("ConfigMap", ws.meta.namespace_, spec.inference->config);
  if (!cm) return std::nullopt;
  const std::string text = (*cm)->str("/data/inference_config.yaml");
  // The file is small YAML with vLLM args under `vllm:`; only this one integer matters here.
  static const std::regex kMaxModelLen(R"((^|\n)[ \t]+max-model-len[ \t]*:[ \t]*["']?([0-9]+))");
  std::smatch m;
  if (!std::regex_search(text, m, kMaxModelLen)) return std::nullopt;
  // The ConfigMap may change after admission: anything outside 1..INT_MAX is ignored, not trusted.
  const std::string digits = m[2].str();
  int64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || value < 1 || value > std::numeric_limits<int>::max())
    return std::nullopt;
  return value;
}

ReconcileResult WorkspaceReconciler::reconcile(const Request& req, std::optional<ReconcileError>& error) {
  auto got = cluster_.get("Workspace", req.namespace_, req.name);
  if (!got) {
    if (got.is(ErrorCode::kNotFound)) {
      expectations_.forget(req.to_string());
      return {};
    }
    error = ReconcileError{got.error().to_string(), false};
    return {};
  }
  ObjectPtr ws = got.value();  // a snapshot; helpers replace it with what they wrote

  Outcome out;
  if (ws->meta.deletion_timestamp) {
    out = reconcile_deletion(*ws);
    error = out.error;
    return out.result;
  }

  WorkspaceSpec spec;
  try {
    spec = parse_workspace_spec(*ws);
  } catch (const FieldError& e) {
    // Admission should have caught this; nothing the controller can do until the user fixes it.
    error = ReconcileError{std::string("invalid workspace ") + e.pointer() + ": " + e.what(), true};
    return {};
  }

  auto fail = [&](const Error& e) { out.error = ReconcileError{e.to_string(), false}; };
  if (Status s = ensure_finalizer(ws); !s)
    fail(s.error());
  else if (Status s2 = sync_controller_revision(ws); !s2)
    fail(s2.error());
  else if (Status s3 = ensure_target_node_count(ws, spec); !s3)
    fail(s3.error());
  else
    out = add_or_update(*ws, spec);

  if (Status s = sync_status(req, out.error); !s && !out.error)
    out.error = ReconcileError{s.error().to_string(), false};
  error = out.error;
  return out.result;
}

WorkspaceReconciler::Outcome WorkspaceReconciler::reconcile_deletion(const Object& ws) {
  Outcome out;
  // Status first: once the finalizer goes, the object may vanish.
  Object updated = ws;
  json& conds = updated.mut("/status/conditions");
  if (set_condition(conds,
                    Condition{kCondWorkspaceDeleting, "True", "workspaceDeleted", "workspace is being deleted",
                              ws.meta.generation, 0},
                    clock_.now())) {
    auto r = cluster_.update_status(updated);
    if (!r && !r.is(ErrorCode::kNotFound)) {
      out.error = ReconcileError{r.error().to_string(), false};
      return out;
    }
    if (r) updated = *r.value();
  }
  if (Status s = provisioner_->delete_nodes(ws); !s) {
    out.error = ReconcileError{s.error().to_string(), false};
    return out;
  }
  if (updated.meta.has_finalizer(kFinalizer)) {
    bool removed = false;
    for (int attempt = 0; attempt < 5 && !removed; ++attempt) {
      updated.meta.remove_finalizer(kFinalizer);
      auto r = cluster_.update(updated);
      if (r || r.is(ErrorCode::kNotFound)) {
        removed = true;
        break;
      }
      if (!r.is(ErrorCode::kConflict)) {
        out.error = ReconcileError{r.error().to_string(), false};
        return out;
      }
      auto fresh = cluster_.get("Workspace", ws.meta.namespace_, ws.meta.name);
      if (!fresh) {
        removed = fresh.is(ErrorCode::kNotFound);
        if (!removed) {
          out.error = ReconcileError{fresh.error().to_string(), false};
          return out;
        }
        break;
      }
      updated = *fresh.value();
    }
    // Giving up silently would leave the workspace deleting forever (KAITO #932): retry.
    if (!removed) {
      out.error = ReconcileError{"finalizer " + std::string(kFinalizer) + " could not be removed yet", false};
      return out;
    }
  }
  expectations_.forget(workspace_key(ws));
  std::lock_guard<std::mutex> lock(hash_mu_);
  synced_revisions_.erase(ws.meta.uid);
  return out;
}

Status WorkspaceReconciler::ensure_finalizer(ObjectPtr& ws) {
  if (ws->meta.has_finalizer(kFinalizer)) return {};
  json finalizers = ws->meta.finalizers;
  finalizers.push_back(kFinalizer);
  auto r =
      cluster_.patch("Workspace", ws->meta.namespace_, ws->meta.name, {{"metadata", {{"finalizers", finalizers}}}});
  if (!r) return r.error();
  ws = r.value();
  return {};
}

Status WorkspaceReconciler::sync_controller_revision(ObjectPtr& ws) {
  // The hash only changes with the generation; skip the revision bookkeeping when both match.
  {
    std::lock_guard<std::mutex> lock(hash_mu_);
    auto cached = synced_revisions_.find(ws->meta.uid);
    const std::string* annotated = ws->meta.annotation(kAnnotationHash);
    if (cached != synced_revisions_.end() && cached->second.first == ws->meta.generation && annotated &&
        *annotated == cached->second.second)
      return {};
  }
  const std::string hash = workspace_spec_hash(*ws);
  const std::string name = ws->meta.name + "-" + hash.substr(0, 5);
  ListOptions opts;
  opts.namespace_ = ws->meta.namespace_;
  opts.selector = LabelSelector{{{kLabelRevisionWorkspaceName, ws->meta.name}}, {}};
  auto revs = cluster_.list("ControllerRevision", opts);
  if (!revs) return revs.error();
  int64_t max_rev = 0;
  int64_t revision = 0;
  std::vector<ObjectPtr> history;
  for (const auto& r : revs.value()) {
    const OwnerReference* owner = r->meta.controller_ref();
    if (!owner || owner->uid != ws->meta.uid) continue;  // a previous workspace of the same name
    history.push_back(r);
    max_rev = std::max(max_rev, r->num("/revision"));
    if (r->meta.name == name) {
      const std::string* h = r->meta.annotation(kAnnotationHash);
      if (!h || *h != hash) return make_error(ErrorCode::kConflict, "revision name conflicts: " + name);
      revision = r->num("/revision");
    }
  }
  if (revision == 0) {
    revision = max_rev + 1;
    auto created = cluster_.create(build_controller_revision(*ws, hash, revision));
    if (!created && !created.is(ErrorCode::kAlreadyExists)) return created.error();
    if (!created) {
      // Left by a previous workspace of the same name: wait for garbage collection to remove it.
      return make_error(ErrorCode::kConflict, "ControllerRevision " + name + " belongs to another workspace");
    }
    if (static_cast<int>(history.size()) + 1 > config_.revision_history_limit) {
      std::sort(history.begin(), history.end(),
                [](const ObjectPtr& a, const ObjectPtr& b) { return a->num("/revision") < b->num("/revision"); });
      const size_t excess = history.size() + 1 - static_cast<size_t>(config_.revision_history_limit);
      for (size_t i = 0; i < excess; ++i)
        (void)cluster_.remove("ControllerRevision", ws->meta.namespace_, history[i]->meta.name);
    }
  }
  const std::string rev = std::to_string(revision);
  const std::string* cur_hash = ws->meta.annotation(kAnnotationHash);
  const std::string* cur_rev = ws->meta.annotation(kAnnotationRevision);
  if (!(cur_hash && *cur_hash == hash && cur_rev && *cur_rev == rev)) {
    auto r = cluster_.patch("Workspace", ws->meta.namespace_, ws->meta.name,
                            {{"metadata", {{"annotations", {{kAnnotationHash, hash}, {kAnnotationRevision, rev}}}}}});
    if (!r) return r.error();
    ws = r.value();
  }
  std::lock_guard<std::mutex> lock(hash_mu_);
  synced_revisions_[ws->meta.uid] = {ws->meta.generation, hash};
  return {};
}

Status WorkspaceReconciler::ensure_target_node_count(ObjectPtr& ws, const WorkspaceSpec& spec) {
  if (target_node_count(*ws) > 0) return {};  // frozen once set
  int target = 1;
  if (spec.tuning) {
    target = 1;
  } else if (spec.inference && spec.inference->preset && runtime_of(*ws) == "vllm") {
    const ModelPreset* preset = preset_of(spec);
    if (!preset) return make_error(ErrorCode::kInvalid, "unsupported preset " + spec.inference->preset->name);
    auto gpu = gpu_config_for(*ws, spec);
    if (!gpu) {
      return make_error(ErrorCode::kInvalid,
                        config_.nap() ? "GPU config not found for instance type " + spec.resource.instance_type
                                      : "no ready node with nvidia.com/gpu labels matches the label selector");
    }
    auto len = user_max_model_len(*ws, spec);
    auto est = estimate_nodes(*preset, *gpu, len ? static_cast<int>(*len) : 0);
    if (!est) return est.error();
    target = est->nodes;
  } else {
    target = spec.resource.count.value_or(1);
  }
  auto r = cluster_.patch("Workspace", ws->meta.namespace_, ws->meta.name, {{"status", {{"targetNodeCount", target}}}},
                          true);
  if (!r) return r.error();
  ws = r.value();
  return {};
}

WorkspaceReconciler::Outcome WorkspaceReconciler::add_or_update(const Object& ws, const WorkspaceSpec& spec) {
  Outcome out;
  const std::string key = workspace_key(ws);
  if (config_.nap() && !expectations_.satisfied(key, clock_.now())) return out;  // NodeClaim events re-enqueue

  ProvisionContext ctx{ws, spec, target_node_count(ws), disk_gib(spec), {}, {}};
  if (Status s = provisioner_->provision_nodes(ctx); !s) {
    out.error = ReconcileError{s.error().to_string(), false};
    return out;
  }
  auto ready = provisioner_->ensure_nodes_ready(ctx);
  if (!ready) {
    out.error = ReconcileError{ready.error().to_string(), false};
    return out;
  }
  if (!ready->ready) {
    if (ready->requeue) out.result = ReconcileResult::after(config_.node_ready_requeue);
    return out;
  }
  Status s = spec.tuning ? apply_tuning(ws, spec) : ensure_services(ws, runtime_of(ws) == "vllm");
  if (s && spec.inference) s = apply_inference(ws, spec);
  if (!s) out.error = ReconcileError{s.error().to_string(), false};
  return out;
}

Status WorkspaceReconciler::ensure_services(const Object& ws, bool vllm) {
  for (Object svc : {build_service(ws, vllm), build_headless_service(ws)}) {
    auto existing = cluster_.get("Service", svc.meta.namespace_, svc.meta.name);
    if (existing) continue;  // created once, never updated
    if (!existing.is(ErrorCode::kNotFound)) return existing.error();
    auto created = cluster_.create(std::move(svc));
    if (!created && !created.is(ErrorCode::kAlreadyExists)) return created.error();
  }
  return {};
}

static int64_t revision_of(const Object& obj) {
  const std::string* rev = obj.meta.annotation(kAnnotationRevision);
  if (!rev) return 0;
  try {
    return std::stoll(*rev);
  } catch (const std::exception&) {
    return 0;
  }
}

Status WorkspaceReconciler::apply_inference(const Object& ws, const WorkspaceSpec& spec) {
  WorkloadInput in;
  in.preset = spec.inference->preset ? preset_of(spec) : nullptr;
  if (spec.inference->preset && !in.preset)
    return make_error(ErrorCode::kInvalid, "unsupported preset " + spec.inference->preset->name);
  if (auto gpu = gpu_config_for(ws, spec)) in.gpu = *gpu;
  in.replicas = std::max(1, target_node_count(ws));
  in.runtime = runtime_of(ws);
  in.revision = revision_of(ws);
  auto existing = cluster_.get("StatefulSet", ws.meta.namespace_, ws.meta.name);
  if (existing && (!in.preset || revision_of(*existing.value()) == in.revision))
    return {};  // up to date; template workloads are never updated
  if (!existing && !existing.is(ErrorCode::kNotFound)) return existing.error();
  in.user_max_model_len = user_max_model_len(ws, spec);
  Object desired = build_inference_statefulset(ws, spec, config_, in);
  if (!existing) {
    auto created = cluster_.create(std::move(desired));
    if (!created && !created.is(ErrorCode::kAlreadyExists)) return created.error();
    return {};
  }
  const Object& cur = *existing.value();
  // A new revision (adapters or config changed): update env, mounts, init containers and volumes
  // only; the StatefulSet's rolling update replaces the pods.
  Object updated = cur;
  json& tmpl = updated.mut("/spec/template/spec");
  const json& want = desired.at("/spec/template/spec");
  if (tmpl.contains("containers") && !tmpl["containers"].empty()) {
    tmpl["containers"][0]["env"] = want["containers"][0]["env"];
    tmpl["containers"][0]["volumeMounts"] = want["containers"][0]["volumeMounts"];
    tmpl["containers"][0]["command"] = want["containers"][0]["command"];
  }
  if (want.contains("initContainers"))
    tmpl["initContainers"] = want["initContainers"];
  else
    tmpl.erase("initContainers");
  tmpl["volumes"] = want["volumes"];
  updated.meta.annotations[kAnnotationRevision] = std::to_string(in.revision);
  auto r = cluster_.update(std::move(updated));
  if (!r) return r.error();
  events_.normal(ws, "WorkloadUpdated",
                 "Updated StatefulSet " + ws.meta.name + " to revision " + std::to_string(in.revision));
  return {};
}

Status WorkspaceReconciler::apply_tuning(const Object& ws, const WorkspaceSpec& spec) {
  WorkloadInput in;
  in.preset = preset_of(spec);
  if (auto gpu = gpu_config_for(ws, spec)) in.gpu = *gpu;
  in.revision = revision_of(ws);
  auto existing = cluster_.get("Job", ws.meta.namespace_, ws.meta.name);
  if (existing) {
    if (revision_of(*existing.value()) == in.revision) return {};
    DeleteOptions opts;
    opts.propagation = Propagation::kForeground;
    Status s = cluster_.remove("Job", ws.meta.namespace_, ws.meta.name, opts);
    if (!s && !s.is(ErrorCode::kNotFound)) return s;
    return make_error(ErrorCode::kConflict, "waiting for the previous tuning Job to be deleted");
  }
  if (!existing.is(ErrorCode::kNotFound)) return existing.error();
  auto created = cluster_.create(build_tuning_job(ws, spec, config_, in));
  if (!created && !created.is(ErrorCode::kAlreadyExists)) return created.error();
  return {};
}

std::string classify_pod_failure(const Object& pod, std::string& message) {
  // KAITO's priority across the whole pod (spec §4.5): OOMKilled, image pull, container start
  // error, CrashLoopBackOff, eviction (by node pressure), Unschedulable.
  int best_rank = 100;
  std::string best;
  auto consider = [&](int rank, const char* reason, std::string msg) {
    if (rank >= best_rank) return;
    best_rank = rank;
    best = reason;
    message = std::move(msg);
  };
  for (const char* list : {"/status/initContainerStatuses", "/status/containerStatuses"}) {
    const json& statuses = pod.at(list);
    if (!statuses.is_array()) continue;
    for (const auto& cs : statuses) {
      const std::string name = cs.value("name", "");
      for (const char* state : {"state", "lastState"})
        if (cs.contains(state) && cs[state].is_object() && cs[state].contains("terminated") &&
            cs[state]["terminated"].value("reason", "") == "OOMKilled")
          consider(1, "ContainerOOMKilled", "container " + name + " of pod " + pod.meta.name + " was OOMKilled");
      if (cs.contains("state") && cs["state"].is_object() && cs["state"].contains("waiting")) {
        const std::string reason = cs["state"]["waiting"].value("reason", "");
        const std::string msg = cs["state"]["waiting"].value("message", "");
        std::string text =
            "pod " + pod.meta.name + " container " + name + ": " + reason + (msg.empty() ? "" : ": " + msg);
        if (reason == "ErrImagePull" || reason == "ImagePullBackOff" || reason == "InvalidImageName")
          consider(2, "ImagePullError", text);
        else if (reason == "CreateContainerError" || reason == "RunContainerError" ||
                 reason == "CreateContainerConfigError")
          consider(3, "ContainerStartError", text);
        else if (reason == "CrashLoopBackOff")
          consider(4, "ContainerCrashLoopBackOff", text);
      }
    }
  }
  if (pod.str("/status/reason") == "Evicted") {
    const std::string msg = pod.str("/status/message", "pod was evicted");
    const char* reason =
        msg.find("DiskPressure") != std::string::npos || msg.find("ephemeral-storage") != std::string::npos
            ? "NodeDiskPressure"
        : msg.find("MemoryPressure") != std::string::npos || msg.find("memory") != std::string::npos
            ? "NodeMemoryPressure"
            : "PodEvicted";
    consider(5, reason, msg);
  }
  if (auto sched = find_condition(pod.at("/status/conditions"), "PodScheduled");
      sched && sched->status == "False" && sched->reason == "Unschedulable")
    consider(6, "Unschedulable", "pod " + pod.meta.name + " is unschedulable: " + sched->message);
  if (best.empty()) message.clear();
  return best;
}

Status WorkspaceReconciler::sync_status(const Request& req, const std::optional<ReconcileError>& err) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto got = cluster_.get("Workspace", req.namespace_, req.name);
    if (!got) return got.is(ErrorCode::kNotFound) ? Status{} : Status{got.error()};
    const ObjectPtr snapshot = got.value();
    const Object& ws = *snapshot;
    if (ws.meta.deletion_timestamp) return {};
    WorkspaceSpec spec;
    try {
      spec = parse_workspace_spec(ws);
    } catch (const FieldError&) {
      return {};
    }
    const json& before = ws.at("/status");
    json status = before.is_object() ? before : json::object();
    json& conds = status["conditions"];
    if (!conds.is_array()) conds = json::array();
    const Time now = clock_.now();
    const int64_t gen = ws.meta.generation;
    const std::string suffix = err ? " (last reconcile error: " + err->message + ")" : "";
    auto set = [&](Condition c) {
      if (c.status != "True") c.message += suffix;
      c.observed_generation = gen;
      set_condition(conds, c, now);
    };

    const int target = target_node_count(ws);
    ProvisionContext ctx{ws, spec, target, disk_gib(spec), {}, {}};
    std::vector<std::string> workers;
    bool resource_ready = false;
    if (target > 0) {
      auto provisioner_conditions = provisioner_->collect_conditions(ctx, workers);
      if (!provisioner_conditions) return provisioner_conditions.error();  // never write a status from half a view
      for (auto& c : provisioner_conditions.value()) {
        if (c.type == kCondResourceReady) resource_ready = c.status == "True";
        set(c);
      }
    } else {
      set(Condition{kCondResourceReady, "False", "workspaceResourceStatusNotReady",
                    "target node count is not determined yet", gen, 0});
    }
    if (!workers.empty() || status.contains("workerNodes")) status["workerNodes"] = workers;

    std::string state;
    if (spec.tuning) {
      auto job = cluster_.get("Job", ws.meta.namespace_, ws.meta.name);
      if (!job && !job.is(ErrorCode::kNotFound)) return job.error();
      int64_t failed = 0, succeeded = 0, active = 0, ready = 0;
      if (job) {
        failed = (*job)->num("/status/failed");
        succeeded = (*job)->num("/status/succeeded");
        active = (*job)->num("/status/active");
        ready = (*job)->num("/status/ready");
      }
      // KAITO checks failures first: one failed pod marks the workspace Failed even while the Job retries.
      if (failed > 0) {
        set(Condition{kCondJobStarted, "False", "WorkspaceTuningJobStatusFailed", "tuning job has failed", gen, 0});
        set(Condition{kCondWorkspaceSucceeded, "False", "workspaceFailed", "workspace has failed", gen, 0});
        state = "Failed";
      } else if (active > 0 || ready > 0 || succeeded > 0) {
        set(Condition{kCondJobStarted, "True", "WorkspaceTuningJobStatusStarted", "tuning job has started", gen, 0});
        if (succeeded > 0) {
          set(Condition{kCondWorkspaceSucceeded, "True", "workspaceSucceeded", "workspace succeeds", gen, 0});
          state = "Succeeded";
        } else {
          set(Condition{kCondWorkspaceSucceeded, "False", "workspacePending", "workspace is pending", gen, 0});
          state = "Running";
        }
      } else {
        set(Condition{kCondJobStarted, "False", "WorkspaceTuningJobStatusPending", "tuning job is pending", gen, 0});
        set(Condition{kCondWorkspaceSucceeded, "False", "workspacePending", "workspace is pending", gen, 0});
        state = "Pending";
      }
    } else {
      auto sts = cluster_.get("StatefulSet", ws.meta.namespace_, ws.meta.name);
      if (!sts && !sts.is(ErrorCode::kNotFound)) return sts.error();
      int64_t replicas = 0, ready = 0;
      if (sts) {
        replicas = (*sts)->num("/spec/replicas", 1);
        ready = (*sts)->num("/status/readyReplicas");
      }
      Condition inf{kCondInferenceReady,
                    "True",
                    "WorkspaceInferenceStatusSuccess",
                    "Inference has been deployed successfully",
                    gen,
                    0};
      if (!(sts && replicas > 0 && ready == replicas && resource_ready)) {
        inf.status = "False";
        inf.reason = "WorkspaceInferenceStatusPending";
        inf.message = sts ? "Inference is not ready (ReadyReplicas: " + std::to_string(ready) +
                                ", Replicas: " + std::to_string(replicas) + ")"
                          : "Inference workload has not been created yet";
        ListOptions opts;
        opts.namespace_ = ws.meta.namespace_;
        opts.selector = LabelSelector{{{kLabelWorkspace, ws.meta.name}}, {}};
        auto pods = cluster_.list("Pod", opts);
        if (!pods) return pods.error();
        {
          for (const auto& pod : pods.value()) {
            std::string msg;
            std::string reason = classify_pod_failure(*pod, msg);
            if (!reason.empty()) {
              inf.reason = reason;
              inf.message = msg;
              break;
            }
          }
        }
      }
      set(inf);
      const bool ok = inf.status == "True";
      set(ok ? Condition{kCondWorkspaceSucceeded, "True", "workspaceSucceeded", "workspace succeeds", gen, 0}
             : Condition{kCondWorkspaceSucceeded, "False", "workspacePending", "workspace is pending", gen, 0});
      const std::string prev = before.is_object() ? before.value("state", "") : "";
      state = ok ? "Ready" : (prev == "Ready" || prev == "NotReady") ? "NotReady" : "Pending";
    }
    status["state"] = state;

    if (status == before) return {};
    Object updated = ws;  // copy only when there is something to write
    updated.body["status"] = std::move(status);
    auto r = cluster_.update_status(std::move(updated));
    if (r) return {};
    if (!r.is(ErrorCode::kConflict)) return r.error();
  }
  return make_error(ErrorCode::kConflict, "status update kept conflicting");
}

}  // namespace ktwin
