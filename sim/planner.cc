#include "sim/planner.h"

#include <fnmatch.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "catalog/yaml_json.h"
#include "core/input_error.h"
#include "core/presets/estimator.h"
#include "gpu_model/specs.h"
#include "sim/runner.h"
#include "sim/scenario.h"

namespace ktwin::sim {
namespace {

using nlohmann::json;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string replica_name(int i) { return "replica-" + std::to_string(i); }

struct Trial {
  bool passed = false;
  bool all_ready = false;
  std::optional<double> ttft_p95_ms, tpot_p95_ms, ready_s;
  double out_tok_s = 0;
  std::string reason;  //!< the first failed expectation, with what was observed
  std::string yaml;
};

double metric_ms(const json& metrics, const std::string& ws, const char* family, const char* stat) {
  if (!metrics.contains(ws)) return 0;
  const json& m = metrics[ws];
  return m.contains(family) && m[family].is_object() && m[family].contains(stat) && m[family][stat].is_number()
             ? m[family][stat].get<double>()
             : 0;
}

class Searcher {
 public:
  Searcher(const PlanRequest& r, const catalog::Catalog& c) : req_(r), cat_(c) {}
  int trials = 0;

  Trial run(const std::string& sku, int replicas, double rate, double start_s, std::optional<double> window = {}) {
    Trial t;
    t.yaml = plan_scenario_yaml(req_, sku, replicas, rate, start_s, window.value_or(req_.window_s));
    const Scenario sc = parse_scenario(t.yaml, "<plan " + sku + " x" + std::to_string(replicas) + ">");
    RunOptions ro;
    ro.seed = req_.seed;
    ro.record_k8s_events = false;
    const RunOutcome o = run_scenario(sc, cat_, ro);
    ++trials;
    t.passed = o.passed;
    for (const auto& e : o.expectations)
      if (!e.passed) {
        t.reason = e.text + " (" + e.detail + ")";
        break;
      }
    const json& s = o.summary;
    t.all_ready = true;
    if (s.contains("workspaces"))
      for (const auto& w : s["workspaces"]) {
        if (!w.contains("ready_at_s") || !w["ready_at_s"].is_number()) {
          t.all_ready = false;
          continue;
        }
        t.ready_s = std::max(t.ready_s.value_or(0), w["ready_at_s"].get<double>());
      }
    if (s.contains("metrics")) {
      const json& m = s["metrics"];
      double ttft = 0, tpot = 0;
      for (int i = 1; i <= replicas; ++i) {
        const std::string ws = replica_name(i);
        ttft = std::max(ttft, metric_ms(m, ws, "ttft_ms", "p95"));
        tpot = std::max(tpot, metric_ms(m, ws, "tpot_ms", "p95"));
        if (m.contains(ws)) t.out_tok_s += m[ws].value("out_tok_s", 0.0);
      }
      t.ttft_p95_ms = ttft;
      t.tpot_p95_ms = tpot;
    }
    return t;
  }

