#include "reports/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <vector>

#include "core/input_error.h"
#include "core/util/markup.h"
#include "reports/results_db.h"
#include "reports/sqlite_stmt.h"

namespace ktwin::reports {
namespace {

using nlohmann::json;

struct RunRow {
  int64_t id = 0;
  std::string kind, scenario, scenario_hash, scenario_file, git_version, started_at, fingerprint, verdict;
  std::optional<double> seed, wall_seconds, sim_seconds;
  int64_t event_count = 0;
};
struct EventRow {
  double t = 0;
  std::string kind, name, what;
};
struct ExpectationRow {
  std::string text, detail;
  bool passed = false;
};
struct ScalarRow {
  std::string name, workspace, unit;
  std::optional<double> value;
};
using Points = std::vector<std::pair<double, double>>;
struct SampleRow {
  std::string workspace;
  double ttft_ms = 0;
  std::optional<double> tpot_ms;
};

struct RunData {
  RunRow run;
  std::vector<std::pair<std::string, std::string>> attrs;
  std::vector<EventRow> events;
  std::vector<ExpectationRow> expectations;
  std::vector<ScalarRow> scalars;
  std::map<std::string, std::map<std::string, Points>> series;  // name -> workspace -> points
  std::vector<SampleRow> samples;
  std::vector<PlanCandidateRow> candidates;

