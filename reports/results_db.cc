#include "reports/results_db.h"

#include <sqlite3.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "catalog/catalog.h"
#include "core/input_error.h"
#include "reports/sqlite_stmt.h"
#include "sim/runner.h"

#ifndef KTWIN_GIT_VERSION
#define KTWIN_GIT_VERSION "unknown"
#endif

namespace ktwin::reports {
namespace {

using nlohmann::json;

// Each entry moves the schema one version up; PRAGMA user_version records how far a file has come.
// Append only: a released migration never changes.
const char* const kMigrations[] = {
    // 1: the tables.
    R"sql(
CREATE TABLE run (
  id            INTEGER PRIMARY KEY,
  kind          TEXT NOT NULL CHECK (kind IN ('run', 'test', 'plan')),
  scenario      TEXT NOT NULL,
  scenario_hash TEXT NOT NULL,
  scenario_file TEXT,
  seed          INTEGER,
  git_version   TEXT NOT NULL,
  started_at    TEXT NOT NULL,
  wall_seconds  REAL,
  sim_seconds   REAL,
  fingerprint   TEXT,
  verdict       TEXT NOT NULL CHECK (verdict IN ('pass', 'fail')),
  event_count   INTEGER NOT NULL
);
CREATE TABLE run_attr (
  run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  key    TEXT NOT NULL,
  value  TEXT,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE event (
  run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  seq    INTEGER NOT NULL,
  t_s    REAL NOT NULL,
  kind   TEXT NOT NULL,
  name   TEXT NOT NULL,
  what   TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE expectation (
  run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  seq    INTEGER NOT NULL,
  text   TEXT NOT NULL,
  passed INTEGER NOT NULL,
  detail TEXT,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE scalar (
  run_id    INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  name      TEXT NOT NULL,
  workspace TEXT NOT NULL DEFAULT '',
  value     REAL,
  unit      TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, name, workspace)
) WITHOUT ROWID;
CREATE TABLE series (
  run_id    INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  name      TEXT NOT NULL,
  workspace TEXT NOT NULL DEFAULT '',
  t_s       REAL NOT NULL,
  value     REAL NOT NULL,
  PRIMARY KEY (run_id, name, workspace, t_s)
) WITHOUT ROWID;
CREATE TABLE request_sample (
  run_id        INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  workspace     TEXT NOT NULL,
  arrival_s     REAL NOT NULL,
  ttft_ms       REAL NOT NULL,
  tpot_ms       REAL,
  e2el_ms       REAL NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL
);
CREATE INDEX request_sample_run ON request_sample(run_id, workspace);
CREATE TABLE plan_candidate (
  run_id            INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  rank              INTEGER NOT NULL,
  cloud             TEXT NOT NULL,
  sku               TEXT NOT NULL,
  gpu               TEXT NOT NULL,
  gpus_per_node     INTEGER NOT NULL,
  nodes_per_replica INTEGER NOT NULL,
  replicas          INTEGER NOT NULL,
  tensor_parallel   INTEGER NOT NULL,
  pipeline_parallel INTEGER NOT NULL,
  data_parallel     INTEGER NOT NULL,
  cost_per_hour     REAL NOT NULL,
  cost_per_mtok     REAL,
  ttft_p95_ms       REAL,
  tpot_p95_ms       REAL,
  max_rate          REAL,
  time_to_ready_s   REAL,
  meets_slo         INTEGER NOT NULL,
  recommended       INTEGER NOT NULL,
  verdict           TEXT NOT NULL,
  PRIMARY KEY (run_id, rank)
) WITHOUT ROWID;
)sql",
    // 2: one line per run for a quick look (`SELECT * FROM run_overview`).
    R"sql(
CREATE VIEW run_overview AS
SELECT r.id, r.kind, r.scenario, r.seed, r.verdict, r.started_at, round(r.wall_seconds, 3) AS wall_s,
       r.event_count AS events,
       (SELECT count(*) FROM expectation e WHERE e.run_id = r.id AND e.passed) || '/' ||
       (SELECT count(*) FROM expectation e WHERE e.run_id = r.id) AS expectations,
       substr(r.fingerprint, 1, 12) AS fingerprint, r.git_version
FROM run r ORDER BY r.id;
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string unit_of(const std::string& name) {
  auto ends = [&](std::string_view s) { return name.size() >= s.size() && name.ends_with(s); };
  const std::string head = name.substr(0, name.find('.'));
  if (ends("tok_s")) return "tok/s";
  if (ends("req_s")) return "req/s";
  if (head.ends_with("_ms")) return "ms";
  if (head.ends_with("_s") || ends("_s")) return "s";
  if (head == "kv_cache_usage" || head == "gpu_busy_fraction") return "fraction";
  return "";
}

// Numeric and boolean leaves under `j` as dotted names.
void flatten(const json& j, const std::string& prefix, std::map<std::string, double>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items())
      if (k != "windows") flatten(v, prefix.empty() ? k : prefix + "." + k, out);
  } else if (j.is_number()) {
    out[prefix] = j.get<double>();
  } else if (j.is_boolean()) {
    out[prefix] = j.get<bool>() ? 1 : 0;
  }
}

// GPUs, nodes and cost over time, as step series read off the event log: a VM is billed from
// "vm running" until "deleted"; a node's GPUs count once the device plugin advertises them.
std::vector<sim::SeriesPoint> cluster_series(const sim::RunOutcome& o, const catalog::Catalog& cat,
                                             const std::string& cloud) {
  std::map<std::string, std::string> machine_sku;
  std::map<std::string, double> billed, node_gpus;
  std::map<std::string, bool> node_ready;
  std::map<double, std::array<double, 4>> at;  // t -> gpus, nodes_ready, machines, cost
  auto snapshot = [&](double t) {
    double gpus = 0, cost = 0, ready = 0;
    for (const auto& [n, g] : node_gpus) gpus += g;
    for (const auto& [n, r] : node_ready) ready += r;
    for (const auto& [m, p] : billed) cost += p;
    at[t] = {gpus, ready, static_cast<double>(billed.size()), cost};
  };
  snapshot(0);
  for (const auto& e : o.log) {
    const double t = to_seconds(e.t);
    bool changed = false;
    if (e.kind == "Machine") {
      if (e.what.starts_with("create started (")) {
        const size_t close = e.what.find(')');
        machine_sku[e.name] = e.what.substr(16, close == std::string::npos ? std::string::npos : close - 16);
      } else if (e.what == "vm running") {
        const Sku* sku = cat.skus.find(cloud, machine_sku[e.name]);
        billed[e.name] = sku ? sku->price_per_hour : 0;
        changed = true;
      } else if (e.what == "deleted") {
        changed = billed.erase(e.name) > 0;
      }
    } else if (e.kind == "Node") {
      if (e.what.starts_with("nvidia.com/gpu allocatable=")) {
        node_gpus[e.name] = std::strtod(e.what.c_str() + 27, nullptr);
        changed = true;
      } else if (e.what == "Ready=True" || e.what.starts_with("Ready=False")) {
        node_ready[e.name] = e.what == "Ready=True";
        changed = true;
      } else if (e.what == "deleted") {
        node_gpus.erase(e.name);
        node_ready.erase(e.name);
        changed = true;
      }
    }
    if (changed) snapshot(t);
  }
  snapshot(to_seconds(o.sim_end));
  std::vector<sim::SeriesPoint> out;
  static const char* const kNames[] = {"gpus", "nodes_ready", "machines_billed", "cost_per_hour"};
  for (int i = 0; i < 4; ++i)
    for (const auto& [t, v] : at) out.push_back({t, kNames[i], "", v[static_cast<size_t>(i)]});
  return out;
}

class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { exec("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    exec("COMMIT");
    done_ = true;
  }

