// Strict decoding of a Workspace's resource/inference/tuning into the typed view, the way the API
// server's structural schema would: wrong types and unknown fields fail with the JSON pointer.
#include "core/api/workspace.h"
#include "core/util/json_pointer.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <string_view>

namespace ktwin::kaito {

namespace {

const char* type_name(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "map";
    case json::value_t::array:
      return "list";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    default:
      return "value";
  }
}

[[noreturn]] void wrong_type(const std::string& ptr, const char* want, const json& got) {
  throw FieldError(ptr, std::string("expected ") + want + ", got " + type_name(got));
}

//! Keys of `obj` must all be in `allowed`; the first stranger raises a FieldError on itself.
void check_fields(const json& obj, const std::string& ptr, std::initializer_list<std::string_view> allowed) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end())
      throw FieldError(pointer_join(ptr, it.key()), "unknown field \"" + it.key() + "\"");
  }
}

const json* child(const json& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;  // null means unset, as in Kubernetes
  return &*it;
}

const json* object_at(const json& obj, std::string_view key, const std::string& ptr) {
  const json* v = child(obj, key);
  if (v && !v->is_object()) wrong_type(pointer_join(ptr, key), "a map", *v);
  return v;
}

std::string string_at(const json& obj, std::string_view key, const std::string& ptr) {
  const json* v = child(obj, key);
  if (!v) return {};
  if (!v->is_string()) wrong_type(pointer_join(ptr, key), "a string", *v);
  return v->get<std::string>();
}

std::optional<int> int_at(const json& obj, std::string_view key, const std::string& ptr) {
  const json* v = child(obj, key);
  if (!v) return std::nullopt;
  // Kubernetes decodes these fields into int32: anything larger is an error there too, never a wrap.
  auto in_range = [&](double d) {
    if (d < std::numeric_limits<int32_t>::min() || d > std::numeric_limits<int32_t>::max())
      throw FieldError(pointer_join(ptr, key), "must fit in a 32-bit integer, got " + v->dump());
    return static_cast<int>(d);
  };
  if (v->is_number_unsigned()) return in_range(static_cast<double>(v->get<uint64_t>()));
  if (v->is_number_integer()) return in_range(static_cast<double>(v->get<int64_t>()));
  if (v->is_number_float()) {
    double d = v->get<double>();
    if (std::floor(d) == d) return in_range(d);
  }
  wrong_type(pointer_join(ptr, key), "an integer", *v);
}

std::vector<std::string> strings_at(const json& obj, std::string_view key, const std::string& ptr) {
  std::vector<std::string> out;
  const json* v = child(obj, key);
  if (!v) return out;
  const std::string p = pointer_join(ptr, key);
  if (!v->is_array()) wrong_type(p, "a list of strings", *v);
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) wrong_type(pointer_join(p, i), "a string", (*v)[i]);
    out.push_back((*v)[i].get<std::string>());
  }
  return out;
}

//! Schemaless fields (template, volumeSource) keep their JSON but must at least be maps.
json raw_object_at(const json& obj, std::string_view key, const std::string& ptr) {
  const json* v = object_at(obj, key, ptr);
  return v ? *v : json();
}

bool is_beta(const Object& ws) { return ws.api_version != kV1alpha1; }

PresetSpec parse_preset(const json& j, const std::string& ptr, bool beta) {
  check_fields(j, ptr, {"name", "accessMode", "presetOptions"});
  PresetSpec p;
  if (!child(j, "name")) throw FieldError(pointer_join(ptr, "name"), "required field is missing");
  p.name = string_at(j, "name", ptr);
  p.access_mode = string_at(j, "accessMode", ptr);
  if (p.access_mode.empty()) p.access_mode = "public";  // the CRD default
  if (p.access_mode != "public" && p.access_mode != "private")
    throw FieldError(pointer_join(ptr, "accessMode"),
                     "Unsupported value: \"" + p.access_mode + "\": supported values: \"public\", \"private\"");
  if (const json* opts = object_at(j, "presetOptions", ptr)) {
    const std::string optr = pointer_join(ptr, "presetOptions");
    if (beta) {
      // modelWeightsPVC/SubPath exist in newer v1beta1 schemas; accepted, not modelled.
      check_fields(*opts, optr,
                   {"image", "imagePullSecrets", "modelAccessSecret", "modelWeightsPVC", "modelWeightsSubPath"});
      string_at(*opts, "modelWeightsPVC", optr);
      string_at(*opts, "modelWeightsSubPath", optr);
    } else {
      check_fields(*opts, optr, {"image", "imagePullSecrets"});
    }
    p.image = string_at(*opts, "image", optr);
    p.image_pull_secrets = strings_at(*opts, "imagePullSecrets", optr);
    p.model_access_secret = string_at(*opts, "modelAccessSecret", optr);
  }
  return p;
}