  std::optional<double> scalar(const std::string& name, const std::string& ws = "") const {
    for (const auto& s : scalars)
      if (s.name == name && s.workspace == ws) return s.value;
    return std::nullopt;
  }
  std::vector<std::string> workspaces() const {
    std::set<std::string> out;
    for (const auto& s : scalars)
      if (!s.workspace.empty()) out.insert(s.workspace);
    return {out.begin(), out.end()};
  }
};

RunData load(sqlite3* db, int64_t id) {
  RunData d;
  {
    Stmt st(db,
            "SELECT id, kind, scenario, scenario_hash, coalesce(scenario_file, ''), git_version, started_at, "
            "coalesce(fingerprint, ''), verdict, seed, wall_seconds, sim_seconds, event_count FROM run WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) throw InputError("", 0, 0, "--run", "no run " + std::to_string(id) + " in the results database");
    RunRow& r = d.run;
    r.id = st.int64(0);
    r.kind = st.text(1);
    r.scenario = st.text(2);
    r.scenario_hash = st.text(3);
    r.scenario_file = st.text(4);
    r.git_version = st.text(5);
    r.started_at = st.text(6);
    r.fingerprint = st.text(7);
    r.verdict = st.text(8);
    r.seed = st.opt_real(9);
    r.wall_seconds = st.opt_real(10);
    r.sim_seconds = st.opt_real(11);
    r.event_count = st.int64(12);
  }
  Stmt at(db, "SELECT key, value FROM run_attr WHERE run_id = ? ORDER BY key");
  for (at.bind(1, id); at.step();) d.attrs.emplace_back(at.text(0), at.text(1));
  Stmt ev(db, "SELECT t_s, kind, name, what FROM event WHERE run_id = ? ORDER BY seq");
  for (ev.bind(1, id); ev.step();) d.events.push_back({ev.real(0), ev.text(1), ev.text(2), ev.text(3)});
  Stmt ex(db, "SELECT text, coalesce(detail, ''), passed FROM expectation WHERE run_id = ? ORDER BY seq");
  for (ex.bind(1, id); ex.step();) d.expectations.push_back({ex.text(0), ex.text(1), ex.int64(2) != 0});
  Stmt sc(db, "SELECT name, workspace, unit, value FROM scalar WHERE run_id = ? ORDER BY workspace, name");
  for (sc.bind(1, id); sc.step();) d.scalars.push_back({sc.text(0), sc.text(1), sc.text(2), sc.opt_real(3)});
  Stmt se(db, "SELECT name, workspace, t_s, value FROM series WHERE run_id = ? ORDER BY name, workspace, t_s");
  for (se.bind(1, id); se.step();) d.series[se.text(0)][se.text(1)].emplace_back(se.real(2), se.real(3));
  Stmt rs(db, "SELECT workspace, ttft_ms, tpot_ms FROM request_sample WHERE run_id = ? ORDER BY rowid");
  for (rs.bind(1, id); rs.step();) d.samples.push_back({rs.text(0), rs.real(1), rs.opt_real(2)});
  Stmt pc(db,
          "SELECT rank, cloud, sku, gpu, gpus_per_node, nodes_per_replica, replicas, tensor_parallel, "
          "pipeline_parallel, cost_per_hour, cost_per_mtok, ttft_p95_ms, tpot_p95_ms, max_rate, time_to_ready_s, "
          "meets_slo, recommended, verdict, data_parallel FROM plan_candidate WHERE run_id = ? ORDER BY rank");
  for (pc.bind(1, id); pc.step();) {
    PlanCandidateRow c;
    c.rank = static_cast<int>(pc.int64(0));
    c.cloud = pc.text(1);
    c.sku = pc.text(2);
    c.gpu = pc.text(3);
    c.gpus_per_node = static_cast<int>(pc.int64(4));
    c.nodes_per_replica = static_cast<int>(pc.int64(5));
    c.replicas = static_cast<int>(pc.int64(6));
    c.tensor_parallel = static_cast<int>(pc.int64(7));
    c.pipeline_parallel = static_cast<int>(pc.int64(8));
    c.cost_per_hour = pc.real(9);
    c.cost_per_million_output_tokens = pc.opt_real(10);
    c.ttft_p95_ms = pc.opt_real(11);
    c.tpot_p95_ms = pc.opt_real(12);
    c.max_rate = pc.opt_real(13);
    c.time_to_ready_s = pc.opt_real(14);
    c.meets_slo = pc.int64(15) != 0;
    c.recommended = pc.int64(16) != 0;
    c.verdict = pc.text(17);
    c.data_parallel = static_cast<int>(pc.int64(18));
    d.candidates.push_back(std::move(c));
  }
  return d;
}

// ---- formatting ----

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

//! Three significant digits with k/M suffixes: 0.0123, 12.3, 1.23k, 4.5M.
std::string compact(double v) {
  const double a = std::fabs(v);
  if (a >= 1e6) return fmt("%.3gM", v / 1e6);
  if (a >= 1e4) return fmt("%.3gk", v / 1e3);
  if (a >= 100) return fmt("%.0f", v);
  return fmt("%.3g", v);
}

std::string duration_text(double s) {
  if (s < 0) s = 0;
  const auto total = static_cast<int64_t>(std::llround(s));
  const int64_t h = total / 3600, m = total % 3600 / 60, sec = total % 60;
  if (h > 0) return std::to_string(h) + "h" + (m ? std::to_string(m) + "m" : "");
  if (m > 0) return std::to_string(m) + "m" + (sec ? std::to_string(sec) + "s" : "");
  return s < 10 && s != std::floor(s) ? fmt("%.1fs", s) : std::to_string(sec) + "s";
}

std::string esc(const std::string& s) { return xml_escape(s); }

std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string opt(const std::optional<double>& v, const char* f = "%.1f") { return v ? fmt(f, *v) : "-"; }

// Integral of a step series (value holds until the next point), in value x hours.
double step_integral_hours(const Points& p) {
  double total = 0;
  for (size_t i = 1; i < p.size(); ++i) total += p[i - 1].second * (p[i].first - p[i - 1].first) / 3600.0;
  return total;
}

double series_max(const Points& p) {
  double m = 0;
  for (const auto& [t, v] : p) m = std::max(m, v);
  return m;
}

// ---- SVG charts ----

const char* const kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

std::vector<double> nice_ticks(double lo, double hi, int want = 5) {
  if (!(hi > lo)) hi = lo + 1;
  const double raw = (hi - lo) / want;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    out.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
  return out;
}

std::vector<double> time_ticks(double lo, double hi) {
  const double span = hi - lo;
  double step = 1;
  for (double s : {1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0,
                   21600.0, 43200.0, 86400.0})
    if (span / s <= 8) {
      step = s;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9; t += step) out.push_back(t);
  return out;
}

struct Line {
  std::string label;
  Points points;
  bool step = false;
};

struct ChartSpec {
  std::string id, title, y_label;
  bool x_is_time = true;
  std::string x_label = "simulated time";
  bool y_from_zero = true;
  std::optional<double> y_max;
};

ChartSpec spec_of(std::string id, std::string title, std::string y_label) {
  ChartSpec s;
  s.id = std::move(id);
  s.title = std::move(title);
  s.y_label = std::move(y_label);
  return s;
}

std::string line_chart(const ChartSpec& spec, const std::vector<Line>& lines) {
  constexpr double W = 760, H = 260, L = 64, R = 170, T = 30, B = 40;
  double x0 = 1e300, x1 = -1e300, y0 = spec.y_from_zero ? 0 : 1e300, y1 = -1e300;
  for (const auto& l : lines)
    for (const auto& [x, y] : l.points) {
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  std::string out = "<figure class=\"chart\" id=\"chart-" + spec.id +
                    "\"><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + fmt("%.0f", W) + " " +
                    fmt("%.0f", H) + "\" role=\"img\" aria-label=\"" + esc(spec.title) + "\">";
  out += "<text x=\"" + fmt("%.0f", L) + "\" y=\"18\" class=\"title\">" + esc(spec.title) + "</text>";
  if (x0 > x1) {
    out += "<text x=\"" + fmt("%.0f", W / 2) + "\" y=\"" + fmt("%.0f", H / 2) +
           "\" class=\"empty\">no data</text></svg></figure>";
    return out;
  }
  if (spec.y_max) y1 = std::min(y1, *spec.y_max);
  if (y1 <= y0) y1 = y0 + 1;
  if (x1 <= x0) x1 = x0 + 1;
  const std::vector<double> yt = nice_ticks(y0, y1);
  y1 = std::max(y1, yt.back());
  const std::vector<double> xt = spec.x_is_time ? time_ticks(x0, x1) : nice_ticks(x0, x1);
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return H - B - (std::min(y, y1) - y0) / (y1 - y0) * (H - T - B); };
  out += "<rect x=\"" + fmt("%.0f", L) + "\" y=\"" + fmt("%.0f", T) + "\" width=\"" + fmt("%.0f", W - L - R) +
         "\" height=\"" + fmt("%.0f", H - T - B) + "\" class=\"plot\"/>";
  for (double y : yt)
    out += "<line x1=\"" + fmt("%.1f", L) + "\" x2=\"" + fmt("%.1f", W - R) + "\" y1=\"" + fmt("%.1f", py(y)) +
           "\" y2=\"" + fmt("%.1f", py(y)) + "\" class=\"grid\"/><text x=\"" + fmt("%.0f", L - 6) + "\" y=\"" +
           fmt("%.1f", py(y) + 4) + "\" class=\"ytick\">" + compact(y) + "</text>";
  for (double x : xt)
    out += "<text x=\"" + fmt("%.1f", px(x)) + "\" y=\"" + fmt("%.0f", H - B + 16) + "\" class=\"xtick\">" +
           (spec.x_is_time ? duration_text(x) : compact(x)) + "</text>";
  out += "<text x=\"" + fmt("%.0f", (L + W - R) / 2) + "\" y=\"" + fmt("%.0f", H - 4) + "\" class=\"xlabel\">" +
         esc(spec.x_label) + "</text>";
  out += "<text transform=\"translate(14," + fmt("%.0f", (T + H - B) / 2) + ") rotate(-90)\" class=\"ylabel\">" +
         esc(spec.y_label) + "</text>";
  for (size_t i = 0; i < lines.size(); ++i) {
    const char* color = kPalette[i % std::size(kPalette)];
    std::string pts;
    for (size_t k = 0; k < lines[i].points.size(); ++k) {
      const auto& [x, y] = lines[i].points[k];
      if (lines[i].step && k > 0) pts += fmt("%.1f,", px(x)) + fmt("%.1f ", py(lines[i].points[k - 1].second));
      pts += fmt("%.1f,", px(x)) + fmt("%.1f ", py(y));
    }
    out += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\"/>";
    if (lines[i].points.size() == 1)
      out += "<circle cx=\"" + fmt("%.1f", px(lines[i].points[0].first)) + "\" cy=\"" +
             fmt("%.1f", py(lines[i].points[0].second)) + "\" r=\"3\" fill=\"" + color + "\"/>";
    const double ly = T + 8 + static_cast<double>(i) * 16;
    out += "<rect x=\"" + fmt("%.0f", W - R + 10) + "\" y=\"" + fmt("%.0f", ly - 8) +
           "\" width=\"12\" height=\"4\" fill=\"" + color + "\"/><text x=\"" + fmt("%.0f", W - R + 26) + "\" y=\"" +
           fmt("%.0f", ly - 3) + "\" class=\"legend\">" + esc(lines[i].label) + "</text>";
  }
  return out + "</svg></figure>";
}

Points cdf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  Points p;
  const size_t n = v.size();
  const size_t stride = std::max<size_t>(1, n / 400);  // a few hundred points draw the same curve
  for (size_t i = 0; i < n; i += stride) p.emplace_back(v[i], static_cast<double>(i + 1) / static_cast<double>(n));
  if (n > 0 && p.back().first != v.back()) p.emplace_back(v.back(), 1.0);
  return p;
}

// Short workspace label: the name without the default namespace.
std::string ws_label(const std::string& ref) { return ref.rfind("default/", 0) == 0 ? ref.substr(8) : ref; }

// ---- provisioning timeline ----

struct Bar {
  std::string row, phase;
  double start = 0, end = 0;
};

const std::vector<std::pair<std::string, std::string>> kPhases = {
    {"VM create", "#6baed6"},  {"join", "#9e9ac8"},       {"agent pool", "#74c476"},     {"device plugin", "#fd8d3c"},
    {"scheduling", "#bdbdbd"}, {"image pull", "#e6550d"}, {"weights + load", "#31a354"}, {"ready", "#c7e9c0"}};

std::vector<Bar> timeline_bars(const RunData& d) {
  const double end = d.run.sim_seconds.value_or(0);
  std::map<std::string, double> open;  // "row|phase" -> start
  std::vector<Bar> bars;
  std::map<std::string, std::string> node_of_machine;
  auto begin = [&](const std::string& row, const std::string& phase, double t) {
    open.try_emplace(row + "|" + phase, t);
  };
  auto finish = [&](const std::string& row, const std::string& phase, double t) {
    auto it = open.find(row + "|" + phase);
    if (it == open.end()) return;
    bars.push_back({row, phase, it->second, t});
    open.erase(it);
  };
  for (const auto& e : d.events) {
    const std::string row = e.kind + " " + e.name;
    if (e.kind == "Machine") {
      if (e.what.starts_with("create started")) begin(row, "VM create", e.t);
      if (e.what == "vm running") {
        finish(row, "VM create", e.t);
        begin(row, "join", e.t);
      }
      if (e.what.starts_with("node ") && e.what.ends_with(" registered")) {
        finish(row, "join", e.t);
        begin(row, "agent pool", e.t);
      }
      if (e.what == "agent pool provisioning succeeded") finish(row, "agent pool", e.t);
      if (e.what.starts_with("create failed") || e.what.starts_with("create rejected") || e.what == "deleted") {
        finish(row, "VM create", e.t);
        finish(row, "join", e.t);
        finish(row, "agent pool", e.t);
      }
    } else if (e.kind == "Node") {
      if (e.what == "Ready=True") begin(row, "device plugin", e.t);
      if (e.what.starts_with("device plugin registered")) finish(row, "device plugin", e.t);
      if (e.what == "deleted") finish(row, "device plugin", e.t);
    } else if (e.kind == "Pod") {
      if (e.what == "created") begin(row, "scheduling", e.t);
      if (e.what.starts_with("scheduled to")) {
        finish(row, "scheduling", e.t);
        begin(row, "image pull", e.t);
      }
      if (e.what == "image pulled" || e.what.starts_with("image pull failed")) finish(row, "image pull", e.t);
      if (e.what.starts_with("downloading weights")) begin(row, "weights + load", e.t);
      if (e.what.starts_with("ready (")) {
        finish(row, "weights + load", e.t);
        begin(row, "ready", e.t);
      }
      if (e.what == "deleting" || e.what == "completed") {
        finish(row, "scheduling", e.t);
        finish(row, "image pull", e.t);
        finish(row, "weights + load", e.t);
        finish(row, "ready", e.t);
      }
    }
  }
  for (const auto& [key, start] : open) {
    const size_t bar = key.rfind('|');
    bars.push_back({key.substr(0, bar), key.substr(bar + 1), start, end});
  }
  return bars;
}

std::string gantt(const RunData& d) {
  std::vector<Bar> bars = timeline_bars(d);
  if (bars.empty()) return "<p class=\"muted\">No provisioning in this run.</p>";
  // Rows in order of their first phase; long runs keep the first rows.
  std::map<std::string, double> first;
  for (const auto& b : bars) {
    auto [it, fresh] = first.try_emplace(b.row, b.start);
    if (!fresh) it->second = std::min(it->second, b.start);
  }
  std::vector<std::pair<double, std::string>> rows;
  for (const auto& [r, t] : first) rows.emplace_back(t, r);
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  constexpr size_t kMaxRows = 60;
  const size_t hidden = rows.size() > kMaxRows ? rows.size() - kMaxRows : 0;
  rows.resize(std::min(rows.size(), kMaxRows));
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < rows.size(); ++i) index[rows[i].second] = i;
  double x1 = 1;
  for (const auto& b : bars)
    if (index.count(b.row)) x1 = std::max(x1, b.end);
  constexpr double W = 960, L = 330, R = 20, T = 40, RowH = 18;
  const double H = T + RowH * static_cast<double>(rows.size()) + 30;
  auto px = [&](double x) { return L + x / x1 * (W - L - R); };
  std::string out =
      "<figure class=\"chart\" id=\"chart-timeline\"><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " +
      fmt("%.0f", W) + " " + fmt("%.0f", H) + "\" role=\"img\" aria-label=\"provisioning timeline\">";
  double lx = 10;
  for (const auto& [phase, color] : kPhases) {
    out += "<rect x=\"" + fmt("%.0f", lx) + "\" y=\"10\" width=\"12\" height=\"12\" fill=\"" + color +
           "\"/><text x=\"" + fmt("%.0f", lx + 16) + "\" y=\"20\" class=\"legend\">" + phase + "</text>";
    lx += 22 + 7.0 * static_cast<double>(phase.size());
  }
  for (double x : time_ticks(0, x1))
    out += "<line x1=\"" + fmt("%.1f", px(x)) + "\" x2=\"" + fmt("%.1f", px(x)) + "\" y1=\"" + fmt("%.0f", T - 4) +
           "\" y2=\"" + fmt("%.0f", H - 26) + "\" class=\"grid\"/><text x=\"" + fmt("%.1f", px(x)) + "\" y=\"" +
           fmt("%.0f", H - 10) + "\" class=\"xtick\">" + duration_text(x) + "</text>";
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string label = rows[i].second;
    if (label.size() > 46) label = label.substr(0, 45) + "…";
    out += "<text x=\"" + fmt("%.0f", L - 8) + "\" y=\"" + fmt("%.1f", T + RowH * static_cast<double>(i) + 13) +
           "\" class=\"rowlabel\">" + esc(label) + "</text>";
  }
  for (const auto& b : bars) {
    auto it = index.find(b.row);
    if (it == index.end()) continue;
    std::string color = "#999";
    for (const auto& [phase, c] : kPhases)
      if (phase == b.phase) color = c;
    const double w = std::max(1.0, px(b.end) - px(b.start));
    out += "<rect x=\"" + fmt("%.1f", px(b.start)) + "\" y=\"" +
           fmt("%.1f", T + RowH * static_cast<double>(it->second) + 2) + "\" width=\"" + fmt("%.1f", w) +
           "\" height=\"" + fmt("%.0f", RowH - 4) + "\" fill=\"" + color + "\"><title>" +
           esc(b.row + ": " + b.phase + " " + duration_text(b.start) + " to " + duration_text(b.end) + " (" +
               duration_text(b.end - b.start) + ")") +
           "</title></rect>";
  }
  out += "</svg></figure>";
  if (hidden) out += "<p class=\"muted\">" + std::to_string(hidden) + " more rows not drawn.</p>";
  return out;
}

