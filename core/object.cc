#include "core/object.h"

#include <algorithm>
#include <stdexcept>

#include "core/util/json_pointer.h"

namespace ktwin {

bool ObjectMeta::has_finalizer(std::string_view f) const {
  return std::find(finalizers.begin(), finalizers.end(), f) != finalizers.end();
}

bool ObjectMeta::add_finalizer(std::string_view f) {
  if (has_finalizer(f)) return false;
  finalizers.emplace_back(f);
  return true;
}

bool ObjectMeta::remove_finalizer(std::string_view f) {
  auto it = std::find(finalizers.begin(), finalizers.end(), f);
  if (it == finalizers.end()) return false;
  finalizers.erase(it);
  return true;
}

const std::string* ObjectMeta::label(std::string_view key) const {
  auto it = labels.find(std::string(key));
  return it == labels.end() ? nullptr : &it->second;
}

const std::string* ObjectMeta::annotation(std::string_view key) const {
  auto it = annotations.find(std::string(key));
  return it == annotations.end() ? nullptr : &it->second;
}

const OwnerReference* ObjectMeta::controller_ref() const {
  for (const auto& ref : owner_references)
    if (ref.controller) return &ref;
  return nullptr;
}

namespace {
const json& null_json() {
  static const json kNull;
  return kNull;
}
}  // namespace

const json& Object::at(std::string_view pointer) const {
  const json* cur = &body;
  size_t pos = 1;
  if (pointer.empty() || pointer == "/") return body;
  while (pos <= pointer.size()) {
    size_t next = pointer.find('/', pos);
    std::string_view raw = pointer.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    std::string unescaped;
    std::string_view token = raw;
    if (raw.find('~') != std::string_view::npos) {  // RFC 6901: ~1 is '/', ~0 is '~'
      unescaped = unescape_pointer_token(raw);
      token = unescaped;
    }
    if (cur->is_object()) {
      auto it = cur->find(token);
      if (it == cur->end()) return null_json();
      cur = &*it;
    } else if (cur->is_array()) {
      size_t idx = 0;
      for (char c : token) {
        if (c < '0' || c > '9') return null_json();
        idx = idx * 10 + static_cast<size_t>(c - '0');
      }
      if (idx >= cur->size()) return null_json();
      cur = &(*cur)[idx];
    } else {
      return null_json();
    }
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return *cur;
}

json& Object::mut(std::string_view pointer) { return body[json::json_pointer(std::string(pointer))]; }

std::string Object::str(std::string_view pointer, std::string_view fallback) const {
  const json& v = at(pointer);
  return v.is_string() ? v.get<std::string>() : std::string(fallback);
}

int64_t Object::num(std::string_view pointer, int64_t fallback) const {
  const json& v = at(pointer);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number()) return static_cast<int64_t>(v.get<double>());
  return fallback;
}

std::string ObjectKey::to_string() const {
  return namespace_.empty() ? kind + "/" + name : kind + "/" + namespace_ + "/" + name;
}

ObjectKey key_of(const Object& obj) { return ObjectKey{obj.kind, obj.meta.namespace_, obj.meta.name}; }

json meta_to_json(const ObjectMeta& m) {
  json j = m.extra.is_object() ? m.extra : json::object();
  if (!m.name.empty()) j["name"] = m.name;
  if (!m.generate_name.empty()) j["generateName"] = m.generate_name;
  if (!m.namespace_.empty()) j["namespace"] = m.namespace_;
  if (!m.uid.empty()) j["uid"] = m.uid;
  if (!m.resource_version.empty()) j["resourceVersion"] = m.resource_version;
  if (m.generation != 0) j["generation"] = m.generation;
  if (m.creation_timestamp != 0) j["creationTimestamp"] = format_rfc3339(m.creation_timestamp);
  if (m.deletion_timestamp) j["deletionTimestamp"] = format_rfc3339(*m.deletion_timestamp);
  if (m.deletion_grace_period_seconds) j["deletionGracePeriodSeconds"] = *m.deletion_grace_period_seconds;
  if (!m.labels.empty()) j["labels"] = m.labels;
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  if (!m.owner_references.empty()) {
    json refs = json::array();
    for (const auto& r : m.owner_references) {
      json o = {{"apiVersion", r.api_version}, {"kind", r.kind}, {"name", r.name}, {"uid", r.uid}};
      if (r.controller) o["controller"] = true;
      if (r.block_owner_deletion) o["blockOwnerDeletion"] = true;
      refs.push_back(std::move(o));
    }
    j["ownerReferences"] = std::move(refs);
  }
  if (!m.finalizers.empty()) j["finalizers"] = m.finalizers;
  return j;
}

json to_json(const Object& obj) {
  json j = json::object();
  j["apiVersion"] = obj.api_version;
  j["kind"] = obj.kind;
  j["metadata"] = meta_to_json(obj.meta);
  for (auto it = obj.body.begin(); it != obj.body.end(); ++it) j[it.key()] = it.value();
  return j;
}

namespace {
std::string get_string(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) throw std::invalid_argument(std::string("metadata.") + key + " must be a string");
  return it->get<std::string>();
}

Labels get_string_map(const json& j, const char* key) {
  Labels out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) throw std::invalid_argument(std::string("metadata.") + key + " must be a map");
  for (auto kv = it->begin(); kv != it->end(); ++kv) {
    if (!kv.value().is_string())
      throw std::invalid_argument(std::string("metadata.") + key + "." + kv.key() + " must be a string");
    out[kv.key()] = kv.value().get<std::string>();
  }
  return out;
}
}  // namespace