 private:
  const PlanRequest& req_;
  const catalog::Catalog& cat_;
};

struct Outcome {
  std::optional<PlanCandidate> candidate;
  std::optional<PlanSkipped> skipped;
  int trials = 0;
};

bool matches_filter(const std::string& sku, const std::vector<std::string>& filters) {
  if (filters.empty()) return true;
  for (const auto& f : filters) {
    if (f.find_first_of("*?[") != std::string::npos ? fnmatch(f.c_str(), sku.c_str(), FNM_CASEFOLD) == 0
                                                    : strcasestr(sku.c_str(), f.c_str()) != nullptr)
      return true;
  }
  return false;
}

}  // namespace

namespace {

// One replica's Workspace manifest as a YAML mapping whose keys stand `indent` spaces in.
std::string workspace_manifest(const PlanRequest& r, const std::string& sku, const std::string& name, int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  return pad + "apiVersion: kaito.sh/v1beta1\n" + pad + "kind: Workspace\n" + pad + "metadata: {name: " + name + "}\n" +
         pad + "resource:\n" + pad + "  instanceType: " + sku + "\n" + pad +
         "  labelSelector: {matchLabels: {apps: " + name + "}}\n" + pad + "inference:\n" + pad +
         "  preset: {name: " + json(r.preset).dump() + ", presetOptions: {modelAccessSecret: hf-token}}\n";
}

// The same as an item of `workspaces:`, the dash `indent` spaces in.
std::string workspace_item(const PlanRequest& r, const std::string& sku, const std::string& name, int indent) {
  return std::string(static_cast<size_t>(indent), ' ') + "- manifest:\n" + workspace_manifest(r, sku, name, indent + 4);
}

std::string scenario_head(const PlanRequest& r, const std::string& comment, const std::string& name, double duration) {
  std::string y = "# " + comment + "\nname: " + name + "\nseed: " + std::to_string(r.seed) +
                  "\nduration: " + num(duration) + "s\ncluster:\n  cloud: " + r.cloud + "\n";
  if (!r.models_entry.empty()) y += "models:\n  - " + r.models_entry + "\n";
  return y;
}

std::string arrival_yaml(const PlanRequest& r, double rate) {
  std::string a = "{process: " + r.arrival_process + ", rate: " + num(rate) + "/s";
  if (r.arrival_process == "gamma") a += ", cv: " + num(r.arrival_cv);
  return a + "}";
}

std::string slug(const std::string& model) {
  std::string out;
  for (char ch : model) out += std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' ? ch : '-';
  return out;
}

}  // namespace

std::string plan_scenario_yaml(const PlanRequest& r, const std::string& sku, int replicas, double rate, double start_s,
                               double window_s) {
  const bool traffic = rate > 0;
  const double duration = traffic ? start_s + window_s : start_s;
  std::string y = scenario_head(r,
                                "ktwin plan trial: " + std::to_string(replicas) + " x " + sku + " serving " + r.preset +
                                    " at " + num(rate) + " req/s",
                                "plan-" + slug(r.preset) + "-" + sku + "-x" + std::to_string(replicas), duration);
  y += "workspaces:\n";
  for (int i = 1; i <= replicas; ++i) y += workspace_item(r, sku, replica_name(i), 2);
  if (traffic) {
    y += "traffic:\n";
    for (int i = 1; i <= replicas; ++i)
      y += "  - {workspace: " + replica_name(i) + ", start: " + num(start_s) +
           "s, arrival: " + arrival_yaml(r, rate / replicas) + ",\n     prompt_tokens: " + r.prompt_tokens +
           ", output_tokens: " + r.output_tokens + "}\n";
  }
  y += "expect:\n";
  for (int i = 1; i <= replicas; ++i) {
    const std::string ws = replica_name(i);
    y += "  - {workspace: " + ws + ", ready_within: " + num(start_s) + "s}\n";
    if (!traffic) continue;
    for (const auto& slo : r.slos)
      y += "  - {workspace: " + ws + ", metric: " + slo.metric + ", below: " + slo.bound + "}\n";
    // Sustained: no failures, and the replica keeps up with what it is sent.
    y += "  - {workspace: " + ws + ", metric: failed_requests, below: 1}\n";
    // Poisson counts vary by about 1/sqrt(n): allow four standard deviations below the sent rate.
    const double expected = rate / replicas * window_s;
    const double keep_up = std::min(0.9, 1.0 - 4.0 / std::sqrt(std::max(expected, 16.0)));
    y += "  - {workspace: " + ws + ", metric: request_throughput, above: " + num(keep_up * rate / replicas) +
         " req/s}\n";
  }
  return y;
}

PlanResult plan_capacity(const PlanRequest& req, const catalog::Catalog& cat) {
  const ModelPreset* preset = req.generic ? &*req.generic : cat.presets.find(req.preset);
  if (!preset) throw InputError("", 0, 0, "--preset", "unknown preset \"" + req.preset + "\"");
  const auto known = cat.skus.clouds();
  // One request per cloud: a trial scenario runs in its SKU's cloud.
  std::vector<PlanRequest> per_cloud;
  for (const auto& cloud : req.clouds.empty() ? std::vector<std::string>{req.cloud} : req.clouds) {
    if (std::find(known.begin(), known.end(), cloud) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw InputError("", 0, 0, "--cloud", "unknown cloud \"" + cloud + "\"; expected one of: " + list);
    }
    per_cloud.push_back(req);
    per_cloud.back().cloud = cloud;
  }
  auto plan_one = [&cat, preset](const Sku* sku, const PlanRequest& in_cloud) -> Outcome {
    Searcher search(in_cloud, cat);
    if (sku->gpu.gpu_id.empty() || !sku->gpu.nvidia()) {
      return Outcome{std::nullopt,
                     PlanSkipped{in_cloud.cloud, sku->name(), "no latency model for " + sku->gpu.gpu_model},
                     search.trials};
    }
    const auto est = estimate_nodes(*preset, sku->gpu);
    if (!est) {
      return Outcome{std::nullopt, PlanSkipped{in_cloud.cloud, sku->name(), est.error().message}, search.trials};
    }
    PlanCandidate c;
    c.cloud = in_cloud.cloud;
    c.sku = sku->name();
    c.gpu = sku->gpu.gpu_id;
    c.gpus_per_node = sku->gpu.gpu_count;
    c.nodes_per_replica = est->nodes;
    c.pipeline_parallel = est->nodes;
    if (est->nodes <= 1 && c.gpus_per_node > 1 && preset->weights_gib < 0.5 * sku->gpu.per_gpu_memory_gib())
      c.data_parallel = c.gpus_per_node;  // KAITO runs one engine per GPU for small models
    else
      c.tensor_parallel = c.gpus_per_node;
    auto price = in_cloud.prices.find(sku->name());
    c.price_per_hour = price != in_cloud.prices.end() ? price->second : sku->price_per_hour;
    const double replica_cost = c.price_per_hour * c.nodes_per_replica;

    // Provisioning alone first: traffic starts once a replica would be serving, with margin.
    const Trial probe = search.run(c.sku, 1, 0, 4 * 3600);
    if (!probe.all_ready || !probe.ready_s) {
      return Outcome{std::nullopt, PlanSkipped{c.cloud, c.sku, "a replica never became ready in 4h: " + probe.reason},
                     search.trials};
    }
    c.time_to_ready_s = probe.ready_s;
    const double start = std::ceil((*probe.ready_s * 1.5 + 300) / 300) * 300;

    // Smallest replica count by doubling, then bisection; every count is one simulated run.
    std::map<int, Trial> by_n;
    auto trial = [&](int n) -> const Trial& {
      auto it = by_n.find(n);
      if (it == by_n.end()) it = by_n.emplace(n, search.run(c.sku, n, in_cloud.rate_per_s, start)).first;
      return it->second;
    };
    const int cap =
        in_cloud.max_budget_per_hour && replica_cost > 0
            ? std::min(in_cloud.max_replicas, static_cast<int>(*in_cloud.max_budget_per_hour / replica_cost))
            : in_cloud.max_replicas;
    int lo = 0, hi = 0;  // lo fails (0 = none tried), hi passes
    for (int n = 1; n <= cap; n = n * 2 > cap && n < cap ? cap : n * 2) {
      if (trial(n).passed) {
        hi = n;
        break;
      }
      lo = n;
    }
    if (hi > 0) {
      while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        (trial(mid).passed ? hi : lo) = mid;
      }
    }
    const int chosen = hi > 0 ? hi : std::max(1, lo);
    const Trial& t = trial(chosen);
    c.replicas = chosen;
    c.meets_slo = hi > 0;
    c.cost_per_hour = replica_cost * chosen;
    c.ttft_p95_ms = t.ttft_p95_ms;
    c.tpot_p95_ms = t.tpot_p95_ms;
    c.time_to_ready_s = t.ready_s ? t.ready_s : c.time_to_ready_s;
    c.scenario_yaml = t.yaml;
    if (t.out_tok_s > 0 && c.price_per_hour > 0)
      c.cost_per_million_output_tokens = c.cost_per_hour / (t.out_tok_s * 3600 / 1e6);
    if (c.meets_slo)
      c.verdict = "meets SLOs with " + std::to_string(chosen) + " replica" + (chosen > 1 ? "s" : "");
    else if (cap < 1)
      c.verdict = "one replica costs more than the budget";
    else
      c.verdict = "misses at " + std::to_string(chosen) + " replicas" +
                  (cap < in_cloud.max_replicas ? " (budget limit)" : " (--max-replicas)") + ": " + t.reason;
    if (c.price_per_hour <= 0) c.verdict += "; no price known (--price " + c.sku + "=USD)";

    // Headroom: the highest total rate the chosen replicas sustain within the SLOs. Load splits evenly,
    // so one replica is searched at its share (fewer simulated requests), over a shorter window.
    if (in_cloud.headroom && c.meets_slo) {
      const double window = std::min(in_cloud.window_s, 300.0);
      double ok = in_cloud.rate_per_s / chosen, bad = 0;
      for (int i = 0; i < 6 && bad == 0; ++i) {
        const double r = ok * 2;
        if (search.run(c.sku, 1, r, start, window).passed)
          ok = r;
        else
          bad = r;
      }
      for (int i = 0; i < 4 && bad > 0 && bad / ok > 1.08; ++i) {
        const double r = (ok + bad) / 2;
        (search.run(c.sku, 1, r, start, window).passed ? ok : bad) = r;
      }
      c.max_rate = ok * chosen;
    }
    c.trials = search.trials;
    return Outcome{std::move(c), std::nullopt, search.trials};
  };

