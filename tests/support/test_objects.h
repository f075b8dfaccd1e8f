// Small objects the live and served-API tests create.
#pragma once
#include <string>

#include "core/object.h"

namespace ktwin::testing {

inline Object config_map(const std::string& name, const std::string& value, Labels labels = {}) {
  Object o;
  o.api_version = "v1";
  o.kind = "ConfigMap";
  o.meta.name = name;
  o.meta.namespace_ = "default";
  o.meta.labels = std::move(labels);
  o.body["data"] = {{"v", value}};
  return o;
}

}  // namespace ktwin::testing
