// Measured serving benchmarks (the columns of /work/shared/data/calibration_set.csv), predicting them with a
// latency predictor + ReplicaEngine, the error summary, the joint coefficient fit, and the coefficient file
// (presets/calibration/*.yaml) that `ktwin predict` uses by default.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gpu_model/benchmark.h"
#include "gpu_model/predictor.h"

namespace ktwin::gpu {

//! The four metrics predictions are scored on, in output order.
inline const std::vector<std::string>& scored_metrics() {
  static const std::vector<std::string> m = {"ttft_ms", "tpot_ms", "e2e_ms", "out_tok_s_total"};
  return m;
}

struct MeasuredRow {
  std::string file;
  int line = 0;  //!< where the record starts
  int row = 0;   //!< the `row` column (or the record's index when absent)
  std::map<std::string, std::string> cells;
  std::map<std::string, double> measured;  //!< scored metrics present in the row
  bool usable = true;
};

//! Reads a CSV with a header of known columns (those of calibration_set.csv). Throws InputError at
//! file:line for an unknown column, a malformed record or a bad number.
std::vector<MeasuredRow> read_measurements_csv(const std::string& path);
std::vector<MeasuredRow> parse_measurements_csv(const std::string& text, const std::string& file);

struct RowSetup {
  Deployment deployment;
  EngineConfig engine;
  BenchmarkSpec bench;
  TpotStat tpot_stat = TpotStat::kMedianTpot;  //!< which statistic the row's tpot_ms is
  std::string note;                            //!< e.g. "num_prompts empty: 1000 assumed"
};
//! How a row is simulated; nullopt with `why` when it cannot be (unknown GPU/model, missing fields).
std::optional<RowSetup> setup_row(const MeasuredRow& row, std::string& why);

struct RowPrediction {
  int row = 0;
  std::map<std::string, double> predicted, measured;
  std::string note;
};
struct Skipped {
  int row = 0;
  std::string reason;
};
struct MetricError {
  int n = 0;
  double median_ape = 0, p90_ape = 0;
};

struct Evaluation {
  std::vector<RowPrediction> rows;
  std::vector<Skipped> skipped;
  std::map<std::string, MetricError> summary;
};
//! Predicts every usable row; rows that cannot be simulated go to `skipped` with the reason.
Evaluation evaluate(const std::vector<MeasuredRow>& rows, const std::string& predictor, const Coefficients& c);
std::map<std::string, MetricError> summarize(const std::vector<RowPrediction>& rows);

struct FitReport {
  Coefficients coefficients;
  Evaluation before, after;
  int evaluations = 0;
};
//! Fits all coefficients jointly over every usable row (never per row); see calibration.cc for the method.
FitReport fit_coefficients(const std::vector<MeasuredRow>& rows, const std::string& predictor,
                           const Coefficients& start);

//! The coefficient file: predictor name, coefficients and the fit's error summary.
std::string format_coefficients_yaml(const std::string& predictor, const Coefficients& c,
                                     const std::map<std::string, MetricError>& fit, const std::string& source);
Coefficients parse_coefficients_yaml(const std::string& text, const std::string& file,
                                     std::string* predictor = nullptr);
//! presets/calibration/default.yaml (embedded, or under $KTWIN_PRESETS_DIR); built-in initial values if absent.
const Coefficients& default_coefficients();

}  // namespace ktwin::gpu
