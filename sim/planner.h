// Capacity planning: for every SKU of a cloud that fits a model, the smallest replica count that meets
// latency SLOs at a load, found by running the simulated cluster (provisioning, then open-loop traffic
// split over the replicas), never by formula; and a growth run that measures the SLO misses while new
// replicas provision. Each run is an ordinary scenario, so `ktwin run` of it gives the same verdict.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "sim/runner.h"

namespace ktwin::sim {

struct Slo {
  std::string metric;  //!< a latency metric of the scenario vocabulary, e.g. ttft_p95
  std::string bound;   //!< a duration as scenarios write it, e.g. "800ms"
};

//! The model a plan sizes: a KAITO preset, or a generic org/model that every trial scenario describes.
struct PlanModel {
  std::string name;                    //!< the preset name or the org/model id
  std::optional<ModelPreset> generic;  //!< set for an org/model that is not a KAITO preset
  std::string models_entry;            //!< the scenario `models:` entry (JSON, a YAML flow map) when generic
  std::string origin;                  //!< where the description came from, for the output
};

//! `name` as a KAITO preset; else an org/model described by `model_file` (one `models:` entry, a list of
//! them, or a scenario with `models:`); else an architecture of presets/architectures.yaml with bf16
//! weights from its parameter count. Throws InputError naming what is missing.
PlanModel resolve_plan_model(const std::string& name, const std::string& model_file, const catalog::Catalog& catalog);

//! Open-loop traffic as a plan takes it from a scenario's `traffic:` block.
struct PlanTraffic {
  double rate_per_s = 0;  //!< the busiest entry's rate (its diurnal peak, when it has a cycle)
  std::string process = "poisson";
  double cv = 1;                             //!< gamma
  std::string prompt_tokens, output_tokens;  //!< token distributions (JSON), files resolved to full paths
  std::string origin;                        //!< "FILE line N (poisson 20/s)"
};

//! The busiest poisson or gamma entry of the scenario at `path`. Throws InputError when it has none.
PlanTraffic traffic_from_scenario(const std::string& path);

struct PlanRequest {
  std::string preset;                  //!< a KAITO preset; or an org/model with `generic` set
  std::optional<ModelPreset> generic;  //!< see PlanModel
  std::string models_entry;
  std::string arrival_process = "poisson";  //!< poisson or gamma
  double arrival_cv = 1;
  std::string cloud = "azure";           //!< the cloud a scenario runs in
  std::vector<std::string> clouds;       //!< clouds whose SKUs plan_capacity weighs; empty = just `cloud`
  std::vector<std::string> sku_filters;  //!< substrings or globs; empty = every current SKU
  double rate_per_s = 1;
  std::string prompt_tokens = "1000", output_tokens = "200";  //!< scenario token distributions (YAML)
  std::vector<Slo> slos;
  std::optional<double> max_budget_per_hour;
  std::map<std::string, double> prices;  //!< --price overrides, USD/hour by SKU
  int max_replicas = 32;
  double window_s = 600;  //!< measured traffic after every replica is ready
  uint64_t seed = 1;
  bool headroom = true;  //!< also search the highest sustainable rate
  int threads = 0;       //!< SKUs planned in parallel; 0 = one per core
};

struct PlanCandidate {
  std::string cloud, sku, gpu;
  int gpus_per_node = 0, nodes_per_replica = 0, replicas = 0;
  int tensor_parallel = 1, pipeline_parallel = 1, data_parallel = 1;  //!< as KAITO's vLLM command sets them
  double price_per_hour = 0;                                          //!< per node; 0 when unknown
  double cost_per_hour = 0;                                           //!< all replicas
  std::optional<double> cost_per_million_output_tokens, ttft_p95_ms, tpot_p95_ms, max_rate, time_to_ready_s;
  bool meets_slo = false;
  bool recommended = false;
  std::string verdict;        //!< in words
  std::string scenario_yaml;  //!< the scenario of the deciding trial
  int trials = 0;
};

struct PlanSkipped {
  std::string cloud, sku, reason;
};

struct PlanResult {
  std::vector<PlanCandidate> candidates;  //!< cheapest first; unpriced ones last
  std::vector<PlanSkipped> skipped;
  const PlanCandidate* recommended = nullptr;
  std::string reason;  //!< why nothing is recommended
  int trials = 0;
};

//! Every SKU of every requested cloud. Throws InputError for an unknown preset, cloud or SLO metric.
PlanResult plan_capacity(const PlanRequest& request, const catalog::Catalog& catalog);

//! One minute of a scale-up run, over the replicas that served in it.
struct ScaleUpWindow {
  double t_s = 0;  //!< from the load step
  int replicas_ready = 0;
  int64_t completed = 0;
  std::optional<double> ttft_p95_ms, tpot_p95_ms;  //!< the worst replica's
  bool violates = false;
};

struct ScaleUpResult {
  std::string cloud, sku;
  int from = 0, to = 0;
  double step_at_s = 0;  //!< when the load steps up and the new replicas are applied
  double rate_before = 0, rate_after = 0;
  std::vector<double> new_ready_after_s;  //!< each new replica, from the step; missing ones never became ready
  double violation_s = 0;                 //!< minutes (as seconds) in which an SLO was exceeded, after the step
  std::optional<double> first_violation_after_s, recovered_after_s;  //!< recovered: end of the last bad minute
  bool recovered = true;                                             //!< false: still violating at the end
  std::optional<double> worst_ttft_p95_ms, worst_tpot_p95_ms;        //!< after the step
  int64_t failed_requests = 0;
  bool meets_slo_throughout = false;
  std::vector<std::string> unchecked_slos;  //!< SLO metrics the per-minute check cannot see (p99, means, ITL, E2EL)
  std::vector<ScaleUpWindow> windows;       //!< from the step to the end
  std::string verdict, scenario_yaml;
  RunOutcome outcome;  //!< the whole run, for the results database
};

//! Simulates growth: `from` replicas of `sku` serve rate x from/to, then the load steps to the full rate
//! and `to - from` replicas are applied; a gateway spreads requests over whichever are ready. Reports the
//! minutes in which the SLOs are missed while the new replicas provision. Throws InputError.
ScaleUpResult plan_scale_up(const PlanRequest& request, const catalog::Catalog& catalog, const std::string& sku,
                            int from, int to);

//! The scenario a trial runs: `replicas` workspaces of `sku`, traffic from `traffic_start_s` to the end.
std::string plan_scenario_yaml(const PlanRequest& request, const std::string& sku, int replicas, double rate_per_s,
                               double traffic_start_s, double window_s);

}  // namespace ktwin::sim