ObjectMeta meta_from_json(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("metadata must be a map");
  ObjectMeta m;
  static const char* kModelled[] = {"name",
                                    "generateName",
                                    "namespace",
                                    "uid",
                                    "resourceVersion",
                                    "generation",
                                    "creationTimestamp",
                                    "deletionTimestamp",
                                    "deletionGracePeriodSeconds",
                                    "labels",
                                    "annotations",
                                    "ownerReferences",
                                    "finalizers"};
  m.name = get_string(j, "name");
  m.generate_name = get_string(j, "generateName");
  m.namespace_ = get_string(j, "namespace");
  m.uid = get_string(j, "uid");
  m.resource_version = get_string(j, "resourceVersion");
  if (auto it = j.find("generation"); it != j.end() && it->is_number_integer()) m.generation = it->get<int64_t>();
  if (auto s = get_string(j, "creationTimestamp"); !s.empty()) {
    auto t = parse_rfc3339(s);
    if (!t) throw std::invalid_argument("metadata.creationTimestamp is not RFC 3339: " + s);
    m.creation_timestamp = *t;
  }
  if (auto s = get_string(j, "deletionTimestamp"); !s.empty()) {
    auto t = parse_rfc3339(s);
    if (!t) throw std::invalid_argument("metadata.deletionTimestamp is not RFC 3339: " + s);
    m.deletion_timestamp = *t;
  }
  if (auto it = j.find("deletionGracePeriodSeconds"); it != j.end() && it->is_number_integer())
    m.deletion_grace_period_seconds = it->get<int64_t>();
  m.labels = get_string_map(j, "labels");
  m.annotations = get_string_map(j, "annotations");
  if (auto it = j.find("ownerReferences"); it != j.end() && it->is_array()) {
    for (const auto& r : *it) {
      if (!r.is_object()) throw std::invalid_argument("metadata.ownerReferences entries must be maps");
      OwnerReference ref;
      ref.api_version = get_string(r, "apiVersion");
      ref.kind = get_string(r, "kind");
      ref.name = get_string(r, "name");
      ref.uid = get_string(r, "uid");
      ref.controller = r.value("controller", false);
      ref.block_owner_deletion = r.value("blockOwnerDeletion", false);
      m.owner_references.push_back(std::move(ref));
    }
  }
  if (auto it = j.find("finalizers"); it != j.end() && it->is_array()) {
    for (const auto& f : *it) {
      if (!f.is_string()) throw std::invalid_argument("metadata.finalizers entries must be strings");
      m.finalizers.push_back(f.get<std::string>());
    }
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (std::find(std::begin(kModelled), std::end(kModelled), it.key()) == std::end(kModelled))
      m.extra[it.key()] = it.value();
  }
  return m;
}

Object object_from_json(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("object must be a map");
  Object obj;
  auto kind = j.find("kind");
  if (kind == j.end() || !kind->is_string() || kind->get<std::string>().empty())
    throw std::invalid_argument("kind is required");
  obj.kind = kind->get<std::string>();
  auto av = j.find("apiVersion");
  if (av != j.end() && !av->is_string()) throw std::invalid_argument("apiVersion must be a string");
  if (av != j.end()) obj.api_version = av->get<std::string>();
  auto md = j.find("metadata");
  if (md == j.end()) throw std::invalid_argument("metadata is required");
  obj.meta = meta_from_json(*md);
  if (obj.meta.name.empty() && obj.meta.generate_name.empty()) throw std::invalid_argument("metadata.name is required");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "kind" || it.key() == "apiVersion" || it.key() == "metadata") continue;
    obj.body[it.key()] = it.value();
  }
  return obj;
}

OwnerReference owner_reference_to(const Object& owner, bool controller) {
  return OwnerReference{owner.api_version, owner.kind, owner.meta.name, owner.meta.uid, controller, controller};
}

const std::vector<ResourceInfo>& all_resources() {
  static const std::vector<ResourceInfo> kResources = {
      {"kaito.sh", "v1beta1", "Workspace", "workspaces", true, true},
      {"karpenter.sh", "v1", "NodeClaim", "nodeclaims", false, true},
      {"karpenter.sh", "v1", "NodePool", "nodepools", false, true},
      {"karpenter.azure.com", "v1beta1", "AKSNodeClass", "aksnodeclasses", false, true},
      {"karpenter.k8s.aws", "v1", "EC2NodeClass", "ec2nodeclasses", false, true},
      {"", "v1", "Node", "nodes", false, true},
      {"", "v1", "Pod", "pods", true, true},
      {"", "v1", "Service", "services", true, true},
      {"", "v1", "ConfigMap", "configmaps", true, false},
      {"", "v1", "Secret", "secrets", true, false},
      {"", "v1", "Event", "events", true, false},
      {"", "v1", "Namespace", "namespaces", false, true},
      {"apps", "v1", "StatefulSet", "statefulsets", true, true},
      {"apps", "v1", "Deployment", "deployments", true, true},
      {"apps", "v1", "ControllerRevision", "controllerrevisions", true, false},
      {"batch", "v1", "Job", "jobs", true, true},
      {"coordination.k8s.io", "v1", "Lease", "leases", true, false},
  };
  return kResources;
}

const ResourceInfo* resource_info(std::string_view kind) {
  for (const auto& r : all_resources())
    if (r.kind == kind) return &r;
  return nullptr;
}

std::string api_version_of(const ResourceInfo& info) {
  return info.group.empty() ? std::string(info.version) : std::string(info.group) + "/" + std::string(info.version);
}

}  // namespace ktwin
