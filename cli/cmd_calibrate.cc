// `ktwin calibrate`: fits the GPU model's efficiency coefficients jointly over every usable row of a
// measurements CSV and writes them (with the fit's error per metric) to a coefficient file, atomically.
#include <cxxopts.hpp>

#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "gpu_model/calibration.h"

namespace ktwin::cli {
namespace {

int bad_input(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  return kExitBadInput;
}

void print_summary(const char* title, const gpu::Evaluation& ev) {
  std::printf("%s\n%-16s %4s %11s %9s\n", title, "METRIC", "N", "MEDIAN APE", "P90 APE");
  for (const auto& [m, e] : ev.summary)
    std::printf("%-16s %4d %10.1f%% %8.1f%%\n", m.c_str(), e.n, 100 * e.median_ape, 100 * e.p90_ape);
}

int run_calibrate(int argc, char** argv) {
  cxxopts::Options opts("ktwin calibrate", "Fit the GPU model's efficiency coefficients to measured benchmarks");
  opts.add_options()("csv", "Measurements CSV (columns of calibration_set.csv)", cxxopts::value<std::string>())(
      "out", "Coefficient file to write",
      cxxopts::value<std::string>()->default_value("presets/calibration/default.yaml"))(
      "model", "Latency predictor to fit", cxxopts::value<std::string>()->default_value("roofline"))("h,help",
                                                                                                     "Show this help");
  cxxopts::ParseResult r;
  if (auto done = parse_flags(opts, argc, argv, r)) return *done;
  if (!r.count("csv")) return bad_input("--csv is required");
  const std::string predictor = r["model"].as<std::string>();
  bool known = false;
  for (const auto& p : gpu::predictors()) known = known || p.name == predictor;
  if (!known) return bad_input("unknown latency model \"" + predictor + "\"");
  const std::string csv = r["csv"].as<std::string>();
  const auto rows = gpu::read_measurements_csv(csv);
  // Start from the shipped coefficients (or the built-in initial values) and fit everything jointly.
  const gpu::FitReport rep = gpu::fit_coefficients(rows, predictor, gpu::default_coefficients());
  for (const auto& s : rep.after.skipped) std::fprintf(stderr, "skipped row %d: %s\n", s.row, s.reason.c_str());
  if (rep.after.rows.empty()) {
    std::fprintf(stderr, "error: no usable row could be simulated\n");
    return kExitFailed;
  }
  print_summary("before:", rep.before);
  print_summary("after:", rep.after);
  std::printf("coefficients (%d evaluations of %zu rows):\n", rep.evaluations, rep.after.rows.size());
  for (int i = 0; i < gpu::Coefficients::kCount; ++i) {
    std::printf("  %-24s %.6g\n", gpu::Coefficients::info()[static_cast<size_t>(i)].name, rep.coefficients[i]);
  }
  std::string source = csv;
  if (const size_t slash = source.rfind('/'); slash != std::string::npos) source = source.substr(slash + 1);
  const std::string out = r["out"].as<std::string>();
  write_file_atomically(out, gpu::format_coefficients_yaml(predictor, rep.coefficients, rep.after.summary, source));
  std::printf("wrote %s\n", out.c_str());
  return kExitOk;
}

}  // namespace
}  // namespace ktwin::cli

KTWIN_REGISTER_COMMAND(calibrate, "calibrate", "Fit the GPU model's coefficients to measured benchmarks (CSV)",
                       ktwin::cli::run_calibrate);
