#include "cluster_model/fault_injection.h"

namespace ktwin::cluster_model {

double FaultyCluster::next_unit() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
}

std::optional<Error> FaultyCluster::fault(bool write, std::string_view kind, std::string_view name) {
  ++stats_.calls;
  if (opts_.unavailable_rate > 0 && next_unit() < opts_.unavailable_rate) {
    ++stats_.unavailable;
    if (stats_.unavailable % 2 == 0) {
      Error e = make_error(ErrorCode::kTooManyRequests,
                           "the server has received too many requests and has asked us to try again later",
                           "TooManyRequests");
      e.retry_after_seconds = 1;
      return e;
    }
    return make_error(ErrorCode::kUnavailable, "the server is currently unable to handle the request",
                      "ServiceUnavailable");
  }
  if (write && opts_.conflict_rate > 0 && next_unit() < opts_.conflict_rate) {
    ++stats_.conflicts;
    return make_error(
        ErrorCode::kConflict,
        "Operation cannot be fulfilled on " + std::string(kind) + " \"" + std::string(name) +
            "\": the object has been modified; please apply your changes to the latest version and try again",
        "Conflict");
  }
  return std::nullopt;
}

Result<ObjectPtr> FaultyCluster::get(std::string_view kind, std::string_view ns, std::string_view name) {
  if (auto e = fault(false, kind, name)) return *e;
  return inner_.get(kind, ns, name);
}

Result<std::vector<ObjectPtr>> FaultyCluster::list(std::string_view kind, const ListOptions& opts) {
  if (auto e = fault(false, kind, "")) return *e;
  return inner_.list(kind, opts);
}

Result<ObjectPtr> FaultyCluster::create(Object obj) {
  if (auto e = fault(false, obj.kind, obj.meta.name)) return *e;
  return inner_.create(std::move(obj));
}

Result<ObjectPtr> FaultyCluster::update(Object obj) {
  if (auto e = fault(true, obj.kind, obj.meta.name)) return *e;
  return inner_.update(std::move(obj));
}

Result<ObjectPtr> FaultyCluster::update_status(Object obj) {
  if (auto e = fault(true, obj.kind, obj.meta.name)) return *e;
  return inner_.update_status(std::move(obj));
}

Result<ObjectPtr> FaultyCluster::patch(std::string_view kind, std::string_view ns, std::string_view name,
                                       const json& merge_patch, bool status) {
  if (auto e = fault(true, kind, name)) return *e;
  return inner_.patch(kind, ns, name, merge_patch, status);
}

Status FaultyCluster::remove(std::string_view kind, std::string_view ns, std::string_view name,
                             const DeleteOptions& opts) {
  if (auto e = fault(false, kind, name)) return *e;
  return inner_.remove(kind, ns, name, opts);
}

Status FaultyCluster::bind_pod(std::string_view ns, std::string_view name, std::string_view node_name) {
  if (auto e = fault(false, "Pod", name)) return *e;
  return inner_.bind_pod(ns, name, node_name);
}

}  // namespace ktwin::cluster_model