// Cheapest-first points no other point beats on both cost and latency.
std::vector<const PlanCandidateRow*> pareto_front(const std::vector<PlanCandidateRow>& cs) {
  std::vector<const PlanCandidateRow*> pts;
  for (const auto& c : cs)
    if (c.ttft_p95_ms) pts.push_back(&c);
  std::sort(pts.begin(), pts.end(), [](auto* a, auto* b) {
    return a->cost_per_hour != b->cost_per_hour ? a->cost_per_hour < b->cost_per_hour
                                                : *a->ttft_p95_ms < *b->ttft_p95_ms;
  });
  std::vector<const PlanCandidateRow*> front;
  double best = 1e300;
  for (auto* p : pts)
    if (*p->ttft_p95_ms < best) {
      front.push_back(p);
      best = *p->ttft_p95_ms;
    }
  return front;
}

std::string pareto_chart(const RunData& d) {
  constexpr double W = 760, H = 320, L = 70, R = 30, T = 30, B = 44;
  std::vector<const PlanCandidateRow*> pts;
  for (const auto& c : d.candidates)
    if (c.ttft_p95_ms) pts.push_back(&c);
  std::string out =
      "<figure class=\"chart\" id=\"chart-pareto\"><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " +
      fmt("%.0f", W) + " " + fmt("%.0f", H) + "\" role=\"img\" aria-label=\"cost versus latency\">";
  out += "<text x=\"" + fmt("%.0f", L) +
         "\" y=\"18\" class=\"title\">Cost vs p95 TTFT (Pareto front dashed; ring = recommended)</text>";
  if (pts.empty()) return out + "<text x=\"380\" y=\"160\" class=\"empty\">no candidates</text></svg></figure>";
  double x1 = 0, y1 = 0;
  for (auto* p : pts) {
    x1 = std::max(x1, p->cost_per_hour);
    y1 = std::max(y1, *p->ttft_p95_ms);
  }
  const auto xt = nice_ticks(0, x1 > 0 ? x1 : 1), yt = nice_ticks(0, y1 > 0 ? y1 : 1);
  x1 = xt.back();
  y1 = yt.back();
  auto px = [&](double x) { return L + x / x1 * (W - L - R); };
  auto py = [&](double y) { return H - B - y / y1 * (H - T - B); };
  out += "<rect x=\"" + fmt("%.0f", L) + "\" y=\"" + fmt("%.0f", T) + "\" width=\"" + fmt("%.0f", W - L - R) +
         "\" height=\"" + fmt("%.0f", H - T - B) + "\" class=\"plot\"/>";
  for (double y : yt)
    out += "<line x1=\"" + fmt("%.0f", L) + "\" x2=\"" + fmt("%.0f", W - R) + "\" y1=\"" + fmt("%.1f", py(y)) +
           "\" y2=\"" + fmt("%.1f", py(y)) + "\" class=\"grid\"/><text x=\"" + fmt("%.0f", L - 6) + "\" y=\"" +
           fmt("%.1f", py(y) + 4) + "\" class=\"ytick\">" + compact(y) + "</text>";
  for (double x : xt)
    out += "<text x=\"" + fmt("%.1f", px(x)) + "\" y=\"" + fmt("%.0f", H - B + 16) + "\" class=\"xtick\">$" +
           compact(x) + "</text>";
  out += "<text x=\"" + fmt("%.0f", (L + W - R) / 2) + "\" y=\"" + fmt("%.0f", H - 6) +
         "\" class=\"xlabel\">cost per hour (USD)</text><text transform=\"translate(16," +
         fmt("%.0f", (T + H - B) / 2) + ") rotate(-90)\" class=\"ylabel\">p95 TTFT (ms)</text>";
  std::string front;
  for (auto* p : pareto_front(d.candidates))
    front += fmt("%.1f,", px(p->cost_per_hour)) + fmt("%.1f ", py(*p->ttft_p95_ms));
  out += "<polyline points=\"" + front + "\" fill=\"none\" stroke=\"#555\" stroke-dasharray=\"5 4\"/>";
  for (auto* p : pts) {
    const std::string color = p->meets_slo ? "#2ca02c" : "#d62728";
    out += "<circle cx=\"" + fmt("%.1f", px(p->cost_per_hour)) + "\" cy=\"" + fmt("%.1f", py(*p->ttft_p95_ms)) +
           "\" r=\"5\" fill=\"" + color + "\"><title>" +
           esc(p->sku + " x" + std::to_string(p->replicas) + ": $" + fmt("%.2f", p->cost_per_hour) + "/h, p95 TTFT " +
               fmt("%.0f", *p->ttft_p95_ms) + " ms") +
           "</title></circle>";
    if (p->recommended)
      out += "<circle cx=\"" + fmt("%.1f", px(p->cost_per_hour)) + "\" cy=\"" + fmt("%.1f", py(*p->ttft_p95_ms)) +
             "\" r=\"10\" fill=\"none\" stroke=\"#000\" stroke-width=\"2\"/>";
  }
  return out + "</svg></figure>";
}

