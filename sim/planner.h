// Capacity planning: for every SKU of a cloud that fits a model, the smallest replica count that meets
// latency SLOs at a load, found by running the simulated cluster (provisioning, then Poisson traffic
// split over the replicas), never by formula. Each trial is an ordinary scenario, so any candidate
// can be re-run with `ktwin run` and gives the same verdict.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"

namespace ktwin::sim {

struct Slo {
  std::string metric;  //!< a latency metric of the scenario vocabulary, e.g. ttft_p95
  std::string bound;   //!< a duration as scenarios write it, e.g. "800ms"
};

struct PlanRequest {
  std::string preset;
  std::string cloud = "azure";
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
  std::string sku, gpu;
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
  std::string sku, reason;
};

struct PlanResult {
  std::vector<PlanCandidate> candidates;  //!< cheapest first; unpriced ones last
  std::vector<PlanSkipped> skipped;
  const PlanCandidate* recommended = nullptr;
  std::string reason;  //!< why nothing is recommended
  int trials = 0;
};

//! Throws InputError for an unknown preset, cloud or SLO metric.
PlanResult plan_capacity(const PlanRequest& request, const catalog::Catalog& catalog);

//! The scenario a trial runs: `replicas` workspaces of `sku`, traffic from `traffic_start_s` to the end.
std::string plan_scenario_yaml(const PlanRequest& request, const std::string& sku, int replicas, double rate_per_s,
                               double traffic_start_s, double window_s);

}  // namespace ktwin::sim
