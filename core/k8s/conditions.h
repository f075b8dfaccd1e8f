// Conditions in status (metav1.Condition and the node/pod variants): find and set with Kubernetes
// semantics, where lastTransitionTime moves only when the status changes.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "core/object.h"

namespace ktwin {

struct Condition {
  std::string type;
  std::string status;  //!< "True", "False", "Unknown"
  std::string reason;
  std::string message;
  int64_t observed_generation = 0;  //!< 0: not written
  Time last_transition_time = 0;
};

//! `conditions` is the JSON array at status.conditions (may be null). nullopt when absent.
std::optional<Condition> find_condition(const json& conditions, std::string_view type);
//! Convenience: status of a condition, or "" when absent.
std::string condition_status(const json& conditions, std::string_view type);
bool condition_is_true(const json& conditions, std::string_view type);

//! Sets a condition in place; returns true when anything other than timestamps changed (or when it
//! was added). lastTransitionTime is set to `now` only when the status changes.
bool set_condition(json& conditions, const Condition& c, Time now);
bool remove_condition(json& conditions, std::string_view type);

}  // namespace ktwin