// ---- per-workspace key figures (shared by HTML and Markdown) ----

struct WsRow {
  std::string ws;
  std::vector<std::string> cells;
};
const std::vector<std::string> kWsHeader = {"workspace", "ready at", "requests", "req/s",         "out tok/s",
                                            "TTFT p50",  "TTFT p95", "TPOT p50", "TPOT p95 (ms)", "failed"};

std::vector<WsRow> workspace_rows(const RunData& d) {
  std::vector<WsRow> rows;
  for (const auto& ws : d.workspaces()) {
    auto ms = [&](const char* name) {
      const auto v = d.scalar(name, ws);
      return v ? (*v >= 10000 ? duration_text(*v / 1000) : fmt("%.0f ms", *v)) : std::string("-");
    };
    const auto ready = d.scalar("ready_at_s", ws);
    rows.push_back({ws,
                    {ws_label(ws), ready ? duration_text(*ready) : "not ready", opt(d.scalar("completed", ws), "%.0f"),
                     opt(d.scalar("req_s", ws), "%.2f"), opt(d.scalar("out_tok_s", ws), "%.0f"), ms("ttft_ms.p50"),
                     ms("ttft_ms.p95"), opt(d.scalar("tpot_ms.p50", ws), "%.1f"),
                     opt(d.scalar("tpot_ms.p95", ws), "%.1f"), opt(d.scalar("failed", ws), "%.0f")}});
  }
  return rows;
}

