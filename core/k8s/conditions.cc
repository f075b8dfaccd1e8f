#include "core/k8s/conditions.h"

namespace ktwin {

std::optional<Condition> find_condition(const json& conditions, std::string_view type) {
  if (!conditions.is_array()) return std::nullopt;
  for (const auto& c : conditions) {
    if (!c.is_object() || c.value("type", "") != type) continue;
    Condition out;
    out.type = std::string(type);
    out.status = c.value("status", "");
    out.reason = c.value("reason", "");
    out.message = c.value("message", "");
    out.observed_generation = c.value("observedGeneration", int64_t{0});
    if (auto t = c.find("lastTransitionTime"); t != c.end() && t->is_string())
      out.last_transition_time = parse_rfc3339(t->get<std::string>()).value_or(0);
    return out;
  }
  return std::nullopt;
}

namespace {
// Hot path of every readiness check: no copies, no timestamp parsing.
const json* condition_entry(const json& conditions, std::string_view type) {
  if (!conditions.is_array()) return nullptr;
  for (const auto& c : conditions) {
    if (!c.is_object()) continue;
    auto t = c.find("type");
    if (t != c.end() && t->is_string() && t->get_ref<const std::string&>() == type) return &c;
  }
  return nullptr;
}
}  // namespace

std::string condition_status(const json& conditions, std::string_view type) {
  const json* c = condition_entry(conditions, type);
  if (!c) return {};
  auto s = c->find("status");
  return s != c->end() && s->is_string() ? s->get<std::string>() : std::string();
}

bool condition_is_true(const json& conditions, std::string_view type) {
  const json* c = condition_entry(conditions, type);
  if (!c) return false;
  auto s = c->find("status");
  return s != c->end() && s->is_string() && s->get_ref<const std::string&>() == "True";
}

bool set_condition(json& conditions, const Condition& c, Time now) {
  if (!conditions.is_array()) conditions = json::array();
  for (auto& existing : conditions) {
    if (!existing.is_object() || existing.value("type", "") != c.type) continue;
    bool changed = false;
    if (existing.value("status", "") != c.status) {
      existing["status"] = c.status;
      existing["lastTransitionTime"] = format_rfc3339(now);
      changed = true;
    }
    if (existing.value("reason", "") != c.reason) {
      existing["reason"] = c.reason;
      changed = true;
    }
    if (existing.value("message", "") != c.message) {
      existing["message"] = c.message;
      changed = true;
    }
    if (c.observed_generation != 0 && existing.value("observedGeneration", int64_t{0}) != c.observed_generation) {
      existing["observedGeneration"] = c.observed_generation;
      changed = true;
    }
    return changed;
  }
  json entry = {{"type", c.type},
                {"status", c.status},
                {"reason", c.reason},
                {"message", c.message},
                {"lastTransitionTime", format_rfc3339(c.last_transition_time ? c.last_transition_time : now)}};
  if (c.observed_generation != 0) entry["observedGeneration"] = c.observed_generation;
  conditions.push_back(std::move(entry));
  return true;
}

bool remove_condition(json& conditions, std::string_view type) {
  if (!conditions.is_array()) return false;
  for (auto it = conditions.begin(); it != conditions.end(); ++it) {
    if (it->is_object() && it->value("type", "") == type) {
      conditions.erase(it);
      return true;
    }
  }
  return false;
}

}  // namespace ktwin