DataSource parse_data_source(const json& j, const std::string& ptr) {
  check_fields(j, ptr, {"name", "urls", "volumeSource", "image", "imagePullSecrets"});
  DataSource d;
  d.name = string_at(j, "name", ptr);
  d.urls = strings_at(j, "urls", ptr);
  d.volume_source = raw_object_at(j, "volumeSource", ptr);
  d.image = string_at(j, "image", ptr);
  d.image_pull_secrets = strings_at(j, "imagePullSecrets", ptr);
  return d;
}

DataDestination parse_data_destination(const json& j, const std::string& ptr) {
  check_fields(j, ptr, {"volumeSource", "image", "imagePushSecret"});
  DataDestination d;
  d.volume_source = raw_object_at(j, "volumeSource", ptr);
  d.image = string_at(j, "image", ptr);
  d.image_push_secret = string_at(j, "imagePushSecret", ptr);
  return d;
}

ResourceSpec parse_resource(const json& j, const std::string& ptr, bool beta) {
  if (beta)
    check_fields(j, ptr, {"count", "instanceType", "labelSelector", "preferredNodes", "partition"});
  else
    check_fields(j, ptr, {"count", "instanceType", "labelSelector", "preferredNodes"});
  ResourceSpec r;
  r.count = int_at(j, "count", ptr);
  r.instance_type = string_at(j, "instanceType", ptr);
  if (const json* sel = object_at(j, "labelSelector", ptr)) {
    const std::string sptr = pointer_join(ptr, "labelSelector");
    check_fields(*sel, sptr, {"matchLabels", "matchExpressions"});
    if (const json* ml = object_at(*sel, "matchLabels", sptr)) {
      for (auto it = ml->begin(); it != ml->end(); ++it)
        if (!it.value().is_string())
          wrong_type(pointer_join(pointer_join(sptr, "matchLabels"), it.key()), "a string", it.value());
    }
    if (const json* me = child(*sel, "matchExpressions")) {
      const std::string eptr = pointer_join(sptr, "matchExpressions");
      if (!me->is_array()) wrong_type(eptr, "a list", *me);
      for (size_t i = 0; i < me->size(); ++i) {
        const json& e = (*me)[i];
        const std::string iptr = pointer_join(eptr, i);
        if (!e.is_object()) wrong_type(iptr, "a map", e);
        check_fields(e, iptr, {"key", "operator", "values"});
        string_at(e, "key", iptr);
        string_at(e, "operator", iptr);
        strings_at(e, "values", iptr);
      }
    }
    r.label_selector = *sel;
  }
  r.preferred_nodes = strings_at(j, "preferredNodes", ptr);
  if (beta) {
    if (const json* part = object_at(j, "partition", ptr)) {
      const std::string pptr = pointer_join(ptr, "partition");
      check_fields(*part, pptr, {"mode", "profile", "count"});
      Partition p;
      p.mode = string_at(*part, "mode", pptr);
      p.profile = string_at(*part, "profile", pptr);
      p.count = int_at(*part, "count", pptr).value_or(0);
      r.partition = p;
    }
  }
  return r;
}