const std::vector<std::string> kPlanHeader = {
    "#",      "SKU",         "GPU",           "GPUs/node",     "nodes/replica", "replicas",        "layout",
    "$/hour", "$/M out tok", "TTFT p95 (ms)", "TPOT p95 (ms)", "max req/s",     "ready from zero", "verdict"};

// What a plan or a growth run was asked, from its run_attr rows, in reading order.
std::vector<std::pair<std::string, std::string>> plan_inputs(const RunData& d) {
  static const std::vector<std::pair<std::string, std::string>> kShown = {{"model", "model"},
                                                                          {"traffic", "traffic"},
                                                                          {"cloud", "clouds"},
                                                                          {"rate", "rate (req/s)"},
                                                                          {"prompt_tokens", "prompt tokens"},
                                                                          {"output_tokens", "output tokens"},
                                                                          {"slo", "SLOs"},
                                                                          {"scale_up", "scale-up"},
                                                                          {"scale_up_run", "scale-up run"},
                                                                          {"scale_up_verdict", "scale-up"}};
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, label] : kShown)
    for (const auto& [k, v] : d.attrs)
      if (k == key && !v.empty()) out.emplace_back(label, key == "scale_up_run" ? "ktwin report --run " + v : v);
  return out;
}

// A plan over several clouds names each SKU as cloud/SKU.
bool spans_clouds(const std::vector<PlanCandidateRow>& rows) {
  return std::any_of(rows.begin(), rows.end(), [&](const auto& r) { return r.cloud != rows.front().cloud; });
}

