// `ktwin test`: runs every scenario under the given paths, checks its expectations and, where a golden
// event log sits beside it (NAME.events.jsonl), compares the run with it and shows the first
// divergences. JUnit XML for CI systems; --update-golden rewrites the goldens.
#include <yaml-cpp/yaml.h>
#include <cxxopts.hpp>

#include <fnmatch.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "catalog/catalog.h"
#include "catalog/yaml_json.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "core/input_error.h"
#include "core/util/markup.h"
#include "core/util/yaml_guard.h"
#include "reports/results_db.h"
#include "sim/runner.h"
#include "sim/scenario.h"

namespace ktwin::cli {
namespace {

namespace fs = std::filesystem;

struct Result {
  std::string path;
  std::string name;
  bool loaded = false;
  bool passed = false;
  double seconds = 0;
  std::vector<std::string> failures;  //!< one line each: a failed expectation, a golden divergence, an error
  std::shared_ptr<const sim::RunOutcome> outcome;  //!< for the results database
  std::string cloud;
  std::string golden = "none";  //!< none, match, diverged, rewritten
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Scenario files are the YAML files that are not Kubernetes manifests (those have apiVersion).
bool is_scenario_file(const fs::path& p) {
  try {
    if (find_yaml_parser_hazard(catalog::read_text_file(p.string())).line > 0) return true;  // loader reports it
    const YAML::Node doc = YAML::LoadFile(p.string());
    return doc.IsMap() && !doc["apiVersion"] && doc["duration"];
  } catch (const YAML::Exception&) {
    return true;  // let the scenario loader report the syntax error with its position
  }
}

std::vector<std::string> collect(const std::vector<std::string>& paths, const std::string& filter) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      for (const auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file() && e.path().extension() == ".yaml" && is_scenario_file(e.path()))
          out.push_back(e.path().string());
    } else if (fs::exists(p, ec)) {
      out.push_back(p);
    } else {
      throw InputError(p, 0, 0, "path", "no such file or directory");
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (!filter.empty())
    out.erase(std::remove_if(out.begin(), out.end(),
                             [&](const std::string& f) {
                               const std::string stem = fs::path(f).stem().string();
                               return fnmatch(filter.c_str(), stem.c_str(), 0) != 0 &&
                                      fnmatch(filter.c_str(), f.c_str(), 0) != 0;
                             }),
              out.end());
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// "[  12m03.4s] NodeClaim ws1234 Launched=True" from one JSON line of an event log.
std::string describe_event(const std::string& line) {
  try {
    const json e = json::parse(line);
    char t[32];
    std::snprintf(t, sizeof t, "%.3fs", e.value("t_s", 0.0));
    return std::string("[") + t + "] " + e.value("kind", "") + " " + e.value("name", "") + ": " + e.value("what", "");
  } catch (const json::exception&) {
    return line;
  }
}

// The first divergences between a golden event log and a run, readable.
std::vector<std::string> golden_diff(const std::string& golden, const std::string& run, size_t max_shown) {
  const auto want = lines_of(golden), got = lines_of(run);
  std::vector<std::string> out;
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  if (i == want.size() && i == got.size()) return out;
  out.push_back("event log differs from the golden at event " + std::to_string(i + 1) + " (golden " +
                std::to_string(want.size()) + " events, run " + std::to_string(got.size()) + "):");
  for (size_t k = i; k < std::max(want.size(), got.size()) && out.size() < 1 + 2 * max_shown; ++k) {
    const bool have_w = k < want.size(), have_g = k < got.size();
    if (have_w && have_g && want[k] == got[k]) continue;
    out.push_back("  golden: " + (have_w ? describe_event(want[k]) : std::string("<end of log>")));
    out.push_back("  run:    " + (have_g ? describe_event(got[k]) : std::string("<end of log>")));
  }
  return out;
}

Result run_one(const std::string& path, bool update_golden) {
  Result r;
  r.path = path;
  r.name = fs::path(path).stem().string();
  const auto start = std::chrono::steady_clock::now();
  try {
    const sim::Scenario sc = sim::load_scenario(path);
    r.name = sc.name;
    r.loaded = true;
    auto shared = std::make_shared<sim::RunOutcome>(sim::run_scenario(sc, catalog::default_catalog()));
    r.outcome = shared;
    r.cloud = sim::cloud_kind_name(sc.cluster.cloud);
    const sim::RunOutcome& out = *shared;
    r.passed = out.passed;
    for (const auto& e : out.expectations)
      if (!e.passed) r.failures.push_back("expectation failed: " + e.text + " (" + e.detail + ")");
    const fs::path golden = fs::path(path).replace_extension(".events.jsonl");
    if (update_golden) {
      write_file_atomically(golden.string(), out.events_jsonl);
      r.golden = "rewritten";
    } else if (fs::exists(golden)) {
      r.golden = "match";
      for (auto& line : golden_diff(read_text(golden), out.events_jsonl, 5)) {
        r.golden = "diverged";
        r.passed = false;
        r.failures.push_back(std::move(line));
      }
    }
  } catch (const InputError& e) {
    r.failures.push_back(e.what());
  } catch (const std::exception& e) {
    r.failures.push_back(std::string("internal error: ") + e.what());
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

std::string junit(const std::vector<Result>& results) {
  size_t failures = 0, errors = 0;
  double total = 0;
  for (const auto& r : results) {
    if (!r.loaded)
      ++errors;
    else if (!r.passed)
      ++failures;
    total += r.seconds;
  }
  char head[256];
  std::snprintf(head, sizeof head,
                "<testsuite name=\"ktwin scenarios\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n",
                results.size(), failures, errors, total);
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";
  x += head;
  for (const auto& r : results) {
    char t[32];
    std::snprintf(t, sizeof t, "%.3f", r.seconds);
    x += "  <testcase classname=\"" + xml_escape(fs::path(r.path).parent_path().string()) + "\" name=\"" +
         xml_escape(r.name) + "\" file=\"" + xml_escape(r.path) + "\" time=\"" + t + "\"";
    if (r.loaded && r.passed) {
      x += "/>\n";
      continue;
    }
    std::string body;
    for (const auto& f : r.failures) body += f + "\n";
    const std::string tag = r.loaded ? "failure" : "error";
    x += ">\n    <" + tag + " message=\"" + xml_escape(r.failures.empty() ? "failed" : r.failures.front()) + "\">" +
         xml_escape(body) + "</" + tag + ">\n  </testcase>\n";
  }
  x += "</testsuite>\n</testsuites>\n";
  return x;
}

int run(int argc, char** argv) {
  cxxopts::Options opts(argv[0], "Run scenarios as tests: expectations and golden event logs.");
  opts.positional_help("[PATH...]");
  opts.add_options()("paths", "scenario files or directories (default: scenarios)",
                     cxxopts::value<std::vector<std::string>>())("junit", "write JUnit XML to FILE",
                                                                 cxxopts::value<std::string>())(
      "update-golden", "rewrite each scenario's NAME.events.jsonl from this run")(
      "jobs", "scenarios run in parallel", cxxopts::value<int>()->default_value("1"))(
      "filter", "only scenarios whose name or path matches the glob", cxxopts::value<std::string>()->default_value(""))(
      "db", "results database", cxxopts::value<std::string>()->default_value(reports::kDefaultDbPath))(
      "no-db", "do not record the runs")("h,help", "show this help");
  opts.parse_positional({"paths"});
  cxxopts::ParseResult args;
  if (auto done = parse_flags(opts, argc, argv, args,
                              "0 every scenario passes, 1 one fails (an expectation or its golden), 2 bad input."))
    return *done;
  const int jobs = args["jobs"].as<int>();
  if (jobs < 1) {
    std::fprintf(stderr, "error: --jobs must be at least 1, got %d\n", jobs);
    return kExitBadInput;
  }
  std::vector<std::string> paths =
      args.count("paths") ? args["paths"].as<std::vector<std::string>>() : std::vector<std::string>{"scenarios"};
  const std::vector<std::string> files = collect(paths, args["filter"].as<std::string>());
  if (files.empty()) {
    std::fprintf(stderr, "error: no scenario files found\n");
    return kExitBadInput;
  }
  (void)catalog::default_catalog();  // load once before the workers start
  const bool update = args.count("update-golden") > 0;
  std::vector<Result> results(files.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < files.size(); i = next++) results[i] = run_one(files[i], update);
  };
  std::vector<std::thread> pool;
  for (int j = 1; j < std::min<int>(jobs, static_cast<int>(files.size())); ++j) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();

  size_t passed = 0, bad_input = 0;
  for (const auto& r : results) {
    std::printf("%s  %-28s %6.2fs  %s\n", r.loaded && r.passed ? "PASS" : "FAIL", r.name.c_str(), r.seconds,
                r.path.c_str());
    for (const auto& f : r.failures) std::printf("      %s\n", f.c_str());
    passed += r.loaded && r.passed ? 1 : 0;
    bad_input += r.loaded ? 0 : 1;
  }
  std::printf("\n%zu/%zu scenarios passed%s\n", passed, results.size(), update ? " (goldens rewritten)" : "");
  if (args.count("junit")) write_file_atomically(args["junit"].as<std::string>(), junit(results));
  if (!args.count("no-db")) {
    reports::ResultsDb db(args["db"].as<std::string>());
    for (const auto& r : results) {
      if (!r.outcome) continue;
      reports::RunMeta meta;
      meta.kind = "test";
      meta.scenario_file = r.path;
      meta.cloud = r.cloud;
      meta.wall_seconds = r.seconds;
      meta.passed = r.passed;
      meta.attrs = {{"golden", r.golden}};
      db.record_run(*r.outcome, catalog::default_catalog(), meta);
    }
  }
  if (bad_input > 0) return kExitBadInput;
  return passed == results.size() ? kExitOk : kExitFailed;
}

}  // namespace

KTWIN_REGISTER_COMMAND(test, "test", "run scenarios as tests: expectations, golden event logs, JUnit XML", run);

}  // namespace ktwin::cli
