// `ktwin predict`: runs every usable row of a measurements CSV (the columns of calibration_set.csv) through
// the latency predictor + replica engine and compares predicted with measured TTFT, TPOT, E2E and throughput.
#include <cxxopts.hpp>

#include <cstdio>
#include <string>

#include "catalog/yaml_json.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "core/object.h"
#include "gpu_model/calibration.h"

namespace ktwin::cli {
namespace {

int bad_input(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  return kExitBadInput;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v);
  return buf;
}

void print_table(const std::vector<gpu::MeasuredRow>& rows, const gpu::Evaluation& ev) {
  std::printf("%-4s %-34s %-15s %-7s %-11s %-16s %10s %10s %7s\n", "ROW", "MODEL", "GPU", "ENGINE", "MODE", "METRIC",
              "PREDICTED", "MEASURED", "APE");
  for (const auto& p : ev.rows) {
    const gpu::MeasuredRow* src = nullptr;
    for (const auto& r : rows) {
      if (r.row == p.row) src = &r;
    }
    std::string model = src ? src->cells.at("model_id") : "";
    if (model.size() > 34) model = "..." + model.substr(model.size() - 31);
    bool first = true;
    for (const auto& m : gpu::scored_metrics()) {
      auto it = p.measured.find(m);
      if (it == p.measured.end()) continue;
      const double pred = p.predicted.at(m);
      std::printf("%-4s %-34s %-15s %-7s %-11s %-16s %10s %10s %6.1f%%\n", first ? std::to_string(p.row).c_str() : "",
                  first ? model.c_str() : "", first && src ? src->cells.at("gpu_id").c_str() : "",
                  first && src && src->cells.count("engine") ? src->cells.at("engine").c_str() : "",
                  first && src ? src->cells.at("mode").c_str() : "", m.c_str(), fmt(pred).c_str(),
                  fmt(it->second).c_str(), 100 * std::fabs(pred - it->second) / it->second);
      first = false;
    }
  }
  std::printf("\n%-16s %4s %11s %9s\n", "METRIC", "N", "MEDIAN APE", "P90 APE");
  for (const auto& [m, e] : ev.summary)
    std::printf("%-16s %4d %10.1f%% %8.1f%%\n", m.c_str(), e.n, 100 * e.median_ape, 100 * e.p90_ape);
}

int run_predict(int argc, char** argv) {
  cxxopts::Options opts("ktwin predict", "Predict measured serving benchmarks (CSV) with the GPU model");
  opts.add_options()("csv", "Measurements CSV (columns of calibration_set.csv)", cxxopts::value<std::string>())(
      "model", "Latency predictor (default: the one the coefficients were fitted for)", cxxopts::value<std::string>())(
      "coefficients", "Coefficient file (default: presets/calibration/default.yaml)", cxxopts::value<std::string>())(
      "json", "Print JSON")("h,help", "Show this help");
  cxxopts::ParseResult r;
  if (auto done = parse_flags(opts, argc, argv, r)) return *done;
  if (!r.count("csv")) return bad_input("--csv is required");

  std::string predictor = "roofline";
  gpu::Coefficients coeffs = gpu::default_coefficients();
  if (r.count("coefficients")) {
    const std::string f = r["coefficients"].as<std::string>();
    coeffs = gpu::parse_coefficients_yaml(catalog::read_text_file(f), f, &predictor);
  }
  if (r.count("model")) predictor = r["model"].as<std::string>();
  bool known = false;
  for (const auto& p : gpu::predictors()) known = known || p.name == predictor;
  if (!known) {
    std::string names;
    for (const auto& p : gpu::predictors()) names += (names.empty() ? "" : ", ") + p.name;
    return bad_input("unknown latency model \"" + predictor + "\"; known: " + names);
  }
  const auto rows = gpu::read_measurements_csv(r["csv"].as<std::string>());
  const gpu::Evaluation ev = gpu::evaluate(rows, predictor, coeffs);
  for (const auto& s : ev.skipped) std::fprintf(stderr, "skipped row %d: %s\n", s.row, s.reason.c_str());
  for (const auto& p : ev.rows) {
    if (!p.note.empty()) std::fprintf(stderr, "row %d: %s\n", p.row, p.note.c_str());
  }
  if (r.count("json")) {
    json out = {{"rows", json::array()}, {"summary", json::object()}};
    for (const auto& p : ev.rows) {
      out["rows"].push_back({{"row", p.row}, {"predicted", p.predicted}, {"measured", p.measured}});
    }
    for (const auto& [m, e] : ev.summary) {
      out["summary"][m] = {{"n", e.n}, {"median_ape", e.median_ape}, {"p90_ape", e.p90_ape}};
    }
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    print_table(rows, ev);
  }
  return ev.rows.empty() ? kExitFailed : kExitOk;
}

}  // namespace
}  // namespace ktwin::cli

KTWIN_REGISTER_COMMAND(predict, "predict", "Predict measured serving benchmarks (CSV) with the GPU model",
                       ktwin::cli::run_predict);