  std::vector<std::pair<const Sku*, const PlanRequest*>> skus;
  for (const auto& r : per_cloud)
    for (const Sku* sku : cat.skus.list(r.cloud, false))
      if (matches_filter(sku->name(), req.sku_filters)) skus.emplace_back(sku, &r);
  // SKUs are independent: plan them on worker threads, collect in catalog order (deterministic).
  std::vector<Outcome> outcomes(skus.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < skus.size();) outcomes[i] = plan_one(skus[i].first, *skus[i].second);
  };
  const unsigned threads =
      req.threads > 0 ? static_cast<unsigned>(req.threads) : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < std::min<size_t>(threads, skus.size()); ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  PlanResult result;
  for (auto& o : outcomes) {
    result.trials += o.trials;
    if (o.candidate) result.candidates.push_back(std::move(*o.candidate));
    if (o.skipped) result.skipped.push_back(std::move(*o.skipped));
  }

  std::stable_sort(result.candidates.begin(), result.candidates.end(), [](const auto& a, const auto& b) {
    const bool ap = a.price_per_hour > 0, bp = b.price_per_hour > 0;
    if (ap != bp) return ap;
    if (a.meets_slo != b.meets_slo) return a.meets_slo;
    return a.cost_per_hour < b.cost_per_hour;
  });
  for (auto& c : result.candidates)
    if (c.meets_slo && c.price_per_hour > 0 &&
        (!req.max_budget_per_hour || c.cost_per_hour <= *req.max_budget_per_hour)) {
      c.recommended = true;
      result.recommended = &c;
      break;
    }
  std::string where;
  for (const auto& r : per_cloud) where += (where.empty() ? "" : " or ") + r.cloud;
  if (!result.recommended)
    result.reason = skus.empty() ? "no SKU of " + where + " matches --sku"
                    : result.candidates.empty()
                        ? "no SKU of " + where + " can serve " + req.preset + " in the simulator (see the skipped ones)"
                        : "no priced candidate meets the SLOs within " + std::to_string(req.max_replicas) +
                              " replicas" + (req.max_budget_per_hour ? " and the budget" : "");
  return result;
}

