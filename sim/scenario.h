// The scenario model (what a scenario YAML file says: cluster, workspaces, traffic, timeline,
// expectations) and its loader. Every user mistake becomes an InputError with file:line:column and
// the field path; the structs below hold only validated values.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/input_error.h"
#include "core/object.h"
#include "core/ports.h"
#include "core/presets/model_preset.h"
#include "core/time.h"
#include "sim/rng.h"

namespace ktwin::catalog {
class YamlDocument;
struct Catalog;
}  // namespace ktwin::catalog

namespace ktwin::sim {

enum class CloudKind { kAzure, kAws, kArc };
const char* cloud_kind_name(CloudKind c);  //!< "azure", "aws", "arc"

enum class ProvisionerKind { kGpuProvisioner, kKarpenter, kByo };
const char* provisioner_kind_name(ProvisionerKind p);  //!< "gpu-provisioner", "karpenter", "byo"

struct GpuSpec {
  std::string product;     //!< nvidia.com/gpu.product, e.g. "NVIDIA-A100"
  int64_t count = 0;       //!< GPUs per node
  int64_t memory_mib = 0;  //!< per GPU; 0 when not given
};

//! Nodes that exist when the run starts (BYO nodes, or a pre-provisioned pool).
struct NodeSpec {
  std::string name;
  std::string instance_type;  //!< may be empty for BYO nodes described only by `gpu`
  int64_t count = 1;
  Labels labels;
  std::vector<Taint> taints;
  std::optional<GpuSpec> gpu;
  int line = 0;  //!< in the scenario file

  //! The node names this entry stands for: `name` when count is 1, else name-0 .. name-(count-1).
  std::vector<std::string> node_names() const;
};

//! Overrides of the simulated provisioning and startup latencies; unset fields keep the model's
//! defaults for the cloud.
struct ProvisioningSpec {
  std::optional<DurationDist> vm_create;
  std::optional<DurationDist> node_join;
  std::optional<DurationDist> node_ready;
  std::optional<DurationDist> device_plugin;
  std::optional<DurationDist> image_pull;
  std::optional<DurationDist> model_load;
  std::optional<DurationDist> engine_init;
  std::optional<DurationDist> vm_delete;
  std::optional<double> weights_download_gibps;  //!< GiB/s
};

//! What the world knows about a tuning dataset (KAITO only sees its URL or image): its size, and
//! whether it can be fetched. `source` matches any input URL or image that contains it.
struct DatasetSpec {
  std::string source;
  int64_t examples = 0;
  double tokens_per_example = 0;
  double size_mib = 0;    //!< download size; 0: estimated from the token count
  bool available = true;  //!< false: the download fails (HTTP 404)
  int line = 0;
};

struct ClusterSpec {
  CloudKind cloud = CloudKind::kAzure;
  std::string region;  //!< defaults per cloud: eastus (azure), us-east-1 (aws), local (arc)
  ProvisionerKind node_provisioner = ProvisionerKind::kGpuProvisioner;
  std::map<std::string, int64_t> quota;  //!< machines allowed per SKU; an absent SKU is unlimited
  std::vector<NodeSpec> nodes;
  ProvisioningSpec provisioning;
  std::vector<DatasetSpec> datasets;
};

//! One Kubernetes object to apply (a Workspace, or a ConfigMap, Secret, ... that goes with it), with
//! where it was written so later admission errors can point at file:line.
struct ManifestSource {
  json manifest;  //!< the whole object; metadata.namespace filled in for namespaced kinds
  std::string api_version;
  std::string kind;
  std::string name;
  std::string namespace_;  //!< "default" when absent; "" for cluster-scoped kinds (Node, NodeClaim, ...)
  std::string file;        //!< file holding the document (the scenario itself for inline manifests)
  int line = 0;            //!< line of the document start (or of the inline `manifest:` value)
  Duration at = 0;         //!< when to apply it, from the start of the run
  std::shared_ptr<const catalog::YamlDocument> doc;  //!< positions of every field
  std::string pointer;  //!< JSON pointer of the manifest inside `doc` ("" for a file document)

