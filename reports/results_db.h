// The results database: every `ktwin run`, `test` and `plan` lands in SQLite, one transaction per
// run, so a run that dies half-way leaves no rows. The schema is documented in docs/results.md.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

struct sqlite3;

namespace ktwin::catalog {
struct Catalog;
}
namespace ktwin::sim {
struct RunOutcome;
}

namespace ktwin::reports {

inline constexpr const char* kDefaultDbPath = "out/results.db";

//! What the caller knows about a run that the simulation does not.
struct RunMeta {
  std::string kind = "run";  //!< run | test | plan
  std::string scenario_file;
  std::string cloud;  //!< prices GPU nodes for the cost series
  double wall_seconds = 0;
  std::optional<bool> passed;  //!< the verdict when it is more than the expectations (ktwin test: goldens)
  std::vector<std::pair<std::string, std::string>> attrs;  //!< run_attr rows
};

//! One row of plan_candidate (see docs/results.md for the meaning of each column).
struct PlanCandidateRow {
  int rank = 0;
  std::string cloud, sku, gpu;
  int gpus_per_node = 0, nodes_per_replica = 0, replicas = 0, tensor_parallel = 1, pipeline_parallel = 1,
      data_parallel = 1;
  double cost_per_hour = 0;
  std::optional<double> cost_per_million_output_tokens, ttft_p95_ms, tpot_p95_ms, max_rate, time_to_ready_s;
  bool meets_slo = false;
  bool recommended = false;
  std::string verdict;  //!< why it passes or fails, in words
};

struct PlanRecord {
  std::string name;  //!< e.g. "plan llama-3.1-8b-instruct @ 20 req/s"
  std::string inputs_hash;
  bool found = false;  //!< a candidate meets the SLOs
  double wall_seconds = 0;
  std::vector<std::pair<std::string, std::string>> attrs;
  std::vector<PlanCandidateRow> candidates;
};

//! Compiled-in `git describe` of the source tree ("unknown" outside a checkout).
std::string git_version();

class ResultsDb {
 public:
  //! Opens (creating it and its directory if needed) and migrates to the current schema.
  //! Throws InputError naming the file when it cannot be opened or is newer than this ktwin.
  explicit ResultsDb(const std::string& path);
  ~ResultsDb();
  ResultsDb(const ResultsDb&) = delete;
  ResultsDb& operator=(const ResultsDb&) = delete;

  static int current_schema_version();
  int schema_version() const;

  //! Writes a simulated run (event log, expectations, scalars, series, request samples) in one
  //! transaction and returns its run id.
  int64_t record_run(const sim::RunOutcome& outcome, const catalog::Catalog& catalog, const RunMeta& meta);
  //! Writes a capacity plan and its candidates in one transaction; returns the run id.
  int64_t record_plan(const PlanRecord& plan);

  //! The newest run's id, optionally of one kind; nullopt when there is none.
  std::optional<int64_t> latest_run(const std::string& kind = "") const;
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  void exec(const std::string& sql) const;
  void migrate();
  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace ktwin::reports
