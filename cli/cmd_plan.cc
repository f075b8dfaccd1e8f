// `ktwin plan`: which SKU, how many replicas, at what cost, for which SLO, answered by simulation.
#include <chrono>
#include <cstdio>
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "core/input_error.h"
#include "core/util/sha256.h"
#include "reports/report.h"
#include "reports/results_db.h"
#include "sim/planner.h"

namespace ktwin::cli {
namespace {

using nlohmann::json;

std::pair<std::string, std::string> split_assignment(const std::string& text, const std::string& flag,
                                                     const std::string& example) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw InputError("", 0, 0, flag, "expected NAME=VALUE such as " + example + ", got \"" + text + "\"");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

std::string opt(const std::optional<double>& v, const char* f) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, f, *v);
  return buf;
}

std::string minutes(const std::optional<double>& s) {
  if (!s) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(*s) / 60, static_cast<int>(*s) % 60);
  return buf;
}

json candidate_json(const sim::PlanCandidate& c) {
  auto o = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  return {{"sku", c.sku},
          {"gpu", c.gpu},
          {"gpus_per_node", c.gpus_per_node},
          {"nodes_per_replica", c.nodes_per_replica},
          {"replicas", c.replicas},
          {"tensor_parallel", c.tensor_parallel},
          {"pipeline_parallel", c.pipeline_parallel},
          {"data_parallel", c.data_parallel},
          {"price_per_node_hour", c.price_per_hour},
          {"cost_per_hour", c.cost_per_hour},
          {"cost_per_million_output_tokens", o(c.cost_per_million_output_tokens)},
          {"ttft_p95_ms", o(c.ttft_p95_ms)},
          {"tpot_p95_ms", o(c.tpot_p95_ms)},
          {"max_rate", o(c.max_rate)},
          {"time_to_ready_s", o(c.time_to_ready_s)},
          {"meets_slo", c.meets_slo},
          {"recommended", c.recommended},
          {"verdict", c.verdict}};
}

