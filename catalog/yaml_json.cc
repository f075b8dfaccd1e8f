#include "catalog/yaml_json.h"
#include "core/util/yaml_guard.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace ktwin::catalog {

SourcePos YamlDocument::position_of(const std::string& pointer) const {
  std::string p = pointer;
  while (true) {
    auto it = positions.find(p);
    if (it != positions.end()) return it->second;
    if (p.empty()) return {};
    p = p.substr(0, p.rfind('/'));
  }
}

InputError YamlDocument::error(const std::string& pointer, const std::string& message) const {
  SourcePos pos = position_of(pointer);
  return InputError(file, pos.line, pos.column, field_path(pointer), message);
}

InputError YamlDocument::key_error(const std::string& pointer, const std::string& message) const {
  auto it = key_positions.find(pointer);
  SourcePos pos = it != key_positions.end() ? it->second : position_of(pointer);
  return InputError(file, pos.line, pos.column, field_path(pointer), message);
}

namespace {

SourcePos pos_of(const YAML::Mark& m) { return SourcePos{m.line + 1, m.column + 1}; }

json scalar_to_json(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str") return s;  // quoted or explicit string
  // YAML 1.2 core schema for plain scalars.
  static const std::regex kInt(R"([-+]?[0-9]+)");
  static const std::regex kOct(R"(0o[0-7]+)");
  static const std::regex kHex(R"(0x[0-9a-fA-F]+)");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  try {
    if (std::regex_match(s, kInt)) return std::stoll(s);
    if (std::regex_match(s, kOct)) return std::stoll(s.substr(2), nullptr, 8);
    if (std::regex_match(s, kHex)) return std::stoll(s.substr(2), nullptr, 16);
    if (std::regex_match(s, kFloat)) return std::stod(s);
  } catch (const std::out_of_range&) {
    return s;  // too large for a number: keep the text
  }
  if (s == ".inf" || s == ".Inf" || s == "+.inf") return std::numeric_limits<double>::infinity();
  if (s == "-.inf" || s == "-.Inf") return -std::numeric_limits<double>::infinity();
  return s;
}

void convert(const YAML::Node& node, const std::string& pointer, YamlDocument& doc, json& out, int depth) {
  if (depth > 200)
    throw InputError(doc.file, pos_of(node.Mark()).line, pos_of(node.Mark()).column, field_path(pointer),
                     "document nests too deeply");
  doc.positions[pointer] = pos_of(node.Mark());
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out = nullptr;
      return;
    case YAML::NodeType::Scalar:
      out = scalar_to_json(node);
      return;
    case YAML::NodeType::Sequence: {
      out = json::array();
      size_t i = 0;
      for (const auto& item : node) {
        json child;
        convert(item, pointer_join(pointer, i++), doc, child, depth + 1);
        out.push_back(std::move(child));
      }
      return;
    }
    case YAML::NodeType::Map: {
      out = json::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          SourcePos p = pos_of(kv.first.Mark());
          throw InputError(doc.file, p.line, p.column, field_path(pointer), "map keys must be plain scalars");
        }
        const std::string key = kv.first.Scalar();
        if (key == "<<") {
          SourcePos p = pos_of(kv.first.Mark());
          throw InputError(doc.file, p.line, p.column, field_path(pointer), "YAML merge keys (<<) are not supported");
        }
        std::string child_ptr = pointer_join(pointer, key);
        if (out.contains(key)) {
          SourcePos p = pos_of(kv.first.Mark());
          throw InputError(doc.file, p.line, p.column, field_path(child_ptr), "duplicate key \"" + key + "\"");
        }
        doc.key_positions[child_ptr] = pos_of(kv.first.Mark());
        json child;
        convert(kv.second, child_ptr, doc, child, depth + 1);
        if (kv.second.IsNull()) doc.positions[child_ptr] = pos_of(kv.first.Mark());
        out[key] = std::move(child);
      }
      return;
    }
  }
}

}  // namespace

std::vector<YamlDocument> parse_yaml(const std::string& text, const std::string& file) {
  std::vector<YamlDocument> docs;
  std::vector<YAML::Node> nodes;
  if (const YamlHazard h = find_yaml_parser_hazard(text); h.line > 0) {
    throw InputError(file, h.line, h.column, "",
                     "YAML syntax error: ',' cannot start a value outside [ ] or { } (quote the value)");
  }
  try {
    nodes = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    std::string msg = e.msg;
    if (!msg.empty()) msg[0] = static_cast<char>(std::tolower(msg[0]));
    throw InputError(file, e.mark.line + 1, e.mark.column + 1, "", "YAML syntax error: " + msg);
  }
  for (const auto& node : nodes) {
    if (node.IsNull()) continue;  // empty document between separators
    YamlDocument doc;
    doc.file = file;
    convert(node, "", doc, doc.value, 0);
    docs.push_back(std::move(doc));
  }
  return docs;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, 0, 0, "", std::string("cannot read file: ") + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw InputError(path, 0, 0, "", "cannot read file");
  return ss.str();
}

std::vector<YamlDocument> load_yaml_file(const std::string& path) { return parse_yaml(read_text_file(path), path); }

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t sub = prev[j - 1] + (std::tolower(a[i - 1]) == std::tolower(b[j - 1]) ? 0 : 1);
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    size_t d = distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  size_t limit = std::max<size_t>(2, word.size() / 3);
  return best_d <= limit ? best : std::string();
}

void check_keys(const YamlDocument& doc, const std::string& pointer, const std::vector<std::string>& allowed) {
  const json* node = &doc.value;
  if (!pointer.empty()) node = &doc.value.at(json::json_pointer(pointer));
  if (!node->is_object()) return;
  for (auto it = node->begin(); it != node->end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) != allowed.end()) continue;
    std::string msg = "unknown field \"" + it.key() + "\"";
    std::string suggestion = closest_match(it.key(), allowed);
    if (!suggestion.empty())
      msg += " (did you mean \"" + suggestion + "\"?)";
    else {
      msg += "; expected one of:";
      for (size_t i = 0; i < allowed.size(); ++i) msg += (i ? ", " : " ") + allowed[i];
    }
    throw doc.key_error(pointer_join(pointer, it.key()), msg);
  }
}

}  // namespace ktwin::catalog