std::vector<std::string> plan_cells(const PlanCandidateRow& c, bool with_cloud) {
  return {std::to_string(c.rank) + (c.recommended ? " *" : ""),
          with_cloud ? c.cloud + "/" + c.sku : c.sku,
          c.gpu,
          std::to_string(c.gpus_per_node),
          std::to_string(c.nodes_per_replica),
          std::to_string(c.replicas),
          c.data_parallel > 1 ? "DP" + std::to_string(c.data_parallel)
                              : "TP" + std::to_string(c.tensor_parallel) +
                                    (c.pipeline_parallel > 1 ? " PP" + std::to_string(c.pipeline_parallel) : ""),
          fmt("%.2f", c.cost_per_hour),
          opt(c.cost_per_million_output_tokens, "%.2f"),
          opt(c.ttft_p95_ms, "%.0f"),
          opt(c.tpot_p95_ms, "%.1f"),
          opt(c.max_rate, "%.1f"),
          c.time_to_ready_s ? duration_text(*c.time_to_ready_s) : "-",
          c.verdict};
}

std::string cost_summary(const RunData& d) {
  auto it = d.series.find("cost_per_hour");
  if (it == d.series.end() || !it->second.count("")) return "";
  const Points& cost = it->second.at("");
  const Points& gpus = d.series.at("gpus").at("");
  return fmt("GPU nodes cost $%.2f over the run (peak $", step_integral_hours(cost)) +
         fmt("%.2f/hour", series_max(cost)) + fmt(", peak %.0f GPUs).", series_max(gpus));
}

// ---- renderers ----

std::string render_markdown(const RunData& d) {
  const RunRow& r = d.run;
  std::string out = "### " + std::string(r.verdict == "pass" ? "✅" : "❌") + " " + r.kind + " `" + r.scenario +
                    "`: " + (r.verdict == "pass" ? "PASSED" : "FAILED") + "\n\n";
  out += "run " + std::to_string(r.id);
  if (r.seed) out += ", seed " + fmt("%.0f", *r.seed);
  if (r.sim_seconds) out += ", " + duration_text(*r.sim_seconds) + " simulated";
  if (r.wall_seconds) out += fmt(" in %.2f s wall", *r.wall_seconds);
  out += ", ktwin " + r.git_version +
         (r.fingerprint.empty() ? "" : ", fingerprint `" + r.fingerprint.substr(0, 16) + "`") + "\n\n";
  if (!d.expectations.empty()) {
    out += "| | expectation | observed |\n|---|---|---|\n";
    for (const auto& e : d.expectations)
      out += "| " + std::string(e.passed ? "PASS" : "**FAIL**") + " | " + md_cell(e.text) + " | " + md_cell(e.detail) +
             " |\n";
    out += "\n";
  }
  const auto rows = workspace_rows(d);
  if (!rows.empty()) {
    out += "|";
    for (const auto& h : kWsHeader) out += " " + h + " |";
    out += "\n|";
    for (size_t i = 0; i < kWsHeader.size(); ++i) out += i == 0 ? "---|" : "---:|";
    out += "\n";
    for (const auto& row : rows) {
      out += "|";
      for (const auto& c : row.cells) out += " " + md_cell(c) + " |";
      out += "\n";
    }
    out += "\n";
  }
  if (const auto inputs = plan_inputs(d); !inputs.empty()) {
    for (const auto& [label, value] : inputs) out += "- " + label + ": " + value + "\n";
    out += "\n";
  }
  if (!d.candidates.empty()) {
    out += "|";
    for (const auto& h : kPlanHeader) out += " " + h + " |";
    out += "\n|";
    for (size_t i = 0; i < kPlanHeader.size(); ++i) out += "---|";
    out += "\n";
    for (const auto& c : d.candidates) {
      out += "|";
      for (const auto& cell : plan_cells(c, spans_clouds(d.candidates))) out += " " + md_cell(cell) + " |";
      out += "\n";
    }
    out += "\n";
  }
  if (const std::string cost = cost_summary(d); !cost.empty()) out += cost + "\n";
  return out;
}

