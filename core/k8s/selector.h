// Label selectors (metav1.LabelSelector) and node-selector requirements, with Kubernetes matching rules.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/object.h"

namespace ktwin {

struct SelectorRequirement {
  std::string key;
  std::string op;  //!< In, NotIn, Exists, DoesNotExist (label selectors); also Gt, Lt (node selectors)
  std::vector<std::string> values;
  bool operator==(const SelectorRequirement&) const = default;
};

struct LabelSelector {
  Labels match_labels;
  std::vector<SelectorRequirement> match_expressions;

  bool empty() const { return match_labels.empty() && match_expressions.empty(); }
  bool matches(const Labels& labels) const;
  json to_json() const;
  //! Throws std::invalid_argument on a malformed selector (unknown operator, In without values...).
  static LabelSelector from_json(const json& j);
  //! "a=b,c in (d,e)" form, as kubectl prints selectors.
  std::string to_string() const;
};

bool requirement_matches(const SelectorRequirement& req, const Labels& labels);

//! A node's labels against a pod's nodeSelector and required node affinity terms (ORed terms).
bool node_matches_pod_selectors(const Labels& node_labels, const json& pod_spec);

}  // namespace ktwin
