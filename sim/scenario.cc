// Scenario loader: YAML (with positions, via catalog/yaml_json.h) -> validated Scenario structs.
// Every check names the file, line, column and field of the offending value and says what was
// expected; nothing is silently defaulted except where the format documents a default.
#include "sim/scenario.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "catalog/catalog.h"
#include "catalog/yaml_json.h"
#include "core/util/sha256.h"

namespace ktwin::sim {

using catalog::closest_match;
using catalog::pointer_join;
using catalog::YamlDocument;

// --- names ------------------------------------------------------------------------------------

const char* cloud_kind_name(CloudKind c) {
  switch (c) {
    case CloudKind::kAzure:
      return "azure";
    case CloudKind::kAws:
      return "aws";
    case CloudKind::kArc:
      return "arc";
  }
  return "?";
}

const char* provisioner_kind_name(ProvisionerKind p) {
  switch (p) {
    case ProvisionerKind::kGpuProvisioner:
      return "gpu-provisioner";
    case ProvisionerKind::kKarpenter:
      return "karpenter";
    case ProvisionerKind::kByo:
      return "byo";
  }
  return "?";
}

const char* arrival_process_name(ArrivalProcess p) {
  switch (p) {
    case ArrivalProcess::kPoisson:
      return "poisson";
    case ArrivalProcess::kGamma:
      return "gamma";
    case ArrivalProcess::kClosedLoop:
      return "closed_loop";
    case ArrivalProcess::kTrace:
      return "trace";
  }
  return "?";
}

namespace {

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

//! strerror() text starts upper-case; our messages are lower-case.
std::string lower_first(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

}  // namespace

std::vector<std::string> NodeSpec::node_names() const {
  if (count == 1) return {name};
  std::vector<std::string> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(name + "-" + std::to_string(i));
  return out;
}

std::string ManifestSource::key() const { return kind + "/" + (namespace_.empty() ? "" : namespace_ + "/") + name; }

InputError ManifestSource::error(const std::string& pointer_in_manifest, const std::string& message) const {
  if (!doc) return InputError(file, line, 0, catalog::field_path(pointer_in_manifest), message);
  return doc->error(pointer + pointer_in_manifest, message);
}

std::string WorkspaceRef::to_string() const { return namespace_ == "default" ? name : namespace_ + "/" + name; }

std::string ArrivalSpec::to_string() const {
  switch (process) {
    case ArrivalProcess::kPoisson:
      return "poisson " + format_number(rate_per_second) + "/s";
    case ArrivalProcess::kGamma:
      return "gamma " + format_number(rate_per_second) + "/s cv " + format_number(cv);
    case ArrivalProcess::kClosedLoop: {
      std::string out = "closed_loop " + std::to_string(concurrency);
      if (think_time) out += " think " + think_time->to_string();
      return out;
    }
    case ArrivalProcess::kTrace:
      return "trace " + trace_file;
  }
  return "?";
}

std::string TimelineAction::text() const {
  struct Visitor {
    std::string operator()(const ScaleAction& a) const {
      return "scale " + a.workspace.to_string() + " to " + std::to_string(a.count);
    }
    std::string operator()(const FailNodeAction& a) const {
      if (a.workspace)
        return "fail " + std::to_string(a.count) + (a.count == 1 ? " node" : " nodes") + " of " +
               a.workspace->to_string();
      return "fail node " + a.node;
    }
    std::string operator()(const DeleteAction& a) const {
      std::string ns = a.namespace_.empty() || a.namespace_ == "default" ? "" : a.namespace_ + "/";
      return "delete " + a.kind + "/" + ns + a.name;
    }
    std::string operator()(const SetQuotaAction& a) const {
      return "set quota of " + a.sku + " to " + std::to_string(a.count);
    }
    std::string operator()(const CapacityOutageAction& a) const {
      return "capacity outage of " + a.sku + " for " + format_duration(a.duration);
    }
    std::string operator()(const RegistryOutageAction& a) const {
      return "registry outage of " + a.registry + " for " + format_duration(a.duration);
    }
    std::string operator()(const ApplyAction& a) const {
      std::vector<std::string> keys;
      for (const auto& m : a.manifests) {
        std::string ns = m.namespace_.empty() || m.namespace_ == "default" ? "" : m.namespace_ + "/";
        keys.push_back(m.kind + "/" + ns + m.name);
      }
      return "apply " + join(keys, ", ");
    }
  };
  return std::visit(Visitor{}, action);
}

// --- metrics ------------------------------------------------------------------------------------

const std::vector<std::string>& known_metrics() {
  static const std::vector<std::string> kMetrics = [] {
    std::vector<std::string> out;
    for (const char* base : {"ttft", "tpot", "itl", "e2el"}) {
      out.emplace_back(base);
      for (const char* stat : {"mean", "median", "min", "max", "p50", "p90", "p95", "p99", "p999"})
        out.push_back(std::string(base) + "_" + stat);
    }
    for (const char* m : {"output_throughput", "total_token_throughput", "request_throughput", "goodput",
                          "completed_requests", "failed_requests", "kv_cache_usage_mean", "kv_cache_usage_max",
                          "num_requests_waiting_mean", "num_requests_waiting_max"})
      out.emplace_back(m);
    return out;
  }();
  return kMetrics;
}

std::optional<MetricUnit> metric_unit(std::string_view metric) {
  const auto& all = known_metrics();
  if (std::find(all.begin(), all.end(), metric) == all.end()) return std::nullopt;
  if (metric == "output_throughput" || metric == "total_token_throughput") return MetricUnit::kTokensPerSecond;
  if (metric == "request_throughput" || metric == "goodput") return MetricUnit::kRequestsPerSecond;
  if (metric == "completed_requests" || metric == "failed_requests" || metric.starts_with("num_requests_waiting_"))
    return MetricUnit::kCount;
  if (metric.starts_with("kv_cache_usage_")) return MetricUnit::kFraction;
  return MetricUnit::kSeconds;
}

std::string Expectation::text() const {
  std::string ws = workspace.to_string();  // not const: the fallback return moves it
  switch (kind) {
    case Kind::kReadyWithin:
      return ws + " ready within " + format_duration(ready_within);
    case Kind::kNeverReady:
      return ws + " never ready";
    case Kind::kCondition: {
      std::string out = ws + " condition " + condition_type + "=" + condition_status;
      if (!condition_reason.empty()) out += " (reason " + condition_reason + ")";
      return out;
    }
    case Kind::kNodeClaims:
      if (equals) return ws + " nodeclaims == " + std::to_string(*equals);
      if (min && max) return ws + " nodeclaims between " + std::to_string(*min) + " and " + std::to_string(*max);
      if (min) return ws + " nodeclaims >= " + std::to_string(*min);
      return ws + " nodeclaims <= " + std::to_string(max.value_or(0));
    case Kind::kMetric:
      return ws + " " + metric + (below ? " below " : " above ") + threshold_text;
    case Kind::kState:
      return ws + " state " + state;
  }
  return ws;
}

const ManifestSource* Scenario::find_workspace(const WorkspaceRef& ref) const {
  for (const auto& m : manifests)
    if (m.is_workspace() && m.name == ref.name && m.namespace_ == ref.namespace_) return &m;
  for (const auto& t : timeline)
    if (const auto* apply = std::get_if<ApplyAction>(&t.action))
      for (const auto& m : apply->manifests)
        if (m.is_workspace() && m.name == ref.name && m.namespace_ == ref.namespace_) return &m;
  return nullptr;
}

// --- small parsers ------------------------------------------------------------------------------

std::optional<double> parse_rate(std::string_view text) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  };
  text = trim(text);
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string number(trim(text.substr(0, slash)));
  std::string_view unit = trim(text.substr(slash + 1));
  if (number.empty() || !(std::isdigit(static_cast<unsigned char>(number[0])) || number[0] == '.')) return std::nullopt;
  char* end = nullptr;
  double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(value)) return std::nullopt;
  double per_second;
  if (unit == "s" || unit == "sec")
    per_second = 1;
  else if (unit == "m" || unit == "min")
    per_second = 1.0 / 60;
  else if (unit == "h" || unit == "hour")
    per_second = 1.0 / 3600;
  else
    return std::nullopt;
  return value * per_second;
}

