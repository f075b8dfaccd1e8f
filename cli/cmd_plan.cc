// `ktwin plan`: which SKU, how many replicas, at what cost, for which SLO, answered by simulation.
#include <algorithm>
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

reports::PlanCandidateRow candidate_row(const sim::PlanCandidate& c, int rank) {
  reports::PlanCandidateRow row;
  row.rank = rank;
  row.cloud = c.cloud;
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
  return row;
}

json scale_up_json(const sim::ScaleUpResult& g) {
  auto o = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  json windows = json::array();
  for (const auto& w : g.windows)
    windows.push_back({{"t_s", w.t_s},
                       {"replicas_ready", w.replicas_ready},
                       {"completed", w.completed},
                       {"ttft_p95_ms", o(w.ttft_p95_ms)},
                       {"tpot_p95_ms", o(w.tpot_p95_ms)},
                       {"violates", w.violates}});
  return {{"cloud", g.cloud},
          {"sku", g.sku},
          {"from", g.from},
          {"to", g.to},
          {"step_at_s", g.step_at_s},
          {"rate_before", g.rate_before},
          {"rate_after", g.rate_after},
          {"new_ready_after_s", g.new_ready_after_s},
          {"violation_s", g.violation_s},
          {"first_violation_after_s", o(g.first_violation_after_s)},
          {"recovered_after_s", o(g.recovered_after_s)},
          {"recovered", g.recovered},
          {"worst_ttft_p95_ms", o(g.worst_ttft_p95_ms)},
          {"worst_tpot_p95_ms", o(g.worst_tpot_p95_ms)},
          {"failed_requests", g.failed_requests},
          {"meets_slo_throughout", g.meets_slo_throughout},
          {"unchecked_slos", g.unchecked_slos},
          {"verdict", g.verdict},
          {"windows", windows}};
}

void print_scale_up(const sim::ScaleUpResult& g, const sim::PlanRequest& req, double wall) {
  std::printf("\nScale-up: %d -> %d x %s; the load steps from %g to %g req/s at %s, when %d replica%s applied\n",
              g.from, g.to, g.sku.c_str(), g.rate_before, g.rate_after, minutes(g.step_at_s).c_str(), g.to - g.from,
              g.to - g.from > 1 ? "s are" : " is");
  std::printf("%-8s %5s %9s %9s %9s  %s\n", "MINUTE", "READY", "COMPLETED", "TTFT-P95", "TPOT-P95", "SLO");
  // Every minute of the first half hour and around changes; then one line per ten minutes.
  for (size_t i = 0; i < g.windows.size(); ++i) {
    const auto& w = g.windows[i];
    const auto changes = [&](size_t a, size_t b) {
      return a < g.windows.size() && b < g.windows.size() &&
             (g.windows[a].violates != g.windows[b].violates ||
              g.windows[a].replicas_ready != g.windows[b].replicas_ready);
    };
    const int minute = static_cast<int>(w.t_s / 60);
    if (!(minute < 30 || minute % 10 == 0 || i + 1 == g.windows.size() || (i > 0 && changes(i - 1, i)) ||
          changes(i, i + 1)))
      continue;
    std::printf("%-8s %5d %9lld %9s %9s  %s\n", ("+" + std::to_string(static_cast<int>(w.t_s / 60)) + "m").c_str(),
                w.replicas_ready, static_cast<long long>(w.completed), opt(w.ttft_p95_ms, "%.0fms").c_str(),
                opt(w.tpot_p95_ms, "%.1fms").c_str(), req.slos.empty() ? "-" : (w.violates ? "MISSED" : "ok"));
  }
  std::printf("Scale-up verdict: %s\n", g.verdict.c_str());
  if (!g.unchecked_slos.empty()) {
    std::string names;
    for (const auto& u : g.unchecked_slos) names += (names.empty() ? "" : ", ") + u;
    std::printf("Not checked per minute (windows hold p50/p95 of TTFT and TPOT only): %s\n", names.c_str());
  }
  std::printf("(one simulated run, %.2f s wall)\n", wall);
}

