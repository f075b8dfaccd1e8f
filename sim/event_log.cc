#include "sim/event_log.h"

#include <cstdio>

#include "core/api/workspace.h"
#include "core/k8s/conditions.h"
#include "core/util/sha256.h"

namespace ktwin::sim {

void EventLog::record(std::string kind, std::string name, std::string what) {
  entries_.push_back(LogEntry{clock_.now() - start_, std::move(kind), std::move(name), std::move(what)});
}

std::string EventLog::entry_json(const LogEntry& e) {
  // Fixed millisecond formatting keeps the file byte-stable across platforms.
  char t[40];
  std::snprintf(t, sizeof t, "%lld.%03lld", static_cast<long long>(e.t / kSecond),
                static_cast<long long>((e.t % kSecond) / kMillisecond));
  return std::string("{\"t_s\":") + t + ",\"kind\":" + json(e.kind).dump() + ",\"name\":" + json(e.name).dump() +
         ",\"what\":" + json(e.what).dump() + "}";
}

std::string EventLog::to_jsonl() const {
  std::string out;
  for (const auto& e : entries_) out += entry_json(e) + "\n";
  return out;
}

std::string EventLog::fingerprint() const { return sha256_hex(to_jsonl()); }

std::string format_sim_time(Duration t) {
  const long long ms = t / kMillisecond;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%4lldm%02lld.%01llds", ms / 60000, (ms / 1000) % 60, (ms / 100) % 10);
  return buf;
}

TransitionRecorder::TransitionRecorder(Cluster& cluster, EventLog& log, Clock& clock, Time start)
    : cluster_(cluster), log_(log), clock_(clock), start_(start) {}

void TransitionRecorder::start() {
  for (const char* kind :
       {"Workspace", "NodePool", "NodeClaim", "Node", "Pod", "StatefulSet", "Service", "Job", "ControllerRevision"})
    watches_.push_back(cluster_.watch(kind, "", [this](const WatchEvent& ev) { on_event(ev); }));
}

void TransitionRecorder::stop() { watches_.clear(); }

namespace {

std::string display_name(const Object& o) {
  return o.meta.namespace_.empty() ? o.meta.name : o.meta.namespace_ + "/" + o.meta.name;
}

// Condition changes between two snapshots, as "Type=Status (Reason)".
std::vector<std::string> condition_changes(const json& before, const json& after, bool reasons) {
  std::vector<std::string> out;
  if (!after.is_array()) return out;
  for (const auto& c : after) {
    const std::string type = c.value("type", "");
    const std::string status = c.value("status", "");
    const std::string reason = c.value("reason", "");
    auto prev = find_condition(before, type);
    if (prev && prev->status == status && (!reasons || prev->reason == reason)) continue;
    std::string line = type + "=" + status;
    if (!reason.empty() && (status != "True" || !prev)) line += " (" + reason + ")";
    out.push_back(line);
  }
  return out;
}

}  // namespace

void TransitionRecorder::on_event(const WatchEvent& ev) {
  const Object& o = *ev.object;
  const std::string key = o.kind + "/" + o.meta.namespace_ + "/" + o.meta.name;
  const std::string who = display_name(o);
  auto log = [&](const std::string& what) { log_.record(o.kind, who, what); };
  const Duration now = clock_.now() - start_;

  if (ev.type == WatchEventType::kDeleted) {
    last_.erase(key);
    log("deleted");
    if (o.kind == "Workspace") workspaces_[o.meta.namespace_ + "/" + o.meta.name].deleted = true;
    return;
  }
  auto it = last_.find(key);
  // Hold the previous snapshot: replacing the map entry below may drop its last reference.
  const ObjectPtr prev_holder = (it != last_.end() && it->second->meta.uid == o.meta.uid) ? it->second : nullptr;
  const Object* prev = prev_holder.get();
  last_[key] = ev.object;
  if (!prev) {
    log("created");
    // A workspace re-created under the same name starts a new history. Watches of different kinds are
    // not ordered with each other, so its first NodeClaim may be seen before the workspace itself.
    if (o.kind == "Workspace") {
      WorkspaceHistory& h = workspaces_[o.meta.namespace_ + "/" + o.meta.name];
      if (h.deleted) h = WorkspaceHistory{};
    }
    std::string ns, ws;
    if (o.kind == "NodeClaim" && kaito::owning_workspace(o, ns, ws)) ++workspaces_[ns + "/" + ws].nodeclaims_created;
  }
  if (o.meta.deletion_timestamp && (!prev || !prev->meta.deletion_timestamp)) log("deleting");

  // KAITO's revision annotation moves when the workload spec changes (adapters, config).
  if ((o.kind == "Workspace" || o.kind == "StatefulSet") && prev) {
    const std::string* before = prev->meta.annotation(kaito::kAnnotationRevision);
    const std::string* after = o.meta.annotation(kaito::kAnnotationRevision);
    if (before && after && *before != *after) log("revision " + *after);
  }

  static const json kNull;
  const json& before_conds = prev ? prev->at("/status/conditions") : kNull;
  const json& conds = o.at("/status/conditions");
  if (o.kind == "Workspace") {
    if (prev && prev->num("/status/targetNodeCount") == 0 && o.num("/status/targetNodeCount") > 0)
      log("targetNodeCount=" + std::to_string(o.num("/status/targetNodeCount")));
    for (const auto& c : condition_changes(before_conds, conds, true)) log(c);
    const std::string state = o.str("/status/state");
    if (!state.empty() && (!prev || prev->str("/status/state") != state)) log("state " + state);
    auto& hist = workspaces_[o.meta.namespace_ + "/" + o.meta.name];
    if (!hist.ready_at && condition_is_true(conds, kaito::kCondWorkspaceSucceeded)) hist.ready_at = now;
  } else if (o.kind == "NodeClaim" || o.kind == "Job") {
    for (const auto& c : condition_changes(before_conds, conds, true)) log(c);
  } else if (o.kind == "NodePool") {
    const json& replicas = o.at("/spec/replicas");
    if (!replicas.is_null() && (!prev || prev->at("/spec/replicas") != replicas)) log("replicas=" + replicas.dump());
  } else if (o.kind == "Node") {
    for (const auto& c : condition_changes(before_conds, conds, false))
      if (c.rfind("Ready=", 0) == 0) log(c);
    if (condition_is_true(conds, "Ready") && !node_ready_.count(o.meta.name)) node_ready_[o.meta.name] = now;
    const json& gpu = o.at("/status/allocatable/nvidia.com~1gpu");
    if (!gpu.is_null() && (!prev || prev->at("/status/allocatable/nvidia.com~1gpu").is_null()))
      log("nvidia.com/gpu allocatable=" + (gpu.is_string() ? gpu.get<std::string>() : gpu.dump()));
  } else if (o.kind == "Pod") {
    const std::string node = o.str("/spec/nodeName");
    if (!node.empty() && (!prev || prev->str("/spec/nodeName").empty())) log("scheduled to " + node);
    const std::string phase = o.str("/status/phase");
    if (!phase.empty() && (!prev || prev->str("/status/phase") != phase)) log("phase " + phase);
    for (const auto& c : condition_changes(before_conds, conds, true))
      if (c.rfind("Ready=", 0) == 0 || c.rfind("PodScheduled=False", 0) == 0) log(c);
  } else if (o.kind == "StatefulSet") {
    const int64_t ready = o.num("/status/readyReplicas");
    if (prev && prev->num("/status/readyReplicas") != ready)
      log("ready " + std::to_string(ready) + "/" + std::to_string(o.num("/spec/replicas")));
  }
}

}  // namespace ktwin::sim
