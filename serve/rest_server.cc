#include "serve/rest_server.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include "core/k8s/printers.h"
#include "core/k8s/selector.h"
#include "core/object.h"

namespace ktwin::serve {

namespace {

constexpr const char* kJson = "application/json";

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string group_version(std::string_view group, std::string_view version) {
  return group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
}

// The API versions a kind is served at: its storage version, and v1alpha1 for KAITO's Workspace.
std::vector<std::string> served_versions(const ResourceInfo& info) {
  std::vector<std::string> v{std::string(info.version)};
  if (info.kind == "Workspace") v.emplace_back("v1alpha1");
  return v;
}

std::vector<std::string> short_names(std::string_view kind) {
  static const std::map<std::string, std::vector<std::string>, std::less<>> names = {
      {"Workspace", {"wk", "wks"}}, {"Pod", {"po"}},       {"Service", {"svc"}},
      {"ConfigMap", {"cm"}},        {"Namespace", {"ns"}}, {"StatefulSet", {"sts"}},
      {"Deployment", {"deploy"}},   {"Event", {"ev"}},     {"Node", {"no"}}};
  auto it = names.find(kind);
  return it == names.end() ? std::vector<std::string>{} : it->second;
}

struct HttpError {
  int status;
  std::string reason;
  std::string message;
};

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kInvalid:
      return 422;
    case ErrorCode::kForbidden:
      return 403;
    case ErrorCode::kGone:
      return 410;
    case ErrorCode::kTooManyRequests:
      return 429;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kTimeout:
      return 504;
    default:
      return 500;
  }
}

std::string status_reason(int status) {
  switch (status) {
    case 400:
      return "BadRequest";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "InternalError";
  }
}

json status_json(int code, const std::string& reason, const std::string& message, const json& details = nullptr) {
  json j = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason},
            {"code", code}};
  if (!details.is_null()) j["details"] = details;
  return j;
}

void send(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), kJson);
}

void send_error(httplib::Response& res, int status, const std::string& message, const json& details = nullptr) {
  send(res, status, status_json(status, status_reason(status), message, details));
}

// A request's target: /api/v1/[namespaces/NS/]PLURAL[/NAME[/SUB]] or /apis/GROUP/VERSION/...
struct Target {
  const ResourceInfo* info = nullptr;
  std::string version;  //!< as requested
  std::string ns;
  std::string name;
  std::string sub;
  std::string api_version() const { return group_version(info->group, version); }
};

const ResourceInfo* find_resource(std::string_view group, std::string_view version, std::string_view plural) {
  for (const auto& r : all_resources()) {
    if (r.group != group || r.plural != plural) continue;
    for (const auto& v : served_versions(r))
      if (v == version) return &r;
  }
  return nullptr;
}

std::optional<Target> parse_target(const std::string& path, HttpError& err) {
  std::vector<std::string> segs;
  for (auto& s : split(path, '/'))
    if (!s.empty()) segs.push_back(std::move(s));
  std::string group, version;
  size_t i = 0;
  if (segs.size() >= 2 && segs[0] == "api") {
    version = segs[1];
    i = 2;
  } else if (segs.size() >= 3 && segs[0] == "apis") {
    group = segs[1];
    version = segs[2];
    i = 3;
  } else {
    err = {404, "NotFound", "the server could not find the requested resource"};
    return std::nullopt;
  }
  std::vector<std::string> rest(segs.begin() + static_cast<std::ptrdiff_t>(i), segs.end());
  Target t;
  t.version = version;
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    const ResourceInfo* r = find_resource(group, version, rest[2]);
    if (r && r->namespaced) {
      t.info = r;
      t.ns = rest[1];
      rest.erase(rest.begin(), rest.begin() + 2);
    }
  }
  if (rest.empty() || rest.size() > 3) {
    err = {404, "NotFound", "the server could not find the requested resource"};
    return std::nullopt;
  }
  if (!t.info) t.info = find_resource(group, version, rest[0]);
  if (!t.info) {
    err = {404, "NotFound",
           "the server could not find the requested resource (" + group_version(group, version) + ", " + rest[0] + ")"};
    return std::nullopt;
  }
  if (rest.size() >= 2) t.name = rest[1];
  if (rest.size() == 3) t.sub = rest[2];
  const bool known_sub = t.sub.empty() || (t.sub == "status" && t.info->status_subresource) ||
                         (t.sub == "binding" && t.info->kind == "Pod");
  if (!known_sub) {
    err = {404, "NotFound",
           "the server could not find the requested resource (" + std::string(t.info->plural) + "/" + t.sub + ")"};
    return std::nullopt;
  }
  return t;
}

json object_json(const Object& o, const Target& t) {
  json j = to_json(o);
  j["apiVersion"] = t.api_version();  // one storage format; Workspaces are also served as v1alpha1
  return j;
}

// metadata.name / metadata.namespace field selectors (what kubectl delete --wait and -w use).
struct FieldSelector {
  struct Term {
    std::string field;
    std::string value;
    bool equal;
  };
  std::vector<Term> terms;
  bool matches(const Object& o) const {
    for (const auto& t : terms) {
      const std::string& v = t.field == "metadata.name" ? o.meta.name : o.meta.namespace_;
      if ((v == t.value) != t.equal) return false;
    }
    return true;
  }
};

