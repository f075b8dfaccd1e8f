// Calibration data, evaluation and the joint coefficient fit.
#include "gpu_model/calibration.h"

#include <Eigen/Dense>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>

#include "catalog/embedded_data.h"
#include "catalog/fields.h"
#include "catalog/yaml_json.h"
#include "core/input_error.h"

namespace ktwin::gpu {
namespace {

const std::vector<std::string>& known_columns() {
  static const std::vector<std::string> c = {"row", "model_id", "gpu_id", "weight_dtype", "num_gpus", "tp", "engine",
                                             "mode", "batch", "concurrency", "request_rate", "num_prompts",
                                             "input_tokens", "output_tokens", "input_dist", "ttft_ms", "tpot_ms",
                                             "e2e_ms", "out_tok_s_total", "req_s_total", "usable", "notes", "source",
                                             // optional: what the notes would otherwise have to say
                                             "engine_version", "tpot_stat"};
  return c;
}
const std::set<std::string> kIntColumns = {"row",         "num_gpus",    "tp",           "batch",
                                           "concurrency", "num_prompts", "input_tokens", "output_tokens"};
const std::set<std::string> kRealColumns = {"request_rate", "ttft_ms",         "tpot_ms",
                                            "e2e_ms",       "out_tok_s_total", "req_s_total"};

struct Record {
  int line;
  std::vector<std::string> fields;
};

std::vector<Record> split_csv(const std::string& text, const std::string& file) {
  std::vector<Record> out;
  Record cur{1, {}};
  std::string field;
  bool quoted = false, any = false;
  int line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (quoted) {
      if (ch == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (ch == '\n') ++line;
        field += ch;
      }
      continue;
    }
    if (ch == '"') {
      if (!field.empty()) throw InputError(file, line, 0, "", "quote in the middle of an unquoted field");
      quoted = any = true;
    } else if (ch == ',') {
      cur.fields.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (ch == '\n' || ch == '\r') {
      if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !field.empty()) {
        cur.fields.push_back(std::move(field));
        out.push_back(std::move(cur));
      }
      field.clear();
      any = false;
      ++line;
      cur = Record{line, {}};
    } else {
      field += ch;
      any = true;
    }
  }
  if (quoted) throw InputError(file, cur.line, 0, "", "unterminated quoted field");
  if (any || !field.empty()) {
    cur.fields.push_back(std::move(field));
    out.push_back(std::move(cur));
  }
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

bool parse_real(const std::string& s, double& out) {
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end != s.c_str() && *end == '\0' && std::isfinite(out);
}

int int_cell(const MeasuredRow& r, const std::string& col) {
  auto it = r.cells.find(col);
  return it == r.cells.end() || it->second.empty() ? 0 : std::atoi(it->second.c_str());
}
std::string cell(const MeasuredRow& r, const std::string& col) {
  auto it = r.cells.find(col);
  return it == r.cells.end() ? std::string() : it->second;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// vLLM's major.minor, from the engine_version column or a "vLLM v0.5.4"-style mention in the notes;
// nullopt when neither says (then the current engine is assumed).
std::optional<std::pair<int, int>> vllm_version(const MeasuredRow& row) {
  static const std::regex in_notes(R"(vllm[ =:@]*v?(\d+)\.(\d+))", std::regex::icase);
  static const std::regex bare(R"(v?(\d+)\.(\d+).*)");
  std::smatch m;
  const std::string v = cell(row, "engine_version");
  const std::string notes = cell(row, "notes");
  if ((!v.empty() && std::regex_match(v, m, bare)) || (v.empty() && std::regex_search(notes, m, in_notes))) {
    return std::make_pair(std::stoi(m[1].str()), std::stoi(m[2].str()));
  }
  return std::nullopt;
}

// Which statistic the row's tpot_ms is: the tpot_stat column, else what the notes state ("tpot_ms = MEDIAN
// ITL"), else genai-perf's per-request ITL when the notes name that client, else vLLM's median TPOT.
TpotStat tpot_stat_of(const MeasuredRow& row, std::string& how) {
  TpotStat t = TpotStat::kMedianTpot;
  if (parse_tpot_stat(cell(row, "tpot_stat"), t)) {
    how = "tpot_stat column";
    return t;
  }
  static const std::regex stated(R"(tpot_ms\s*=\s*(median|mean|avg|average)\s+(tpot|itl))", std::regex::icase);
  const std::string notes = cell(row, "notes");
  std::smatch m;
  if (std::regex_search(notes, m, stated)) {
    const bool median = lower(m[1].str()) == "median";
    const bool itl = lower(m[2].str()) == "itl";
    how = "notes";
    return itl ? (median ? TpotStat::kMedianItl : TpotStat::kMeanItl)
               : (median ? TpotStat::kMedianTpot : TpotStat::kMeanTpot);
  }
  const std::string l = lower(notes);
  if (l.find("genai-perf") != std::string::npos || l.find("aiperf") != std::string::npos) {
    how = "genai-perf reports ITL per request, averaged";
    return TpotStat::kMeanTpot;
  }
  how = "default";
  return TpotStat::kMedianTpot;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace

std::vector<MeasuredRow> parse_measurements_csv(const std::string& text, const std::string& file) {
  const auto records = split_csv(text, file);
  if (records.empty()) throw InputError(file, 1, 0, "", "empty CSV: expected a header line");
  const Record& head = records.front();
  std::vector<std::string> cols;
  for (size_t i = 0; i < head.fields.size(); ++i) {
    const std::string c = trim(head.fields[i]);
    if (std::find(known_columns().begin(), known_columns().end(), c) == known_columns().end()) {
      std::string msg = "unknown column \"" + c + "\"";
      const std::string s = catalog::closest_match(c, known_columns());
      throw InputError(file, head.line, 0, c, msg + (s.empty() ? "" : " (did you mean \"" + s + "\"?)"));
    }
    if (std::find(cols.begin(), cols.end(), c) != cols.end())
      throw InputError(file, head.line, 0, c, "duplicate column");
    cols.push_back(c);
  }
  for (const char* need : {"model_id", "gpu_id", "tp", "mode"}) {
    if (std::find(cols.begin(), cols.end(), need) == cols.end()) {
      throw InputError(file, head.line, 0, need, "missing required column");
    }
  }
  std::vector<MeasuredRow> out;
  for (size_t r = 1; r < records.size(); ++r) {
    const Record& rec = records[r];
    if (rec.fields.size() != cols.size()) {
      throw InputError(
          file, rec.line, 0, "",
          "has " + std::to_string(rec.fields.size()) + " fields, the header has " + std::to_string(cols.size()));
    }
    MeasuredRow row;
    row.file = file;
    row.line = rec.line;
    row.row = static_cast<int>(r - 1);
    for (size_t i = 0; i < cols.size(); ++i) {
      const std::string& c = cols[i];
      std::string v = c == "notes" || c == "source" ? rec.fields[i] : trim(rec.fields[i]);
      if (!v.empty() && (kIntColumns.count(c) || kRealColumns.count(c))) {
        double d = 0;
        if (!parse_real(v, d) || d < 0)
          throw InputError(file, rec.line, 0, c, "not a non-negative number: \"" + v + "\"");
        if (kIntColumns.count(c) && (d != std::floor(d) || d > 1e9)) {
          throw InputError(file, rec.line, 0, c, "not a whole number: \"" + v + "\"");
        }
        if (c == "row") row.row = static_cast<int>(d);
        if (std::find(scored_metrics().begin(), scored_metrics().end(), c) != scored_metrics().end()) {
          if (d <= 0) throw InputError(file, rec.line, 0, c, "a measured metric must be > 0");
          row.measured[c] = d;
        }
      }
      if (c == "tpot_stat" && !v.empty()) {
        TpotStat t;
        if (!parse_tpot_stat(v, t)) {
          throw InputError(file, rec.line, 0, c,
                           "must be median_tpot, mean_tpot, median_itl or mean_itl, got \"" + v + "\"");
        }
      }
      if (c == "engine_version" && !v.empty() && !std::regex_match(v, std::regex(R"(v?\d+(\.\d+)*)"))) {
        throw InputError(file, rec.line, 0, c, "not a version like 0.5.4: \"" + v + "\"");
      }
      if (c == "usable" && !v.empty()) {
        if (v != "yes" && v != "no") throw InputError(file, rec.line, 0, c, "must be yes or no, got \"" + v + "\"");
        row.usable = v == "yes";
      }
      row.cells[c] = std::move(v);
    }
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<MeasuredRow> read_measurements_csv(const std::string& path) {
  return parse_measurements_csv(catalog::read_text_file(path), path);
}

std::optional<RowSetup> setup_row(const MeasuredRow& row, std::string& why) {
  const HardwareCatalog& hw = default_hardware();
  RowSetup s;
  if (row.measured.empty()) {
    why = "measures none of ttft_ms, tpot_ms, e2e_ms, out_tok_s_total";
    return std::nullopt;
  }
  const ModelArch* model = hw.find_model(cell(row, "model_id"));
  if (model == nullptr) {
    try {
      hw.model(cell(row, "model_id"));
    } catch (const InputError& e) {
      why = e.detail();
    }
    return std::nullopt;
  }
  const GpuSpec* gpu = hw.find_gpu(cell(row, "gpu_id"));
  if (gpu == nullptr) {
    why = "unknown GPU \"" + cell(row, "gpu_id") + "\" (not in presets/gpus.yaml)";
    return std::nullopt;
  }
  s.deployment.model = *model;
  s.deployment.gpu = *gpu;
  const std::string dt = cell(row, "weight_dtype");
  if (dt.empty()) {
    s.deployment.weight_dtype = DType::kBF16;
    s.note += "weight_dtype empty: bf16 assumed; ";
  } else if (!parse_dtype(dt, s.deployment.weight_dtype)) {
    why = "unknown weight_dtype \"" + dt + "\"";
    return std::nullopt;
  }
  if (!parse_engine(cell(row, "engine"), s.deployment.engine)) {
    why = cell(row, "engine").empty() ? "engine not stated" : "unknown engine \"" + cell(row, "engine") + "\"";
    return std::nullopt;
  }
  if (s.deployment.engine == EngineKind::kVllm) {
    const auto version = vllm_version(row);
    if (version && version->first == 0 && version->second < 6) {
      s.deployment.engine = EngineKind::kVllmV0;
      s.note += "vLLM " + std::to_string(version->first) + "." + std::to_string(version->second) + ": vllm-v0 engine; ";
    }
  }
  if (row.measured.count("tpot_ms")) {
    std::string how;
    s.tpot_stat = tpot_stat_of(row, how);
    if (how != "default") s.note += std::string("tpot_ms is ") + tpot_stat_name(s.tpot_stat) + " (" + how + "); ";
  }
  const int tp = int_cell(row, "tp");
  const int gpus = int_cell(row, "num_gpus") > 0 ? int_cell(row, "num_gpus") : tp;
  if (tp < 1 || gpus % tp != 0) {
    why = "tp must be >= 1 and divide num_gpus";
    return std::nullopt;
  }
  s.deployment.tp = tp;
  s.deployment.pp = gpus / tp;
  // KV cache dtype: TensorRT-LLM's FP8 builds quantise the KV cache too (--fp8_kv_cache / --quantization FP8);
  // vLLM's kv-cache-dtype defaults to the activation dtype (16-bit) even for FP8 checkpoints.
  const bool fp8 = s.deployment.weight_dtype == DType::kFP8;
  s.deployment.kv_dtype = fp8 && s.deployment.engine == EngineKind::kTrtllm ? DType::kFP8
                          : s.deployment.weight_dtype == DType::kFP16       ? DType::kFP16
                                                                            : DType::kBF16;
  BenchmarkSpec& b = s.bench;
  if (!parse_bench_mode(cell(row, "mode"), b.mode)) {
    why = "unknown mode \"" + cell(row, "mode") + "\"";
    return std::nullopt;
  }
  if (!parse_length_dist(cell(row, "input_dist"), b.dist)) {
    why = "unknown input_dist \"" + cell(row, "input_dist") + "\"";
    return std::nullopt;
  }
  b.batch = int_cell(row, "batch");
  b.concurrency = int_cell(row, "concurrency");
  b.num_prompts = int_cell(row, "num_prompts");
  b.input_tokens = int_cell(row, "input_tokens");
  b.output_tokens = int_cell(row, "output_tokens");
  b.seed = 0x6b74'7769'6e00ULL + static_cast<uint64_t>(row.row);
  if (!cell(row, "request_rate").empty()) b.request_rate = std::atof(cell(row, "request_rate").c_str());
  if (b.dist != LengthDist::kShareGpt) {
    if (b.output_tokens == 0 && row.measured.size() == 1 && row.measured.count("ttft_ms")) {
      b.output_tokens = 1;  // a TTFT-only measurement: the context phase with one generated token
      s.note += "output_tokens empty: TTFT-only row run with 1 output token; ";
    }
    if (b.input_tokens < 1 || b.output_tokens < 1) {
      why = "input_tokens and output_tokens are needed for input_dist " + cell(row, "input_dist");
      return std::nullopt;
    }
  }
  switch (b.mode) {
    case BenchMode::kStatic:
      if (b.batch < 1) {
        why = "static mode needs batch";
        return std::nullopt;
      }
      break;
    case BenchMode::kClosedLoop:
      if (b.concurrency < 1) {
        why = "closed_loop mode needs concurrency";
        return std::nullopt;
      }
      break;
    case BenchMode::kOpenLoop:
      if (!(b.request_rate > 0)) {
        why = "open_loop mode needs request_rate";
        return std::nullopt;
      }
      [[fallthrough]];
    case BenchMode::kSaturated:
      if (b.num_prompts < 1) s.note += "num_prompts empty: " + std::to_string(kDefaultPrompts) + " assumed; ";
      break;
  }
  s.engine = engine_profile(s.deployment, b);
  // vLLM's ShareGPT sampler keeps prompt + reference <= 2048 tokens, and those servers ran with a ~2k
  // max-model-len (vLLM results named _len2000/_len2048; TGI MAX_TOTAL_TOKENS 2048). It also bounds vLLM's
  // prefill step budget, max(max_num_batched_tokens, max_model_len).
  if (b.dist == LengthDist::kShareGpt) s.engine.max_model_len = 2048;
  if (!s.note.empty()) s.note.resize(s.note.size() - 2);
  return s;
}

std::map<std::string, MetricError> summarize(const std::vector<RowPrediction>& rows) {
  std::map<std::string, MetricError> out;
  for (const auto& m : scored_metrics()) {
    std::vector<double> apes;
    for (const auto& r : rows) {
      auto it = r.measured.find(m);
      auto jt = r.predicted.find(m);
      if (it != r.measured.end() && jt != r.predicted.end())
        apes.push_back(std::fabs(jt->second - it->second) / it->second);
    }
    if (apes.empty()) continue;
    out[m] = MetricError{static_cast<int>(apes.size()), percentile(apes, 0.5), percentile(apes, 0.9)};
  }
  return out;
}

Evaluation evaluate(const std::vector<MeasuredRow>& rows, const std::string& predictor, const Coefficients& c) {
  Evaluation ev;
  for (const auto& row : rows) {
    if (!row.usable) continue;
    std::string why;
    auto setup = setup_row(row, why);
    if (!setup) {
      ev.skipped.push_back({row.row, why});
      continue;
    }
    BenchmarkResult res;
    try {
      auto pred = make_predictor(predictor, setup->deployment, c);
      res = run_benchmark(*pred, setup->engine, setup->bench);
    } catch (const InputError& e) {
      ev.skipped.push_back({row.row, e.detail()});
      continue;
    }
    if (res.completed == 0) {
      ev.skipped.push_back({row.row, "no request completed (" + std::to_string(res.rejected) + " rejected)"});
      continue;
    }
    RowPrediction p;
    p.row = row.row;
    p.measured = row.measured;
    p.note = setup->note;
    const std::map<std::string, double> all = {{"ttft_ms", res.ttft_ms},
                                               {"tpot_ms", res.tpot(setup->tpot_stat)},
                                               {"e2e_ms", res.e2e_ms},
                                               {"out_tok_s_total", res.out_tok_s_total}};
    for (const auto& [m, v] : row.measured) p.predicted[m] = all.at(m);
    ev.rows.push_back(std::move(p));
  }
  ev.summary = summarize(ev.rows);
  return ev;
}

// The fit. Residuals are log(predicted / measured) per (row, metric), so a 2x over- and under-prediction
// weigh the same and rows with large values do not dominate. The engine simulation is a piecewise-smooth
// function of the coefficients, so we use Levenberg-Marquardt with a finite-difference Jacobian (Eigen solves
// the damped normal equations) in a log-transformed, clamped parameter space, with Huber weights (IRLS): the
// data set holds a few rows whose software stack the physics cannot explain (e.g. weight-only FP8 on A100);
// a squared loss would let them pull every other row off.
namespace {
constexpr double kHuberDelta = 0.2;  // |log error| beyond ~22% counts linearly

double to_x(int i, double p) {
  const auto& inf = Coefficients::info()[static_cast<size_t>(i)];
  return inf.min > 0 ? std::log(p) : std::log(p + 1);
}
double from_x(int i, double x) {
  const auto& inf = Coefficients::info()[static_cast<size_t>(i)];
  const double p = inf.min > 0 ? std::exp(x) : std::exp(x) - 1;
  return std::clamp(p, inf.min, inf.max);
}

struct Residuals {
  std::vector<double> r;
  std::vector<double> balance;  //!< per residual: each metric weighs the same in total, however many rows measure it
  std::vector<std::pair<int, std::string>> keys;
  Evaluation ev;
};

Residuals residuals(const std::vector<MeasuredRow>& rows, const std::string& predictor, const Coefficients& c) {
  Residuals out;
  out.ev = evaluate(rows, predictor, c);
  for (const auto& p : out.ev.rows) {
    for (const auto& [m, meas] : p.measured) {
      const double pred = std::max(p.predicted.at(m), 1e-9);
      out.r.push_back(std::log(pred / meas));
      out.keys.emplace_back(p.row, m);
    }
  }
  // The targets are per-metric medians, and throughput rows outnumber latency rows several times over;
  // without balancing, the fit would trade TPOT accuracy for throughput rows.
  std::map<std::string, int> per_metric;
  for (const auto& k : out.keys) ++per_metric[k.second];
  for (const auto& k : out.keys) {
    out.balance.push_back(static_cast<double>(out.keys.size()) /
                          (static_cast<double>(per_metric.size()) * per_metric[k.second]));
  }
  return out;
}

double huber_cost(const Residuals& res) {
  double s = 0;
  for (size_t k = 0; k < res.r.size(); ++k) {
    const double v = res.r[k];
    s +=
        res.balance[k] * (std::fabs(v) <= kHuberDelta ? 0.5 * v * v : kHuberDelta * (std::fabs(v) - 0.5 * kHuberDelta));
  }
  return s;
}
}  // namespace

FitReport fit_coefficients(const std::vector<MeasuredRow>& rows, const std::string& predictor,
                           const Coefficients& start) {
  constexpr int kN = Coefficients::kCount;
  FitReport rep;
  Coefficients cur = start;
  Eigen::VectorXd x(kN);
  for (int i = 0; i < kN; ++i) x[i] = to_x(i, cur[i]);
  auto coeffs_of = [&](const Eigen::VectorXd& v) {
    Coefficients c;
    for (int i = 0; i < kN; ++i) c[i] = from_x(i, v[i]);
    return c;
  };
  Residuals base = residuals(rows, predictor, coeffs_of(x));
  ++rep.evaluations;
  rep.before = base.ev;
  double cost = huber_cost(base);
  double lambda = 1e-2;
  const size_t m = base.r.size();
  for (int iter = 0; iter < 25 && m > 0; ++iter) {
    Eigen::MatrixXd J(static_cast<Eigen::Index>(m), kN);
    constexpr double h = 0.03;
    for (int j = 0; j < kN; ++j) {
      Eigen::VectorXd xp = x;
      xp[j] += h;
      Residuals rp = residuals(rows, predictor, coeffs_of(xp));
      ++rep.evaluations;
      if (rp.r.size() != m) {  // a row stopped being simulatable: treat this direction as flat
        J.col(j).setZero();
        continue;
      }
      for (size_t k = 0; k < m; ++k) J(static_cast<Eigen::Index>(k), j) = (rp.r[k] - base.r[k]) / h;
    }
    Eigen::VectorXd r(static_cast<Eigen::Index>(m)), w(static_cast<Eigen::Index>(m));
    for (size_t k = 0; k < m; ++k) {
      r[static_cast<Eigen::Index>(k)] = base.r[k];
      w[static_cast<Eigen::Index>(k)] =
          base.balance[k] * (std::fabs(base.r[k]) <= kHuberDelta ? 1.0 : kHuberDelta / std::fabs(base.r[k]));
    }
    const Eigen::MatrixXd A = J.transpose() * w.asDiagonal() * J;
    const Eigen::VectorXd g = J.transpose() * w.asDiagonal() * r;
    bool improved = false;
    for (int attempt = 0; attempt < 6; ++attempt) {
      Eigen::MatrixXd D = A;
      for (int i = 0; i < kN; ++i) D(i, i) += lambda * (A(i, i) + 1e-6);
      Eigen::VectorXd dx = D.ldlt().solve(-g);
      Eigen::VectorXd xn = x + dx;
      for (int i = 0; i < kN; ++i) xn[i] = to_x(i, from_x(i, xn[i]));  // clamp into the bounds
      Residuals rn = residuals(rows, predictor, coeffs_of(xn));
      ++rep.evaluations;
      const double cn = rn.r.size() == m ? huber_cost(rn) : INFINITY;
      if (cn < cost) {
        const double gain = cost - cn;
        x = xn;
        base = std::move(rn);
        cost = cn;
        lambda = std::max(lambda / 3, 1e-6);
        improved = gain > 1e-6 * std::max(1.0, cost);
        break;
      }
      lambda *= 4;
    }
    if (!improved) break;
  }
  rep.coefficients = coeffs_of(x);
  rep.after = base.ev;
  return rep;
}

std::string format_coefficients_yaml(const std::string& predictor, const Coefficients& c,
                                     const std::map<std::string, MetricError>& fit, const std::string& source) {
  std::string out;
  out += "# Efficiency coefficients of the GPU latency model, fitted jointly over every usable row of " + source + "\n";
  out += "# by `ktwin calibrate` (log-error Levenberg-Marquardt with Huber weights; gpu_model/calibration.cc).\n";
  out += "# `ktwin predict` uses this file by default. Do not tune one coefficient to one row.\n";
  out += "predictor: " + predictor + "\n";
  out += "coefficients:\n";
  char buf[256];
  for (int i = 0; i < Coefficients::kCount; ++i) {
    const auto& inf = Coefficients::info()[static_cast<size_t>(i)];
    std::snprintf(buf, sizeof buf, "  %s: %.6g  # %s\n", inf.name, c[i], inf.help);
    out += buf;
  }
  out += "fit:\n  source: \"" + source + "\"\n  metrics:\n";
  for (const auto& [m, e] : fit) {
    std::snprintf(buf, sizeof buf, "    %s: {n: %d, median_ape: %.4f, p90_ape: %.4f}\n", m.c_str(), e.n, e.median_ape,
                  e.p90_ape);
    out += buf;
  }
  return out;
}

Coefficients parse_coefficients_yaml(const std::string& text, const std::string& file, std::string* predictor) {
  const auto docs = catalog::parse_yaml(text, file);
  if (docs.size() != 1) throw InputError(file, 1, 0, "", "expected exactly one YAML document");
  const auto& doc = docs.front();
  const catalog::Fields top(doc, "", {"predictor", "coefficients", "fit"});
  const std::string pred = top.name("predictor");
  if (predictor != nullptr) *predictor = pred;
  std::vector<std::string> names;
  for (const auto& inf : Coefficients::info()) names.push_back(inf.name);
  if (!top.has("coefficients")) throw doc.error("", "missing required field \"coefficients\"");
  const catalog::Fields cf(doc, top.child("coefficients"), names);
  Coefficients c;
  for (int i = 0; i < Coefficients::kCount; ++i) {
    const auto& inf = Coefficients::info()[static_cast<size_t>(i)];
    c[i] = cf.number(inf.name, true, 0, inf.min, inf.max);
  }
  return c;
}

const Coefficients& default_coefficients() {
  static const Coefficients c = [] {
    const char* dir = std::getenv("KTWIN_PRESETS_DIR");
    if (dir != nullptr && *dir != '\0') {
      namespace fs = std::filesystem;
      fs::path root(dir);
      std::error_code ec;
      if (!fs::exists(root / "calibration", ec) && fs::exists(root / "presets" / "calibration", ec)) root /= "presets";
      const fs::path f = root / "calibration" / "default.yaml";
      if (fs::exists(f, ec)) return parse_coefficients_yaml(catalog::read_text_file(f.string()), f.string());
      return Coefficients();
    }
    for (const auto& f : catalog::embedded_files()) {
      if (f.path == "presets/calibration/default.yaml") {
        return parse_coefficients_yaml(std::string(f.contents), std::string(f.path));
      }
    }
    return Coefficients();
  }();
  return c;
}

}  // namespace ktwin::gpu
