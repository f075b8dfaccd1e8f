// Prints the figures of Google Benchmark JSON outputs as one Markdown table, then checks them against
// bench/targets.csv. Used by `make bench`: bench_table TARGETS.csv RESULT.json... (exit 1 if a target fails).
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;

std::string fmt(double v) {
  char buf[64];
  if (v >= 1e6 || (v != 0 && v < 1e-2))
    std::snprintf(buf, sizeof buf, "%.3g", v);
  else if (v >= 100)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// "BM_X/10/iterations:1/real_time" -> "BM_X/10": the name targets use.
std::string short_name(std::string name) {
  for (const std::string suffix : {"/real_time", "/manual_time"})
    if (auto p = name.find(suffix); p != std::string::npos) name.erase(p, suffix.size());
  if (auto p = name.find("/iterations:"); p != std::string::npos) {
    auto end = name.find('/', p + 1);
    name.erase(p, end == std::string::npos ? std::string::npos : end - p);
  }
  return name;
}

double to_seconds(double t, const std::string& unit) {
  if (unit == "ns") return t / 1e9;
  if (unit == "us") return t / 1e6;
  if (unit == "ms") return t / 1e3;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_table TARGETS.csv RESULT.json...\n");
    return 2;
  }
  // name -> figure -> value; real_time_s is the wall time of one iteration.
  std::map<std::string, std::map<std::string, double>> figures;
  std::vector<std::string> order;
  std::printf("| benchmark | wall per iteration | figures |\n|---|---|---|\n");
  for (int i = 2; i < argc; ++i) {
    std::ifstream in(argv[i]);
    json doc;
    try {
      doc = json::parse(in);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: not a Google Benchmark JSON output: %s\n", argv[i], e.what());
      return 2;
    }
    for (const auto& b : doc.value("benchmarks", json::array())) {
      if (b.value("run_type", "") == "aggregate") continue;
      const std::string name = short_name(b.value("name", ""));
      auto& f = figures[name];
      const std::string unit = b.value("time_unit", "ns");
      f["real_time_s"] = to_seconds(b.value("real_time", 0.0), unit);
      std::string shown;
      static const std::set<std::string> kNotFigures = {"name",
                                                        "family_index",
                                                        "per_family_instance_index",
                                                        "run_name",
                                                        "run_type",
                                                        "repetitions",
                                                        "repetition_index",
                                                        "threads",
                                                        "iterations",
                                                        "real_time",
                                                        "cpu_time",
                                                        "time_unit",
                                                        "error_occurred",
                                                        "error_message",
                                                        "label"};
      for (const auto& [key, value] : b.items()) {
        if (kNotFigures.count(key) || !value.is_number()) continue;
        f[key] = value.get<double>();
        shown += (shown.empty() ? "" : ", ") + key + " " + fmt(value.get<double>());
      }
      if (b.value("error_occurred", false)) shown = "ERROR: " + b.value("error_message", "") + "; " + shown;
      order.push_back(name);
      std::printf("| %s | %s s | %s |\n", name.c_str(), fmt(f["real_time_s"]).c_str(), shown.c_str());
    }
  }

  std::ifstream targets(argv[1]);
  if (!targets) {
    std::fprintf(stderr, "%s: cannot read\n", argv[1]);
    return 2;
  }
  std::printf("\n| target | measured | limit | verdict |\n|---|---|---|---|\n");
  bool all_met = true;
  std::string line;
  std::getline(targets, line);  // header
  for (int lineno = 2; std::getline(targets, line); ++lineno) {
    if (line.empty()) continue;
    std::vector<std::string> col;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) col.push_back(c);
    if (col.size() < 4) {
      std::fprintf(stderr, "%s:%d: expected benchmark,figure,op,limit,why\n", argv[1], lineno);
      return 2;
    }
    const std::string &name = col[0], &figure = col[1], &op = col[2];
    const double limit = std::stod(col[3]);
    std::string shown = name + " " + figure;
    double measured = 0;
    bool have = false;
    if (auto b = figures.find(name); b != figures.end()) {
      if (figure.rfind("ratio_to:", 0) == 0) {
        auto other = figures.find(figure.substr(9));
        if (other != figures.end() && other->second["real_time_s"] > 0) {
          measured = b->second["real_time_s"] / other->second["real_time_s"];
          shown = name + " / " + figure.substr(9) + " wall";
          have = true;
        }
      } else if (auto v = b->second.find(figure); v != b->second.end()) {
        measured = v->second;
        have = true;
      }
    }
    const bool met = have && (op == "<"    ? measured < limit
                              : op == "<=" ? measured <= limit
                              : op == ">"  ? measured > limit
                                           : measured >= limit);
    const char* verdict = !have ? "not run" : met ? "met" : "NOT MET";
    if (have && !met) all_met = false;
    std::printf("| %s | %s | %s %s | %s |\n", shown.c_str(), have ? fmt(measured).c_str() : "-", op.c_str(),
                fmt(limit).c_str(), verdict);
  }
  return all_met ? 0 : 1;
}