std::vector<int64_t> parse_token_samples(const std::string& text, const std::string& file) {
  std::vector<int64_t> out;
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  bool first = true;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    std::string cell = line.substr(start, line.find(',', start) - start);
    while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t')) cell.pop_back();
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(cell.c_str(), &end, 10);
    bool numeric = !cell.empty() && end == cell.c_str() + cell.size() && errno == 0;
    if (!numeric) {
      if (first) {  // header row
        first = false;
        continue;
      }
      throw InputError(file, lineno, static_cast<int>(start) + 1, "",
                       "expected a token count (an integer), got \"" + cell + "\"");
    }
    first = false;
    if (v < 1)
      throw InputError(file, lineno, static_cast<int>(start) + 1, "",
                       "token counts must be at least 1, got " + std::to_string(v));
    out.push_back(v);
  }
  if (out.empty()) throw InputError(file, 0, 0, "", "no token counts found; expected one integer per line");
  return out;
}

namespace {

// --- field readers ------------------------------------------------------------------------------

std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::string:
      return "\"" + v.get<std::string>() + "\"";
    case json::value_t::object:
      return "a map";
    case json::value_t::array:
      return "a list";
    case json::value_t::null:
      return "nothing";
    default:
      return v.dump();
  }
}

const json& node(const YamlDocument& doc, const std::string& ptr) {
  return ptr.empty() ? doc.value : doc.value.at(json::json_pointer(ptr));
}

bool has(const YamlDocument& doc, const std::string& ptr, const char* key) {
  const json& n = node(doc, ptr);
  return n.is_object() && n.contains(key);
}

void require_map(const YamlDocument& doc, const std::string& ptr) {
  const json& n = node(doc, ptr);
  if (!n.is_object()) throw doc.error(ptr, "expected a map, got " + describe(n));
}

void require_list(const YamlDocument& doc, const std::string& ptr) {
  const json& n = node(doc, ptr);
  if (!n.is_array()) throw doc.error(ptr, "expected a list, got " + describe(n));
}

void require_present(const YamlDocument& doc, const std::string& ptr, const char* key) {
  if (!has(doc, ptr, key)) throw doc.error(pointer_join(ptr, key), "required field is missing");
}

std::string get_string(const YamlDocument& doc, const std::string& ptr, bool allow_empty = false) {
  const json& n = node(doc, ptr);
  if (!n.is_string()) throw doc.error(ptr, "expected a string, got " + describe(n));
  std::string s = n.get<std::string>();
  if (s.empty() && !allow_empty) throw doc.error(ptr, "must not be empty");
  return s;
}

//! Label values and the like: strings, or scalars written without quotes (1, true).
std::string get_scalar_text(const YamlDocument& doc, const std::string& ptr) {
  const json& n = node(doc, ptr);
  if (n.is_string()) return n.get<std::string>();
  if (n.is_boolean()) return n.get<bool>() ? "true" : "false";
  if (n.is_number()) return n.dump();
  throw doc.error(ptr, "expected a string, got " + describe(n));
}

int64_t get_int(const YamlDocument& doc, const std::string& ptr, int64_t min_value) {
  const json& n = node(doc, ptr);
  if (!n.is_number_integer()) throw doc.error(ptr, "expected an integer, got " + describe(n));
  int64_t v = n.get<int64_t>();
  if (v < min_value) {
    if (min_value == 0) throw doc.error(ptr, "must not be negative, got " + std::to_string(v));
    throw doc.error(ptr, "must be at least " + std::to_string(min_value) + ", got " + std::to_string(v));
  }
  return v;
}

double get_positive_number(const YamlDocument& doc, const std::string& ptr) {
  const json& n = node(doc, ptr);
  if (!n.is_number()) throw doc.error(ptr, "expected a number, got " + describe(n));
  double v = n.get<double>();
  if (!(v > 0) || !std::isfinite(v)) throw doc.error(ptr, "must be positive, got " + n.dump());
  return v;
}

bool get_bool(const YamlDocument& doc, const std::string& ptr) {
  const json& n = node(doc, ptr);
  if (!n.is_boolean()) throw doc.error(ptr, "expected true or false, got " + describe(n));
  return n.get<bool>();
}

const char* kDurationHint = "expected a number with a unit (e.g. 90s, 15m, 2h)";

Duration get_duration(const YamlDocument& doc, const std::string& ptr) {
  const json& n = node(doc, ptr);
  if (n.is_number()) throw doc.error(ptr, "duration " + n.dump() + " has no unit; " + kDurationHint);
  if (!n.is_string()) throw doc.error(ptr, "expected a duration, got " + describe(n));
  std::string s = n.get<std::string>();
  auto d = parse_duration(s);
  if (!d) throw doc.error(ptr, "invalid duration \"" + s + "\"; " + kDurationHint);
  return *d;
}

Duration get_nonnegative_duration(const YamlDocument& doc, const std::string& ptr) {
  Duration d = get_duration(doc, ptr);
  if (d < 0) throw doc.error(ptr, "must not be negative, got " + format_duration(d));
  return d;
}

Duration get_positive_duration(const YamlDocument& doc, const std::string& ptr) {
  Duration d = get_duration(doc, ptr);
  if (d <= 0) throw doc.error(ptr, "must be positive, got " + format_duration(d));
  return d;
}

//! Index of the string at `ptr` in `choices`; `what` names the thing ("cloud") in the message.
size_t get_choice(const YamlDocument& doc, const std::string& ptr, const std::vector<std::string>& choices,
                  const std::string& what) {
  std::string s = get_string(doc, ptr);
  for (size_t i = 0; i < choices.size(); ++i)
    if (choices[i] == s) return i;
  std::string msg = "unknown " + what + " \"" + s + "\"";
  std::string suggestion = closest_match(s, choices);
  if (!suggestion.empty())
    msg += " (did you mean \"" + suggestion + "\"?)";
  else
    msg += "; expected one of: " + join(choices, ", ");
  throw doc.error(ptr, msg);
}

//! Exactly one of `keys` must be present in the map at `ptr`; returns it.
std::string exactly_one(const YamlDocument& doc, const std::string& ptr, const std::vector<std::string>& keys,
                        const std::string& what) {
  std::vector<std::string> present;
  for (const auto& k : keys)
    if (has(doc, ptr, k.c_str())) present.push_back(k);
  if (present.size() == 1) return present[0];
  if (present.empty()) throw doc.error(ptr, "expected " + what + ": one of " + join(keys, ", "));
  throw doc.key_error(pointer_join(ptr, present[1]),
                      "only one of " + join(keys, ", ") + " may be given; found " + present[0] + " and " + present[1]);
}

WorkspaceRef get_workspace_ref(const YamlDocument& doc, const std::string& ptr) {
  std::string s = get_string(doc, ptr);
  WorkspaceRef ref;
  size_t slash = s.find('/');
  if (slash == std::string::npos) {
    ref.name = s;
  } else {
    ref.namespace_ = s.substr(0, slash);
    ref.name = s.substr(slash + 1);
    if (ref.namespace_.empty() || ref.name.empty() || ref.name.find('/') != std::string::npos)
      throw doc.error(ptr, "expected a workspace name or namespace/name, got \"" + s + "\"");
  }
  return ref;
}