std::string render_json(const RunData& d) {
  const RunRow& r = d.run;
  json j;
  j["run"] = {{"id", r.id},
              {"kind", r.kind},
              {"scenario", r.scenario},
              {"scenario_hash", r.scenario_hash},
              {"scenario_file", r.scenario_file},
              {"seed", r.seed ? json(static_cast<int64_t>(*r.seed)) : json(nullptr)},
              {"git_version", r.git_version},
              {"started_at", r.started_at},
              {"wall_seconds", r.wall_seconds ? json(*r.wall_seconds) : json(nullptr)},
              {"sim_seconds", r.sim_seconds ? json(*r.sim_seconds) : json(nullptr)},
              {"fingerprint", r.fingerprint},
              {"verdict", r.verdict},
              {"event_count", r.event_count}};
  j["attrs"] = json::object();
  for (const auto& [k, v] : d.attrs) j["attrs"][k] = v;
  j["expectations"] = json::array();
  for (const auto& e : d.expectations)
    j["expectations"].push_back({{"text", e.text}, {"passed", e.passed}, {"detail", e.detail}});
  j["scalars"] = json::array();
  for (const auto& s : d.scalars)
    j["scalars"].push_back({{"name", s.name},
                            {"workspace", s.workspace},
                            {"value", s.value ? json(*s.value) : json(nullptr)},
                            {"unit", s.unit}});
  j["series"] = json::object();
  for (const auto& [name, by_ws] : d.series)
    for (const auto& [ws, pts] : by_ws) {
      json arr = json::array();
      for (const auto& [t, v] : pts) arr.push_back({t, v});
      j["series"][name][ws] = arr;
    }
  j["request_samples"] = d.samples.size();
  if (!d.candidates.empty()) {
    j["candidates"] = json::array();
    for (const auto& c : d.candidates) {
      j["candidates"].push_back(plan_candidate_json(c));
    }
  }
  return j.dump(2) + "\n";
}