// --- model and traffic inputs ---------------------------------------------------------------------

namespace {

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// A scenario `models:` entry for an architecture of presets/architectures.yaml: bf16 weights from its
// parameter count (what a checkpoint of that size holds), the rest from the architecture.
json entry_from_architecture(const gpu::ModelArch& m) {
  const ModelArchitecture& a = m.arch;
  const double weights_gib = std::round(a.params_billion * 1e9 * 2 / (1024.0 * 1024 * 1024) * 100) / 100;
  json e = {{"hf_id", m.hf_id},
            {"weights_gib", weights_gib},
            {"architecture", catalog::architecture_json(a)},
            {"source", m.hf_id + " from " + m.from + ", bf16 weights from " + num(a.params_billion) + "B parameters"}};
  if (m.max_position_embeddings > 0) e["max_position_embeddings"] = m.max_position_embeddings;
  return e;
}

std::string token_dist_yaml(const TokenDist& d) {
  auto clamp = [&d] {
    std::string s;
    if (d.min) s += ", min: " + std::to_string(*d.min);
    if (d.max) s += ", max: " + std::to_string(*d.max);
    return s;
  };
  switch (d.kind) {
    case TokenDist::Kind::kFixed:
      return std::to_string(d.value);
    case TokenDist::Kind::kUniform:
      return "{dist: uniform, min: " + std::to_string(d.min.value_or(1)) +
             ", max: " + std::to_string(d.max.value_or(1)) + "}";
    case TokenDist::Kind::kLognormal:
      return "{dist: lognormal, median: " + num(d.median) + ", p90: " + num(d.p90) + clamp() + "}";
    case TokenDist::Kind::kEmpirical:
      return "{dist: empirical, file: " +
             json(std::filesystem::absolute(d.resolved_file).lexically_normal().string()).dump() + clamp() + "}";
  }
  return std::to_string(d.value);
}

}  // namespace