void check_clamp_order(const YamlDocument& doc, const std::string& ptr, bool has_min, bool has_max, double min,
                       double max, const std::string& min_text, const std::string& max_text) {
  if (has_min && has_max && min > max)
    throw doc.error(pointer_join(ptr, "max"), "max (" + max_text + ") must not be below min (" + min_text + ")");
}

}  // namespace

// --- distributions ------------------------------------------------------------------------------

DurationDist parse_duration_dist(const YamlDocument& doc, const std::string& ptr) {
  const json& n = node(doc, ptr);
  if (n.is_string()) return DurationDist::fixed(get_nonnegative_duration(doc, ptr));
  if (!n.is_object())
    throw doc.error(ptr, "expected a duration distribution such as {dist: fixed, value: 30s}, got " + describe(n));
  require_present(doc, ptr, "dist");
  static const std::vector<std::string> kKinds = {"fixed", "uniform", "lognormal", "exponential"};
  size_t kind = get_choice(doc, pointer_join(ptr, "dist"), kKinds, "distribution");
  auto opt = [&](const char* key) -> std::optional<Duration> {
    if (!has(doc, ptr, key)) return std::nullopt;
    return get_nonnegative_duration(doc, pointer_join(ptr, key));
  };
  auto req = [&](const char* key) {
    require_present(doc, ptr, key);
    return get_nonnegative_duration(doc, pointer_join(ptr, key));
  };
  DurationDist d;
  switch (kind) {
    case 0:
      catalog::check_keys(doc, ptr, {"dist", "value"});
      return DurationDist::fixed(req("value"));
    case 1: {
      catalog::check_keys(doc, ptr, {"dist", "min", "max"});
      Duration lo = req("min"), hi = req("max");
      check_clamp_order(doc, ptr, true, true, static_cast<double>(lo), static_cast<double>(hi), format_duration(lo),
                        format_duration(hi));
      return DurationDist::uniform(lo, hi);
    }
    case 2: {
      catalog::check_keys(doc, ptr, {"dist", "median", "p90", "min", "max"});
      Duration median = req("median"), p90 = req("p90");
      if (median <= 0) throw doc.error(pointer_join(ptr, "median"), "must be positive, got " + format_duration(median));
      if (p90 < median)
        throw doc.error(pointer_join(ptr, "p90"), "p90 (" + format_duration(p90) + ") must not be below median (" +
                                                      format_duration(median) + ")");
      d = DurationDist::lognormal(median, p90, opt("min"), opt("max"));
      break;
    }
    default: {
      catalog::check_keys(doc, ptr, {"dist", "mean", "min", "max"});
      Duration mean = req("mean");
      if (mean <= 0) throw doc.error(pointer_join(ptr, "mean"), "must be positive, got " + format_duration(mean));
      d = DurationDist::exponential(mean);
      d.min = opt("min");
      d.max = opt("max");
      break;
    }
  }
  check_clamp_order(doc, ptr, d.min.has_value(), d.max.has_value(), static_cast<double>(d.min.value_or(0)),
                    static_cast<double>(d.max.value_or(0)), format_duration(d.min.value_or(0)),
                    format_duration(d.max.value_or(0)));
  return d;
}

TokenDist parse_token_dist(const YamlDocument& doc, const std::string& ptr, const std::string& base_dir) {
  const json& n = node(doc, ptr);
  if (n.is_number_integer()) return TokenDist::fixed(get_int(doc, ptr, 1));
  if (!n.is_object())
    throw doc.error(ptr, "expected a token distribution such as {dist: fixed, value: 128}, got " + describe(n));
  require_present(doc, ptr, "dist");
  static const std::vector<std::string> kKinds = {"fixed", "uniform", "lognormal", "empirical"};
  size_t kind = get_choice(doc, pointer_join(ptr, "dist"), kKinds, "distribution");
  auto opt = [&](const char* key) -> std::optional<int64_t> {
    if (!has(doc, ptr, key)) return std::nullopt;
    return get_int(doc, pointer_join(ptr, key), 1);
  };
  auto req_int = [&](const char* key) {
    require_present(doc, ptr, key);
    return get_int(doc, pointer_join(ptr, key), 1);
  };
  auto req_num = [&](const char* key) {
    require_present(doc, ptr, key);
    return get_positive_number(doc, pointer_join(ptr, key));
  };
  TokenDist d;
  switch (kind) {
    case 0:
      catalog::check_keys(doc, ptr, {"dist", "value"});
      return TokenDist::fixed(req_int("value"));
    case 1: {
      catalog::check_keys(doc, ptr, {"dist", "min", "max"});
      int64_t lo = req_int("min"), hi = req_int("max");
      check_clamp_order(doc, ptr, true, true, static_cast<double>(lo), static_cast<double>(hi), std::to_string(lo),
                        std::to_string(hi));
      return TokenDist::uniform(lo, hi);
    }
    case 2: {
      catalog::check_keys(doc, ptr, {"dist", "median", "p90", "min", "max"});
      double median = req_num("median"), p90 = req_num("p90");
      if (p90 < median)
        throw doc.error(pointer_join(ptr, "p90"),
                        "p90 (" + format_number(p90) + ") must not be below median (" + format_number(median) + ")");
      d = TokenDist::lognormal(median, p90, opt("min"), opt("max"));
      break;
    }
    default: {
      catalog::check_keys(doc, ptr, {"dist", "file", "min", "max"});
      require_present(doc, ptr, "file");
      d.kind = TokenDist::Kind::kEmpirical;
      d.file = get_string(doc, pointer_join(ptr, "file"));
      d.resolved_file = (std::filesystem::path(base_dir) / d.file).string();
      d.min = opt("min");
      d.max = opt("max");
      break;
    }
  }
  check_clamp_order(doc, ptr, d.min.has_value(), d.max.has_value(), static_cast<double>(d.min.value_or(0)),
                    static_cast<double>(d.max.value_or(0)), std::to_string(d.min.value_or(0)),
                    std::to_string(d.max.value_or(0)));
  return d;
}

// --- the loader -----------------------------------------------------------------------------------

namespace {

// The generic models at `pointers` of `doc`, each strictly checked, no Hugging Face id twice.
std::vector<GenericModel> parse_generic_models(const std::shared_ptr<const YamlDocument>& doc,
                                               const std::vector<std::string>& pointers) {
  std::vector<GenericModel> out;
  for (const std::string& p : pointers) {
    GenericModel m{catalog::parse_generic_model(*doc, p), p, doc};
    for (const auto& other : out)
      if (other.preset.hf_id == m.preset.hf_id)
        throw doc->error(pointer_join(p, "hf_id"), "model \"" + m.preset.hf_id + "\" is already described at line " +
                                                       std::to_string(doc->position_of(other.pointer).line));
    out.push_back(std::move(m));
  }
  return out;
}

struct PendingRef {
  WorkspaceRef ref;
  std::string pointer;
};

class Loader {
 public:
  Loader(const std::string& text, const std::string& path) : text_(text), path_(path) {
    dir_ = std::filesystem::path(path).parent_path().string();
  }