FieldSelector parse_field_selector(const std::string& text) {
  FieldSelector fs;
  if (trim(text).empty()) return fs;
  for (const auto& part : split(text, ',')) {
    bool equal = true;
    size_t op = part.find("!=");
    size_t vlen = 2;
    if (op == std::string::npos) {
      op = part.find("==");
      if (op == std::string::npos) {
        op = part.find('=');
        vlen = 1;
      }
    } else {
      equal = false;
    }
    if (op == std::string::npos) throw std::invalid_argument("invalid field selector term \"" + part + "\"");
    FieldSelector::Term t{trim(part.substr(0, op)), trim(part.substr(op + vlen)), equal};
    if (t.field != "metadata.name" && t.field != "metadata.namespace")
      throw std::invalid_argument("field label not supported: " + t.field);
    fs.terms.push_back(std::move(t));
  }
  return fs;
}

struct HistoryEntry {
  uint64_t rv;
  WatchEventType type;
  ObjectPtr object;
};

struct History {
  std::deque<HistoryEntry> events;
  uint64_t compacted = 0;  //!< events with resourceVersion <= this may be missing
};

uint64_t rv_of(const Object& o) {
  try {
    return std::stoull(o.meta.resource_version);
  } catch (const std::exception&) {
    return 0;
  }
}

bool wants_table(const httplib::Request& req) {
  return req.get_header_value("Accept").find("as=Table") != std::string::npos;
}

}  // namespace

LabelSelector parse_label_selector(const std::string& text) {
  LabelSelector sel;
  // Split on commas outside parentheses.
  std::vector<std::string> terms;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth < 0) throw std::invalid_argument("unbalanced ')' in label selector \"" + text + "\"");
    if (c == ',' && depth == 0) {
      terms.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (depth != 0) throw std::invalid_argument("unbalanced '(' in label selector \"" + text + "\"");
  terms.push_back(cur);
  auto check_key = [&](const std::string& k) {
    if (k.empty() || k.find_first_of(" ()=!") != std::string::npos)
      throw std::invalid_argument("invalid label key \"" + k + "\" in selector \"" + text + "\"");
    return k;
  };
  for (const auto& raw : terms) {
    const std::string term = trim(raw);
    if (term.empty()) {
      if (terms.size() == 1) break;
      throw std::invalid_argument("empty term in label selector \"" + text + "\"");
    }
    const std::string low = lower(term);
    size_t set_op = std::string::npos;
    bool notin = false;
    if (size_t p = low.find(" notin "); p != std::string::npos) {
      set_op = p;
      notin = true;
    } else if (size_t q = low.find(" in "); q != std::string::npos) {
      set_op = q;
    }
    if (set_op != std::string::npos) {
      const std::string key = check_key(trim(term.substr(0, set_op)));
      std::string vals = trim(term.substr(set_op + (notin ? 7 : 4)));
      if (vals.size() < 2 || vals.front() != '(' || vals.back() != ')')
        throw std::invalid_argument("expected (values) after the operator in \"" + term + "\"");
      SelectorRequirement req{key, notin ? "NotIn" : "In", {}};
      for (const auto& v : split(vals.substr(1, vals.size() - 2), ',')) req.values.push_back(trim(v));
      sel.match_expressions.push_back(std::move(req));
    } else if (term[0] == '!') {
      sel.match_expressions.push_back({check_key(trim(term.substr(1))), "DoesNotExist", {}});
    } else if (size_t ne = term.find("!="); ne != std::string::npos) {
      sel.match_expressions.push_back({check_key(trim(term.substr(0, ne))), "NotIn", {trim(term.substr(ne + 2))}});
    } else if (size_t eq = term.find('='); eq != std::string::npos) {
      const size_t vstart = term.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1;
      sel.match_labels[check_key(trim(term.substr(0, eq)))] = trim(term.substr(vstart));
    } else {
      sel.match_expressions.push_back({check_key(term), "Exists", {}});
    }
  }
  return sel;
}