PlanModel resolve_plan_model(const std::string& name, const std::string& model_file, const catalog::Catalog& cat) {
  PlanModel pm;
  pm.name = name;
  if (!model_file.empty()) {
    const auto docs = catalog::load_yaml_file(model_file);
    if (docs.empty()) throw InputError(model_file, 0, 0, "--model", "the file holds no YAML document");
    const catalog::YamlDocument& doc = docs.front();
    const auto entries = generic_model_entries(doc);
    std::string chosen;
    bool found = false;
    for (const auto& ptr : entries) {
      const json& e = doc.value.at(json::json_pointer(ptr));
      const bool match = e.is_object() && e.contains("hf_id") && e["hf_id"].is_string() &&
                         (name.empty() ? entries.size() == 1 : iequals(e["hf_id"].get<std::string>(), name));
      if (match) {
        chosen = ptr;
        found = true;
        break;
      }
    }
    if (!found) {
      std::string ids;
      for (const auto& ptr : entries) {
        const json& e = doc.value.at(json::json_pointer(ptr));
        if (e.is_object() && e.contains("hf_id") && e["hf_id"].is_string())
          ids += (ids.empty() ? "" : ", ") + e["hf_id"].get<std::string>();
      }
      throw doc.error(entries.empty() ? "" : entries.front(),
                      name.empty()
                          ? "describes several models (" + ids + "): name one with --preset"
                          : "describes no model \"" + name + "\" (it has: " + (ids.empty() ? "none" : ids) + ")");
    }
    pm.generic = catalog::parse_generic_model(doc, chosen);
    pm.name = pm.generic->hf_id;
    pm.models_entry = doc.value.at(json::json_pointer(chosen)).dump();
    pm.origin = pm.name + " as described in " + model_file + " line " + std::to_string(doc.position_of(chosen).line);
    if (cat.presets.find(pm.name))
      throw doc.error(chosen, "\"" + pm.name + "\" is a KAITO preset: plan it with --preset alone");
    return pm;
  }
  if (name.empty()) throw InputError("", 0, 0, "--preset", "name a KAITO preset or an org/model");
  if (const ModelPreset* p = cat.presets.find(name)) {
    pm.name = p->name;
    pm.origin = "KAITO preset " + p->name;
    return pm;
  }
  const gpu::ModelArch* arch = gpu::default_hardware().find_model(name);
  if (!arch || name.find('/') == std::string::npos || arch->from.rfind("KAITO", 0) == 0) {
    throw InputError("", 0, 0, "--preset",
                     "\"" + name +
                         "\" is neither a KAITO preset nor an org/model of presets/architectures.yaml; describe it "
                         "with --model FILE (hf_id, weights_gib, architecture, as a scenario's models: entry)");
  }
  const json entry = entry_from_architecture(*arch);
  catalog::YamlDocument doc;
  doc.file = "presets/architectures.yaml";
  doc.value = entry;
  pm.generic = catalog::parse_generic_model(doc, "");
  pm.name = pm.generic->hf_id;
  pm.models_entry = entry.dump();
  pm.origin = arch->hf_id + " of presets/architectures.yaml (bf16 weights from " + num(arch->arch.params_billion) +
              "B parameters)";
  return pm;
}

