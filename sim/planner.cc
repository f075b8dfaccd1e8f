#include "sim/planner.h"

#include <fnmatch.h>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/input_error.h"
#include "core/presets/estimator.h"
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

std::string plan_scenario_yaml(const PlanRequest& r, const std::string& sku, int replicas, double rate, double start_s,
                               double window_s) {
  const bool traffic = rate > 0;
  const double duration = traffic ? start_s + window_s : start_s;
  std::string y = "# ktwin plan trial: " + std::to_string(replicas) + " x " + sku + " serving " + r.preset + " at " +
                  num(rate) + " req/s\n";
  y += "name: plan-" + r.preset + "-" + sku + "-x" + std::to_string(replicas) + "\nseed: " + std::to_string(r.seed) +
       "\nduration: " + num(duration) + "s\ncluster:\n  cloud: " + r.cloud + "\nworkspaces:\n";
  for (int i = 1; i <= replicas; ++i) {
    const std::string name = replica_name(i);
    y += "  - manifest:\n      apiVersion: kaito.sh/v1beta1\n      kind: Workspace\n      metadata: {name: " + name +
         "}\n      resource:\n        instanceType: " + sku + "\n        labelSelector: {matchLabels: {apps: " + name +
         "}}\n      inference:\n        preset: {name: " + r.preset +
         ", presetOptions: {modelAccessSecret: hf-token}}\n";
  }
  if (traffic) {
    y += "traffic:\n";
    for (int i = 1; i <= replicas; ++i)
      y += "  - {workspace: " + replica_name(i) + ", start: " + num(start_s) +
           "s, arrival: {process: poisson, rate: " + num(rate / replicas) +
           "/s},\n     prompt_tokens: " + r.prompt_tokens + ", output_tokens: " + r.output_tokens + "}\n";
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
  const ModelPreset* preset = cat.presets.find(req.preset);
  if (!preset) throw InputError("", 0, 0, "--preset", "unknown preset \"" + req.preset + "\"");
  const auto clouds = cat.skus.clouds();
  if (std::find(clouds.begin(), clouds.end(), req.cloud) == clouds.end())
    throw InputError("", 0, 0, "--cloud", "unknown cloud \"" + req.cloud + "\"");
  auto plan_one = [&req, &cat, preset](const Sku* sku) -> Outcome {
    Searcher search(req, cat);
    if (sku->gpu.gpu_id.empty() || !sku->gpu.nvidia()) {
      return Outcome{std::nullopt, PlanSkipped{sku->name(), "no latency model for " + sku->gpu.gpu_model},
                     search.trials};
    }
    const auto est = estimate_nodes(*preset, sku->gpu);
    if (!est) {
      return Outcome{std::nullopt, PlanSkipped{sku->name(), est.error().message}, search.trials};
    }
    PlanCandidate c;
    c.sku = sku->name();
    c.gpu = sku->gpu.gpu_id;
    c.gpus_per_node = sku->gpu.gpu_count;
    c.nodes_per_replica = est->nodes;
    c.pipeline_parallel = est->nodes;
    if (est->nodes <= 1 && c.gpus_per_node > 1 && preset->weights_gib < 0.5 * sku->gpu.per_gpu_memory_gib())
      c.data_parallel = c.gpus_per_node;  // KAITO runs one engine per GPU for small models
    else
      c.tensor_parallel = c.gpus_per_node;
    auto price = req.prices.find(sku->name());
    c.price_per_hour = price != req.prices.end() ? price->second : sku->price_per_hour;
    const double replica_cost = c.price_per_hour * c.nodes_per_replica;

    // Provisioning alone first: traffic starts once a replica would be serving, with margin.
    const Trial probe = search.run(c.sku, 1, 0, 4 * 3600);
    if (!probe.all_ready || !probe.ready_s) {
      return Outcome{std::nullopt, PlanSkipped{c.sku, "a replica never became ready in 4h: " + probe.reason},
                     search.trials};
    }
    c.time_to_ready_s = probe.ready_s;
    const double start = std::ceil((*probe.ready_s * 1.5 + 300) / 300) * 300;

    // Smallest replica count by doubling, then bisection; every count is one simulated run.
    std::map<int, Trial> by_n;
    auto trial = [&](int n) -> const Trial& {
      auto it = by_n.find(n);
      if (it == by_n.end()) it = by_n.emplace(n, search.run(c.sku, n, req.rate_per_s, start)).first;
      return it->second;
    };
    const int cap = req.max_budget_per_hour && replica_cost > 0
                        ? std::min(req.max_replicas, static_cast<int>(*req.max_budget_per_hour / replica_cost))
                        : req.max_replicas;
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
                  (cap < req.max_replicas ? " (budget limit)" : " (--max-replicas)") + ": " + t.reason;
    if (c.price_per_hour <= 0) c.verdict += "; no price known (--price " + c.sku + "=USD)";

    // Headroom: the highest total rate the chosen replicas sustain within the SLOs. Load splits evenly,
    // so one replica is searched at its share (fewer simulated requests), over a shorter window.
    if (req.headroom && c.meets_slo) {
      const double window = std::min(req.window_s, 300.0);
      double ok = req.rate_per_s / chosen, bad = 0;
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

  std::vector<const Sku*> skus;
  for (const Sku* sku : cat.skus.list(req.cloud, false))
    if (matches_filter(sku->name(), req.sku_filters)) skus.push_back(sku);
  // SKUs are independent: plan them on worker threads, collect in catalog order (deterministic).
  std::vector<Outcome> outcomes(skus.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < skus.size();) outcomes[i] = plan_one(skus[i]);
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
  if (!result.recommended)
    result.reason = result.candidates.empty()
                        ? "no SKU of " + req.cloud + " fits " + req.preset
                        : "no priced candidate meets the SLOs within " + std::to_string(req.max_replicas) +
                              " replicas" + (req.max_budget_per_hour ? " and the budget" : "");
  return result;
}

}  // namespace ktwin::sim
