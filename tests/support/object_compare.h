// Snapshots of the objects a run leaves, normalised so two runs of the same scenario (in-process, against
// `ktwin serve`, or against a real kube-apiserver) can be compared as text, line by line.
#pragma once
#include <algorithm>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "core/object.h"
#include "core/ports.h"

namespace ktwin::testing {

// The kinds the workspace controller writes, and what the world derives from them.
inline const std::vector<std::string>& compared_kinds() {
  static const std::vector<std::string> kinds = {"Workspace",   "NodePool", "AKSNodeClass", "NodeClaim",         "Node",
                                                 "StatefulSet", "Service",  "Pod",          "ControllerRevision"};
  return kinds;
}

using Snapshot = std::map<std::string, json>;  // "Kind/ns/name" -> object

inline Snapshot snapshot(Cluster& api, const std::vector<std::string>& kinds = compared_kinds()) {
  Snapshot out;
  for (const auto& kind : kinds) {
    auto r = api.list(kind);
    if (!r) continue;
    for (const auto& o : r.value()) out[kind + "/" + o->meta.namespace_ + "/" + o->meta.name] = to_json(*o);
  }
  return out;
}

// Keeps, in `actual`, only what `expected` has too (recursively; arrays of the same length element-wise):
// what a real API server adds by defaulting (dnsPolicy, schedulerName, clusterIP, default tolerations...) is
// the server's, not the operator's. Values and everything `expected` has are still compared in full.
inline void prune_to(json& actual, const json& expected) {
  if (actual.is_object() && expected.is_object()) {
    for (auto it = actual.begin(); it != actual.end();) {
      if (!expected.contains(it.key())) {
        it = actual.erase(it);
      } else {
        prune_to(it.value(), expected[it.key()]);
        ++it;
      }
    }
  } else if (actual.is_array() && expected.is_array() && actual.size() == expected.size()) {
    for (size_t i = 0; i < actual.size(); ++i) prune_to(actual[i], expected[i]);
  }
}

inline void prune_to(Snapshot& actual, const Snapshot& expected) {
  for (auto& [key, obj] : actual)
    if (auto e = expected.find(key); e != expected.end()) prune_to(obj, e->second);
}

// Generated names mapped to stable placeholders by order, in keys and bodies: NodeClaim names carry a hash
// of the Workspace's uid, and nodes and VMs embed them; pods of a Job get a random suffix to generateName.
// UIDs are replaced where they stand as values (the Job controller's controller-uid labels, for one).
inline Snapshot canonical_names(const Snapshot& snap) {
  // Claims are numbered by workspace, then by the first pod on their node (a StatefulSet's pods have stable
  // names, while which of several identical nodes a pod lands on is a race), then creation, then name:
  // random suffixes in a live run must not decide which object is which.
  std::map<std::string, std::string> first_pod;  // node -> first pod (by name) bound to it
  for (const auto& [key, obj] : snap)
    if (key.rfind("Pod/", 0) == 0) {
      const std::string node = obj.contains("spec") ? obj["spec"].value("nodeName", "") : "";
      const std::string pod = key.substr(4);
      if (!node.empty() && (!first_pod.contains(node) || pod < first_pod[node])) first_pod[node] = pod;
    }
  using Entry = std::tuple<std::string, std::string, std::string, std::string>;
  std::vector<Entry> claims, generated;
  for (const auto& [key, obj] : snap) {
    const json& meta = obj["metadata"];
    const std::string name = meta.value("name", ""), created = meta.value("creationTimestamp", "");
    if (key.rfind("NodeClaim/", 0) == 0) {
      const json labels = meta.value("labels", json::object());
      const std::string node = obj.contains("status") ? obj["status"].value("nodeName", "") : "";
      const auto pod = first_pod.find(node);
      claims.emplace_back(
          labels.value("kaito.sh/workspacenamespace", "") + "/" + labels.value("kaito.sh/workspace", ""),
          pod == first_pod.end() ? "" : pod->second, created, name);
    } else if (const std::string prefix = meta.value("generateName", "");
               !prefix.empty() && name.rfind(prefix, 0) == 0) {
      generated.emplace_back(key.substr(0, key.find('/') + 1) + meta.value("namespace", "") + "/" + prefix, "", created,
                             name);
    }
  }
  std::sort(claims.begin(), claims.end());
  std::sort(generated.begin(), generated.end());
  std::vector<std::pair<std::string, std::string>> renames;  // name -> placeholder
  for (size_t i = 0; i < claims.size(); ++i)
    renames.emplace_back(std::get<3>(claims[i]), "nodeclaim" + std::to_string(i));
  for (size_t i = 0, n = 0; i < generated.size(); ++i) {
    n = i > 0 && std::get<0>(generated[i]) == std::get<0>(generated[i - 1]) ? n + 1 : 0;
    const std::string& group = std::get<0>(generated[i]);
    renames.emplace_back(std::get<3>(generated[i]), group.substr(group.rfind('/') + 1) + "GEN" + std::to_string(n));
  }
  // Compiled once: rename runs on every object's key and body.
  static const std::regex vmss("aks-(nodeclaim[0-9]+)-[0-9a-f]{8}-vmss");
  static const std::regex uid("\"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\"");
  static const std::regex kaito_created(R"("kaito.sh/creation-timestamp":"[^"]*")");
  auto rename = [&renames](std::string text) {
    for (const auto& [from, to] : renames)
      for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    text = std::regex_replace(text, vmss, "aks-$1-VMSS-vmss");
    text = std::regex_replace(text, uid, "\"UID\"");
    return std::regex_replace(text, kaito_created, R"("kaito.sh/creation-timestamp":"T")");
  };
  Snapshot out;
  for (const auto& [key, obj] : snap) out[rename(key)] = json::parse(rename(obj.dump()));
  return out;
}

// Drops what legitimately differs between two runs: identities, versions, clocks (the live operator
// stamps wall-clock times), and generated names.
inline std::string normalize(const Snapshot& snap) {
  static const std::set<std::string> dropped = {
      "uid",       "resourceVersion", "creationTimestamp", "lastTransitionTime", "lastHeartbeatTime", "lastProbeTime",
      "startTime", "startedAt",       "finishedAt",        "deletionTimestamp",  "managedFields"};
  std::function<void(json&)> scrub = [&](json& j) {
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end();) {
        if (dropped.count(it.key())) {
          it = j.erase(it);
        } else {
          // Conditions are a set keyed by type; the order of first appearance depends on timing.
          if (it.key() == "conditions" && it.value().is_array())
            std::sort(it.value().begin(), it.value().end(),
                      [](const json& a, const json& b) { return a.value("type", "") < b.value("type", ""); });
          scrub(it.value());
          ++it;
        }
      }
    } else if (j.is_array()) {
      for (auto& e : j) scrub(e);
    }
  };
  std::string text;
  for (const auto& [key, obj] : canonical_names(snap)) {
    json o = obj;
    scrub(o);
    text += key + " " + o.dump() + "\n";
  }
  return text;
}

// The first lines (up to `max`) where two normalised snapshots differ, each with the JSON patch (RFC 6902)
// from the expected object to the actual one when both exist, for a readable failure.
inline std::string first_difference(const std::string& a, const std::string& b, int max = 1) {
  std::istringstream as(a), bs(b);
  std::string la, lb, out;
  while (max > 0) {
    const bool ga = static_cast<bool>(std::getline(as, la));
    const bool gb = static_cast<bool>(std::getline(bs, lb));
    if (!ga && !gb) break;
    if (la != lb) {
      const size_t sa = la.find(' '), sb = lb.find(' ');
      if (ga && gb && sa != std::string::npos && la.substr(0, sa) == lb.substr(0, sb)) {
        out += la.substr(0, sa) +
               " differs: " + json::diff(json::parse(la.substr(sa + 1)), json::parse(lb.substr(sb + 1))).dump() + "\n";
      } else {
        out += "in-process: " + (ga ? la : "<end>") + "\nlive:       " + (gb ? lb : "<end>") + "\n";
      }
      --max;
    }
  }
  return out;
}

}  // namespace ktwin::testing