PlanTraffic traffic_from_scenario(const std::string& path) {
  const Scenario sc = load_scenario(path);
  const TrafficSpec* best = nullptr;
  double best_rate = 0;
  for (const auto& t : sc.traffic) {
    const auto p = t.arrival.process;
    if (p != ArrivalProcess::kPoisson && p != ArrivalProcess::kGamma) continue;
    const double peak = t.arrival.rate_per_second * (1 + t.arrival.diurnal_amplitude);
    if (!best || peak > best_rate) {
      best = &t;
      best_rate = peak;
    }
  }
  if (!best)
    throw InputError(path, 0, 0, "traffic",
                     "has no poisson or gamma traffic entry to plan for (closed-loop and trace traffic have no rate)");
  PlanTraffic pt;
  pt.rate_per_s = best_rate;
  pt.process = arrival_process_name(best->arrival.process);
  pt.cv = best->arrival.cv;
  pt.prompt_tokens = token_dist_yaml(*best->prompt_tokens);
  pt.output_tokens = token_dist_yaml(*best->output_tokens);
  pt.origin = path + " line " + std::to_string(best->line) + " (" + best->arrival.to_string() +
              (best->arrival.diurnal_amplitude > 0 ? ", peak " + num(best_rate) + "/s" : "") + ")";
  return pt;
}

// --- scale-up ---------------------------------------------------------------------------------------

namespace {

// Per-minute windows report p50 and p95 of TTFT and TPOT; other SLO metrics cannot be checked per minute.
bool windowed_metric(const std::string& metric) {
  return metric == "ttft_p50" || metric == "ttft_p95" || metric == "tpot_p50" || metric == "tpot_p95";
}

std::optional<double> window_ms(const json& w, const std::string& metric) {
  if (!windowed_metric(metric)) return std::nullopt;
  const auto us = metric.find('_');
  const std::string family = metric.substr(0, us) + "_ms", stat = metric.substr(us + 1);
  if (!w.contains(family) || !w[family].contains(stat) || !w[family][stat].is_number()) return std::nullopt;
  return w[family][stat].get<double>();
}

void keep_worst(std::optional<double>& into, std::optional<double> v) {
  if (v && (!into || *v > *into)) into = v;
}

std::string latency_text(double ms) {
  char buf[32];
  if (ms < 10000)
    std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  else if (ms < 600000)
    std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000);
  else
    std::snprintf(buf, sizeof buf, "%.1f min", ms / 60000);
  return buf;
}

std::string minutes(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f min", s / 60);
  return buf;
}