int plan(int argc, char** argv) {
  cxxopts::Options opts(argv[0],
                        "Find, for every SKU that fits a model, the fewest replicas that meet latency SLOs at a load,\n"
                        "by running the simulated cluster; rank by cost and recommend the cheapest that passes.");
  opts.add_options()("preset",
                     "model: a KAITO preset (ktwin presets), or an org/model of presets/architectures.yaml or "
                     "--model FILE",
                     cxxopts::value<std::string>())(
      "model",
      "describe an org/model as a scenario's models: entry (hf_id, weights_gib, architecture); FILE holds one, a "
      "list, or a scenario with models:",
      cxxopts::value<std::string>())("rate", "total requests per second", cxxopts::value<double>())(
      "traffic",
      "take rate, arrival process and token lengths from the busiest poisson/gamma entry of a scenario's traffic: "
      "(flags given as well override it)",
      cxxopts::value<std::string>())("prompt-tokens",
                                     "prompt length: a number or a scenario token distribution such as "
                                     "\"{dist: lognormal, median: 512, p90: 1500}\"",
                                     cxxopts::value<std::string>()->default_value("1000"))(
      "output-tokens", "output length, as --prompt-tokens", cxxopts::value<std::string>()->default_value("200"))(
      "slo", "latency SLO METRIC=DURATION, repeatable (e.g. ttft_p95=800ms, tpot_p95=60ms, e2el_p99=20s)",
      cxxopts::value<std::vector<std::string>>())("cloud", "azure, aws or arc; repeatable, or all, to compare clouds",
                                                  cxxopts::value<std::vector<std::string>>()->default_value("azure"))(
      "sku", "only SKUs containing this text or matching this glob, repeatable",
      cxxopts::value<std::vector<std::string>>())("max-budget", "USD per hour the deployment may cost",
                                                  cxxopts::value<double>())(
      "price", "override a SKU's on-demand price, SKU=USD_PER_HOUR, repeatable",
      cxxopts::value<std::vector<std::string>>())("max-replicas", "give up above this many replicas",
                                                  cxxopts::value<int>()->default_value("32"))(
      "window", "seconds of traffic measured once every replica is ready",
      cxxopts::value<double>()->default_value("600"))("seed", "simulation seed",
                                                      cxxopts::value<uint64_t>()->default_value("1"))(
      "no-headroom", "skip the search for the highest sustainable rate")(
      "scale-up",
      "also simulate growth from N to M replicas of the recommended SKU: N serve rate x N/M, then the load steps "
      "to the full rate and M-N replicas are applied; report the minutes the SLOs are missed while they provision",
      cxxopts::value<std::string>())("json", "print JSON instead of the table")(
      "emit-scenarios",
      "write each candidate's deciding trial as DIR/<sku>.yaml, and the --scale-up run as "
      "DIR/scale-up-<sku>-<N>to<M>.yaml (re-run them with ktwin run)",
      cxxopts::value<std::string>())("report", "write a report (HTML, .md or .json) of the plan",
                                     cxxopts::value<std::string>())(
      "db", "results database", cxxopts::value<std::string>()->default_value(reports::kDefaultDbPath))(
      "no-db", "do not record the plan")("h,help", "show this help");
  cxxopts::ParseResult args;
  if (auto done = parse_flags(
          opts, argc, argv, args,
          "0 a candidate meets the SLOs (and, with --scale-up, holds them through the growth), 1 not, 2 bad input."))
    return *done;
  if (!args.count("preset") && !args.count("model"))
    throw InputError("", 0, 0, "--preset", "a model is required (--preset NAME, or --model FILE)");
  if (!args.count("rate") && !args.count("traffic"))
    throw InputError("", 0, 0, "--rate", "a request rate is required (--rate, or --traffic SCENARIO)");
  if (args.count("report") && args.count("no-db"))
    throw InputError("", 0, 0, "--report", "a report is rendered from the results database; drop --no-db");

  const catalog::Catalog& cat = catalog::default_catalog();
  sim::PlanRequest req;
  const sim::PlanModel model = sim::resolve_plan_model(args.count("preset") ? args["preset"].as<std::string>() : "",
                                                       args.count("model") ? args["model"].as<std::string>() : "", cat);
  req.preset = model.name;
  req.generic = model.generic;
  req.models_entry = model.models_entry;
  for (const auto& c : args["cloud"].as<std::vector<std::string>>()) {
    if (c == "all") {
      req.clouds = cat.skus.clouds();
      break;
    }
    if (std::find(req.clouds.begin(), req.clouds.end(), c) == req.clouds.end()) req.clouds.push_back(c);
  }
  req.cloud = req.clouds.front();
  std::string clouds_text;
  for (const auto& c : req.clouds) clouds_text += (clouds_text.empty() ? "" : ", ") + c;
  const bool multi_cloud = req.clouds.size() > 1;
  req.prompt_tokens = args["prompt-tokens"].as<std::string>();
  req.output_tokens = args["output-tokens"].as<std::string>();
  std::string traffic_origin;
  if (args.count("traffic")) {
    const sim::PlanTraffic t = sim::traffic_from_scenario(args["traffic"].as<std::string>());
    req.rate_per_s = t.rate_per_s;
    req.arrival_process = t.process;
    req.arrival_cv = t.cv;
    if (!args.count("prompt-tokens")) req.prompt_tokens = t.prompt_tokens;
    if (!args.count("output-tokens")) req.output_tokens = t.output_tokens;
    traffic_origin = t.origin;
  }
  if (args.count("rate")) req.rate_per_s = args["rate"].as<double>();
  if (!(req.rate_per_s > 0) || !std::isfinite(req.rate_per_s))
    throw InputError("", 0, 0, "--rate", "must be a positive number of requests per second");
  std::optional<std::pair<int, int>> scale_up;
  if (args.count("scale-up")) {
    const std::string text = args["scale-up"].as<std::string>();
    int n = 0, m = 0;
    char tail = 0;
    if (std::sscanf(text.c_str(), "%d:%d%c", &n, &m, &tail) != 2 || n < 1 || m <= n)
      throw InputError("", 0, 0, "--scale-up",
                       "expected N:M replicas with 1 <= N < M (e.g. 1:3), got \"" + text + "\"");
    scale_up = {n, m};
  }
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
  if (scale_up && scale_up->second > req.max_replicas)
    throw InputError(
        "", 0, 0, "--scale-up",
        std::to_string(scale_up->second) + " replicas is above --max-replicas " + std::to_string(req.max_replicas));
  const auto wall_start = std::chrono::steady_clock::now();
  const sim::PlanResult result = sim::plan_capacity(req, cat);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

  // The growth run uses the recommended SKU, or the only candidate a --sku filter left.
  std::optional<sim::ScaleUpResult> grown;
  std::string scale_up_skipped;
  double scale_up_wall = 0;
  if (scale_up) {
    const sim::PlanCandidate* on = result.recommended;
    if (!on && result.candidates.size() == 1) on = &result.candidates.front();
    if (on) {
      const auto t0 = std::chrono::steady_clock::now();
      sim::PlanRequest in_cloud = req;
      in_cloud.cloud = on->cloud;
      grown = sim::plan_scale_up(in_cloud, cat, on->sku, scale_up->first, scale_up->second);
      scale_up_wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } else {
      scale_up_skipped = "no SKU to scale: " + result.reason + " (narrow --sku to one SKU to simulate it anyway)";
    }
  }

  std::string slo_text;
  for (const auto& s : req.slos) slo_text += (slo_text.empty() ? "" : ", ") + s.metric + " < " + s.bound;
  if (args.count("emit-scenarios")) {
    const std::string dir = args["emit-scenarios"].as<std::string>();
    std::filesystem::create_directories(dir);
    for (const auto& c : result.candidates) write_file_atomically(dir + "/" + c.sku + ".yaml", c.scenario_yaml);
    if (grown)
      write_file_atomically(dir + "/scale-up-" + grown->sku + "-" + std::to_string(grown->from) + "to" +
                                std::to_string(grown->to) + ".yaml",
                            grown->scenario_yaml);
  }

  // The growth run is recorded first, so the plan's row and its JSON can name it.
  std::optional<reports::ResultsDb> db;
  std::optional<int64_t> scale_up_run;
  if (!args.count("no-db")) db.emplace(args["db"].as<std::string>());
  if (db && grown) {
    reports::RunMeta meta;
    meta.kind = "run";  // an ordinary simulated run; its attrs say it came from ktwin plan --scale-up
    meta.scenario_file = "<ktwin plan --scale-up>";
    meta.cloud = grown->cloud;
    meta.wall_seconds = scale_up_wall;
    meta.passed = grown->meets_slo_throughout;
    meta.attrs = {{"source", "ktwin plan --scale-up"},
                  {"scale_up_verdict", grown->verdict},
                  {"sku", grown->sku},
                  {"from", std::to_string(grown->from)},
                  {"to", std::to_string(grown->to)},
                  {"violation_s", json(grown->violation_s).dump()},
                  {"slo", slo_text}};
    scale_up_run = db->record_run(grown->outcome, cat, meta);
  }

  if (args.count("json")) {
    json j;
    j["preset"] = req.preset;
    j["cloud"] = req.cloud;
    j["clouds"] = req.clouds;
    j["rate"] = req.rate_per_s;
    j["slos"] = json::object();
    for (const auto& s : req.slos) j["slos"][s.metric] = s.bound;
    j["candidates"] = json::array();
    int rank = 0;
    for (const auto& c : result.candidates) {
      json cj = reports::plan_candidate_json(candidate_row(c, ++rank));
      cj["price_per_node_hour"] = c.price_per_hour;
      j["candidates"].push_back(std::move(cj));
    }
    j["skipped"] = json::array();
    for (const auto& s : result.skipped)
      j["skipped"].push_back({{"cloud", s.cloud}, {"sku", s.sku}, {"reason", s.reason}});
    j["recommended"] = result.recommended ? json{{"cloud", result.recommended->cloud},
                                                 {"sku", result.recommended->sku},
                                                 {"replicas", result.recommended->replicas}}
                                          : json(nullptr);
    if (!result.recommended) j["reason"] = result.reason;
    j["model_origin"] = model.origin;
    if (!traffic_origin.empty()) j["traffic_origin"] = traffic_origin;
    j["trials"] = result.trials;
    j["wall_seconds"] = wall;
    if (grown) {
      j["scale_up"] = scale_up_json(*grown);
      j["scale_up"]["run_id"] = scale_up_run ? json(*scale_up_run) : json(nullptr);
    } else if (scale_up)
      j["scale_up"] = {{"skipped", scale_up_skipped}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("Plan: %s on %s at %g req/s %s (prompt %s, output %s tokens)%s%s\n", req.preset.c_str(),
                clouds_text.c_str(), req.rate_per_s, req.arrival_process.c_str(), req.prompt_tokens.c_str(),
                req.output_tokens.c_str(), slo_text.empty() ? "" : "; SLO ", slo_text.c_str());
    std::printf("Model: %s\n", model.origin.c_str());
    if (!traffic_origin.empty()) std::printf("Traffic: %s\n", traffic_origin.c_str());
    std::printf("\n");
    // Several clouds: each SKU is shown as cloud/SKU.
    auto sku_label = [multi_cloud](const std::string& cloud, const std::string& sku) {
      return multi_cloud ? cloud + "/" + sku : sku;
    };
    int sku_width = 26;
    for (const auto& c : result.candidates)
      sku_width = std::max(sku_width, static_cast<int>(sku_label(c.cloud, c.sku).size()));
    std::printf("%-3s %-*s %-15s %4s %5s %8s %-6s %8s %9s %9s %9s %9s %8s  %s\n", "#", sku_width, "SKU", "GPU", "GPUS",
                "NODES", "REPLICAS", "LAYOUT", "$/HOUR", "$/M-TOK", "TTFT-P95", "TPOT-P95", "MAX-RATE", "READY",
                "VERDICT");
    int rank = 0;
    for (const auto& c : result.candidates) {
      const std::string layout = c.data_parallel > 1
                                     ? "DP" + std::to_string(c.data_parallel)
                                     : "TP" + std::to_string(c.tensor_parallel) +
                                           (c.pipeline_parallel > 1 ? "PP" + std::to_string(c.pipeline_parallel) : "");
      std::printf("%-3s %-*s %-15s %4d %5d %8d %-6s %8s %9s %9s %9s %9s %8s  %s\n",
                  (std::to_string(++rank) + (c.recommended ? "*" : "")).c_str(), sku_width,
                  sku_label(c.cloud, c.sku).c_str(), c.gpu.c_str(), c.gpus_per_node, c.nodes_per_replica, c.replicas,
                  layout.c_str(), c.price_per_hour > 0 ? opt(c.cost_per_hour, "%.2f").c_str() : "?",
                  opt(c.cost_per_million_output_tokens, "%.2f").c_str(), opt(c.ttft_p95_ms, "%.0fms").c_str(),
                  opt(c.tpot_p95_ms, "%.1fms").c_str(), opt(c.max_rate, "%.1f/s").c_str(),
                  minutes(c.time_to_ready_s).c_str(), c.verdict.c_str());
    }
    for (const auto& s : result.skipped)
      std::printf("    %-*s skipped: %s\n", sku_width, sku_label(s.cloud, s.sku).c_str(), s.reason.c_str());
    if (result.recommended)
      std::printf("\nRecommended: %d x %s (%d node%s each), $%.2f/hour\n", result.recommended->replicas,
                  sku_label(result.recommended->cloud, result.recommended->sku).c_str(),
                  result.recommended->nodes_per_replica, result.recommended->nodes_per_replica > 1 ? "s" : "",
                  result.recommended->cost_per_hour);
    else
      std::printf("\nNo recommendation: %s\n", result.reason.c_str());
    std::printf("%d simulated trials in %.2f s wall\n", result.trials, wall);
    if (grown) print_scale_up(*grown, req, scale_up_wall);
    if (scale_up_run)
      std::printf("Scale-up recorded as run %lld (ktwin report --run %lld)\n", static_cast<long long>(*scale_up_run),
                  static_cast<long long>(*scale_up_run));
    if (!scale_up_skipped.empty()) std::printf("\nScale-up not simulated: %s\n", scale_up_skipped.c_str());
  }

  if (db) {
    reports::PlanRecord rec;
    rec.name = "plan " + req.preset + " @ " + json(req.rate_per_s).dump() + " req/s";
    std::string inputs;
    for (int i = 1; i < argc; ++i) inputs += std::string(argv[i]) + "\n";
    rec.inputs_hash = sha256_hex(inputs);
    rec.found = result.recommended != nullptr;
    rec.wall_seconds = wall;
    rec.attrs = {{"preset", req.preset},
                 {"cloud", clouds_text},
                 {"rate", json(req.rate_per_s).dump()},
                 {"prompt_tokens", req.prompt_tokens},
                 {"output_tokens", req.output_tokens},
                 {"slo", slo_text},
                 {"trials", std::to_string(result.trials)}};
    if (!result.recommended) rec.attrs.emplace_back("reason", result.reason);
    rec.attrs.emplace_back("model", model.origin);
    if (!traffic_origin.empty()) rec.attrs.emplace_back("traffic", traffic_origin);
    if (scale_up_run) {
      rec.attrs.emplace_back("scale_up_run", std::to_string(*scale_up_run));
      rec.attrs.emplace_back("scale_up", grown->verdict);
    }
    int rank = 0;
    for (const auto& c : result.candidates) rec.candidates.push_back(candidate_row(c, ++rank));
    const int64_t id = db->record_plan(rec);
    if (args.count("report")) {
      const std::string path = args["report"].as<std::string>();
      write_file_atomically(path, reports::render_report(*db, id, reports::report_format_for_path(path)));
    }
  }
  if (grown && !grown->meets_slo_throughout) return kExitFailed;
  return result.recommended ? kExitOk : kExitFailed;
}

}  // namespace

KTWIN_REGISTER_COMMAND(plan, "plan", "choose SKU and replica count for a model, load and SLOs", plan);

}  // namespace ktwin::cli
