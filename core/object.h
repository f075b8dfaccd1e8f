// Kubernetes objects in the wire format: typed metadata plus the rest of the object as JSON.
// Like an API server, the store and clients treat bodies generically; typed views (core/api/*)
// give controllers convenient access to the fields they use.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"

namespace ktwin {

using json = nlohmann::json;
using Labels = std::map<std::string, std::string>;

struct OwnerReference {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  bool controller = false;
  bool block_owner_deletion = false;
  bool operator==(const OwnerReference&) const = default;
};

struct ObjectMeta {
  std::string name;
  std::string namespace_;
  std::string generate_name;
  std::string uid;
  std::string resource_version;
  int64_t generation = 0;
  Time creation_timestamp = 0;  //!< 0 when unset
  std::optional<Time> deletion_timestamp;
  std::optional<int64_t> deletion_grace_period_seconds;
  Labels labels;
  Labels annotations;
  std::vector<OwnerReference> owner_references;
  std::vector<std::string> finalizers;
  json extra = json::object();  //!< metadata fields we do not model (kept on round trip)

  bool has_finalizer(std::string_view f) const;
  bool add_finalizer(std::string_view f);     //!< true when added
  bool remove_finalizer(std::string_view f);  //!< true when removed
  const std::string* label(std::string_view key) const;
  const std::string* annotation(std::string_view key) const;
  const OwnerReference* controller_ref() const;
};

struct Object {
  std::string api_version;
  std::string kind;
  ObjectMeta meta;
  json body = json::object();  //!< every top-level field except apiVersion, kind, metadata

  //! Convenience accessors into body; return a null json when a path is absent.
  const json& at(std::string_view json_pointer) const;
  json& mut(std::string_view json_pointer);  //!< creates intermediate objects
  std::string str(std::string_view json_pointer, std::string_view fallback = "") const;
  int64_t num(std::string_view json_pointer, int64_t fallback = 0) const;
};

using ObjectPtr = std::shared_ptr<const Object>;

//! Identity of an object: kind + namespace + name ("" namespace for cluster-scoped kinds).
struct ObjectKey {
  std::string kind;
  std::string namespace_;
  std::string name;
  auto operator<=>(const ObjectKey&) const = default;
  std::string to_string() const;  //!< "Workspace/default/workspace-phi-3-mini"
};

ObjectKey key_of(const Object& obj);

json to_json(const Object& obj);
json meta_to_json(const ObjectMeta& meta);
//! Throws std::invalid_argument when `j` is not an object with a string kind and metadata.name
//! (or generateName).
Object object_from_json(const json& j);
ObjectMeta meta_from_json(const json& j);

OwnerReference owner_reference_to(const Object& owner, bool controller = true);

//! What the API knows about each kind: group/version, plural and scope.
struct ResourceInfo {
  std::string_view group;
  std::string_view version;  //!< preferred/storage version
  std::string_view kind;
  std::string_view plural;
  bool namespaced;
  bool status_subresource;
};
//! nullptr for an unknown kind.
const ResourceInfo* resource_info(std::string_view kind);
const std::vector<ResourceInfo>& all_resources();
std::string api_version_of(const ResourceInfo& info);

}  // namespace ktwin