// One growth run ending at `end`: builds the scenario, runs it and reads the per-minute windows after the step.
void simulate_growth(const PlanRequest& req, const catalog::Catalog& cat, const std::string& sku_name, int from, int to,
                     double start, double end, const std::vector<std::pair<std::string, double>>& bounds,
                     ScaleUpResult& out) {
  const double step = out.step_at_s;
  out.windows.clear();
  out.new_ready_after_s.clear();
  out.violation_s = 0;
  out.first_violation_after_s.reset();
  out.recovered_after_s.reset();
  out.worst_ttft_p95_ms.reset();
  out.worst_tpot_p95_ms.reset();
  out.failed_requests = 0;
  std::string pool;
  for (int i = 1; i <= to; ++i) pool += (i > 1 ? ", " : "") + replica_name(i);
  std::string y = scenario_head(
      req,
      "ktwin plan --scale-up: " + std::to_string(from) + " -> " + std::to_string(to) + " x " + sku_name + " serving " +
          req.preset + "; the load steps from " + num(out.rate_before) + " to " + num(out.rate_after) + " req/s at " +
          num(step) + "s, when the new replicas are applied",
      "plan-scale-up-" + slug(req.preset) + "-" + sku_name + "-" + std::to_string(from) + "to" + std::to_string(to),
      end);
  y += "metrics_window: 1m\nworkspaces:\n";
  for (int i = 1; i <= from; ++i) y += workspace_item(req, sku_name, replica_name(i), 2);
  y += "timeline:\n";
  for (int i = from + 1; i <= to; ++i)
    y += "  - at: " + num(step) + "s\n    apply:\n      manifest:\n" +
         workspace_manifest(req, sku_name, replica_name(i), 8);
  y += "traffic:\n";
  const std::string tokens = "prompt_tokens: " + req.prompt_tokens + ", output_tokens: " + req.output_tokens;
  y += "  - {workspaces: [" + pool + "], start: " + num(start) + "s, end: " + num(step) +
       "s, arrival: " + arrival_yaml(req, out.rate_before) + ",\n     " + tokens + "}\n";
  y += "  - {workspaces: [" + pool + "], start: " + num(step) + "s, arrival: " + arrival_yaml(req, out.rate_after) +
       ",\n     " + tokens + "}\n";
  y += "expect:\n";
  for (int i = 1; i <= to; ++i)
    y += "  - {workspace: " + replica_name(i) + ", ready_within: " + num(i <= from ? start : end) + "s}\n";
  out.scenario_yaml = y;

  const Scenario sc = parse_scenario(y, "<plan scale-up " + sku_name + ">");
  RunOptions ro;
  ro.seed = req.seed;
  out.outcome = run_scenario(sc, cat, ro);
  const json& s = out.outcome.summary;

  std::map<std::string, double> ready_at;
  if (s.contains("workspaces"))
    for (const auto& w : s["workspaces"])
      if (w.contains("ready_at_s") && w["ready_at_s"].is_number())
        ready_at[w.value("name", "")] = w["ready_at_s"].get<double>();
  for (int i = from + 1; i <= to; ++i)
    if (auto it = ready_at.find(replica_name(i)); it != ready_at.end())
      out.new_ready_after_s.push_back(it->second - step);

  const json metrics = s.contains("metrics") ? s["metrics"] : json::object();
  for (double t = step; t < end - 1e-9; t += 60) {
    ScaleUpWindow w;
    w.t_s = t - step;
    for (int i = 1; i <= to; ++i) {
      const std::string ws = replica_name(i);
      if (auto it = ready_at.find(ws); it != ready_at.end() && it->second <= t + 60) ++w.replicas_ready;
      if (!metrics.contains(ws) || !metrics[ws].contains("windows")) continue;
      for (const auto& mw : metrics[ws]["windows"]) {
        if (std::abs(mw.value("start_s", -1.0) - t) > 1e-6 || mw.value("completed", int64_t{0}) == 0) continue;
        w.completed += mw.value("completed", int64_t{0});
        keep_worst(w.ttft_p95_ms, window_ms(mw, "ttft_p95"));
        keep_worst(w.tpot_p95_ms, window_ms(mw, "tpot_p95"));
        for (const auto& [metric, bound_ms] : bounds)
          if (auto v = window_ms(mw, metric); v && *v > bound_ms) w.violates = true;
      }
    }
    keep_worst(out.worst_ttft_p95_ms, w.ttft_p95_ms);
    keep_worst(out.worst_tpot_p95_ms, w.tpot_p95_ms);
    if (w.violates) {
      out.violation_s += 60;
      if (!out.first_violation_after_s) out.first_violation_after_s = w.t_s;
      out.recovered_after_s = w.t_s + 60;
    }
    out.windows.push_back(w);
  }
  for (int i = 1; i <= to; ++i)
    if (metrics.contains(replica_name(i))) out.failed_requests += metrics[replica_name(i)].value("failed", int64_t{0});
  out.recovered = out.windows.empty() || !out.windows.back().violates;
  if (!out.recovered) out.recovered_after_s.reset();
}

}  // namespace