 private:
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      throw std::runtime_error(std::string("SQLite: ") + msg);
    }
  }
  sqlite3* db_;
  bool done_ = false;
};

int64_t insert_run_row(sqlite3* db, const std::string& kind, const std::string& scenario, const std::string& hash,
                       const std::string& file, std::optional<int64_t> seed, double wall, std::optional<double> sim_s,
                       const std::string& fingerprint, bool passed, int64_t events) {
  Stmt st(db,
          "INSERT INTO run (kind, scenario, scenario_hash, scenario_file, seed, git_version, started_at, "
          "wall_seconds, sim_seconds, fingerprint, verdict, event_count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, kind).bind(2, scenario).bind(3, hash).bind(4, file);
  if (seed)
    st.bind(5, *seed);
  else
    st.bind_null(5);
  st.bind(6, git_version()).bind(7, utc_now()).bind(8, wall).bind(9, sim_s).bind(10, fingerprint);
  st.bind(11, passed ? "pass" : "fail").bind(12, events);
  st.run();
  return sqlite3_last_insert_rowid(db);
}

void insert_attrs(sqlite3* db, int64_t id, const std::vector<std::pair<std::string, std::string>>& attrs) {
  Stmt st(db, "INSERT OR REPLACE INTO run_attr (run_id, key, value) VALUES (?,?,?)");
  for (const auto& [k, v] : attrs) st.bind(1, id).bind(2, k).bind(3, v).run();
}

}  // namespace

