// Typed, strictly checked access to the maps of a YamlDocument for the loaders of data files
// (presets, GPU specs, calibration): every failure is an InputError at file:line:column naming the
// field. For .cc files only: it pulls in JSON.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "catalog/yaml_json.h"

namespace ktwin::catalog {

// Typed access to the map at `ptr` of a YAML document; every failure points at the offending value.
class Fields {
 public:
  Fields(const YamlDocument& doc, std::string ptr, const std::vector<std::string>& allowed)
      : doc_(doc), ptr_(std::move(ptr)) {
    const json& node = value();
    if (!node.is_object()) throw doc_.error(ptr_, "must be a map, got " + describe(node));
    check_keys(doc_, ptr_, allowed);
  }

  const YamlDocument& doc() const { return doc_; }
  const std::string& pointer() const { return ptr_; }
  std::string child(const std::string& key) const { return pointer_join(ptr_, key); }
  bool has(const std::string& key) const { return find(key) != nullptr && !find(key)->is_null(); }

  std::string str(const std::string& key, bool required, std::string fallback = {}) const {
    const json* v = get(key, required);
    if (v == nullptr) return fallback;
    if (!v->is_string()) throw doc_.error(child(key), "must be a string, got " + describe(*v));
    return v->get<std::string>();
  }

  //! A name-like string: required and non-empty.
  std::string name(const std::string& key) const {
    std::string s = str(key, true);
    if (s.empty()) throw doc_.error(child(key), "must not be empty");
    return s;
  }

  double number(const std::string& key, bool required, double fallback, double min) const {
    const json* v = get(key, required);
    if (v == nullptr) return fallback;
    if (!v->is_number()) throw doc_.error(child(key), "must be a number, got " + describe(*v));
    double d = v->get<double>();
    if (!std::isfinite(d) || d < min)
      throw doc_.error(child(key), "must be a number >= " + trim(min) + ", got " + v->dump());
    return d;
  }

  //! A number in [min, max].
  double number(const std::string& key, bool required, double fallback, double min, double max) const {
    const double d = number(key, required, fallback, min);
    if (d > max) throw doc_.error(child(key), "must be a number <= " + trim(max) + ", got " + get(key, true)->dump());
    return d;
  }

  int64_t integer(const std::string& key, bool required, int64_t fallback, int64_t min) const {
    const json* v = get(key, required);
    if (v == nullptr) return fallback;
    if (!v->is_number_integer()) throw doc_.error(child(key), "must be an integer, got " + describe(*v));
    int64_t i = v->get<int64_t>();
    if (i < min) throw doc_.error(child(key), "must be >= " + std::to_string(min) + ", got " + std::to_string(i));
    return i;
  }

  int int32(const std::string& key, bool required, int fallback, int min) const {
    int64_t i = integer(key, required, fallback, min);
    if (i > 1'000'000'000) throw doc_.error(child(key), "is too large: " + std::to_string(i));
    return static_cast<int>(i);
  }

  bool flag(const std::string& key, bool fallback) const {
    const json* v = get(key, false);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) throw doc_.error(child(key), "must be true or false, got " + describe(*v));
    return v->get<bool>();
  }

  std::vector<std::string> str_list(const std::string& key) const {
    const json* v = get(key, false);
    if (v == nullptr) return {};
    if (!v->is_array()) throw doc_.error(child(key), "must be a list of strings, got " + describe(*v));
    std::vector<std::string> out;
    for (size_t i = 0; i < v->size(); ++i) {
      const json& item = (*v)[i];
      if (!item.is_string() || item.get<std::string>().empty()) {
        throw doc_.error(pointer_join(child(key), i), "must be a non-empty string, got " + describe(item));
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  //! The list at `key` (required); its items are visited by index.
  size_t list_size(const std::string& key) const {
    const json* v = get(key, true);
    if (!v->is_array()) throw doc_.error(child(key), "must be a list, got " + describe(*v));
    return v->size();
  }

  static std::string describe(const json& v) {
    if (v.is_null()) return "nothing";
    if (v.is_string()) return "string \"" + v.get<std::string>() + "\"";
    if (v.is_boolean()) return std::string("boolean ") + (v.get<bool>() ? "true" : "false");
    if (v.is_number()) return "number " + v.dump();
    if (v.is_array()) return "a list";
    return "a map";
  }

 private:
  const json& value() const { return ptr_.empty() ? doc_.value : doc_.value.at(json::json_pointer(ptr_)); }
  const json* find(const std::string& key) const {
    const json& node = value();
    auto it = node.find(key);
    return it == node.end() ? nullptr : &*it;
  }
  const json* get(const std::string& key, bool required) const {
    const json* v = find(key);
    if (v != nullptr && !v->is_null()) return v;
    if (required) throw doc_.error(v != nullptr ? child(key) : ptr_, "missing required field \"" + key + "\"");
    return nullptr;
  }
  static std::string trim(double d) {
    std::string s = std::to_string(d);
    while (s.size() > 1 && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }

  const YamlDocument& doc_;
  std::string ptr_;
};

}  // namespace ktwin::catalog
