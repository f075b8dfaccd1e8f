#include "live/leader_election.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace ktwin::live {

std::string format_micro_time(Time t) {
  const Time secs = t >= 0 ? t / kSecond : (t - kSecond + 1) / kSecond;
  const int64_t micros = (t - secs * kSecond) / 1000;
  const std::string base = format_rfc3339(secs * kSecond);  // "...:SSZ"
  char frac[32];
  std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(micros));
  return base.substr(0, base.size() - 1) + frac + "Z";
}

LeaseLock::LeaseLock(Cluster& cluster, Clock& clock, LeaderElectionConfig config)
    : cluster_(cluster), clock_(clock), config_(std::move(config)) {}

bool LeaseLock::try_acquire_or_renew() {
  const Time now = clock_.now();
  const int64_t duration_s = std::max<int64_t>(1, config_.lease_duration / kSecond);
  auto current = cluster_.get("Lease", config_.namespace_, config_.name);
  if (current.is(ErrorCode::kNotFound)) {
    Object lease;
    lease.api_version = "coordination.k8s.io/v1";
    lease.kind = "Lease";
    lease.meta.name = config_.name;
    lease.meta.namespace_ = config_.namespace_;
    lease.body["spec"] = {{"holderIdentity", config_.identity},
                          {"leaseDurationSeconds", duration_s},
                          {"acquireTime", format_micro_time(now)},
                          {"renewTime", format_micro_time(now)},
                          {"leaseTransitions", 0}};
    auto created = cluster_.create(lease);
    leading_ = created.ok();  // AlreadyExists: another candidate was faster
    if (leading_) {
      observed_spec_ = lease.body["spec"].dump();
      observed_holder_ = config_.identity;
      observed_at_ = now;
    }
    return leading_;
  }
  if (!current.ok()) {
    // Unreachable API: a leader keeps its role until the renew deadline (the caller's clock).
    leading_ = false;
    return false;
  }
  const Object& lease = **current;
  const json spec = lease.at("/spec").is_object() ? lease.at("/spec") : json::object();
  const std::string spec_text = spec.dump();
  if (spec_text != observed_spec_) {
    observed_spec_ = spec_text;
    observed_at_ = now;
  }
  const std::string holder = spec.value("holderIdentity", "");
  observed_holder_ = holder;
  const Time held_for = static_cast<Time>(spec.value("leaseDurationSeconds", duration_s)) * kSecond;
  if (!holder.empty() && holder != config_.identity && observed_at_ + held_for > now) {
    leading_ = false;
    return false;
  }
  Object next = lease;
  json& s = next.mut("/spec");
  if (holder != config_.identity) {
    s["acquireTime"] = format_micro_time(now);
    s["leaseTransitions"] = spec.value("leaseTransitions", 0) + (holder.empty() ? 0 : 1);
  }
  s["holderIdentity"] = config_.identity;
  s["leaseDurationSeconds"] = duration_s;
  s["renewTime"] = format_micro_time(now);
  auto updated = cluster_.update(next);  // carries the resourceVersion read above
  leading_ = updated.ok();
  if (leading_) {
    observed_spec_ = s.dump();
    observed_holder_ = config_.identity;
    observed_at_ = now;
  }
  return leading_;
}

void LeaseLock::release() {
  if (!leading_) return;
  leading_ = false;
  auto current = cluster_.get("Lease", config_.namespace_, config_.name);
  if (!current.ok() || (*current)->at("/spec/holderIdentity") != config_.identity) return;
  Object next = **current;
  json& s = next.mut("/spec");
  s["holderIdentity"] = "";
  s["leaseDurationSeconds"] = 1;
  s["renewTime"] = format_micro_time(clock_.now());
  (void)cluster_.update(next);  // best effort: if it fails, the Lease expires on its own
}

}  // namespace ktwin::live