std::string git_version() { return KTWIN_GIT_VERSION; }

ResultsDb::ResultsDb(const std::string& path) : path_(path) {
  auto fail = [&](const std::string& why) { throw InputError(path, 0, 0, "", why); };
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) fail("cannot create directory " + parent.string() + ": " + ec.message());
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    fail("cannot open results database: " + why);
  }
  // Several `ktwin` processes may write one file (CI jobs, make -j): wait for each other's commits.
  sqlite3_busy_timeout(db_, 30000);
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA foreign_keys=ON");
    exec("PRAGMA synchronous=NORMAL");
    migrate();
  } catch (const std::runtime_error& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    if (dynamic_cast<const InputError*>(&e)) throw;
    fail(std::string("not a usable results database: ") + e.what());
  }
}

ResultsDb::~ResultsDb() { sqlite3_close(db_); }

int ResultsDb::current_schema_version() { return kSchemaVersion; }

int ResultsDb::schema_version() const {
  Stmt st(db_, "PRAGMA user_version");
  return st.step() ? static_cast<int>(st.int64(0)) : 0;
}

void ResultsDb::exec(const std::string& sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw std::runtime_error(msg);
  }
}

void ResultsDb::migrate() {
  Transaction tx(db_);
  const int have = schema_version();
  if (have > kSchemaVersion)
    throw InputError(path_, 0, 0, "",
                     "results database has schema version " + std::to_string(have) + ", newer than this ktwin's " +
                         std::to_string(kSchemaVersion) + "; use a newer ktwin or another --db");
  for (int v = have; v < kSchemaVersion; ++v) {
    exec(kMigrations[v]);
    exec("PRAGMA user_version = " + std::to_string(v + 1));
  }
  tx.commit();
}

