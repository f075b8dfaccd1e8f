#include "core/k8s/printers.h"

#include <algorithm>

#include "core/k8s/conditions.h"

namespace ktwin {

std::string human_duration(Duration d) {
  const int64_t seconds = d / kSecond;
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return std::to_string(seconds) + "s";
  const int64_t minutes = d / kMinute;
  if (minutes < 10) {
    const int64_t s = seconds % 60;
    return std::to_string(minutes) + "m" + (s ? std::to_string(s) + "s" : "");
  }
  if (minutes < 180) return std::to_string(minutes) + "m";
  const int64_t hours = d / kHour;
  if (hours < 8) {
    const int64_t m = minutes % 60;
    return std::to_string(hours) + "h" + (m ? std::to_string(m) + "m" : "");
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    const int64_t h = hours % 24;
    return std::to_string(hours / 24) + "d" + (h ? std::to_string(h) + "h" : "");
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    const int64_t dy = (hours / 24) % 365;
    return std::to_string(hours / 24 / 365) + "y" + (dy ? std::to_string(dy) + "d" : "");
  }
  return std::to_string(hours / 24 / 365) + "y";
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

namespace {

std::string age(const Object& o, Time now) {
  return o.meta.creation_timestamp ? human_duration(now - o.meta.creation_timestamp) : "<unknown>";
}

std::string label_or(const Object& o, const char* key, const std::string& fallback = "") {
  const std::string* v = o.meta.label(key);
  return v ? *v : fallback;
}

}  // namespace

PrintedTable table_of(const std::string& kind, const std::vector<ObjectPtr>& objects, Time now,
                      const std::string& ws_version) {
  PrintedTable table;
  std::vector<std::vector<std::string>>& rows = table.rows;
  auto add = [&](std::vector<std::string> header) { table.headers = std::move(header); };
  if (kind == "Workspace") {
    if (ws_version == "kaito.sh/v1alpha1")
      add({"NAME", "INSTANCE", "RESOURCEREADY", "INFERENCEREADY", "JOBSTARTED", "WORKSPACESUCCEEDED", "AGE"});
    else
      add({"NAME", "INSTANCE", "RESOURCEREADY", "INFERENCEREADY", "JOBSTARTED", "WORKSPACESUCCEEDED", "TARGETNODECOUNT",
           "STATE", "AGE"});
  } else if (kind == "NodeClaim") {
    add({"NAME", "TYPE", "CAPACITY", "ZONE", "NODE", "READY", "AGE"});
  } else if (kind == "NodePool") {
    add({"NAME", "NODECLASS", "NODES", "READY", "AGE"});
  } else if (kind == "Node") {
    add({"NAME", "STATUS", "ROLES", "AGE", "VERSION"});
  } else if (kind == "StatefulSet") {
    add({"NAME", "READY", "AGE"});
  } else if (kind == "Pod") {
    add({"NAME", "READY", "STATUS", "RESTARTS", "AGE"});
  } else {
    add({"NAME", "AGE"});
  }
  for (const auto& p : objects) {
    const Object& o = *p;
    const json& conds = o.at("/status/conditions");
    std::vector<std::string> row;
    if (kind == "Workspace") {
      row = {o.meta.name,
             o.str("/resource/instanceType"),
             condition_status(conds, "ResourceReady"),
             condition_status(conds, "InferenceReady"),
             condition_status(conds, "JobStarted"),
             condition_status(conds, "WorkspaceSucceeded")};
      if (ws_version != "kaito.sh/v1alpha1") {
        const int64_t t = o.num("/status/targetNodeCount");
        row.push_back(t ? std::to_string(t) : "");
        row.push_back(o.str("/status/state"));
      }
    } else if (kind == "NodeClaim") {
      std::string type = label_or(o, "node.kubernetes.io/instance-type");
      if (type.empty() && o.at("/spec/requirements").is_array())
        for (const auto& r : o.at("/spec/requirements"))
          if (r.value("key", "") == "node.kubernetes.io/instance-type" && r.contains("values") && !r["values"].empty())
            type = r["values"][0].get<std::string>();
      row = {o.meta.name,
             type,
             label_or(o, "karpenter.sh/capacity-type", "on-demand"),
             label_or(o, "topology.kubernetes.io/zone"),
             o.str("/status/nodeName"),
             condition_status(conds, "Ready")};
    } else if (kind == "NodePool") {
      const std::string ready = condition_status(conds, "Ready");
      row = {o.meta.name, o.str("/spec/template/spec/nodeClassRef/name"), std::to_string(o.num("/status/nodes")),
             ready.empty() ? "True" : ready};
    } else if (kind == "Node") {
      std::string st = condition_status(conds, "Ready");
      st = st == "True" ? "Ready" : "NotReady";  // Unknown or missing reads NotReady, as kubectl prints it
      if (o.at("/spec/unschedulable") == true) st += ",SchedulingDisabled";
      row = {o.meta.name, st, "<none>"};
      row.push_back(age(o, now));
      row.push_back(o.str("/status/nodeInfo/kubeletVersion"));
      rows.push_back(std::move(row));
      continue;
    } else if (kind == "StatefulSet") {
      row = {o.meta.name,
             std::to_string(o.num("/status/readyReplicas")) + "/" + std::to_string(o.num("/spec/replicas"))};
    } else if (kind == "Pod") {
      int total = 0, ready = 0, restarts = 0;
      std::string status = o.str("/status/phase", "Pending");
      if (o.at("/status/containerStatuses").is_array())
        for (const auto& cs : o.at("/status/containerStatuses")) {
          ++total;
          ready += cs.value("ready", false) ? 1 : 0;
          restarts += cs.value("restartCount", 0);
          if (cs.contains("state") && cs["state"].contains("waiting"))
            status = cs["state"]["waiting"].value("reason", status);
        }
      if (o.meta.deletion_timestamp) status = "Terminating";
      row = {o.meta.name, std::to_string(ready) + "/" + std::to_string(total), status, std::to_string(restarts)};
    } else {
      row = {o.meta.name};
    }
    row.push_back(age(o, now));
    rows.push_back(std::move(row));
  }
  return table;
}

std::string print_objects(const std::string& kind, const std::vector<ObjectPtr>& objects, Time now,
                          const std::string& ws_version) {
  const ResourceInfo* info = resource_info(kind);
  const bool namespaced = info ? info->namespaced : true;
  if (objects.empty()) return namespaced ? "No resources found in default namespace.\n" : "No resources found\n";
  PrintedTable table = table_of(kind, objects, now, ws_version);
  std::vector<std::vector<std::string>> rows;
  rows.reserve(table.rows.size() + 1);
  rows.push_back(std::move(table.headers));
  for (auto& r : table.rows) rows.push_back(std::move(r));
  // Objects from several namespaces print like `kubectl get -A`: NAMESPACE first.
  bool many_namespaces = false;
  for (const auto& p : objects)
    many_namespaces = many_namespaces || p->meta.namespace_ != objects.front()->meta.namespace_;
  if (namespaced && many_namespaces) {
    rows[0].insert(rows[0].begin(), "NAMESPACE");
    for (size_t i = 1; i < rows.size(); ++i) rows[i].insert(rows[i].begin(), objects[i - 1]->meta.namespace_);
  }
  return format_table(rows);
}

}  // namespace ktwin