InferenceSpec parse_inference(const json& j, const std::string& ptr, bool beta) {
  check_fields(j, ptr, {"preset", "template", "config", "adapters"});
  InferenceSpec s;
  if (const json* p = object_at(j, "preset", ptr)) s.preset = parse_preset(*p, pointer_join(ptr, "preset"), beta);
  s.template_ = raw_object_at(j, "template", ptr);
  s.config = string_at(j, "config", ptr);
  if (const json* ads = child(j, "adapters")) {
    const std::string aptr = pointer_join(ptr, "adapters");
    if (!ads->is_array()) wrong_type(aptr, "a list", *ads);
    for (size_t i = 0; i < ads->size(); ++i) {
      const json& a = (*ads)[i];
      const std::string iptr = pointer_join(aptr, i);
      if (!a.is_object()) wrong_type(iptr, "a map", a);
      check_fields(a, iptr, {"source", "strength"});
      Adapter ad;
      if (const json* src = object_at(a, "source", iptr))
        ad.source = parse_data_source(*src, pointer_join(iptr, "source"));
      if (child(a, "strength")) ad.strength = string_at(a, "strength", iptr);
      s.adapters.push_back(std::move(ad));
    }
  }
  return s;
}

TuningSpec parse_tuning(const json& j, const std::string& ptr, bool beta) {
  check_fields(j, ptr, {"preset", "method", "config", "input", "output"});
  TuningSpec t;
  if (const json* p = object_at(j, "preset", ptr)) t.preset = parse_preset(*p, pointer_join(ptr, "preset"), beta);
  t.method = string_at(j, "method", ptr);
  t.config = string_at(j, "config", ptr);
  if (const json* in = object_at(j, "input", ptr)) t.input = parse_data_source(*in, pointer_join(ptr, "input"));
  if (const json* out = object_at(j, "output", ptr))
    t.output = parse_data_destination(*out, pointer_join(ptr, "output"));
  return t;
}

}  // namespace

WorkspaceSpec parse_workspace_spec(const Object& ws) {
  if (ws.api_version != kV1alpha1 && ws.api_version != kV1beta1)
    throw FieldError("/apiVersion", "unsupported apiVersion \"" + ws.api_version + "\" for Workspace (want " +
                                        kV1alpha1 + " or " + kV1beta1 + ")");
  const bool beta = is_beta(ws);
  if (!ws.body.is_object()) wrong_type("", "a map", ws.body);
  // A Workspace has no `spec`; catching a stray one here saves users a silent no-op.
  check_fields(ws.body, "", {"resource", "inference", "tuning", "status"});
  WorkspaceSpec spec;
  if (const json* r = object_at(ws.body, "resource", "")) spec.resource = parse_resource(*r, "/resource", beta);
  if (const json* i = object_at(ws.body, "inference", "")) spec.inference = parse_inference(*i, "/inference", beta);
  if (const json* t = object_at(ws.body, "tuning", "")) spec.tuning = parse_tuning(*t, "/tuning", beta);
  return spec;
}

bool is_workspace(const Object& obj) {
  return obj.kind == "Workspace" && (obj.api_version == kV1alpha1 || obj.api_version == kV1beta1);
}

std::string runtime_of(const Object& ws) {
  const std::string* r = ws.meta.annotation(kAnnotationRuntime);
  return r && *r == "transformers" ? "transformers" : "vllm";
}

int target_node_count(const Object& ws) { return static_cast<int>(ws.num("/status/targetNodeCount", 0)); }

bool is_reserved_label(const std::string& key) {
  static constexpr std::string_view kReserved[] = {"kaito.sh/workspace", "kaito.sh/workspacenamespace",
                                                   "kaito.sh/ragengine", "kaito.sh/ragenginenamespace"};
  for (auto r : kReserved)
    if (key == r) return true;
  return key.rfind("karpenter.kaito.sh/", 0) == 0;
}

bool owning_workspace(const Object& obj, std::string& namespace_, std::string& name) {
  for (const auto& [name_key, ns_key] : {std::pair{kLabelWorkspace, kLabelWorkspaceNamespace},
                                         std::pair{kLabelKarpenterWorkspaceName, kLabelKarpenterWorkspaceNamespace}}) {
    const std::string* n = obj.meta.label(name_key);
    const std::string* ns = obj.meta.label(ns_key);
    if (n && ns) {
      name = *n;
      namespace_ = *ns;
      return true;
    }
  }
  return false;
}

Labels sanitized_match_labels(const json& label_selector) {
  Labels out;
  if (!label_selector.is_object()) return out;
  auto ml = label_selector.find("matchLabels");
  if (ml == label_selector.end() || !ml->is_object()) return out;
  for (auto it = ml->begin(); it != ml->end(); ++it) {
    if (!it.value().is_string() || is_reserved_label(it.key())) continue;
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

}  // namespace ktwin::kaito