int64_t ResultsDb::record_run(const sim::RunOutcome& o, const catalog::Catalog& cat, const RunMeta& meta) {
  Transaction tx(db_);
  const json& s = o.summary;
  const int64_t id = insert_run_row(db_, meta.kind, o.scenario, s.value("scenario_hash", ""), meta.scenario_file,
                                    static_cast<int64_t>(o.seed), meta.wall_seconds, to_seconds(o.sim_end),
                                    o.fingerprint, meta.passed.value_or(o.passed), static_cast<int64_t>(o.log.size()));
  auto attrs = meta.attrs;
  attrs.emplace_back("cloud", meta.cloud);
  attrs.emplace_back("kernel_events", std::to_string(o.kernel_events));
  insert_attrs(db_, id, attrs);

  Stmt ev(db_, "INSERT INTO event (run_id, seq, t_s, kind, name, what) VALUES (?,?,?,?,?,?)");
  int64_t seq = 0;
  for (const auto& e : o.log)
    ev.bind(1, id).bind(2, ++seq).bind(3, to_seconds(e.t)).bind(4, e.kind).bind(5, e.name).bind(6, e.what).run();

  Stmt ex(db_, "INSERT INTO expectation (run_id, seq, text, passed, detail) VALUES (?,?,?,?,?)");
  seq = 0;
  for (const auto& e : o.expectations)
    ex.bind(1, id).bind(2, ++seq).bind(3, e.text).bind(4, e.passed).bind(5, e.detail).run();

  // Scalars: the summary's numbers, per workspace where they belong to one.
  Stmt sc(db_, "INSERT OR REPLACE INTO scalar (run_id, name, workspace, value, unit) VALUES (?,?,?,?,?)");
  auto scalar = [&](const std::string& name, const std::string& ws, double v) {
    sc.bind(1, id).bind(2, name).bind(3, ws).bind(4, v).bind(5, unit_of(name)).run();
  };
  std::map<std::string, double> flat;
  for (const char* key : {"kernel_events", "sim_end_s", "pods", "cloud", "reconciles", "injected_faults"})
    if (s.contains(key)) flatten(s[key], key, flat);
  for (const auto& [k, v] : flat) scalar(k, "", v);
  if (s.contains("nodes") && s["nodes"].is_array()) {
    scalar("nodes", "", static_cast<double>(s["nodes"].size()));
    double ready = 0;
    for (const auto& n : s["nodes"]) ready += n.value("ready", false) ? 1 : 0;
    scalar("nodes_ready", "", ready);
  }
  if (s.contains("workspaces") && s["workspaces"].is_array())
    for (const auto& w : s["workspaces"]) {
      const std::string ref = w.value("namespace", "default") + "/" + w.value("name", "");
      for (const char* key : {"ready_at_s", "target_node_count", "nodeclaims_created"})
        if (w.contains(key) && w[key].is_number()) scalar(key, ref, w[key].get<double>());
    }
  if (s.contains("metrics") && s["metrics"].is_object())
    for (const auto& [key, m] : s["metrics"].items()) {
      const std::string ref = key.find('/') == std::string::npos ? "default/" + key : key;
      flat.clear();
      flatten(m, "", flat);
      for (const auto& [k, v] : flat) scalar(k, ref, v);
    }

  Stmt se(db_, "INSERT OR REPLACE INTO series (run_id, name, workspace, t_s, value) VALUES (?,?,?,?,?)");
  for (const auto& p : o.series)
    se.bind(1, id).bind(2, p.name).bind(3, p.workspace).bind(4, p.t_s).bind(5, p.value).run();
  for (const auto& p : cluster_series(o, cat, meta.cloud))
    se.bind(1, id).bind(2, p.name).bind(3, p.workspace).bind(4, p.t_s).bind(5, p.value).run();

  Stmt rs(db_,
          "INSERT INTO request_sample (run_id, workspace, arrival_s, ttft_ms, tpot_ms, e2el_ms, prompt_tokens, "
          "output_tokens) VALUES (?,?,?,?,?,?,?,?)");
  for (const auto& r : o.request_samples) {
    rs.bind(1, id).bind(2, r.workspace).bind(3, r.arrival_s).bind(4, r.ttft_ms);
    rs.bind(5, r.tpot_ms >= 0 ? std::optional(r.tpot_ms) : std::nullopt);
    rs.bind(6, r.e2el_ms).bind(7, r.prompt_tokens).bind(8, r.output_tokens).run();
  }
  tx.commit();
  return id;
}

int64_t ResultsDb::record_plan(const PlanRecord& p) {
  Transaction tx(db_);
  const int64_t id = insert_run_row(db_, "plan", p.name, p.inputs_hash, "", std::nullopt, p.wall_seconds, std::nullopt,
                                    "", p.found, 0);
  insert_attrs(db_, id, p.attrs);
  Stmt st(
      db_,
      "INSERT INTO plan_candidate (run_id, rank, cloud, sku, gpu, gpus_per_node, nodes_per_replica, replicas, "
      "tensor_parallel, pipeline_parallel, data_parallel, cost_per_hour, cost_per_mtok, ttft_p95_ms, tpot_p95_ms, "
      "max_rate, time_to_ready_s, meets_slo, recommended, verdict) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  for (const auto& c : p.candidates) {
    st.bind(1, id).bind(2, c.rank).bind(3, c.cloud).bind(4, c.sku).bind(5, c.gpu).bind(6, c.gpus_per_node);
    st.bind(7, c.nodes_per_replica).bind(8, c.replicas).bind(9, c.tensor_parallel).bind(10, c.pipeline_parallel);
    st.bind(11, c.data_parallel).bind(12, c.cost_per_hour).bind(13, c.cost_per_million_output_tokens);
    st.bind(14, c.ttft_p95_ms).bind(15, c.tpot_p95_ms).bind(16, c.max_rate).bind(17, c.time_to_ready_s);
    st.bind(18, c.meets_slo).bind(19, c.recommended).bind(20, c.verdict).run();
  }
  tx.commit();
  return id;
}

std::optional<int64_t> ResultsDb::latest_run(const std::string& kind) const {
  Stmt st(db_, kind.empty() ? "SELECT max(id) FROM run" : "SELECT max(id) FROM run WHERE kind = ?");
  if (!kind.empty()) st.bind(1, kind);
  if (!st.step() || st.is_null(0)) return std::nullopt;
  return st.int64(0);
}

}  // namespace ktwin::reports