  bool is_workspace() const { return kind == "Workspace"; }
  std::string key() const;  //!< "Workspace/default/workspace-phi-3-mini"
  //! An InputError positioned at `pointer_in_manifest` ("/resource/instanceType") of this manifest.
  InputError error(const std::string& pointer_in_manifest, const std::string& message) const;
};
using WorkspaceSource = ManifestSource;

//! A Workspace named in traffic, timeline or expect: "name" (namespace "default") or "ns/name".
struct WorkspaceRef {
  std::string namespace_ = "default";
  std::string name;
  std::string to_string() const;  //!< "name" in the default namespace, else "ns/name"
  auto operator<=>(const WorkspaceRef&) const = default;
};

enum class ArrivalProcess { kPoisson, kGamma, kClosedLoop, kTrace };
const char* arrival_process_name(ArrivalProcess p);  //!< "poisson", "gamma", "closed_loop", "trace"

struct ArrivalSpec {
  ArrivalProcess process = ArrivalProcess::kPoisson;
  double rate_per_second = 0;  //!< poisson, gamma
  double cv = 1;               //!< gamma: coefficient of variation of inter-arrival times
  //! poisson, gamma: a daily cycle, rate x (1 + amplitude x cos(2 pi (t - peak) / period)); 0 = flat.
  double diurnal_amplitude = 0;
  Duration diurnal_period = 24 * kHour;
  Duration diurnal_peak = 0;               //!< time of day (from the start of the run) of the peak
  int64_t concurrency = 0;                 //!< closed_loop: requests kept in flight
  std::optional<DurationDist> think_time;  //!< closed_loop: pause before re-sending; none when unset
  std::string trace_file;                  //!< trace: as written
  std::string resolved_trace_file;         //!< trace: resolved against the scenario's directory
  std::string to_string() const;           //!< "poisson 2/s", "gamma 2/s cv 2", "closed_loop 8", "trace f.csv"
};

struct TrafficSpec {
  WorkspaceRef workspace;  //!< the only target, or the first of `pool`
  //! `workspaces: [a, b, ...]`: a gateway spreads requests over the ready endpoints of all of them (as an
  //! inference gateway in front of several Workspaces does); each request counts for the one that served it.
  std::vector<WorkspaceRef> pool;
  Duration start = 0;
  std::optional<Duration> end;  //!< none: until the end of the run
  ArrivalSpec arrival;
  //! Always set unless the arrival process is a trace (whose rows then carry the token counts).
  std::optional<TokenDist> prompt_tokens;
  std::optional<TokenDist> output_tokens;
  //! How the Service spreads requests over ready endpoints (the first entry of a workspace decides).
  enum class Routing { kLeastOutstanding, kRoundRobin } routing = Routing::kLeastOutstanding;
  int64_t queue_limit = 1000;             //!< requests held while the workspace has no ready endpoint
  Duration queue_timeout = 10 * kMinute;  //!< then they fail, as a client gives up
  std::optional<Duration> slo_ttft;       //!< goodput counts requests within both SLOs
  std::optional<Duration> slo_tpot;
  int line = 0;
};

struct ScaleAction {
  WorkspaceRef workspace;
  int64_t count = 0;
};
//! Fails `count` nodes serving `workspace`, or the node called `node`.
struct FailNodeAction {
  std::optional<WorkspaceRef> workspace;
  std::string node;
  int64_t count = 1;
};
struct DeleteAction {
  std::string kind;        //!< canonical kind, e.g. "Workspace"
  std::string namespace_;  //!< "" for cluster-scoped kinds
  std::string name;
};
struct SetQuotaAction {
  std::string sku;
  int64_t count = 0;
};
//! The cloud reports no capacity for `sku` from the action's time for `duration`.
struct CapacityOutageAction {
  std::string sku;
  Duration duration = 0;
};
//! Pulls from `registry` (e.g. myregistry.azurecr.io) fail from the action's time for `duration`.
struct RegistryOutageAction {
  std::string registry;
  Duration duration = 0;
};
struct ApplyAction {
  std::vector<ManifestSource> manifests;  //!< each with `at` set to the action's time
};

//! One scheduled event of the scenario. Actions keep file order; same-time actions run in it.
struct TimelineAction {
  Duration at = 0;
  std::variant<ScaleAction, FailNodeAction, DeleteAction, SetQuotaAction, CapacityOutageAction, ApplyAction,
               RegistryOutageAction>
      action;
  int line = 0;
  //! "scale workspace-phi-3-mini to 2", "fail 1 node of workspace-phi-3-mini", "delete Workspace ...".
  std::string text() const;
};

//! Physical dimension of a metric and of the thresholds compared with it.
enum class MetricUnit {
  kSeconds,            //!< ttft, tpot, itl, e2el and their statistics
  kTokensPerSecond,    //!< output_throughput, total_token_throughput
  kRequestsPerSecond,  //!< request_throughput, goodput
  kCount,              //!< completed_requests, failed_requests, num_requests_waiting_{mean,max}
  kFraction,           //!< kv_cache_usage_{mean,max}: 0..1, written 0.9 or 90%
};
//! The unit of a metric name (vLLM benchmark vocabulary: "ttft", "ttft_p95", "tpot_mean",
//! "itl_median", "e2el_p99", "output_throughput", ...), or nullopt for an unknown name.
std::optional<MetricUnit> metric_unit(std::string_view metric);
//! Names offered in "did you mean" suggestions and help.
const std::vector<std::string>& known_metrics();

//! One check run against the outcome of a run.
struct Expectation {
  enum class Kind { kReadyWithin, kNeverReady, kCondition, kNodeClaims, kMetric, kState };
  Kind kind = Kind::kReadyWithin;
  WorkspaceRef workspace;
  Duration ready_within = 0;     //!< kReadyWithin: from the start of the run
  std::string condition_type;    //!< kCondition (checked at the end of the run)
  std::string condition_status;  //!< "True", "False" or "Unknown"
  std::string condition_reason;  //!< empty: any reason
  std::optional<int64_t> min;    //!< kNodeClaims: NodeClaims ever created for the workspace
  std::optional<int64_t> max;
  std::optional<int64_t> equals;
  std::string metric;    //!< kMetric
  bool below = true;     //!< kMetric: true for `below`, false for `above`
  double threshold = 0;  //!< kMetric: in the metric's unit (seconds, tok/s, req/s, count)
  MetricUnit unit = MetricUnit::kSeconds;
  std::string threshold_text;  //!< as written, for messages ("2s")
  std::string state;           //!< kState: status.state at the end of the run
  int line = 0;