  Scenario load() {
    auto docs = catalog::parse_yaml(text_, path_);
    if (docs.empty()) throw InputError(path_, 0, 0, "", "scenario file is empty");
    if (docs.size() > 1) {
      catalog::SourcePos p = docs[1].position_of("");
      throw InputError(path_, p.line, p.column, "", "a scenario file holds one YAML document; found a second one");
    }
    doc_ = std::make_shared<YamlDocument>(std::move(docs[0]));
    const YamlDocument& doc = *doc_;
    require_map(doc, "");
    catalog::check_keys(doc, "",
                        {"name", "description", "seed", "duration", "cluster", "models", "workspaces", "traffic",
                         "metrics_window", "timeline", "expect"});

    Scenario s;
    s.file = path_;
    s.dir = dir_;
    s.doc = doc_;
    require_present(doc, "", "name");
    s.name = get_string(doc, "/name");
    if (has(doc, "", "description")) s.description = get_string(doc, "/description", true);
    if (has(doc, "", "seed")) s.seed = static_cast<uint64_t>(get_int(doc, "/seed", 0));
    require_present(doc, "", "duration");
    s.duration = get_positive_duration(doc, "/duration");
    duration_ = s.duration;

    if (has(doc, "", "cluster"))
      s.cluster = parse_cluster("/cluster");
    else
      s.cluster.region = default_region(s.cluster.cloud);

    if (has(doc, "", "models")) {
      require_list(doc, "/models");
      std::vector<std::string> pointers;
      for (size_t i = 0; i < node(doc, "/models").size(); ++i) pointers.push_back(pointer_join("/models", i));
      s.models = parse_generic_models(doc_, pointers);
    }

    if (has(doc, "", "workspaces")) {
      require_list(doc, "/workspaces");
      for (size_t i = 0; i < node(doc, "/workspaces").size(); ++i) {
        std::string p = pointer_join("/workspaces", i);
        require_map(doc, p);
        catalog::check_keys(doc, p, {"file", "manifest", "at"});
        Duration at = 0;
        if (has(doc, p, "at")) at = get_time_in_run(pointer_join(p, "at"));
        size_t first_new = s.manifests.size();
        read_manifests(p, at, s.manifests);
        // The same object applied twice at the same time is a copy-paste slip; at different times
        // it is an update, which is fine.
        for (size_t m = first_new; m < s.manifests.size(); ++m) {
          const ManifestSource& src = s.manifests[m];
          for (size_t o = 0; o < m; ++o) {
            const ManifestSource& other = s.manifests[o];
            if (other.key() != src.key() || other.at != src.at) continue;
            throw src.error("/metadata/name", src.key() + " is defined twice (first at " + other.file + ":" +
                                                  std::to_string(other.line) + ")");
          }
        }
      }
    }

    if (has(doc, "", "metrics_window")) s.metrics_window = get_positive_duration(doc, "/metrics_window");
    if (has(doc, "", "timeline")) {
      require_list(doc, "/timeline");
      for (size_t i = 0; i < node(doc, "/timeline").size(); ++i)
        s.timeline.push_back(parse_action(pointer_join("/timeline", i)));
    }
    if (has(doc, "", "traffic")) {
      require_list(doc, "/traffic");
      for (size_t i = 0; i < node(doc, "/traffic").size(); ++i)
        s.traffic.push_back(parse_traffic(pointer_join("/traffic", i)));
    }
    if (has(doc, "", "expect")) {
      require_list(doc, "/expect");
      for (size_t i = 0; i < node(doc, "/expect").size(); ++i)
        s.expect.push_back(parse_expectation(pointer_join("/expect", i)));
    }

    check_refs(s);
    s.scenario_hash = hash();
    return s;
  }

 private:
  static std::string default_region(CloudKind c) {
    switch (c) {
      case CloudKind::kAzure:
        return "eastus";
      case CloudKind::kAws:
        return "us-east-1";
      case CloudKind::kArc:
        return "local";
    }
    return "";
  }

  std::string resolve(const std::string& rel) const { return (std::filesystem::path(dir_) / rel).string(); }