HttpFaults parse_http_faults(const std::string& spec) {
  HttpFaults f;
  for (const auto& raw : split(spec, ',')) {
    const std::string item = trim(raw);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("fault \"" + item + "\" needs =VALUE");
    const std::string key = item.substr(0, eq);
    std::string value = item.substr(eq + 1);
    auto rate = [&](const std::string& v) {
      size_t used = 0;
      double r = 0;
      try {
        r = std::stod(v, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != v.size() || r < 0 || r > 1)
        throw std::invalid_argument("fault " + key + ": rate must be a number in [0, 1], got \"" + v + "\"");
      return r;
    };
    auto integer = [&](const std::string& v) {
      size_t used = 0;
      long long n = -1;
      try {
        n = std::stoll(v, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != v.size() || n < 0)
        throw std::invalid_argument("fault " + key + ": expected a non-negative integer, got \"" + v + "\"");
      return n;
    };
    if (key == "throttle") {
      f.throttle = rate(value);
    } else if (key == "unavailable") {
      f.unavailable = rate(value);
    } else if (key == "conflict") {
      f.conflict = rate(value);
    } else if (key == "truncate") {
      f.truncate = rate(value);
    } else if (key == "watch-gone") {
      f.watch_gone = rate(value);
    } else if (key == "watch-drop-after") {
      f.watch_drop_after = static_cast<int>(integer(value));
    } else if (key == "seed") {
      f.seed = static_cast<uint64_t>(integer(value));
    } else if (key == "slow") {
      // slow=RATE[:DELAYms]
      const size_t colon = value.find(':');
      if (colon != std::string::npos) {
        std::string delay = value.substr(colon + 1);
        if (delay.size() > 2 && delay.compare(delay.size() - 2, 2, "ms") == 0) delay.resize(delay.size() - 2);
        f.slow_delay = std::chrono::milliseconds(integer(delay));
        value.resize(colon);
      }
      f.slow = rate(value);
    } else {
      throw std::invalid_argument("unknown fault \"" + key +
                                  "\" (known: throttle, unavailable, conflict, truncate, slow, watch-gone, "
                                  "watch-drop-after, seed)");
    }
  }
  return f;
}

struct RestServer::Impl {
  ServedWorld world;
  RestServerOptions options;
  std::unique_ptr<httplib::Server> http;
  std::thread listener;
  std::string host;
  int bound_port = 0;

  // Watch history per kind, fed by the world's own watches.
  std::mutex hist_mu;
  std::condition_variable hist_cv;
  std::map<std::string, History, std::less<>> history;
  bool stopping = false;
  std::vector<std::unique_ptr<WatchSubscription>> feeds;

  std::mutex fault_mu;
  HttpFaults faults;
  std::mt19937_64 rng;

  std::atomic<uint64_t> requests{0}, watches{0}, faults_injected{0}, writes{0};

  Impl(ServedWorld w, RestServerOptions o) : world(std::move(w)), options(o) {
    faults = options.faults;
    rng.seed(faults.seed);
    std::lock_guard<std::mutex> world_lock(*world.lock);
    const uint64_t start = std::stoull(world.resource_version());
    for (const auto& info : all_resources()) {
      History& h = history[std::string(info.kind)];
      h.compacted = start;  // earlier versions were never recorded
      const std::string kind(info.kind);
      feeds.push_back(world.cluster->watch(info.kind, "", [this, kind, start](const WatchEvent& ev) {
        const uint64_t rv = rv_of(*ev.object);
        if (rv <= start) return;  // the initial ADDED of objects that existed before the history began
        std::lock_guard<std::mutex> lock(hist_mu);
        History& hist = history[kind];
        hist.events.push_back({rv, ev.type, ev.object});
        while (hist.events.size() > options.history_per_kind) {
          hist.compacted = hist.events.front().rv;
          hist.events.pop_front();
        }
        hist_cv.notify_all();
      }));
    }
  }

  ~Impl() {
    stop();
    std::lock_guard<std::mutex> world_lock(*world.lock);
    for (auto& f : feeds) f->stop();
    feeds.clear();
  }

  bool roll(double p) {
    if (p <= 0) return false;
    std::lock_guard<std::mutex> lock(fault_mu);
    return std::uniform_real_distribution<double>(0, 1)(rng) < p;
  }
  HttpFaults current_faults() {
    std::lock_guard<std::mutex> lock(fault_mu);
    return faults;
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(hist_mu);
      stopping = true;
    }
    hist_cv.notify_all();
    if (http) http->stop();
    if (listener.joinable()) listener.join();
    http.reset();
  }

  // --- discovery ---------------------------------------------------------------------------------

  json resource_list(std::string_view group, std::string_view version) const {
    json resources = json::array();
    static const json verbs = {"create", "delete", "get", "list", "patch", "update", "watch"};
    for (const auto& r : all_resources()) {
      if (r.group != group) continue;
      const auto versions = served_versions(r);
      if (std::find(versions.begin(), versions.end(), version) == versions.end()) continue;
      resources.push_back({{"name", r.plural},
                           {"singularName", lower(r.kind)},
                           {"namespaced", r.namespaced},
                           {"kind", r.kind},
                           {"verbs", verbs},
                           {"shortNames", short_names(r.kind)}});
      if (r.status_subresource)
        resources.push_back({{"name", std::string(r.plural) + "/status"},
                             {"singularName", ""},
                             {"namespaced", r.namespaced},
                             {"kind", r.kind},
                             {"verbs", {"get", "patch", "update"}}});
      if (r.kind == "Pod")
        resources.push_back({{"name", "pods/binding"},
                             {"singularName", ""},
                             {"namespaced", true},
                             {"kind", "Binding"},
                             {"verbs", {"create"}}});
    }
    return {{"kind", "APIResourceList"},
            {"apiVersion", "v1"},
            {"groupVersion", group_version(group, version)},
            {"resources", resources}};
  }

  json api_group(const std::string& group) const {
    json versions = json::array();
    std::set<std::string> seen;
    std::string preferred;
    for (const auto& r : all_resources())
      if (r.group == group)
        for (const auto& v : served_versions(r))
          if (seen.insert(v).second) {
            versions.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
            if (preferred.empty()) preferred = v;
          }
    return {{"name", group},
            {"versions", versions},
            {"preferredVersion", {{"groupVersion", group + "/" + preferred}, {"version", preferred}}}};
  }

  // Just enough OpenAPI v3 for kubectl: each group version's PATCH operations declare the fieldValidation
  // parameter, so `kubectl apply` uses server-side field validation instead of downloading schemas.
  json openapi_root() const {
    json paths = json::object();
    paths["api/v1"] = {{"serverRelativeURL", "/openapi/v3/api/v1"}};
    for (const auto& r : all_resources())
      if (!r.group.empty())
        for (const auto& v : served_versions(r)) {
          const std::string gv = "apis/" + std::string(r.group) + "/" + v;
          paths[gv] = {{"serverRelativeURL", "/openapi/v3/" + gv}};
        }
    return {{"paths", paths}};
  }

  json openapi_group_version(std::string_view group, std::string_view version) const {
    json paths = json::object();
    for (const auto& r : all_resources()) {
      if (r.group != group) continue;
      const auto versions = served_versions(r);
      if (std::find(versions.begin(), versions.end(), version) == versions.end()) continue;
      const std::string base = group.empty() ? "/api/v1" : "/apis/" + group_version(group, version);
      const std::string path =
          base + (r.namespaced ? "/namespaces/{namespace}/" : "/") + std::string(r.plural) + "/{name}";
      const json gvk = {{"group", r.group}, {"version", version}, {"kind", r.kind}};
      const json params = json::array({{{"name", "fieldValidation"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                                       {{"name", "fieldManager"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                                       {{"name", "dryRun"}, {"in", "query"}, {"schema", {{"type", "string"}}}}});
      json op = {{"x-kubernetes-group-version-kind", gvk},
                 {"parameters", params},
                 {"responses", {{"200", {{"description", "OK"}}}}}};
      paths[path] = {{"patch", op}, {"put", op}};
      paths[base + (r.namespaced ? "/namespaces/{namespace}/" : "/") + std::string(r.plural)] = {{"post", op}};
    }
    return {{"openapi", "3.0.0"},
            {"info", {{"title", "Kubernetes (ktwin serve)"}, {"version", "v1.30.0"}}},
            {"paths", paths},
            {"components", {{"schemas", json::object()}}}};
  }

  std::vector<std::string> groups() const {
    std::vector<std::string> out;
    for (const auto& r : all_resources())
      if (!r.group.empty() && std::find(out.begin(), out.end(), r.group) == out.end()) out.emplace_back(r.group);
    return out;
  }

  // --- tables ------------------------------------------------------------------------------------

  static json row_object(const Object& o, const Target& t, const std::string& include) {
    if (include == "None") return nullptr;
    if (include == "Object") return object_json(o, t);
    return {{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", meta_to_json(o.meta)}};
  }

  static json table_json(const Target& t, const std::vector<ObjectPtr>& objects, Time now, bool with_columns,
                         const std::string& include, const std::string& rv) {
    const PrintedTable printed = table_of(std::string(t.info->kind), objects, now, t.api_version());
    json columns = json::array();
    if (with_columns)
      for (const auto& h : printed.headers)
        columns.push_back({{"name", h},
                           {"type", "string"},
                           {"format", h == "NAME" ? "name" : ""},
                           {"description", ""},
                           {"priority", 0}});
    json rows = json::array();
    for (size_t i = 0; i < objects.size(); ++i)
      rows.push_back({{"cells", printed.rows[i]}, {"object", row_object(*objects[i], t, include)}});
    json table = {{"kind", "Table"},
                  {"apiVersion", "meta.k8s.io/v1"},
                  {"metadata", {{"resourceVersion", rv}}},
                  {"columnDefinitions", columns},
                  {"rows", rows}};
    return table;
  }

  // --- handlers ----------------------------------------------------------------------------------

  // Runs `fn` with the world locked and caught up to the present.
  template <typename Fn>
  auto locked(Fn&& fn) {
    std::lock_guard<std::mutex> lock(*world.lock);
    if (world.catch_up) world.catch_up();
    return fn();
  }

  void after_write() {
    ++writes;
    if (world.wake) world.wake();
  }

  static void send_result_error(httplib::Response& res, const Error& e, const Target& t) {
    const int status = http_status(e.code);
    std::string reason = e.code == ErrorCode::kAlreadyExists ? "AlreadyExists" : status_reason(status);
    json details = {{"name", t.name}, {"group", t.info->group}, {"kind", t.info->plural}};
    send(res, status, status_json(status, reason, e.message, details));
  }

  void handle_get(const httplib::Request& req, httplib::Response& res, const Target& t) {
    if (!t.name.empty()) {
      if (t.sub == "binding") return send_error(res, 405, "binding supports only create");
      Time now = 0;
      auto r = locked([&] {
        now = world.clock->now();
        return world.cluster->get(t.info->kind, t.ns, t.name);
      });
      if (!r) return send_result_error(res, r.error(), t);
      if (wants_table(req))
        return send(res, 200,
                    table_json(t, {r.value()}, now, true, req.get_param_value("includeObject"),
                               r.value()->meta.resource_version));
      return send(res, 200, object_json(*r.value(), t));
    }
    ListOptions opts;
    opts.namespace_ = t.ns;
    FieldSelector fields;
    try {
      if (req.has_param("labelSelector")) {
        LabelSelector sel = parse_label_selector(req.get_param_value("labelSelector"));
        if (!sel.empty()) opts.selector = std::move(sel);
      }
      fields = parse_field_selector(req.get_param_value("fieldSelector"));
    } catch (const std::invalid_argument& e) {
      return send_error(res, 400, e.what());
    }
    const std::string watch = req.get_param_value("watch");
    if (watch == "true" || watch == "1") return handle_watch(req, res, t, opts, fields);

    std::string rv;
    Time now = 0;
    auto r = locked([&] {
      now = world.clock->now();
      rv = world.resource_version();
      return world.cluster->list(t.info->kind, opts);
    });
    if (!r) return send_result_error(res, r.error(), t);
    std::vector<ObjectPtr> items;
    for (const auto& o : r.value())
      if (fields.matches(*o)) items.push_back(o);
    if (wants_table(req))
      return send(res, 200, table_json(t, items, now, true, req.get_param_value("includeObject"), rv));
    json list = {{"kind", std::string(t.info->kind) + "List"},
                 {"apiVersion", t.api_version()},
                 {"metadata", {{"resourceVersion", rv}}},
                 {"items", json::array()}};
    for (const auto& o : items) list["items"].push_back(object_json(*o, t));
    send(res, 200, list);
  }

  // Streams watch events from the history: after the given resourceVersion, or (none or "0") the current
  // objects as ADDED first. Objects entering or leaving a selector arrive as ADDED or DELETED.
  void handle_watch(const httplib::Request& req, httplib::Response& res, const Target& t, const ListOptions& opts,
                    const FieldSelector& fields) {
    ++watches;
    const std::string requested = req.get_param_value("resourceVersion");
    uint64_t start_rv = 0;
    std::vector<ObjectPtr> initial;
    if (requested.empty() || requested == "0") {
      auto r = locked([&] {
        start_rv = std::stoull(world.resource_version());
        return world.cluster->list(t.info->kind, opts);
      });
      if (!r) return send_result_error(res, r.error(), t);
      for (const auto& o : r.value())
        if (fields.matches(*o)) initial.push_back(o);
    } else {
      try {
        size_t used = 0;
        start_rv = std::stoull(requested, &used);
        if (used != requested.size()) throw std::invalid_argument("trailing characters");
      } catch (const std::exception&) {
        return send_error(res, 400, "invalid resourceVersion \"" + requested + "\"");
      }
    }
    std::chrono::seconds timeout = options.default_watch_timeout;
    if (req.has_param("timeoutSeconds")) {
      try {
        timeout = std::chrono::seconds(std::max<long long>(1, std::stoll(req.get_param_value("timeoutSeconds"))));
      } catch (const std::exception&) {
        return send_error(res, 400, "invalid timeoutSeconds");
      }
    }
    const bool bookmarks = req.get_param_value("allowWatchBookmarks") == "true";
    const bool as_table = wants_table(req);
    const std::string include = req.get_param_value("includeObject");
    const HttpFaults f = current_faults();
    const bool gone_fault = roll(f.watch_gone);
    if (gone_fault) ++faults_injected;

    struct WatchState {
      uint64_t cursor;
      std::vector<ObjectPtr> initial;
      std::set<std::string> matched;  // keys of objects the client has been told exist
      bool columns_sent = false;
      int sent = 0;
      bool finished = false;
      std::chrono::steady_clock::time_point deadline, next_bookmark;
    };
    auto st = std::make_shared<WatchState>();
    st->cursor = start_rv;
    st->initial = std::move(initial);
    st->deadline = std::chrono::steady_clock::now() + timeout;
    st->next_bookmark = std::chrono::steady_clock::now() + options.bookmark_interval;
    const Target target = t;
    const int drop_after = f.watch_drop_after;

    res.status = 200;
    res.set_chunked_content_provider(kJson, [this, st, target, opts, fields, bookmarks, as_table, include, gone_fault,
                                             drop_after](size_t, httplib::DataSink& sink) {
      auto key_of_obj = [](const Object& o) { return o.meta.namespace_ + "/" + o.meta.name; };
      auto emit = [&](const char* type, const json& object) {
        std::string line = json{{"type", type}, {"object", object}}.dump() + "\n";
        return sink.write(line.data(), line.size());
      };
      auto gone = [&](uint64_t compacted) {
        emit("ERROR", status_json(410, "Expired",
                                  "too old resource version: " + std::to_string(st->cursor) + " (" +
                                      std::to_string(compacted) + ")"));
        sink.done();
        return true;
      };
      auto event_object = [&](const std::vector<ObjectPtr>& objs) -> json {
        if (!as_table) return object_json(*objs.front(), target);
        Time now = 0;
        {
          std::lock_guard<std::mutex> lock(*world.lock);
          now = world.clock->now();
        }
        json tbl = table_json(target, objs, now, !st->columns_sent, include, objs.front()->meta.resource_version);
        st->columns_sent = true;
        return tbl;
      };
      if (gone_fault) return gone(st->cursor + 1);
      // Synthetic ADDED for the current objects, first.
      if (!st->initial.empty()) {
        std::vector<ObjectPtr> initial = std::move(st->initial);
        st->initial.clear();
        for (const auto& o : initial) {
          if (opts.selector && !opts.selector->matches(o->meta.labels)) continue;
          st->matched.insert(key_of_obj(*o));
          if (!emit("ADDED", event_object({o}))) return false;
        }
      }
      std::vector<HistoryEntry> batch;
      {
        std::unique_lock<std::mutex> lock(hist_mu);
        History& h = history[std::string(target.info->kind)];
        for (;;) {
          if (stopping) return false;
          if (st->cursor < h.compacted) {
            const uint64_t compacted = h.compacted;
            lock.unlock();
            return gone(compacted);
          }
          auto it = std::upper_bound(h.events.begin(), h.events.end(), st->cursor,
                                     [](uint64_t rv, const HistoryEntry& e) { return rv < e.rv; });
          for (; it != h.events.end() && batch.size() < 256; ++it) {
            st->cursor = it->rv;
            const Object& o = *it->object;
            if (target.info->namespaced && !target.ns.empty() && o.meta.namespace_ != target.ns) continue;
            if (!fields.matches(o)) continue;
            batch.push_back(*it);
          }
          if (!batch.empty()) break;
          const auto now = std::chrono::steady_clock::now();
          if (now >= st->deadline) {
            lock.unlock();
            sink.done();
            return true;
          }
          if (bookmarks && now >= st->next_bookmark) break;
          hist_cv.wait_until(lock, std::min({st->deadline, bookmarks ? st->next_bookmark : st->deadline,
                                             now + std::chrono::milliseconds(500)}));
          if (sink.is_writable && !sink.is_writable()) return false;
        }
      }
      if (batch.empty()) {  // bookmark due
        st->next_bookmark = std::chrono::steady_clock::now() + options.bookmark_interval;
        return emit("BOOKMARK", {{"kind", target.info->kind},
                                 {"apiVersion", target.api_version()},
                                 {"metadata", {{"resourceVersion", std::to_string(st->cursor)}}}});
      }
      for (const auto& e : batch) {
        const std::string key = key_of_obj(*e.object);
        const bool was = st->matched.count(key) > 0;
        const bool is =
            e.type != WatchEventType::kDeleted && (!opts.selector || opts.selector->matches(e.object->meta.labels));
        const char* type = nullptr;
        if (e.type == WatchEventType::kDeleted) {
          if (was || !opts.selector) type = "DELETED";
        } else if (is) {
          type = was || (!opts.selector && e.type == WatchEventType::kModified) ? "MODIFIED" : "ADDED";
        } else if (was) {
          type = "DELETED";  // left the selector
        }
        if (is)
          st->matched.insert(key);
        else
          st->matched.erase(key);
        if (!type) continue;
        if (drop_after > 0 && st->sent >= drop_after) {
          ++faults_injected;
          const std::string torn = R"({"type":"MODIFIED","object":{"kind":")";
          sink.write(torn.data(), torn.size());
          return false;  // the connection is cut mid-line
        }
        if (!emit(type, event_object({e.object}))) return false;
        ++st->sent;
      }
      return true;
    });
  }

  std::optional<json> parse_body(const httplib::Request& req, httplib::Response& res) {
    try {
      json j = json::parse(req.body);
      if (!j.is_object()) {
        send_error(res, 400, "the request body must be a JSON object");
        return std::nullopt;
      }
      return j;
    } catch (const json::exception& e) {
      send_error(res, 400, std::string("the request body is not valid JSON: ") + e.what());
      return std::nullopt;
    }
  }

  // Checks a written object against its URL (kind, namespace, name) and fills in what the URL implies.
  std::optional<Object> object_for_write(json j, const Target& t, httplib::Response& res) {
    if (!j.contains("kind")) j["kind"] = t.info->kind;
    if (!j.contains("apiVersion")) j["apiVersion"] = t.api_version();
    if (j["kind"] != t.info->kind) {
      send_error(
          res, 400,
          "the kind in the body (" + j["kind"].dump() + ") does not match the URL (" + std::string(t.info->kind) + ")");
      return std::nullopt;
    }
    json& meta = j["metadata"];
    if (meta.is_null()) meta = json::object();
    if (t.info->namespaced) {
      const std::string body_ns = meta.value("namespace", "");
      if (body_ns.empty()) {
        meta["namespace"] = t.ns;
      } else if (body_ns != t.ns) {
        send_error(res, 400, "the namespace of the provided object does not match the namespace sent on the request");
        return std::nullopt;
      }
    }
    if (!t.name.empty()) {
      const std::string body_name = meta.value("name", "");
      if (body_name.empty()) {
        meta["name"] = t.name;
      } else if (body_name != t.name) {
        send_error(res, 400,
                   "the name of the object (" + body_name + ") does not match the name on the URL (" + t.name + ")");
        return std::nullopt;
      }
    }
    try {
      return object_from_json(j);
    } catch (const std::exception& e) {
      send_error(res, 400, std::string("invalid object: ") + e.what());
      return std::nullopt;
    }
  }

  void handle_post(const httplib::Request& req, httplib::Response& res, const Target& t) {
    if (req.has_param("dryRun")) return send_error(res, 400, "dry-run requests are not supported by ktwin serve");
    auto body = parse_body(req, res);
    if (!body) return;
    if (t.sub == "binding") {
      const std::string node = body->contains("target") ? (*body)["target"].value("name", "") : "";
      if (node.empty()) return send_error(res, 422, "Binding.target.name is required");
      Status s = locked([&] {
        Status r = world.cluster->bind_pod(t.ns, t.name, node);
        if (r) after_write();
        return r;
      });
      if (!s) return send_result_error(res, s.error(), t);
      return send(res, 201,
                  {{"kind", "Status"},
                   {"apiVersion", "v1"},
                   {"metadata", json::object()},
                   {"status", "Success"},
                   {"code", 201}});
    }
    if (!t.name.empty()) return send_error(res, 405, "create is served on the collection, not on an object");
    auto obj = object_for_write(std::move(*body), t, res);
    if (!obj) return;
    auto r = locked([&] {
      auto out = world.cluster->create(std::move(*obj));
      if (out) after_write();
      return out;
    });
    if (!r) return send_result_error(res, r.error(), t);
    send(res, 201, object_json(*r.value(), t));
  }

  void handle_put(const httplib::Request& req, httplib::Response& res, const Target& t) {
    if (t.name.empty() || t.sub == "binding") return send_error(res, 405, "update needs an object URL");
    if (req.has_param("dryRun")) return send_error(res, 400, "dry-run requests are not supported by ktwin serve");
    if (roll(current_faults().conflict)) {
      ++faults_injected;
      return send(res, 409,
                  status_json(409, "Conflict",
                              "Operation cannot be fulfilled on " + std::string(t.info->plural) + " \"" + t.name +
                                  "\": the object has been modified; please apply your changes to the latest "
                                  "version and try again (injected)"));
    }
    auto body = parse_body(req, res);
    if (!body) return;
    auto obj = object_for_write(std::move(*body), t, res);
    if (!obj) return;
    auto r = locked([&] {
      auto out =
          t.sub == "status" ? world.cluster->update_status(std::move(*obj)) : world.cluster->update(std::move(*obj));
      if (out) after_write();
      return out;
    });
    if (!r) return send_result_error(res, r.error(), t);
    send(res, 200, object_json(*r.value(), t));
  }

  void handle_patch(const httplib::Request& req, httplib::Response& res, const Target& t) {
    if (t.name.empty() || t.sub == "binding") return send_error(res, 405, "patch needs an object URL");
    if (req.has_param("dryRun")) return send_error(res, 400, "dry-run requests are not supported by ktwin serve");
    std::string type = req.get_header_value("Content-Type");
    type = trim(type.substr(0, type.find(';')));
    if (type == "application/apply-patch+yaml")
      return send_error(res, 415,
                        "server-side apply is not supported by ktwin serve; use kubectl apply without "
                        "--server-side");
    const bool merge = type == "application/merge-patch+json" || type == "application/strategic-merge-patch+json";
    if (!merge && type != "application/json-patch+json")
      return send_error(res, 415, "unsupported patch type \"" + type + "\"");
    if (roll(current_faults().conflict)) {
      ++faults_injected;
      return send(res, 409, status_json(409, "Conflict", "the object has been modified (injected)"));
    }
    json patch;
    try {
      patch = json::parse(req.body);
    } catch (const json::exception& e) {
      return send_error(res, 400, std::string("the patch is not valid JSON: ") + e.what());
    }
    const bool status = t.sub == "status";
    if (merge) {
      // A strategic merge patch is applied as a JSON merge patch: lists are replaced, not merged by key.
      if (!patch.is_object()) return send_error(res, 400, "a merge patch must be a JSON object");
      auto r = locked([&] {
        auto out = world.cluster->patch(t.info->kind, t.ns, t.name, patch, status);
        if (out) after_write();
        return out;
      });
      if (!r) return send_result_error(res, r.error(), t);
      return send(res, 200, object_json(*r.value(), t));
    }
    if (!patch.is_array()) return send_error(res, 400, "a JSON patch must be an array of operations");
    auto r = locked([&]() -> Result<ObjectPtr> {
      auto cur = world.cluster->get(t.info->kind, t.ns, t.name);
      if (!cur) return cur;
      json doc = object_json(*cur.value(), t);
      try {
        doc = doc.patch(patch);
        Object next = object_from_json(doc);
        next.meta.resource_version = cur.value()->meta.resource_version;  // the patch applies to what we read
        auto out = status ? world.cluster->update_status(std::move(next)) : world.cluster->update(std::move(next));
        if (out) after_write();
        return out;
      } catch (const std::exception& e) {
        return make_error(ErrorCode::kInvalid, std::string("the JSON patch cannot be applied: ") + e.what());
      }
    });
    if (!r) return send_result_error(res, r.error(), t);
    send(res, 200, object_json(*r.value(), t));
  }

  void handle_delete(const httplib::Request& req, httplib::Response& res, const Target& t) {
    if (t.name.empty() || !t.sub.empty())
      return send_error(res, 405, "delete needs an object URL (deleting collections is not supported)");
    if (req.has_param("dryRun")) return send_error(res, 400, "dry-run requests are not supported by ktwin serve");
    DeleteOptions opts;
    json body = json::object();
    if (!req.body.empty()) {
      auto parsed = parse_body(req, res);
      if (!parsed) return;
      body = std::move(*parsed);
    }
    try {
      if (body.contains("gracePeriodSeconds")) opts.grace_period_seconds = body["gracePeriodSeconds"].get<int64_t>();
      if (req.has_param("gracePeriodSeconds"))
        opts.grace_period_seconds = std::stoll(req.get_param_value("gracePeriodSeconds"));
      if (body.contains("preconditions")) opts.precondition_uid = body["preconditions"].value("uid", "");
      std::string policy = body.value("propagationPolicy", "");
      if (req.has_param("propagationPolicy")) policy = req.get_param_value("propagationPolicy");
      if (policy == "Foreground") {
        opts.propagation = Propagation::kForeground;
      } else if (policy == "Orphan") {
        opts.propagation = Propagation::kOrphan;
      } else if (!policy.empty() && policy != "Background") {
        return send_error(res, 400, "unknown propagationPolicy \"" + policy + "\"");
      }
    } catch (const std::exception& e) {
      return send_error(res, 400, std::string("invalid DeleteOptions: ") + e.what());
    }
    ObjectPtr last;
    auto r = locked([&]() -> Result<ObjectPtr> {
      auto before = world.cluster->get(t.info->kind, t.ns, t.name);
      if (!before) return before;
      Status s = world.cluster->remove(t.info->kind, t.ns, t.name, opts);
      if (!s) return s.error();
      after_write();
      auto after = world.cluster->get(t.info->kind, t.ns, t.name);
      return after ? after.value() : before.value();
    });
    if (!r) return send_result_error(res, r.error(), t);
    send(res, 200, object_json(*r.value(), t));
  }

  // Request-level faults; true when the request was answered by one.
  bool inject(const httplib::Request& req, httplib::Response& res) {
    const HttpFaults f = current_faults();
    if (!f.any() || req.path.rfind("/api", 0) != 0) return false;
    if (roll(f.slow)) {
      ++faults_injected;
      std::this_thread::sleep_for(f.slow_delay);
    }
    if (roll(f.throttle)) {
      ++faults_injected;
      res.set_header("Retry-After", "1");
      send(res, 429,
           status_json(429, "TooManyRequests", "the server has received too many requests (injected)",
                       {{"retryAfterSeconds", 1}}));
      return true;
    }
    if (roll(f.unavailable)) {
      ++faults_injected;
      send_error(res, 503, "the server is currently unable to handle the request (injected)");
      return true;
    }
    return false;
  }

  void dispatch(const httplib::Request& req, httplib::Response& res) {
    ++requests;
    if (inject(req, res)) return;
    HttpError err{};
    auto t = parse_target(req.path, err);
    if (!t) return send(res, err.status, status_json(err.status, err.reason, err.message));
    if (t->info->namespaced && t->ns.empty() && !t->name.empty())
      return send_error(res, 404, "a namespaced object needs /namespaces/NAMESPACE/ in its URL");
    if (t->info->namespaced && t->ns.empty() && req.method != "GET")
      return send_error(res, 405, "writes to a namespaced resource need a namespace in the URL");
    if (req.method == "GET") {
      const bool truncate = roll(current_faults().truncate) && req.get_param_value("watch").empty();
      handle_get(req, res, *t);
      if (truncate && res.status == 200 && !res.body.empty()) {
        ++faults_injected;
        res.body.resize(res.body.size() / 2);
      }
    } else if (req.method == "POST") {
      handle_post(req, res, *t);
    } else if (req.method == "PUT") {
      handle_put(req, res, *t);
    } else if (req.method == "PATCH") {
      handle_patch(req, res, *t);
    } else if (req.method == "DELETE") {
      handle_delete(req, res, *t);
    } else {
      send_error(res, 405, "method " + req.method + " is not supported");
    }
  }

  void install_routes(httplib::Server& s) {
    auto ok = [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); };
    s.Get("/healthz", ok);
    s.Get("/readyz", ok);
    s.Get("/livez", ok);
    s.Get("/version", [](const httplib::Request&, httplib::Response& res) {
      send(res, 200,
           {{"major", "1"},
            {"minor", "30"},
            {"gitVersion", "v1.30.0+ktwin"},
            {"platform", "linux/amd64"},
            {"goVersion", "n/a"},
            {"compiler", "ktwin"}});
    });
    s.Get("/api", [this](const httplib::Request&, httplib::Response& res) {
      send(res, 200,
           {{"kind", "APIVersions"},
            {"versions", {"v1"}},
            {"serverAddressByClientCIDRs",
             {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", host + ":" + std::to_string(bound_port)}}}}});
    });
    s.Get("/api/v1",
          [this](const httplib::Request&, httplib::Response& res) { send(res, 200, resource_list("", "v1")); });
    s.Get("/apis", [this](const httplib::Request&, httplib::Response& res) {
      json groups_json = json::array();
      for (const auto& g : groups()) groups_json.push_back(api_group(g));
      send(res, 200, {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups_json}});
    });
    s.Get(R"(/apis/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string g = req.matches[1];
      const auto all = groups();
      if (std::find(all.begin(), all.end(), g) == all.end()) return send_error(res, 404, "no API group " + g);
      json j = api_group(g);
      j["kind"] = "APIGroup";
      j["apiVersion"] = "v1";
      send(res, 200, j);
    });
    s.Get(R"(/apis/([^/]+)/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      json list = resource_list(std::string(req.matches[1]), std::string(req.matches[2]));
      if (list["resources"].empty())
        return send_error(res, 404,
                          "no API group version " + std::string(req.matches[1]) + "/" + std::string(req.matches[2]));
      send(res, 200, list);
    });
    s.Get("/openapi/v3", [this](const httplib::Request&, httplib::Response& res) { send(res, 200, openapi_root()); });
    s.Get("/openapi/v3/api/v1",
          [this](const httplib::Request&, httplib::Response& res) { send(res, 200, openapi_group_version("", "v1")); });
    s.Get(R"(/openapi/v3/apis/([^/]+)/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      send(res, 200, openapi_group_version(std::string(req.matches[1]), std::string(req.matches[2])));
    });
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      try {
        dispatch(req, res);
      } catch (const std::exception& e) {
        send_error(res, 500, std::string("internal error: ") + e.what());
      }
    };
    const char* pattern = R"(/apis?/.+)";
    s.Get(pattern, handler);
    s.Post(pattern, handler);
    s.Put(pattern, handler);
    s.Patch(pattern, handler);
    s.Delete(pattern, handler);
  }
};

RestServer::RestServer(ServedWorld world, RestServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(world), options)) {}

RestServer::~RestServer() = default;

bool RestServer::start(const std::string& host, int port) {
  impl_->stop();
  {
    std::lock_guard<std::mutex> lock(impl_->hist_mu);
    impl_->stopping = false;
  }
  impl_->http = std::make_unique<httplib::Server>();
  httplib::Server& s = *impl_->http;
  const int threads = impl_->options.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_keep_alive_timeout(2);
  // SO_REUSEADDR only: a restart may rebind at once, but a second server on a busy port must fail
  // (httplib's default also sets SO_REUSEPORT, which would split requests between two processes).
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof(yes));
  });
  impl_->install_routes(s);
  impl_->host = host;
  if (port == 0) {
    impl_->bound_port = s.bind_to_any_port(host);
    if (impl_->bound_port <= 0) return false;
  } else {
    if (!s.bind_to_port(host, port)) return false;
    impl_->bound_port = port;
  }
  impl_->listener = std::thread([&s] { s.listen_after_bind(); });
  while (!s.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return true;
}

int RestServer::port() const { return impl_->bound_port; }

void RestServer::stop() { impl_->stop(); }

void RestServer::compact() {
  uint64_t now = 0;
  {
    std::lock_guard<std::mutex> world_lock(*impl_->world.lock);
    now = std::stoull(impl_->world.resource_version());
  }
  std::lock_guard<std::mutex> lock(impl_->hist_mu);
  for (auto& [kind, h] : impl_->history) {
    uint64_t through = now;
    if (!h.events.empty()) through = std::max(through, h.events.back().rv);
    h.compacted = std::max(h.compacted, through);
    h.events.clear();
  }
  impl_->hist_cv.notify_all();
}

void RestServer::set_faults(const HttpFaults& faults) {
  std::lock_guard<std::mutex> lock(impl_->fault_mu);
  impl_->faults = faults;
  impl_->rng.seed(faults.seed);
}

RestServerStats RestServer::stats() const {
  return RestServerStats{impl_->requests.load(), impl_->watches.load(), impl_->faults_injected.load(),
                         impl_->writes.load()};
}

}  // namespace ktwin::serve
