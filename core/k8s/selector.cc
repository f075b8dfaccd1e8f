#include "core/k8s/selector.h"

#include <algorithm>
#include <stdexcept>

namespace ktwin {

bool requirement_matches(const SelectorRequirement& req, const Labels& labels) {
  auto it = labels.find(req.key);
  const bool has = it != labels.end();
  auto in_values = [&] {
    return has && std::find(req.values.begin(), req.values.end(), it->second) != req.values.end();
  };
  if (req.op == "In") return in_values();
  if (req.op == "NotIn") return !in_values();
  if (req.op == "Exists") return has;
  if (req.op == "DoesNotExist") return !has;
  if (req.op == "Gt" || req.op == "Lt") {
    if (!has || req.values.size() != 1) return false;
    try {
      long long a = std::stoll(it->second), b = std::stoll(req.values[0]);
      return req.op == "Gt" ? a > b : a < b;
    } catch (const std::exception&) {
      return false;
    }
  }
  return false;
}

bool LabelSelector::matches(const Labels& labels) const {
  for (const auto& [k, v] : match_labels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  for (const auto& req : match_expressions)
    if (!requirement_matches(req, labels)) return false;
  return true;
}

json LabelSelector::to_json() const {
  json j = json::object();
  if (!match_labels.empty()) j["matchLabels"] = match_labels;
  if (!match_expressions.empty()) {
    json arr = json::array();
    for (const auto& r : match_expressions) {
      json e = {{"key", r.key}, {"operator", r.op}};
      if (!r.values.empty()) e["values"] = r.values;
      arr.push_back(std::move(e));
    }
    j["matchExpressions"] = std::move(arr);
  }
  return j;
}

static SelectorRequirement requirement_from_json(const json& e, bool allow_numeric) {
  if (!e.is_object()) throw std::invalid_argument("matchExpressions entries must be maps");
  SelectorRequirement r;
  if (!e.contains("key") || !e["key"].is_string()) throw std::invalid_argument("matchExpressions[].key is required");
  if (!e.contains("operator") || !e["operator"].is_string())
    throw std::invalid_argument("matchExpressions[].operator is required");
  r.key = e["key"].get<std::string>();
  r.op = e["operator"].get<std::string>();
  if (e.contains("values") && !e["values"].is_null()) {
    if (!e["values"].is_array()) throw std::invalid_argument("matchExpressions[].values must be a list");
    for (const auto& v : e["values"]) {
      if (!v.is_string()) throw std::invalid_argument("matchExpressions[].values entries must be strings");
      r.values.push_back(v.get<std::string>());
    }
  }
  const bool set_op = r.op == "In" || r.op == "NotIn";
  const bool exist_op = r.op == "Exists" || r.op == "DoesNotExist";
  const bool num_op = allow_numeric && (r.op == "Gt" || r.op == "Lt");
  if (!set_op && !exist_op && !num_op) throw std::invalid_argument("\"" + r.op + "\" is not a valid selector operator");
  if (set_op && r.values.empty()) throw std::invalid_argument("values must be non-empty for operator " + r.op);
  if (exist_op && !r.values.empty()) throw std::invalid_argument("values must be empty for operator " + r.op);
  return r;
}

LabelSelector LabelSelector::from_json(const json& j) {
  LabelSelector s;
  if (j.is_null()) return s;
  if (!j.is_object()) throw std::invalid_argument("label selector must be a map");
  if (auto it = j.find("matchLabels"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw std::invalid_argument("matchLabels must be a map");
    for (auto kv = it->begin(); kv != it->end(); ++kv) {
      if (!kv.value().is_string()) throw std::invalid_argument("matchLabels." + kv.key() + " must be a string");
      s.match_labels[kv.key()] = kv.value().get<std::string>();
    }
  }
  if (auto it = j.find("matchExpressions"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) throw std::invalid_argument("matchExpressions must be a list");
    for (const auto& e : *it) s.match_expressions.push_back(requirement_from_json(e, false));
  }
  return s;
}

std::string LabelSelector::to_string() const {
  std::string out;
  auto sep = [&] {
    if (!out.empty()) out += ",";
  };
  for (const auto& [k, v] : match_labels) {
    sep();
    out += k + "=" + v;
  }
  for (const auto& r : match_expressions) {
    sep();
    if (r.op == "Exists")
      out += r.key;
    else if (r.op == "DoesNotExist")
      out += "!" + r.key;
    else {
      std::string vals;
      for (const auto& v : r.values) vals += (vals.empty() ? "" : ",") + v;
      out += r.key + (r.op == "In" ? " in (" : r.op == "NotIn" ? " notin (" : " " + r.op + " (") + vals + ")";
    }
  }
  return out;
}

bool node_matches_pod_selectors(const Labels& node_labels, const json& spec) {
  if (auto ns = spec.find("nodeSelector"); ns != spec.end() && ns->is_object()) {
    for (auto kv = ns->begin(); kv != ns->end(); ++kv) {
      auto it = node_labels.find(kv.key());
      if (it == node_labels.end() || !kv.value().is_string() || it->second != kv.value().get<std::string>())
        return false;
    }
  }
  const json* terms = nullptr;
  if (auto a = spec.find("affinity"); a != spec.end() && a->is_object())
    if (auto na = a->find("nodeAffinity"); na != a->end() && na->is_object())
      if (auto req = na->find("requiredDuringSchedulingIgnoredDuringExecution"); req != na->end() && req->is_object())
        if (auto t = req->find("nodeSelectorTerms"); t != req->end() && t->is_array()) terms = &*t;
  if (!terms || terms->empty()) return true;
  for (const auto& term : *terms) {  // terms are ORed, expressions within a term ANDed
    bool ok = true;
    if (auto exprs = term.find("matchExpressions"); exprs != term.end() && exprs->is_array()) {
      for (const auto& e : *exprs) {
        try {
          if (!requirement_matches(requirement_from_json(e, true), node_labels)) {
            ok = false;
            break;
          }
        } catch (const std::invalid_argument&) {
          ok = false;
          break;
        }
      }
    }
    if (ok) return true;
  }
  return false;
}

}  // namespace ktwin