  //! Reads a referenced file, recording it for the scenario hash; errors point at `ptr`.
  std::string read_referenced(const std::string& ptr, const std::string& rel, const std::string& what) {
    std::string full = resolve(rel);
    std::error_code ec;
    if (std::filesystem::is_directory(full, ec))
      throw doc_->error(ptr, "cannot read " + what + " \"" + rel + "\": " + full + " is a directory");
    std::ifstream in(full, std::ios::binary);
    if (!in) {
      std::string reason = lower_first(std::strerror(errno));
      throw doc_->error(ptr, "cannot read " + what + " \"" + rel + "\" (" + full + "): " + reason);
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    inputs_.emplace_back(rel, ss.str());
    return inputs_.back().second;
  }

  Duration get_time_in_run(const std::string& ptr) {
    Duration t = get_nonnegative_duration(*doc_, ptr);
    if (t > duration_)
      throw doc_->error(
          ptr, format_duration(t) + " is after the end of the run (duration " + format_duration(duration_) + ")");
    return t;
  }

  ClusterSpec parse_cluster(const std::string& ptr) {
    const YamlDocument& doc = *doc_;
    require_map(doc, ptr);
    catalog::check_keys(doc, ptr,
                        {"cloud", "region", "node_provisioner", "quota", "nodes", "provisioning", "datasets"});
    ClusterSpec c;
    if (has(doc, ptr, "cloud"))
      c.cloud = static_cast<CloudKind>(get_choice(doc, pointer_join(ptr, "cloud"), {"azure", "aws", "arc"}, "cloud"));
    c.region = has(doc, ptr, "region") ? get_string(doc, pointer_join(ptr, "region")) : default_region(c.cloud);
    if (has(doc, ptr, "node_provisioner"))
      c.node_provisioner = static_cast<ProvisionerKind>(get_choice(
          doc, pointer_join(ptr, "node_provisioner"), {"gpu-provisioner", "karpenter", "byo"}, "node provisioner"));
    if (has(doc, ptr, "quota")) {
      std::string q = pointer_join(ptr, "quota");
      require_map(doc, q);
      for (const auto& [sku, value] : node(doc, q).items()) {
        (void)value;
        c.quota[sku] = get_int(doc, pointer_join(q, sku), 0);
      }
    }
    if (has(doc, ptr, "nodes")) {
      std::string np = pointer_join(ptr, "nodes");
      require_list(doc, np);
      std::map<std::string, int> names;
      for (size_t i = 0; i < node(doc, np).size(); ++i) {
        NodeSpec n = parse_node(pointer_join(np, i));
        for (const auto& name : n.node_names()) {
          auto [it, inserted] = names.emplace(name, n.line);
          if (!inserted)
            throw doc.error(pointer_join(pointer_join(np, i), "name"),
                            "node \"" + name + "\" is already defined at line " + std::to_string(it->second));
        }
        c.nodes.push_back(std::move(n));
      }
    }
    if (has(doc, ptr, "provisioning")) c.provisioning = parse_provisioning(pointer_join(ptr, "provisioning"));
    if (has(doc, ptr, "datasets")) {
      const std::string dp = pointer_join(ptr, "datasets");
      require_list(doc, dp);
      for (size_t i = 0; i < node(doc, dp).size(); ++i) c.datasets.push_back(parse_dataset(pointer_join(dp, i)));
    }
    return c;
  }

  DatasetSpec parse_dataset(const std::string& ptr) {
    const YamlDocument& doc = *doc_;
    require_map(doc, ptr);
    catalog::check_keys(doc, ptr, {"source", "examples", "tokens_per_example", "size_mib", "available"});
    DatasetSpec d;
    d.line = doc.position_of(ptr).line;
    require_present(doc, ptr, "source");
    d.source = get_string(doc, pointer_join(ptr, "source"));
    if (has(doc, ptr, "available")) d.available = get_bool(doc, pointer_join(ptr, "available"));
    if (d.available) {
      require_present(doc, ptr, "examples");
      require_present(doc, ptr, "tokens_per_example");
    }
    if (has(doc, ptr, "examples")) d.examples = get_int(doc, pointer_join(ptr, "examples"), 1);
    if (has(doc, ptr, "tokens_per_example"))
      d.tokens_per_example = get_positive_number(doc, pointer_join(ptr, "tokens_per_example"));
    if (has(doc, ptr, "size_mib")) d.size_mib = get_positive_number(doc, pointer_join(ptr, "size_mib"));
    return d;
  }

  NodeSpec parse_node(const std::string& ptr) {
    const YamlDocument& doc = *doc_;
    require_map(doc, ptr);
    catalog::check_keys(doc, ptr, {"name", "instance_type", "count", "labels", "taints", "gpu"});
    NodeSpec n;
    n.line = doc.position_of(ptr).line;
    require_present(doc, ptr, "name");
    n.name = get_string(doc, pointer_join(ptr, "name"));
    if (has(doc, ptr, "instance_type")) n.instance_type = get_string(doc, pointer_join(ptr, "instance_type"));
    if (has(doc, ptr, "count")) n.count = get_int(doc, pointer_join(ptr, "count"), 1);
    if (has(doc, ptr, "labels")) {
      std::string lp = pointer_join(ptr, "labels");
      require_map(doc, lp);
      for (const auto& [key, value] : node(doc, lp).items()) {
        (void)value;
        n.labels[key] = get_scalar_text(doc, pointer_join(lp, key));
      }
    }
    if (has(doc, ptr, "taints")) {
      std::string tp = pointer_join(ptr, "taints");
      require_list(doc, tp);
      for (size_t i = 0; i < node(doc, tp).size(); ++i) {
        std::string p = pointer_join(tp, i);
        require_map(doc, p);
        catalog::check_keys(doc, p, {"key", "value", "effect"});
        Taint t;
        require_present(doc, p, "key");
        t.key = get_string(doc, pointer_join(p, "key"));
        if (has(doc, p, "value")) t.value = get_scalar_text(doc, pointer_join(p, "value"));
        require_present(doc, p, "effect");
        static const std::vector<std::string> kEffects = {"NoSchedule", "PreferNoSchedule", "NoExecute"};
        t.effect = kEffects[get_choice(doc, pointer_join(p, "effect"), kEffects, "taint effect")];
        n.taints.push_back(std::move(t));
      }
    }
    if (has(doc, ptr, "gpu")) {
      std::string gp = pointer_join(ptr, "gpu");
      require_map(doc, gp);
      catalog::check_keys(doc, gp, {"product", "count", "memory_mib"});
      GpuSpec g;
      if (has(doc, gp, "product")) g.product = get_string(doc, pointer_join(gp, "product"));
      require_present(doc, gp, "count");
      g.count = get_int(doc, pointer_join(gp, "count"), 1);
      if (has(doc, gp, "memory_mib")) g.memory_mib = get_int(doc, pointer_join(gp, "memory_mib"), 1);
      n.gpu = g;
    }
    return n;
  }

  ProvisioningSpec parse_provisioning(const std::string& ptr) {
    const YamlDocument& doc = *doc_;
    require_map(doc, ptr);
    catalog::check_keys(doc, ptr,
                        {"vm_create", "node_join", "node_ready", "device_plugin", "image_pull",
                         "weights_download_gibps", "model_load", "engine_init", "vm_delete"});
    ProvisioningSpec p;
    auto dist = [&](const char* key, std::optional<DurationDist>& out) {
      if (has(doc, ptr, key)) out = parse_duration_dist(doc, pointer_join(ptr, key));
    };
    dist("vm_create", p.vm_create);
    dist("node_join", p.node_join);
    dist("node_ready", p.node_ready);
    dist("device_plugin", p.device_plugin);
    dist("image_pull", p.image_pull);
    dist("model_load", p.model_load);
    dist("engine_init", p.engine_init);
    dist("vm_delete", p.vm_delete);
    if (has(doc, ptr, "weights_download_gibps"))
      p.weights_download_gibps = get_positive_number(doc, pointer_join(ptr, "weights_download_gibps"));
    return p;
  }

  //! `file:` or `manifest:` at the map `ptr` (a workspaces entry or an apply action).
  void read_manifests(const std::string& ptr, Duration at, std::vector<ManifestSource>& out) {
    const YamlDocument& doc = *doc_;
    std::string which = exactly_one(doc, ptr, {"file", "manifest"}, "a manifest source");
    if (which == "manifest") {
      std::string mp = pointer_join(ptr, "manifest");
      out.push_back(make_manifest(doc_, mp, at));
      return;
    }
    std::string fp = pointer_join(ptr, "file");
    std::string rel = get_string(doc, fp);
    std::string text = read_referenced(fp, rel, "manifest file");
    auto docs = catalog::parse_yaml(text, resolve(rel));
    if (docs.empty()) throw doc.error(fp, "manifest file \"" + rel + "\" holds no YAML documents");
    for (auto& d : docs) out.push_back(make_manifest(std::make_shared<const YamlDocument>(std::move(d)), "", at));
  }

  static ManifestSource make_manifest(std::shared_ptr<const YamlDocument> mdoc, const std::string& ptr, Duration at) {
    const YamlDocument& doc = *mdoc;
    const json& m = node(doc, ptr);
    if (!m.is_object())
      throw doc.error(ptr,
                      "expected a Kubernetes object (a map with apiVersion, kind and metadata), got " + describe(m));
    ManifestSource src;
    require_present(doc, ptr, "apiVersion");
    src.api_version = get_string(doc, pointer_join(ptr, "apiVersion"));
    require_present(doc, ptr, "kind");
    src.kind = get_string(doc, pointer_join(ptr, "kind"));
    require_present(doc, ptr, "metadata");
    std::string meta = pointer_join(ptr, "metadata");
    require_map(doc, meta);
    require_present(doc, meta, "name");
    src.name = get_string(doc, pointer_join(meta, "name"));
    const ResourceInfo* info = resource_info(src.kind);
    bool namespaced = info == nullptr || info->namespaced;
    src.manifest = m;
    if (has(doc, meta, "namespace")) {
      src.namespace_ = get_string(doc, pointer_join(meta, "namespace"));
    } else if (namespaced) {
      src.namespace_ = "default";
      src.manifest["metadata"]["namespace"] = "default";
    }
    src.file = doc.file;
    src.line = doc.position_of(ptr).line;
    src.at = at;
    src.doc = std::move(mdoc);
    src.pointer = ptr;
    return src;
  }

  TrafficSpec parse_traffic(const std::string& ptr) {
    const YamlDocument& doc = *doc_;
    require_map(doc, ptr);
    catalog::check_keys(doc, ptr,
                        {"workspace", "workspaces", "start", "end", "arrival", "prompt_tokens", "output_tokens",
                         "routing", "queue", "slo"});
    TrafficSpec t;
    t.line = doc.position_of(ptr).line;
    if (has(doc, ptr, "workspaces")) {
      const std::string wp = pointer_join(ptr, "workspaces");
      if (has(doc, ptr, "workspace"))
        throw doc.error(wp, "give workspace (one target) or workspaces (a gateway over several), not both");
      require_list(doc, wp);
      if (node(doc, wp).size() < 2) throw doc.error(wp, "a gateway needs at least two workspaces; use workspace:");
      for (size_t i = 0; i < node(doc, wp).size(); ++i) {
        WorkspaceRef ref = ref_at(pointer_join(wp, i));
        if (std::find(t.pool.begin(), t.pool.end(), ref) != t.pool.end())
          throw doc.error(pointer_join(wp, i), "\"" + ref.to_string() + "\" is listed twice");
        t.pool.push_back(std::move(ref));
      }
      t.workspace = t.pool.front();
    } else {
      require_present(doc, ptr, "workspace");
      t.workspace = ref_at(pointer_join(ptr, "workspace"));
    }
    if (has(doc, ptr, "start")) t.start = get_time_in_run(pointer_join(ptr, "start"));
    if (has(doc, ptr, "end")) {
      std::string ep = pointer_join(ptr, "end");
      t.end = get_time_in_run(ep);
      if (*t.end <= t.start)
        throw doc.error(ep,
                        "end (" + format_duration(*t.end) + ") must be after start (" + format_duration(t.start) + ")");
    }
    require_present(doc, ptr, "arrival");
    t.arrival = parse_arrival(pointer_join(ptr, "arrival"));
    bool trace = t.arrival.process == ArrivalProcess::kTrace;
    for (auto [key, out] :
         {std::pair{"prompt_tokens", &t.prompt_tokens}, std::pair{"output_tokens", &t.output_tokens}}) {
      if (!has(doc, ptr, key)) {
        if (!trace) require_present(doc, ptr, key);
        continue;
      }
      std::string p = pointer_join(ptr, key);
      TokenDist d = parse_token_dist(doc, p, dir_);
      if (d.kind == TokenDist::Kind::kEmpirical) {
        std::string fp = pointer_join(p, "file");
        std::string text = read_referenced(fp, d.file, "token file");
        d.samples = std::make_shared<const std::vector<int64_t>>(parse_token_samples(text, d.resolved_file));
      }
      *out = std::move(d);
    }
    if (has(doc, ptr, "routing"))
      t.routing = static_cast<TrafficSpec::Routing>(
          get_choice(doc, pointer_join(ptr, "routing"), {"least_outstanding", "round_robin"}, "routing"));
    if (has(doc, ptr, "queue")) {
      const std::string qp = pointer_join(ptr, "queue");
      require_map(doc, qp);
      catalog::check_keys(doc, qp, {"limit", "timeout"});
      if (has(doc, qp, "limit")) t.queue_limit = get_int(doc, pointer_join(qp, "limit"), 0);
      if (has(doc, qp, "timeout")) t.queue_timeout = get_nonnegative_duration(doc, pointer_join(qp, "timeout"));
    }
    if (has(doc, ptr, "slo")) {
      const std::string sp = pointer_join(ptr, "slo");
      require_map(doc, sp);
      catalog::check_keys(doc, sp, {"ttft", "tpot"});
      if (has(doc, sp, "ttft")) t.slo_ttft = get_positive_duration(doc, pointer_join(sp, "ttft"));
      if (has(doc, sp, "tpot")) t.slo_tpot = get_positive_duration(doc, pointer_join(sp, "tpot"));
      if (!t.slo_ttft && !t.slo_tpot) throw doc.error(sp, "give ttft, tpot or both");
    }
    return t;
  }

  ArrivalSpec parse_arrival(const std::string& ptr) {
    const YamlDocument& doc = *doc_;
    require_map(doc, ptr);
    ArrivalSpec a;
    static const std::vector<std::string> kProcesses = {"poisson", "gamma", "closed_loop", "trace"};
    if (has(doc, ptr, "process")) {
      a.process =
          static_cast<ArrivalProcess>(get_choice(doc, pointer_join(ptr, "process"), kProcesses, "arrival process"));
    } else if (has(doc, ptr, "trace")) {
      a.process = ArrivalProcess::kTrace;
    } else {
      catalog::check_keys(doc, ptr, {"process", "rate", "cv", "concurrency", "think_time", "trace"});
      throw doc.error(pointer_join(ptr, "process"),
                      "required field is missing (poisson, gamma, closed_loop or "
                      "trace; or give trace: file.csv)");
    }
    auto rate = [&]() {
      std::string rp = pointer_join(ptr, "rate");
      require_present(doc, ptr, "rate");
      const json& n = node(doc, rp);
      if (n.is_number())
        throw doc.error(rp, "rate " + n.dump() +
                                " has no unit; expected requests per time unit (e.g. 2/s, "
                                "120/m, 7200/h)");
      std::string text = get_string(doc, rp);
      if (text.starts_with('-') && parse_rate(text.substr(1)))
        throw doc.error(rp, "must be positive, got \"" + text + "\"");
      auto r = parse_rate(text);
      if (!r)
        throw doc.error(rp, "invalid rate \"" + text +
                                "\"; expected requests per time unit (e.g. 2/s, "
                                "120/m, 7200/h)");
      if (!(*r > 0)) throw doc.error(rp, "must be positive, got \"" + text + "\"");
      return *r;
    };
    switch (a.process) {
      case ArrivalProcess::kPoisson:
        catalog::check_keys(doc, ptr, {"process", "rate", "diurnal"});
        a.rate_per_second = rate();
        parse_diurnal(ptr, a);
        break;
      case ArrivalProcess::kGamma:
        catalog::check_keys(doc, ptr, {"process", "rate", "cv", "diurnal"});
        a.rate_per_second = rate();
        require_present(doc, ptr, "cv");
        a.cv = get_positive_number(doc, pointer_join(ptr, "cv"));
        parse_diurnal(ptr, a);
        break;
      case ArrivalProcess::kClosedLoop:
        catalog::check_keys(doc, ptr, {"process", "concurrency", "think_time"});
        require_present(doc, ptr, "concurrency");
        a.concurrency = get_int(doc, pointer_join(ptr, "concurrency"), 1);
        if (has(doc, ptr, "think_time")) a.think_time = parse_duration_dist(doc, pointer_join(ptr, "think_time"));
        break;
      case ArrivalProcess::kTrace: {
        catalog::check_keys(doc, ptr, {"process", "trace"});
        require_present(doc, ptr, "trace");
        std::string tp = pointer_join(ptr, "trace");
        a.trace_file = get_string(doc, tp);
        a.resolved_trace_file = resolve(a.trace_file);
        read_referenced(tp, a.trace_file, "trace file");
        break;
      }
    }
    return a;
  }

  void parse_diurnal(const std::string& ptr, ArrivalSpec& a) {
    const YamlDocument& doc = *doc_;
    if (!has(doc, ptr, "diurnal")) return;
    const std::string dp = pointer_join(ptr, "diurnal");
    require_map(doc, dp);
    catalog::check_keys(doc, dp, {"amplitude", "period", "peak"});
    require_present(doc, dp, "amplitude");
    const std::string ap = pointer_join(dp, "amplitude");
    a.diurnal_amplitude = get_positive_number(doc, ap);
    if (a.diurnal_amplitude > 1) throw doc.error(ap, "must be at most 1 (the rate may not go negative)");
    if (has(doc, dp, "period")) a.diurnal_period = get_positive_duration(doc, pointer_join(dp, "period"));
    if (has(doc, dp, "peak")) a.diurnal_peak = get_nonnegative_duration(doc, pointer_join(dp, "peak"));
  }

  TimelineAction parse_action(const std::string& ptr) {
    const YamlDocument& doc = *doc_;
    require_map(doc, ptr);
    static const std::vector<std::string> kActions = {"scale",           "fail_node",       "delete", "set_quota",
                                                      "capacity_outage", "registry_outage", "apply"};
    std::vector<std::string> allowed = kActions;
    allowed.insert(allowed.begin(), "at");
    catalog::check_keys(doc, ptr, allowed);
    TimelineAction t;
    t.line = doc.position_of(ptr).line;
    require_present(doc, ptr, "at");
    t.at = get_time_in_run(pointer_join(ptr, "at"));
    std::string which = exactly_one(doc, ptr, kActions, "an action");
    std::string p = pointer_join(ptr, which);
    if (which == "scale") {
      require_map(doc, p);
      catalog::check_keys(doc, p, {"workspace", "count"});
      ScaleAction a;
      require_present(doc, p, "workspace");
      a.workspace = ref_at(pointer_join(p, "workspace"));
      require_present(doc, p, "count");
      a.count = get_int(doc, pointer_join(p, "count"), 0);
      t.action = a;
    } else if (which == "fail_node") {
      require_map(doc, p);
      catalog::check_keys(doc, p, {"workspace", "node", "count"});
      FailNodeAction a;
      if (exactly_one(doc, p, {"workspace", "node"}, "the node to fail") == "workspace") {
        a.workspace = ref_at(pointer_join(p, "workspace"));
        if (has(doc, p, "count")) a.count = get_int(doc, pointer_join(p, "count"), 1);
      } else {
        a.node = get_string(doc, pointer_join(p, "node"));
        if (has(doc, p, "count"))
          throw doc.key_error(pointer_join(p, "count"), "count applies to workspace: a named node fails alone");
      }
      t.action = a;
    } else if (which == "delete") {
      t.action = parse_delete(p);
    } else if (which == "set_quota") {
      require_map(doc, p);
      catalog::check_keys(doc, p, {"sku", "count"});
      SetQuotaAction a;
      require_present(doc, p, "sku");
      a.sku = get_string(doc, pointer_join(p, "sku"));
      require_present(doc, p, "count");
      a.count = get_int(doc, pointer_join(p, "count"), 0);
      t.action = a;
    } else if (which == "capacity_outage") {
      auto [sku, duration] = parse_outage(p, "sku");
      t.action = CapacityOutageAction{std::move(sku), duration};
    } else if (which == "registry_outage") {
      auto [registry, duration] = parse_outage(p, "registry");
      if (registry.empty() || registry.find('/') != std::string::npos)
        throw doc.error(pointer_join(p, "registry"), "expected a registry host such as myregistry.azurecr.io");
      t.action = RegistryOutageAction{std::move(registry), duration};
    } else {
      require_map(doc, p);
      catalog::check_keys(doc, p, {"file", "manifest"});
      ApplyAction a;
      read_manifests(p, t.at, a.manifests);
      t.action = std::move(a);
    }
    return t;
  }

  //! An outage action: {<subject_key>: name, duration: positive duration}.
  std::pair<std::string, Duration> parse_outage(const std::string& ptr, const std::string& subject_key) {
    const YamlDocument& doc = *doc_;
    require_map(doc, ptr);
    catalog::check_keys(doc, ptr, {subject_key, "duration"});
    require_present(doc, ptr, subject_key.c_str());
    std::string subject = get_string(doc, pointer_join(ptr, subject_key));
    require_present(doc, ptr, "duration");
    return {std::move(subject), get_positive_duration(doc, pointer_join(ptr, "duration"))};
  }

  DeleteAction parse_delete(const std::string& ptr) {
    const YamlDocument& doc = *doc_;
    std::string s = get_string(doc, ptr);
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
      size_t slash = s.find('/', start);
      parts.push_back(s.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    const char* kForm = "expected kind/name or kind/namespace/name (e.g. workspace/workspace-phi-3-mini), got \"";
    if (parts.size() < 2 || parts.size() > 3 ||
        std::any_of(parts.begin(), parts.end(), [](const std::string& x) { return x.empty(); }))
      throw doc.error(ptr, kForm + s + "\"");
    auto lower = [](std::string x) {
      std::transform(x.begin(), x.end(), x.begin(), [](unsigned char c) { return std::tolower(c); });
      return x;
    };
    const ResourceInfo* info = nullptr;
    std::vector<std::string> kinds;
    for (const auto& r : all_resources()) {
      kinds.push_back(lower(std::string(r.kind)));
      if (lower(std::string(r.kind)) == lower(parts[0]) || r.plural == lower(parts[0])) info = &r;
    }
    if (!info) {
      std::string msg = "unknown kind \"" + parts[0] + "\"";
      std::string suggestion = closest_match(lower(parts[0]), kinds);
      if (!suggestion.empty()) msg += " (did you mean \"" + suggestion + "\"?)";
      throw doc.error(ptr, msg);
    }
    DeleteAction a;
    a.kind = std::string(info->kind);
    if (parts.size() == 3) {
      if (!info->namespaced) throw doc.error(ptr, a.kind + " is cluster-scoped; expected " + parts[0] + "/name");
      a.namespace_ = parts[1];
    } else if (info->namespaced) {
      a.namespace_ = "default";
    }
    a.name = parts.back();
    if (a.kind == "Workspace") refs_.push_back({WorkspaceRef{a.namespace_, a.name}, ptr});
    return a;
  }

  Expectation parse_expectation(const std::string& ptr) {
    const YamlDocument& doc = *doc_;
    require_map(doc, ptr);
    catalog::check_keys(
        doc, ptr,
        {"workspace", "ready_within", "never_ready", "condition", "nodeclaims", "metric", "below", "above", "state"});
    Expectation e;
    e.line = doc.position_of(ptr).line;
    require_present(doc, ptr, "workspace");
    e.workspace = ref_at(pointer_join(ptr, "workspace"));
    std::string which =
        exactly_one(doc, ptr, {"ready_within", "never_ready", "condition", "nodeclaims", "metric", "state"}, "a check");
    std::string p = pointer_join(ptr, which);
    if (which != "metric") {
      for (const char* k : {"below", "above"})
        if (has(doc, ptr, k))
          throw doc.key_error(pointer_join(ptr, k), std::string(k) + " goes with metric; this entry checks " + which);
    }
    if (which == "ready_within") {
      e.kind = Expectation::Kind::kReadyWithin;
      e.ready_within = get_positive_duration(doc, p);
    } else if (which == "never_ready") {
      e.kind = Expectation::Kind::kNeverReady;
      if (!get_bool(doc, p)) throw doc.error(p, "never_ready: false checks nothing; use true, or ready_within");
    } else if (which == "condition") {
      e.kind = Expectation::Kind::kCondition;
      require_map(doc, p);
      catalog::check_keys(doc, p, {"type", "status", "reason"});
      require_present(doc, p, "type");
      e.condition_type = get_string(doc, pointer_join(p, "type"));
      require_present(doc, p, "status");
      std::string sp = pointer_join(p, "status");
      if (node(doc, sp).is_boolean())
        e.condition_status = get_bool(doc, sp) ? "True" : "False";
      else
        e.condition_status = std::vector<std::string>{
            "True", "False", "Unknown"}[get_choice(doc, sp, {"True", "False", "Unknown"}, "condition status")];
      if (has(doc, p, "reason")) e.condition_reason = get_string(doc, pointer_join(p, "reason"));
    } else if (which == "nodeclaims") {
      e.kind = Expectation::Kind::kNodeClaims;
      require_map(doc, p);
      catalog::check_keys(doc, p, {"min", "max", "equals"});
      if (has(doc, p, "min")) e.min = get_int(doc, pointer_join(p, "min"), 0);
      if (has(doc, p, "max")) e.max = get_int(doc, pointer_join(p, "max"), 0);
      if (has(doc, p, "equals")) e.equals = get_int(doc, pointer_join(p, "equals"), 0);
      if (!e.min && !e.max && !e.equals) throw doc.error(p, "expected at least one of min, max, equals");
      if (e.equals && (e.min || e.max))
        throw doc.key_error(pointer_join(p, "equals"), "equals cannot be combined with min or max");
      if (e.min && e.max && *e.min > *e.max)
        throw doc.error(pointer_join(p, "max"),
                        "max (" + std::to_string(*e.max) + ") must not be below min (" + std::to_string(*e.min) + ")");
    } else if (which == "metric") {
      e.kind = Expectation::Kind::kMetric;
      e.metric = get_string(doc, p);
      auto unit = metric_unit(e.metric);
      if (!unit) {
        std::string msg = "unknown metric \"" + e.metric + "\"";
        std::string suggestion = closest_match(e.metric, known_metrics());
        if (!suggestion.empty())
          msg += " (did you mean \"" + suggestion + "\"?)";
        else
          msg += "; expected e.g. ttft_p95, tpot_mean, e2el_p99, output_throughput, request_throughput";
        throw doc.error(p, msg);
      }
      e.unit = *unit;
      std::string bound = exactly_one(doc, ptr, {"below", "above"}, "a bound for " + e.metric);
      e.below = bound == "below";
      parse_threshold(pointer_join(ptr, bound), e);
    } else {
      e.kind = Expectation::Kind::kState;
      e.state = get_string(doc, p);
    }
    return e;
  }

  void parse_threshold(const std::string& ptr, Expectation& e) {
    const YamlDocument& doc = *doc_;
    const json& n = node(doc, ptr);
    auto unit_hint = [&]() -> std::string {
      switch (e.unit) {
        case MetricUnit::kSeconds:
          return "a time such as 2s or 500ms";
        case MetricUnit::kTokensPerSecond:
          return "a rate such as 100 tok/s";
        case MetricUnit::kRequestsPerSecond:
          return "a rate such as 2 req/s";
        case MetricUnit::kCount:
          return "a number";
        case MetricUnit::kFraction:
          return "a fraction such as 0.9 or 90%";
      }
      return "";
    };
    if (n.is_number()) {
      e.threshold = n.get<double>();
      e.threshold_text = n.dump();
    } else if (n.is_string()) {
      std::string s = n.get<std::string>();
      e.threshold_text = s;
      std::optional<MetricUnit> given;
      double value = 0;
      auto split = [&](const char* suffix) {
        size_t len = std::strlen(suffix);
        if (s.size() <= len || s.compare(s.size() - len, len, suffix) != 0) return false;
        std::string num = s.substr(0, s.size() - len);
        while (!num.empty() && num.back() == ' ') num.pop_back();
        char* end = nullptr;
        value = std::strtod(num.c_str(), &end);
        return !num.empty() && end == num.c_str() + num.size() && std::isfinite(value);
      };
      if (split("%")) {
        given = MetricUnit::kFraction;
        value /= 100;
      } else if (split("tok/s")) {
        given = MetricUnit::kTokensPerSecond;
      } else if (split("req/s")) {
        given = MetricUnit::kRequestsPerSecond;
      } else if (auto d = parse_duration(s)) {
        given = MetricUnit::kSeconds;
        value = to_seconds(*d);
      } else {
        throw doc.error(ptr, "invalid value \"" + s + "\" for " + e.metric + "; expected " + unit_hint());
      }
      if (*given != e.unit) throw doc.error(ptr, e.metric + " is compared with " + unit_hint() + ", got \"" + s + "\"");
      e.threshold = value;
    } else {
      throw doc.error(ptr, "expected " + unit_hint() + ", got " + describe(n));
    }
    if (e.threshold < 0) throw doc.error(ptr, "must not be negative, got " + e.threshold_text);
    if (e.unit == MetricUnit::kFraction && e.threshold > 1)
      throw doc.error(ptr, e.metric + " is a fraction between 0 and 1 (or 0% to 100%), got " + e.threshold_text);
  }

  WorkspaceRef ref_at(const std::string& ptr) {
    WorkspaceRef ref = get_workspace_ref(*doc_, ptr);
    refs_.push_back({ref, ptr});
    return ref;
  }

  void check_refs(const Scenario& s) {
    std::vector<std::string> defined;
    for (const auto& m : s.manifests)
      if (m.is_workspace()) defined.push_back(WorkspaceRef{m.namespace_, m.name}.to_string());
    for (const auto& t : s.timeline)
      if (const auto* apply = std::get_if<ApplyAction>(&t.action))
        for (const auto& m : apply->manifests)
          if (m.is_workspace()) defined.push_back(WorkspaceRef{m.namespace_, m.name}.to_string());
    for (const auto& r : refs_) {
      if (s.find_workspace(r.ref)) continue;
      std::string msg = "no Workspace \"" + r.ref.to_string() + "\" is defined in workspaces";
      std::string suggestion = closest_match(r.ref.to_string(), defined);
      if (!suggestion.empty())
        msg += " (did you mean \"" + suggestion + "\"?)";
      else if (defined.empty())
        msg += " (none are)";
      else
        msg += "; defined: " + join(defined, ", ");
      throw doc_->error(r.pointer, msg);
    }
  }

  std::string hash() const {
    Sha256 h;
    // Length-prefixed fields so that no two different input sets hash the same bytes.
    auto field = [&h](const std::string& s) {
      h.update(std::to_string(s.size()) + ":");
      h.update(s);
    };
    field("ktwin-scenario-v1");
    field(text_);
    for (const auto& [path, text] : inputs_) {
      field(path);
      field(text);
    }
    return h.hex_digest();
  }

  std::string text_;
  std::string path_;
  std::string dir_;
  Duration duration_ = 0;
  std::shared_ptr<YamlDocument> doc_;
  std::vector<std::pair<std::string, std::string>> inputs_;  //!< referenced files: path as written, text
  std::vector<PendingRef> refs_;
};

}  // namespace

Scenario parse_scenario(const std::string& text, const std::string& path) { return Loader(text, path).load(); }

namespace {

std::string read_input(const std::string& path, const char* what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw InputError(path, 0, 0, "", std::string("is a directory, not a ") + what);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::string reason = lower_first(std::strerror(errno));
    throw InputError(path, 0, 0, "", std::string("cannot read ") + what + ": " + reason);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Scenario load_scenario(const std::string& path) { return parse_scenario(read_input(path, "scenario file"), path); }

std::vector<std::string> generic_model_entries(const YamlDocument& doc) {
  std::vector<std::string> out;
  const json& v = doc.value;
  auto list = [&](const json& arr, const std::string& base) {
    for (size_t i = 0; i < arr.size(); ++i) out.push_back(pointer_join(base, i));
  };
  if (v.is_object() && v.contains("hf_id"))
    out.push_back("");
  else if (v.is_object() && v.contains("models") && v["models"].is_array())
    list(v["models"], "/models");
  else if (v.is_array())
    list(v, "");
  else
    throw doc.error("", "expected a model description with hf_id, a list of them, or a scenario with models:");
  return out;
}

std::vector<GenericModel> load_generic_models(const std::string& path) {
  auto docs = catalog::parse_yaml(read_input(path, "models file"), path);
  if (docs.size() != 1) throw InputError(path, 0, 0, "", "a models file holds one YAML document");
  auto doc = std::make_shared<const YamlDocument>(std::move(docs[0]));
  return parse_generic_models(doc, generic_model_entries(*doc));
}

catalog::Catalog with_generic_models(const catalog::Catalog& base, const std::vector<GenericModel>& models) {
  catalog::Catalog out = base;
  for (const auto& m : models)
    if (Status st = out.presets.add(m.preset); !st)
      throw m.doc->error(m.pointer + "/hf_id",
                         st.error().message + "; KAITO already has this model, remove it from models:");
  return out;
}

}  // namespace ktwin::sim