  //! "workspace-phi-3-mini ready within 25m", "workspace-phi-3-mini ttft_p95 below 2s", ...
  std::string text() const;
};

//! A generic `org/model` preset the scenario supplies (KAITO accepts any Hugging Face id and derives its
//! numbers from config.json; the twin has no network, so the scenario states them).
struct GenericModel {
  ModelPreset preset;
  std::string pointer;                               //!< where it stands in its file, for errors
  std::shared_ptr<const catalog::YamlDocument> doc;  //!< that file
};

struct Scenario {
  std::string file;  //!< path as given to load_scenario
  std::string dir;   //!< directory that relative paths are resolved against
  std::string name;
  std::string description;
  uint64_t seed = 1;
  Duration duration = 0;
  ClusterSpec cluster;
  std::vector<GenericModel> models;
  std::vector<ManifestSource> manifests;  //!< from `workspaces:`, in file order
  std::vector<TrafficSpec> traffic;
  Duration metrics_window = 0;           //!< per-window serving metrics in the summary; 0: none
  std::vector<TimelineAction> timeline;  //!< in file order
  std::vector<Expectation> expect;
  //! SHA-256 over the scenario text and every file it references (manifests, traces, token data),
  //! each with the path as written: moving the directory keeps the hash, editing any input changes it.
  std::string scenario_hash;
  std::shared_ptr<const catalog::YamlDocument> doc;

  //! The Workspace manifest applied first under this name (from `workspaces:` or a timeline
  //! `apply:`), or nullptr.
  const ManifestSource* find_workspace(const WorkspaceRef& ref) const;
};

//! Reads and validates a scenario file and the files it references. Throws InputError.
Scenario load_scenario(const std::string& path);
//! Same, from text; `path` names the file in errors and anchors relative paths.
Scenario parse_scenario(const std::string& text, const std::string& path);

//! Pointers to the generic model descriptions in `doc` (a `ktwin plan --model` or `ktwin operator --models`
//! file): one mapping with hf_id, a list of them, or a map (a scenario) whose `models:` holds them. Throws
//! InputError when it is none of these.
std::vector<std::string> generic_model_entries(const catalog::YamlDocument& doc);
//! The generic models a file describes, in any form generic_model_entries takes. Throws InputError.
std::vector<GenericModel> load_generic_models(const std::string& path);
//! `base` plus `models`, as `ktwin run` serves a scenario. Throws InputError at the model's line when KAITO
//! already has it.
catalog::Catalog with_generic_models(const catalog::Catalog& base, const std::vector<GenericModel>& models);

//! Reads a duration distribution at `pointer`: a map with `dist:` (fixed, uniform, lognormal,
//! exponential) or a plain duration string ("30s", meaning fixed). Throws InputError.
DurationDist parse_duration_dist(const catalog::YamlDocument& doc, const std::string& pointer);
//! Reads a token-count distribution at `pointer` (fixed, uniform, lognormal, empirical; a plain
//! integer means fixed). Empirical files are resolved against `base_dir` but not loaded.
TokenDist parse_token_dist(const catalog::YamlDocument& doc, const std::string& pointer, const std::string& base_dir);
//! Token counts from a text file: one value per line, or the first column of a CSV; a non-numeric
//! first line is taken as a header; blank lines and lines starting with '#' are skipped.
std::vector<int64_t> parse_token_samples(const std::string& text, const std::string& file);
//! "2/s", "120/m", "7200/h" (also "/min", "/hour") -> requests per second; nullopt when malformed
//! or when the unit is missing.
std::optional<double> parse_rate(std::string_view text);

}  // namespace ktwin::sim