ScaleUpResult plan_scale_up(const PlanRequest& req, const catalog::Catalog& cat, const std::string& sku_name, int from,
                            int to) {
  if (from < 1 || to <= from)
    throw InputError("", 0, 0, "--scale-up",
                     "needs N:M with 1 <= N < M, got " + std::to_string(from) + ":" + std::to_string(to));
  const ModelPreset* preset = req.generic ? &*req.generic : cat.presets.find(req.preset);
  if (!preset) throw InputError("", 0, 0, "--preset", "unknown preset \"" + req.preset + "\"");
  const Sku* sku = cat.skus.find(req.cloud, sku_name);
  if (!sku) throw InputError("", 0, 0, "--scale-up", "unknown SKU \"" + sku_name + "\" in " + req.cloud);
  if (const auto est = estimate_nodes(*preset, sku->gpu); !est)
    throw InputError("", 0, 0, "--scale-up", sku_name + " cannot serve " + req.preset + ": " + est.error().message);
  std::vector<std::pair<std::string, double>> bounds;  // checkable SLOs, in ms
  ScaleUpResult out;
  for (const auto& slo : req.slos) {
    const auto d = parse_duration(slo.bound);
    if (d && windowed_metric(slo.metric))
      bounds.emplace_back(slo.metric, to_seconds(*d) * 1000);
    else
      out.unchecked_slos.push_back(slo.metric);
  }

  Searcher search(req, cat);
  const Trial probe = search.run(sku_name, 1, 0, 4 * 3600);
  if (!probe.all_ready || !probe.ready_s)
    throw InputError("", 0, 0, "--scale-up", "a replica of " + sku_name + " never became ready in 4h: " + probe.reason);
  const double ready = *probe.ready_s;
  const double start = std::ceil((ready * 1.5 + 300) / 300) * 300;
  const double step = start + 600;  // ten minutes of the old load on the old replicas first
  out.cloud = req.cloud;
  out.sku = sku_name;
  out.from = from;
  out.to = to;
  out.step_at_s = step;
  out.rate_after = req.rate_per_s;
  out.rate_before = req.rate_per_s * from / to;

  // Run long enough for the backlog of the provisioning window to drain, up to four hours after the step.
  double tail = std::ceil((ready * 1.5 + req.window_s) / 60) * 60;
  for (;;) {
    simulate_growth(req, cat, sku_name, from, to, start, step + tail, bounds, out);
    const bool all_ready = static_cast<int>(out.new_ready_after_s.size()) == to - from;
    if (out.recovered || !all_ready || tail >= 4 * 3600) break;
    tail = std::min(tail * 2, 4.0 * 3600);
  }
  const int became_ready = static_cast<int>(out.new_ready_after_s.size());
  out.meets_slo_throughout = out.violation_s == 0 && out.failed_requests == 0 && became_ready == to - from;

  std::string ready_text;
  if (became_ready == to - from) {
    const double last = *std::max_element(out.new_ready_after_s.begin(), out.new_ready_after_s.end());
    ready_text = "the new replica" + std::string(to - from > 1 ? "s are" : " is") + " ready " + minutes(last) +
                 " after the step";
  } else {
    ready_text = std::to_string(to - from - became_ready) + " of " + std::to_string(to - from) +
                 " new replicas never became ready";
  }
  if (out.meets_slo_throughout) {
    out.verdict = "holds the SLOs through the scale-up; " + ready_text;
  } else {
    out.verdict = out.violation_s > 0 ? "misses the SLOs for " + minutes(out.violation_s) + " after the load step" : "";
    if (out.failed_requests > 0)
      out.verdict +=
          std::string(out.verdict.empty() ? "" : ", ") + std::to_string(out.failed_requests) + " requests failed";
    if (out.violation_s > 0 && out.worst_ttft_p95_ms)
      out.verdict += " (TTFT p95 up to " + latency_text(*out.worst_ttft_p95_ms) + ")";
    out.verdict += "; " + ready_text;
    out.verdict +=
        out.recovered
            ? (out.recovered_after_s ? ", back within the SLOs " + minutes(*out.recovered_after_s) + " after the step"
                                     : "")
            : ", still missing them " + minutes(out.windows.empty() ? 0 : out.windows.back().t_s + 60) +
                  " after the step";
  }
  return out;
}

}  // namespace ktwin::sim