int plan(int argc, char** argv) {
  cxxopts::Options opts(argv[0],
                        "Find, for every SKU that fits a model, the fewest replicas that meet latency SLOs at a load,\n"
                        "by running the simulated cluster; rank by cost and recommend the cheapest that passes.");
  opts.add_options()("preset", "model preset (ktwin presets)", cxxopts::value<std::string>())(
      "rate", "total requests per second (Poisson)", cxxopts::value<double>())(
      "prompt-tokens",
      "prompt length: a number or a scenario token distribution such as "
      "\"{dist: lognormal, median: 512, p90: 1500}\"",
      cxxopts::value<std::string>()->default_value("1000"))("output-tokens", "output length, as --prompt-tokens",
                                                            cxxopts::value<std::string>()->default_value("200"))(
      "slo", "latency SLO METRIC=DURATION, repeatable (e.g. ttft_p95=800ms, tpot_p95=60ms, e2el_p99=20s)",
      cxxopts::value<std::vector<std::string>>())("cloud", "azure, aws or arc",
                                                  cxxopts::value<std::string>()->default_value("azure"))(
      "sku", "only SKUs containing this text or matching this glob, repeatable",
      cxxopts::value<std::vector<std::string>>())("max-budget", "USD per hour the deployment may cost",
                                                  cxxopts::value<double>())(
      "price", "override a SKU's on-demand price, SKU=USD_PER_HOUR, repeatable",
      cxxopts::value<std::vector<std::string>>())("max-replicas", "give up above this many replicas",
                                                  cxxopts::value<int>()->default_value("32"))(
      "window", "seconds of traffic measured once every replica is ready",
      cxxopts::value<double>()->default_value("600"))("seed", "simulation seed",
                                                      cxxopts::value<uint64_t>()->default_value("1"))(
      "no-headroom", "skip the search for the highest sustainable rate")("json", "print JSON instead of the table")(
      "emit-scenarios", "write each candidate's deciding trial as DIR/<sku>.yaml (re-run with ktwin run)",
      cxxopts::value<std::string>())("report", "write a report (HTML, .md or .json) of the plan",
                                     cxxopts::value<std::string>())(
      "db", "results database", cxxopts::value<std::string>()->default_value(reports::kDefaultDbPath))(
      "no-db", "do not record the plan")("h,help", "show this help");
  cxxopts::ParseResult args;
  if (auto done = parse_flags(opts, argc, argv, args, "0 a candidate meets the SLOs, 1 none does, 2 bad input."))
    return *done;
  if (!args.count("preset")) throw InputError("", 0, 0, "--preset", "a model preset is required");
  if (!args.count("rate")) throw InputError("", 0, 0, "--rate", "a request rate is required");
  if (args.count("report") && args.count("no-db"))
    throw InputError("", 0, 0, "--report", "a report is rendered from the results database; drop --no-db");

  sim::PlanRequest req;
  req.preset = args["preset"].as<std::string>();
  req.cloud = args["cloud"].as<std::string>();
  req.rate_per_s = args["rate"].as<double>();
  if (!(req.rate_per_s > 0) || !std::isfinite(req.rate_per_s))
    throw InputError("", 0, 0, "--rate", "must be a positive number of requests per second");
  req.prompt_tokens = args["prompt-tokens"].as<std::string>();
  req.output_tokens = args["output-tokens"].as<std::string>();
  if (args.count("slo"))
    for (const auto& s : args["slo"].as<std::vector<std::string>>()) {
      auto [metric, bound] = split_assignment(s, "--slo", "ttft_p95=800ms");
      if (!(metric.starts_with("ttft_") || metric.starts_with("tpot_") || metric.starts_with("itl_") ||
            metric.starts_with("e2el_")))
        throw InputError(
            "", 0, 0, "--slo",
            "\"" + metric + "\" is not a latency metric (ttft_, tpot_, itl_ or e2el_ with p50, p95, p99, mean...)");
      req.slos.push_back({metric, bound});
    }
  if (args.count("sku")) req.sku_filters = args["sku"].as<std::vector<std::string>>();
  if (args.count("max-budget")) req.max_budget_per_hour = args["max-budget"].as<double>();
  if (args.count("price"))
    for (const auto& p : args["price"].as<std::vector<std::string>>()) {
      auto [sku, value] = split_assignment(p, "--price", "Standard_NC24ads_A100_v4=3.67");
      char* end = nullptr;
      const double v = std::strtod(value.c_str(), &end);
      if (end != value.c_str() + value.size() || !(v > 0))
        throw InputError("", 0, 0, "--price", "\"" + value + "\" is not a positive USD amount per hour");
      req.prices[sku] = v;
    }
  req.max_replicas = args["max-replicas"].as<int>();
  if (req.max_replicas < 1) throw InputError("", 0, 0, "--max-replicas", "must be at least 1");
  req.window_s = args["window"].as<double>();
  if (!(req.window_s >= 60)) throw InputError("", 0, 0, "--window", "must be at least 60 seconds");
  req.seed = args["seed"].as<uint64_t>();
  req.headroom = !args.count("no-headroom");

  const catalog::Catalog& cat = catalog::default_catalog();
  const auto wall_start = std::chrono::steady_clock::now();
  const sim::PlanResult result = sim::plan_capacity(req, cat);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

  std::string slo_text;
  for (const auto& s : req.slos) slo_text += (slo_text.empty() ? "" : ", ") + s.metric + " < " + s.bound;
  if (args.count("emit-scenarios")) {
    const std::string dir = args["emit-scenarios"].as<std::string>();
    std::filesystem::create_directories(dir);
    for (const auto& c : result.candidates) write_file_atomically(dir + "/" + c.sku + ".yaml", c.scenario_yaml);
  }

  if (args.count("json")) {
    json j;
    j["preset"] = req.preset;
    j["cloud"] = req.cloud;
    j["rate"] = req.rate_per_s;
    j["slos"] = json::object();
    for (const auto& s : req.slos) j["slos"][s.metric] = s.bound;
    j["candidates"] = json::array();
    for (const auto& c : result.candidates) j["candidates"].push_back(candidate_json(c));
    j["skipped"] = json::array();
    for (const auto& s : result.skipped) j["skipped"].push_back({{"sku", s.sku}, {"reason", s.reason}});
    j["recommended"] = result.recommended
                           ? json{{"sku", result.recommended->sku}, {"replicas", result.recommended->replicas}}
                           : json(nullptr);
    if (!result.recommended) j["reason"] = result.reason;
    j["trials"] = result.trials;
    j["wall_seconds"] = wall;
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("Plan: %s on %s at %g req/s (prompt %s, output %s tokens)%s%s\n\n", req.preset.c_str(),
                req.cloud.c_str(), req.rate_per_s, req.prompt_tokens.c_str(), req.output_tokens.c_str(),
                slo_text.empty() ? "" : "; SLO ", slo_text.c_str());
    std::printf("%-3s %-26s %-15s %4s %5s %8s %-6s %8s %9s %9s %9s %9s %8s  %s\n", "#", "SKU", "GPU", "GPUS", "NODES",
                "REPLICAS", "LAYOUT", "$/HOUR", "$/M-TOK", "TTFT-P95", "TPOT-P95", "MAX-RATE", "READY", "VERDICT");
    int rank = 0;
    for (const auto& c : result.candidates) {
      const std::string layout = c.data_parallel > 1
                                     ? "DP" + std::to_string(c.data_parallel)
                                     : "TP" + std::to_string(c.tensor_parallel) +
                                           (c.pipeline_parallel > 1 ? "PP" + std::to_string(c.pipeline_parallel) : "");
      std::printf("%-3s %-26s %-15s %4d %5d %8d %-6s %8s %9s %9s %9s %9s %8s  %s\n",
                  (std::to_string(++rank) + (c.recommended ? "*" : "")).c_str(), c.sku.c_str(), c.gpu.c_str(),
                  c.gpus_per_node, c.nodes_per_replica, c.replicas, layout.c_str(),
                  c.price_per_hour > 0 ? opt(c.cost_per_hour, "%.2f").c_str() : "?",
                  opt(c.cost_per_million_output_tokens, "%.2f").c_str(), opt(c.ttft_p95_ms, "%.0fms").c_str(),
                  opt(c.tpot_p95_ms, "%.1fms").c_str(), opt(c.max_rate, "%.1f/s").c_str(),
                  minutes(c.time_to_ready_s).c_str(), c.verdict.c_str());
    }
    for (const auto& s : result.skipped) std::printf("    %-26s skipped: %s\n", s.sku.c_str(), s.reason.c_str());
    if (result.recommended)
      std::printf("\nRecommended: %d x %s (%d node%s each), $%.2f/hour\n", result.recommended->replicas,
                  result.recommended->sku.c_str(), result.recommended->nodes_per_replica,
                  result.recommended->nodes_per_replica > 1 ? "s" : "", result.recommended->cost_per_hour);
    else
      std::printf("\nNo recommendation: %s\n", result.reason.c_str());
    std::printf("%d simulated trials in %.2f s wall\n", result.trials, wall);
  }

  if (!args.count("no-db")) {
    reports::PlanRecord rec;
    rec.name = "plan " + req.preset + " @ " + json(req.rate_per_s).dump() + " req/s";
    std::string inputs;
    for (int i = 1; i < argc; ++i) inputs += std::string(argv[i]) + "\n";
    rec.inputs_hash = sha256_hex(inputs);
    rec.found = result.recommended != nullptr;
    rec.wall_seconds = wall;
    rec.attrs = {{"preset", req.preset},
                 {"cloud", req.cloud},
                 {"rate", json(req.rate_per_s).dump()},
                 {"prompt_tokens", req.prompt_tokens},
                 {"output_tokens", req.output_tokens},
                 {"slo", slo_text},
                 {"trials", std::to_string(result.trials)}};
    if (!result.recommended) rec.attrs.emplace_back("reason", result.reason);
    int rank = 0;
    for (const auto& c : result.candidates) {
      reports::PlanCandidateRow row;
      row.rank = ++rank;
      row.cloud = req.cloud;
      row.sku = c.sku;
      row.gpu = c.gpu;
      row.gpus_per_node = c.gpus_per_node;
      row.nodes_per_replica = c.nodes_per_replica;
      row.replicas = c.replicas;
      row.tensor_parallel = c.tensor_parallel;
      row.pipeline_parallel = c.pipeline_parallel;
      row.data_parallel = c.data_parallel;
      row.cost_per_hour = c.cost_per_hour;
      row.cost_per_million_output_tokens = c.cost_per_million_output_tokens;
      row.ttft_p95_ms = c.ttft_p95_ms;
      row.tpot_p95_ms = c.tpot_p95_ms;
      row.max_rate = c.max_rate;
      row.time_to_ready_s = c.time_to_ready_s;
      row.meets_slo = c.meets_slo;
      row.recommended = c.recommended;
      row.verdict = c.verdict;
      rec.candidates.push_back(std::move(row));
    }
    reports::ResultsDb db(args["db"].as<std::string>());
    const int64_t id = db.record_plan(rec);
    if (args.count("report")) {
      const std::string path = args["report"].as<std::string>();
      write_file_atomically(path, reports::render_report(db, id, reports::report_format_for_path(path)));
    }
  }
  return result.recommended ? kExitOk : kExitFailed;
}

}  // namespace

KTWIN_REGISTER_COMMAND(plan, "plan", "choose SKU and replica count for a model, load and SLOs", plan);

}  // namespace ktwin::cli