const char* const kCss = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:24px auto;max-width:1000px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555}.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.pass{background:#2e7d32}.fail{background:#c62828}.muted{color:#777}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}tr.rec td{background:#e8f5e9;font-weight:600}
figure.chart{margin:8px 0 18px}svg{width:100%;height:auto;background:#fff}
svg text{font:11px system-ui,sans-serif;fill:#333}svg .title{font-size:13px;font-weight:600}
svg .ytick{text-anchor:end}svg .xtick{text-anchor:middle}svg .xlabel,svg .ylabel{text-anchor:middle;fill:#555}
svg .rowlabel{text-anchor:end;font-size:10.5px}svg .empty{text-anchor:middle;fill:#999}
svg .plot{fill:#fafafa;stroke:#ccc}svg .grid{stroke:#e4e4e4}
)css";

std::string html_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                       const std::vector<bool>& highlight = {}) {
  std::string out = "<table><thead><tr>";
  for (const auto& h : header) out += "<th>" + esc(h) + "</th>";
  out += "</tr></thead><tbody>";
  for (size_t i = 0; i < rows.size(); ++i) {
    out += i < highlight.size() && highlight[i] ? "<tr class=\"rec\">" : "<tr>";
    for (const auto& c : rows[i]) {
      const bool numeric = !c.empty() && (std::isdigit(static_cast<unsigned char>(c[0])) || c[0] == '-') &&
                           c.find(' ') == std::string::npos;
      out += std::string(numeric ? "<td class=\"num\">" : "<td>") + esc(c) + "</td>";
    }
    out += "</tr>";
  }
  return out + "</tbody></table>";
}

std::vector<Line> lines_of(const RunData& d, const std::string& name, const std::string& suffix = "",
                           bool step = false) {
  std::vector<Line> out;
  auto it = d.series.find(name);
  if (it == d.series.end()) return out;
  for (const auto& [ws, pts] : it->second) out.push_back({(ws.empty() ? name : ws_label(ws)) + suffix, pts, step});
  return out;
}

// Latencies of minutes read better in seconds.
bool to_seconds_if_long(std::vector<Line>& lines) {
  double top = 0;
  for (const auto& l : lines)
    for (const auto& [t, v] : l.points) top = std::max(top, v);
  if (top < 10000) return false;
  for (auto& l : lines)
    for (auto& p : l.points) p.second /= 1000;
  return true;
}

std::string render_html(const RunData& d) {
  const RunRow& r = d.run;
  const bool pass = r.verdict == "pass";
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ktwin " + esc(r.kind) +
                    " " + esc(r.scenario) + "</title><style>" + kCss + "</style></head><body>\n";
  out += "<h1>" + esc(r.scenario) + " <span class=\"badge " + (pass ? "pass" : "fail") + "\">" +
         (pass ? "PASSED" : "FAILED") + "</span></h1>\n<p class=\"meta\">" + esc(r.kind) + " " + std::to_string(r.id);
  if (!r.scenario_file.empty()) out += " of <code>" + esc(r.scenario_file) + "</code>";
  if (r.seed) out += ", seed " + fmt("%.0f", *r.seed);
  if (r.sim_seconds) out += ", " + duration_text(*r.sim_seconds) + " simulated";
  if (r.wall_seconds) out += fmt(" in %.2f s wall", *r.wall_seconds);
  out += "; ktwin " + esc(r.git_version) + ", started " + esc(r.started_at);
  if (!r.fingerprint.empty()) out += "<br>fingerprint <code>" + esc(r.fingerprint) + "</code>";
  out += "</p>\n";
  if (!d.expectations.empty()) {
    out += "<h2>Expectations</h2>";
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : d.expectations) rows.push_back({e.passed ? "PASS" : "FAIL", e.text, e.detail});
    out += html_table({"verdict", "expectation", "observed"}, rows);
  }
  if (const auto inputs = plan_inputs(d); !inputs.empty()) {
    out += "<h2>Inputs</h2><ul>";
    for (const auto& [label, value] : inputs) out += "<li>" + esc(label) + ": " + esc(value) + "</li>";
    out += "</ul>\n";
  }
  if (!d.candidates.empty()) {
    out += "<h2>Candidates</h2>";
    std::vector<std::vector<std::string>> rows;
    std::vector<bool> rec;
    for (const auto& c : d.candidates) {
      rows.push_back(plan_cells(c, spans_clouds(d.candidates)));
      rec.push_back(c.recommended);
    }
    out += html_table(kPlanHeader, rows, rec) + pareto_chart(d);
  }
  if (r.kind != "plan") {
    out += "<h2>Provisioning timeline</h2>" + gantt(d);
    const auto ws_rows = workspace_rows(d);
    if (!ws_rows.empty()) {
      std::vector<std::vector<std::string>> rows;
      for (const auto& w : ws_rows) rows.push_back(w.cells);
      out += "<h2>Workspaces</h2>" + html_table(kWsHeader, rows);
    }
    if (d.series.count("req_s")) {
      out += "<h2>Traffic</h2>";
      out += line_chart(spec_of("rps", "Completed requests per second", "req/s"), lines_of(d, "req_s"));
      auto ttft = lines_of(d, "ttft_p50_ms", " p50");
      for (auto& l : lines_of(d, "ttft_p95_ms", " p95")) ttft.push_back(std::move(l));
      out += line_chart(spec_of("ttft", "Time to first token", to_seconds_if_long(ttft) ? "s" : "ms"), ttft);
      auto tpot = lines_of(d, "tpot_p50_ms", " p50");
      for (auto& l : lines_of(d, "tpot_p95_ms", " p95")) tpot.push_back(std::move(l));
      out += line_chart(spec_of("tpot", "Time per output token", "ms"), tpot);
      out += line_chart(spec_of("queue", "Requests waiting in the engine (mean per window)", "requests"),
                        lines_of(d, "num_requests_waiting_mean"));
      std::map<std::string, std::vector<double>> ttft_by_ws, tpot_by_ws;
      for (const auto& s : d.samples) {
        ttft_by_ws[s.workspace].push_back(s.ttft_ms);
        if (s.tpot_ms) tpot_by_ws[s.workspace].push_back(*s.tpot_ms);
      }
      std::vector<Line> c1, c2;
      for (auto& [ws, v] : ttft_by_ws) c1.push_back({ws_label(ws), cdf(std::move(v))});
      const bool ttft_in_s = to_seconds_if_long(c1);
      for (auto& [ws, v] : tpot_by_ws) c2.push_back({ws_label(ws), cdf(std::move(v))});
      ChartSpec s1 = spec_of("ttft-cdf", "TTFT distribution (CDF of sampled requests)", "fraction of requests");
      s1.x_is_time = false;
      s1.x_label = "TTFT (ms)";
      ChartSpec s2 = s1;
      s2.id = "tpot-cdf";
      s2.title = "TPOT distribution (CDF of sampled requests)";
      s2.x_label = "TPOT (ms)";
      if (ttft_in_s) s1.x_label = "TTFT (s)";
      out += line_chart(s1, c1) + line_chart(s2, c2);
    }
    if (d.series.count("gpus")) {
      out += "<h2>Capacity and cost</h2><p>" + esc(cost_summary(d)) + "</p>";
      auto cap = lines_of(d, "gpus", "", true);
      for (auto& l : lines_of(d, "nodes_ready", "", true)) cap.push_back(std::move(l));
      out += line_chart(spec_of("gpus", "GPUs allocatable and nodes Ready", "count"), cap);
      out += line_chart(spec_of("cost", "Cost of running GPU VMs", "USD per hour"),
                        lines_of(d, "cost_per_hour", "", true));
    }
  }
  out +=
      "<p class=\"muted\">Rendered by <code>ktwin report</code> from the results database alone.</p>\n</body></html>\n";
  return out;
}

}  // namespace

ReportFormat report_format_for_path(const std::string& path) {
  if (path.ends_with(".md")) return ReportFormat::kMarkdown;
  if (path.ends_with(".json")) return ReportFormat::kJson;
  return ReportFormat::kHtml;
}

ReportFormat parse_report_format(const std::string& name) {
  if (name == "html") return ReportFormat::kHtml;
  if (name == "md" || name == "markdown") return ReportFormat::kMarkdown;
  if (name == "json") return ReportFormat::kJson;
  throw InputError("", 0, 0, "--format", "unknown format \"" + name + "\" (use html, md or json)");
}

json plan_candidate_json(const PlanCandidateRow& c) {
  auto o = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  return {{"rank", c.rank},
          {"cloud", c.cloud},
          {"sku", c.sku},
          {"gpu", c.gpu},
          {"gpus_per_node", c.gpus_per_node},
          {"nodes_per_replica", c.nodes_per_replica},
          {"replicas", c.replicas},
          {"tensor_parallel", c.tensor_parallel},
          {"pipeline_parallel", c.pipeline_parallel},
          {"data_parallel", c.data_parallel},
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

std::string render_report(const ResultsDb& db, int64_t run_id, ReportFormat format) {
  const RunData d = load(db.handle(), run_id);
  switch (format) {
    case ReportFormat::kMarkdown:
      return render_markdown(d);
    case ReportFormat::kJson:
      return render_json(d);
    case ReportFormat::kHtml:
      break;
  }
  return render_html(d);
}

}  // namespace ktwin::reports
