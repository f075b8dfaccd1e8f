// Internal to gpu_model/*.cc: typed, strictly checked access to a map of a YamlDocument (catalog/yaml_json.h),
// every failure an InputError at file:line:column naming the field. Not for public headers (pulls in JSON).
// (catalog/catalog.cc has the same idea in an anonymous namespace; see the report about sharing it.)
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "catalog/yaml_json.h"

namespace ktwin::gpu::detail {

class MapReader {
 public:
  MapReader(const catalog::YamlDocument& doc, std::string ptr, const std::vector<std::string>& allowed)
      : doc_(doc), ptr_(std::move(ptr)) {
    if (!node().is_object()) throw doc_.error(ptr_, "must be a map");
    catalog::check_keys(doc_, ptr_, allowed);
  }
  std::string child(const std::string& key) const { return catalog::pointer_join(ptr_, key); }
  bool has(const std::string& key) const {
    auto it = node().find(key);
    return it != node().end() && !it->is_null();
  }
  const catalog::YamlDocument& doc() const { return doc_; }

  std::string str(const std::string& key, bool required, std::string fallback = {}) const {
    const json* v = get(key, required);
    if (v == nullptr) return fallback;
    if (!v->is_string() || v->get<std::string>().empty()) throw doc_.error(child(key), "must be a non-empty string");
    return v->get<std::string>();
  }
  double number(const std::string& key, bool required, double fallback, double min, double max = 1e300) const {
    const json* v = get(key, required);
    if (v == nullptr) return fallback;
    if (!v->is_number()) throw doc_.error(child(key), "must be a number, got " + v->dump());
    double d = v->get<double>();
    if (!std::isfinite(d) || d < min || d > max) {
      throw doc_.error(child(key), "must be a number in [" + fmt(min) + ", " + fmt(max) + "], got " + v->dump());
    }
    return d;
  }
  int integer(const std::string& key, bool required, int fallback, int min) const {
    const json* v = get(key, required);
    if (v == nullptr) return fallback;
    if (!v->is_number_integer()) throw doc_.error(child(key), "must be an integer, got " + v->dump());
    const int64_t i = v->get<int64_t>();
    if (i < min || i > 1'000'000'000) throw doc_.error(child(key), "must be an integer >= " + std::to_string(min));
    return static_cast<int>(i);
  }
  bool flag(const std::string& key, bool fallback) const {
    const json* v = get(key, false);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) throw doc_.error(child(key), "must be true or false");
    return v->get<bool>();
  }
  std::vector<std::string> str_list(const std::string& key) const {
    const json* v = get(key, false);
    if (v == nullptr) return {};
    if (!v->is_array()) throw doc_.error(child(key), "must be a list of strings");
    std::vector<std::string> out;
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) throw doc_.error(catalog::pointer_join(child(key), i), "must be a string");
      out.push_back((*v)[i].get<std::string>());
    }
    return out;
  }
  size_t list_size(const std::string& key) const {
    const json* v = get(key, true);
    if (!v->is_array()) throw doc_.error(child(key), "must be a list");
    return v->size();
  }

 private:
  const json& node() const { return ptr_.empty() ? doc_.value : doc_.value.at(json::json_pointer(ptr_)); }
  const json* get(const std::string& key, bool required) const {
    auto it = node().find(key);
    if (it != node().end() && !it->is_null()) return &*it;
    if (required) throw doc_.error(it != node().end() ? child(key) : ptr_, "missing required field \"" + key + "\"");
    return nullptr;
  }
  static std::string fmt(double d) {
    if (d >= 1e299) return "inf";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", d);
    return buf;
  }
  const catalog::YamlDocument& doc_;
  std::string ptr_;
};

}  // namespace ktwin::gpu::detail
