// `ktwin run`: one scenario in the simulated cluster, with its transitions, final tables,
// expectation verdicts, summary JSON and event log.
#include <chrono>
#include <cstdio>
#include <cxxopts.hpp>
#include <iostream>

#include "catalog/catalog.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "cli/verdicts.h"
#include "core/input_error.h"
#include "reports/report.h"
#include "reports/results_db.h"
#include "sim/runner.h"

namespace ktwin::cli {
namespace {

bool printed_kind(const sim::LogEntry& e) {
  if (e.kind == "Service" || e.kind == "ControllerRevision") return false;
  if (e.kind == "Pod")
    return e.what.rfind("Ready=", 0) == 0 || e.what.rfind("scheduled", 0) == 0 || e.what.rfind("container", 0) == 0 ||
           e.what.rfind("image pulled", 0) == 0 || e.what.rfind("image pull failed", 0) == 0 ||
           e.what.rfind("downloading", 0) == 0 || e.what.rfind("ready", 0) == 0 ||
           e.what.rfind("PodScheduled", 0) == 0 || e.what == "deleting" || e.what.rfind("init container", 0) == 0 ||
           e.what.rfind("tuning:", 0) == 0 || e.what == "completed";
  return true;
}

int run(int argc, char** argv) {
  cxxopts::Options opts(argv[0], "Run a scenario in the deterministic simulated cluster.");
  opts.positional_help("SCENARIO.yaml");
  opts.add_options()("scenario", "scenario file", cxxopts::value<std::string>())("seed", "override the scenario's seed",
                                                                                 cxxopts::value<uint64_t>())(
      "summary-json", "write the run summary (JSON) to FILE", cxxopts::value<std::string>())(
      "events", "write the event log (JSON lines) to FILE", cxxopts::value<std::string>())(
      "check-determinism", "run twice and fail unless both event logs are byte-identical")(
      "shuffle-ties", "run same-time events in an order permuted by SEED (outcomes must not change)",
      cxxopts::value<uint64_t>())("db", "results database to record the run in",
                                  cxxopts::value<std::string>()->default_value(reports::kDefaultDbPath))(
      "no-db", "do not record the run")("report", "also write the run's report (HTML, or Markdown/JSON by extension)",
                                        cxxopts::value<std::string>())("quiet", "print only the verdicts")(
      "h,help", "show this help");
  opts.parse_positional({"scenario"});
  cxxopts::ParseResult args;
  if (auto done = parse_flags(opts, argc, argv, args, "0 all expectations pass, 1 one fails, 2 bad input."))
    return *done;
  if (!args.count("scenario")) {
    std::fprintf(stderr, "error: a scenario file is required\n%s", opts.help().c_str());
    return kExitBadInput;
  }
  if (args.count("report") && args.count("no-db"))
    throw InputError("", 0, 0, "--report", "a report is rendered from the results database; drop --no-db");
  const sim::Scenario sc = sim::load_scenario(args["scenario"].as<std::string>());
  const catalog::Catalog& cat = catalog::default_catalog();
  sim::RunOptions ro;
  if (args.count("seed")) ro.seed = args["seed"].as<uint64_t>();
  if (args.count("shuffle-ties")) ro.shuffle_ties_seed = args["shuffle-ties"].as<uint64_t>();
  const bool quiet = args.count("quiet") > 0;

  const auto wall_start = std::chrono::steady_clock::now();
  sim::RunOutcome outcome = sim::run_scenario(sc, cat, ro);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

  bool deterministic = true;
  if (args.count("check-determinism")) {
    sim::RunOutcome again = sim::run_scenario(sc, cat, ro);
    deterministic = again.events_jsonl == outcome.events_jsonl;
    if (!deterministic) {
      size_t i = 0;
      while (i < outcome.log.size() && i < again.log.size() &&
             sim::EventLog::entry_json(outcome.log[i]) == sim::EventLog::entry_json(again.log[i]))
        ++i;
      std::fprintf(stderr, "determinism check FAILED: runs diverge at event %zu\n  first:  %s\n  second: %s\n", i + 1,
                   i < outcome.log.size() ? sim::EventLog::entry_json(outcome.log[i]).c_str() : "<end>",
                   i < again.log.size() ? sim::EventLog::entry_json(again.log[i]).c_str() : "<end>");
    }
  }

  if (!quiet) {
    std::printf("scenario %s (seed %llu, %s simulated)\n\n", sc.name.c_str(),
                static_cast<unsigned long long>(outcome.seed), format_duration(sc.duration).c_str());
    for (const auto& e : outcome.log)
      if (printed_kind(e))
        std::printf("[%s] %-11s %-45s %s\n", sim::format_sim_time(e.t).c_str(), e.kind.c_str(), e.name.c_str(),
                    e.what.c_str());
    std::printf("\nAt %s:\n\n%s\n", format_duration(outcome.sim_end).c_str(), outcome.tables.c_str());
  }
  const int passed = print_expectations(outcome.expectations);
  if (args.count("check-determinism"))
    std::printf("Determinism: %s\n", deterministic ? "identical event logs in two runs" : "FAILED");
  if (outcome.rejected > 0)
    std::printf("Warning: %zu manifest(s) rejected by admission; see \"rejected by admission\" above\n",
                outcome.rejected);
  std::printf("Fingerprint: %s\n", outcome.fingerprint.c_str());
  std::printf("%s: %d/%zu expectations passed; %llu events in %.2f s wall\n",
              outcome.passed && deterministic ? "PASSED" : "FAILED", passed, outcome.expectations.size(),
              static_cast<unsigned long long>(outcome.kernel_events), wall);

  outcome.summary["wall_seconds"] = wall;
  if (!args.count("no-db")) {
    reports::ResultsDb db(args["db"].as<std::string>());
    reports::RunMeta meta;
    meta.scenario_file = args["scenario"].as<std::string>();
    meta.cloud = sim::cloud_kind_name(sc.cluster.cloud);
    meta.wall_seconds = wall;
    const int64_t id = db.record_run(outcome, cat, meta);
    if (!quiet) std::printf("Recorded as run %lld in %s\n", static_cast<long long>(id), db.path().c_str());
    if (args.count("report")) {
      const std::string path = args["report"].as<std::string>();
      write_file_atomically(path, reports::render_report(db, id, reports::report_format_for_path(path)));
    }
  }
  if (args.count("summary-json"))
    write_file_atomically(args["summary-json"].as<std::string>(), outcome.summary.dump(2) + "\n");
  if (args.count("events")) write_file_atomically(args["events"].as<std::string>(), outcome.events_jsonl);
  return outcome.passed && deterministic ? kExitOk : kExitFailed;
}

}  // namespace

KTWIN_REGISTER_COMMAND(run, "run", "run a scenario in the simulated cluster", run);

}  // namespace ktwin::cli
