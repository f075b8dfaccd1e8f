// Scenario loader: a full scenario round trip, and one test per kind of bad input checking the
// exact message and its file:line:column.
#include "sim/scenario.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "catalog/catalog.h"
#include "catalog/yaml_json.h"
#include "sim/runner.h"

namespace ktwin::sim {
namespace {

namespace fs = std::filesystem;

class ScenarioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ =
        fs::temp_directory_path() / ("ktwin-scenario-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& rel, const std::string& text) {
    fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  std::string path(const std::string& rel) const { return (dir_ / rel).string(); }

  //! Loads `text` as scenario.yaml and returns the error message (fails the test if none).
  std::string error_of(const std::string& text) {
    std::string p = write("scenario.yaml", text);
    try {
      load_scenario(p);
    } catch (const InputError& e) {
      return e.what();
    }
    ADD_FAILURE() << "expected an InputError for:\n" << text;
    return "";
  }
  //! The scenario file's path as it appears at the start of messages.
  std::string at(int line, int column) const {
    return path("scenario.yaml") + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  }

  fs::path dir_;
};

// A valid head that bad-input tests extend; line 5 is the first line after it.
const char* kHead =
    "name: t\n"
    "duration: 2h\n"
    "workspaces:\n"
    "  - manifest: {apiVersion: kaito.sh/v1beta1, kind: Workspace, metadata: {name: workspace-phi-3-mini}}\n";

const char* kPhiManifests =
    "apiVersion: kaito.sh/v1beta1\n"  // 1
    "kind: Workspace\n"               // 2
    "metadata:\n"                     // 3
    "  name: workspace-phi-3-mini\n"  // 4
    "resource:\n"                     // 5
    "  instanceType: Standard_NC24ads_A100_v4\n"
    "  labelSelector:\n"
    "    matchLabels:\n"
    "      apps: phi-3\n"
    "inference:\n"
    "  preset:\n"
    "    name: phi-3-mini-4k-instruct\n"  // 12
    "---\n"                               // 13
    "apiVersion: v1\n"                    // 14
    "kind: ConfigMap\n"
    "metadata:\n"
    "  name: phi-3-config\n"
    "  namespace: kaito\n"
    "data:\n"
    "  a: b\n";

const char* kFullScenario = R"(name: phi3-quickstart
description: "Phi-3 on one A100"
seed: 42
duration: 2h
cluster:
  cloud: azure
  region: westus2
  node_provisioner: gpu-provisioner
  quota: {Standard_NC6s_v3: 4, Standard_NC24ads_A100_v4: 2}
  nodes:
    - {name: gpu, instance_type: Standard_NC24ads_A100_v4, count: 2, labels: {apps: phi-3, tier: 1}, gpu: {product: NVIDIA-A100, count: 1, memory_mib: 81920}}
    - name: byo-1
      taints: [{key: sku, value: gpu, effect: NoSchedule}]
      gpu: {count: 4}
  provisioning:
    vm_create: {dist: lognormal, median: 5m, p90: 9m, max: 30m}
    image_pull: 90s
    model_load: {dist: uniform, min: 1m, max: 3m}
    weights_download_gibps: 0.25
workspaces:
  - file: workspaces/phi-3-mini.yaml
  - manifest:
      apiVersion: kaito.sh/v1beta1
      kind: Workspace
      metadata: {name: workspace-falcon, namespace: team-a}
      resource: {instanceType: Standard_NC6s_v3}
    at: 10m
traffic:
  - workspace: workspace-phi-3-mini
    start: 15m
    end: 1h
    arrival: {process: poisson, rate: 120/m}
    prompt_tokens: {dist: lognormal, median: 400, p90: 1200}
    output_tokens: {dist: fixed, value: 128}
  - workspace: team-a/workspace-falcon
    start: 20m
    arrival: {process: gamma, rate: 2/s, cv: 2}
    prompt_tokens: {dist: empirical, file: data/prompts.csv}
    output_tokens: 64
  - workspace: workspace-phi-3-mini
    arrival: {process: closed_loop, concurrency: 8, think_time: {dist: exponential, mean: 2s}}
    prompt_tokens: {dist: uniform, min: 100, max: 200}
    output_tokens: {dist: fixed, value: 128}
  - workspace: workspace-phi-3-mini
    arrival: {trace: data/trace.csv}
timeline:
  - {at: 40m, scale: {workspace: workspace-phi-3-mini, count: 2}}
  - {at: 70m, fail_node: {workspace: workspace-phi-3-mini, count: 1}}
  - {at: 75m, fail_node: {node: gpu-0}}
  - {at: 90m, delete: workspace/workspace-phi-3-mini}
  - {at: 20m, set_quota: {sku: Standard_NC6s_v3, count: 0}}
  - {at: 5m, capacity_outage: {sku: Standard_NC24ads_A100_v4, duration: 30m}}
  - {at: 10m, apply: {file: workspaces/extra.yaml}}
expect:
  - {workspace: workspace-phi-3-mini, ready_within: 25m}
  - {workspace: team-a/workspace-falcon, never_ready: true}
  - {workspace: workspace-phi-3-mini, condition: {type: InferenceReady, status: "True", reason: WorkspaceInferenceStatusSuccess}}
  - {workspace: workspace-phi-3-mini, nodeclaims: {max: 1}}
  - {workspace: workspace-phi-3-mini, metric: ttft_p95, below: 2s}
  - {workspace: workspace-phi-3-mini, metric: output_throughput, above: 100 tok/s}
  - {workspace: workspace-phi-3-mini, state: Ready}
  - {workspace: workspace-extra, nodeclaims: {min: 1, max: 3}}
)";

TEST_F(ScenarioTest, FullScenarioRoundTrip) {
  write("workspaces/phi-3-mini.yaml", kPhiManifests);
  write("workspaces/extra.yaml", "apiVersion: kaito.sh/v1beta1\nkind: Workspace\nmetadata: {name: workspace-extra}\n");
  write("data/prompts.csv", "tokens,source\n120,a\n\n# comment\n800,b\n40,c\n");
  write("data/trace.csv", "t,prompt,output\n0.0,100,20\n");
  std::string file = write("scenario.yaml", kFullScenario);

  Scenario s = load_scenario(file);
  EXPECT_EQ(s.file, file);
  EXPECT_EQ(s.dir, dir_.string());
  EXPECT_EQ(s.name, "phi3-quickstart");
  EXPECT_EQ(s.description, "Phi-3 on one A100");
  EXPECT_EQ(s.seed, 42u);
  EXPECT_EQ(s.duration, 2 * kHour);

  // Cluster.
  EXPECT_EQ(s.cluster.cloud, CloudKind::kAzure);
  EXPECT_EQ(s.cluster.region, "westus2");
  EXPECT_EQ(s.cluster.node_provisioner, ProvisionerKind::kGpuProvisioner);
  EXPECT_EQ(s.cluster.quota,
            (std::map<std::string, int64_t>{{"Standard_NC24ads_A100_v4", 2}, {"Standard_NC6s_v3", 4}}));
  ASSERT_EQ(s.cluster.nodes.size(), 2u);
  const NodeSpec& gpu = s.cluster.nodes[0];
  EXPECT_EQ(gpu.instance_type, "Standard_NC24ads_A100_v4");
  EXPECT_EQ(gpu.node_names(), (std::vector<std::string>{"gpu-0", "gpu-1"}));
  EXPECT_EQ(gpu.labels, (Labels{{"apps", "phi-3"}, {"tier", "1"}}));
  ASSERT_TRUE(gpu.gpu.has_value());
  EXPECT_EQ(gpu.gpu->product, "NVIDIA-A100");
  EXPECT_EQ(gpu.gpu->memory_mib, 81920);
  EXPECT_EQ(gpu.line, 11);
  const NodeSpec& byo = s.cluster.nodes[1];
  EXPECT_EQ(byo.node_names(), (std::vector<std::string>{"byo-1"}));
  ASSERT_EQ(byo.taints.size(), 1u);
  EXPECT_EQ(byo.taints[0], (Taint{"sku", "gpu", "NoSchedule"}));
  EXPECT_EQ(byo.gpu->count, 4);
  const ProvisioningSpec& prov = s.cluster.provisioning;
  EXPECT_EQ(prov.vm_create, DurationDist::lognormal(5 * kMinute, 9 * kMinute, std::nullopt, 30 * kMinute));
  EXPECT_EQ(prov.image_pull, DurationDist::fixed(90 * kSecond));
  EXPECT_EQ(prov.model_load, DurationDist::uniform(kMinute, 3 * kMinute));
  EXPECT_FALSE(prov.node_join.has_value());
  EXPECT_EQ(prov.weights_download_gibps, 0.25);

  // Manifests: two documents from the file, then the inline one.
  ASSERT_EQ(s.manifests.size(), 3u);
  const ManifestSource& phi = s.manifests[0];
  EXPECT_TRUE(phi.is_workspace());
  EXPECT_EQ(phi.key(), "Workspace/default/workspace-phi-3-mini");
  EXPECT_EQ(phi.file, path("workspaces/phi-3-mini.yaml"));
  EXPECT_EQ(phi.line, 1);
  EXPECT_EQ(phi.at, 0);
  EXPECT_EQ(phi.manifest["metadata"]["namespace"], "default");
  EXPECT_EQ(phi.manifest["inference"]["preset"]["name"], "phi-3-mini-4k-instruct");
  EXPECT_EQ(std::string(phi.error("/resource/instanceType", "unknown SKU").what()),
            path("workspaces/phi-3-mini.yaml") + ":6:17: resource.instanceType: unknown SKU");
  const ManifestSource& cm = s.manifests[1];
  EXPECT_EQ(cm.key(), "ConfigMap/kaito/phi-3-config");
  EXPECT_FALSE(cm.is_workspace());
  EXPECT_EQ(cm.line, 14);
  const ManifestSource& falcon = s.manifests[2];
  EXPECT_EQ(falcon.key(), "Workspace/team-a/workspace-falcon");
  EXPECT_EQ(falcon.file, file);
  EXPECT_EQ(falcon.line, 23);
  EXPECT_EQ(falcon.at, 10 * kMinute);
  EXPECT_EQ(std::string(falcon.error("/resource/instanceType", "unknown SKU").what()),
            file + ":26:32: workspaces[1].manifest.resource.instanceType: unknown SKU");

  // Traffic.
  ASSERT_EQ(s.traffic.size(), 4u);
  const TrafficSpec& t0 = s.traffic[0];
  EXPECT_EQ(t0.workspace, (WorkspaceRef{"default", "workspace-phi-3-mini"}));
  EXPECT_EQ(t0.start, 15 * kMinute);
  EXPECT_EQ(t0.end, std::optional<Duration>(kHour));
  EXPECT_EQ(t0.arrival.process, ArrivalProcess::kPoisson);
  EXPECT_DOUBLE_EQ(t0.arrival.rate_per_second, 2.0);
  EXPECT_EQ(t0.arrival.to_string(), "poisson 2/s");
  EXPECT_EQ(t0.prompt_tokens->to_string(), "lognormal median 400 p90 1200");
  EXPECT_EQ(t0.output_tokens->to_string(), "fixed 128");
  const TrafficSpec& t1 = s.traffic[1];
  EXPECT_EQ(t1.workspace.to_string(), "team-a/workspace-falcon");
  EXPECT_EQ(t1.arrival.to_string(), "gamma 2/s cv 2");
  EXPECT_EQ(t1.prompt_tokens->kind, TokenDist::Kind::kEmpirical);
  EXPECT_EQ(*t1.prompt_tokens->samples, (std::vector<int64_t>{120, 800, 40}));
  EXPECT_EQ(t1.output_tokens->value, 64);
  EXPECT_FALSE(t1.end.has_value());
  const TrafficSpec& t2 = s.traffic[2];
  EXPECT_EQ(t2.arrival.concurrency, 8);
  EXPECT_EQ(t2.arrival.think_time, DurationDist::exponential(2 * kSecond));
  EXPECT_EQ(t2.prompt_tokens->to_string(), "uniform 100..200");
  const TrafficSpec& t3 = s.traffic[3];
  EXPECT_EQ(t3.arrival.process, ArrivalProcess::kTrace);
  EXPECT_EQ(t3.arrival.resolved_trace_file, path("data/trace.csv"));
  EXPECT_FALSE(t3.prompt_tokens.has_value());

  // Timeline, in file order.
  std::vector<std::string> texts;
  for (const auto& a : s.timeline) texts.push_back(format_duration(a.at) + " " + a.text());
  std::vector<std::string> want = {
      "40m scale workspace-phi-3-mini to 2",
      "1h10m fail 1 node of workspace-phi-3-mini",
      "1h15m fail node gpu-0",
      "1h30m delete Workspace/workspace-phi-3-mini",
      "20m set quota of Standard_NC6s_v3 to 0",
      "5m capacity outage of Standard_NC24ads_A100_v4 for 30m",
      "10m apply Workspace/workspace-extra",
  };
  EXPECT_EQ(texts, want);
  const auto& apply = std::get<ApplyAction>(s.timeline[6].action);
  ASSERT_EQ(apply.manifests.size(), 1u);
  EXPECT_EQ(apply.manifests[0].at, 10 * kMinute);
  EXPECT_EQ(s.timeline[6].line, 53);
  ASSERT_NE(s.find_workspace({"default", "workspace-extra"}), nullptr);
  EXPECT_EQ(s.find_workspace({"default", "workspace-falcon"}), nullptr);

  // Expectations.
  std::vector<std::string> expect_texts;
  for (const auto& e : s.expect) expect_texts.push_back(e.text());
  std::vector<std::string> want_expect = {
      "workspace-phi-3-mini ready within 25m",
      "team-a/workspace-falcon never ready",
      "workspace-phi-3-mini condition InferenceReady=True (reason WorkspaceInferenceStatusSuccess)",
      "workspace-phi-3-mini nodeclaims <= 1",
      "workspace-phi-3-mini ttft_p95 below 2s",
      "workspace-phi-3-mini output_throughput above 100 tok/s",
      "workspace-phi-3-mini state Ready",
      "workspace-extra nodeclaims between 1 and 3",
  };
  EXPECT_EQ(expect_texts, want_expect);
  EXPECT_DOUBLE_EQ(s.expect[4].threshold, 2.0);
  EXPECT_EQ(s.expect[4].unit, MetricUnit::kSeconds);
  EXPECT_DOUBLE_EQ(s.expect[5].threshold, 100.0);
  EXPECT_FALSE(s.expect[5].below);

  // The hash covers the scenario and every referenced file.
  EXPECT_EQ(s.scenario_hash.size(), 64u);
  EXPECT_EQ(load_scenario(file).scenario_hash, s.scenario_hash);
  write("data/trace.csv", "t,prompt,output\n0.0,100,21\n");
  std::string h2 = load_scenario(file).scenario_hash;
  EXPECT_NE(h2, s.scenario_hash);
  write("workspaces/extra.yaml",
        "apiVersion: kaito.sh/v1beta1\nkind: Workspace\nmetadata: {name: workspace-extra}\n# edited\n");
  EXPECT_NE(load_scenario(file).scenario_hash, h2);
}

TEST_F(ScenarioTest, DefaultsForOptionalFields) {
  Scenario s = parse_scenario(std::string(kHead), path("scenario.yaml"));
  EXPECT_EQ(s.seed, 1u);
  EXPECT_EQ(s.cluster.cloud, CloudKind::kAzure);
  EXPECT_EQ(s.cluster.region, "eastus");
  EXPECT_EQ(s.cluster.node_provisioner, ProvisionerKind::kGpuProvisioner);
  EXPECT_TRUE(s.cluster.quota.empty());
  EXPECT_TRUE(s.traffic.empty());
  ASSERT_EQ(s.manifests.size(), 1u);
  EXPECT_EQ(s.manifests[0].namespace_, "default");
  EXPECT_EQ(s.manifests[0].line, 4);
  Scenario aws = parse_scenario("name: t\nduration: 1h\ncluster: {cloud: aws}\n", path("scenario.yaml"));
  EXPECT_EQ(aws.cluster.region, "us-east-1");
}

// --- bad input: one test per kind ---------------------------------------------------------------

TEST_F(ScenarioTest, MissingFile) {
  try {
    load_scenario(path("nope.yaml"));
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), path("nope.yaml") + ": cannot read scenario file: no such file or directory");
    EXPECT_EQ(e.line(), 0);
  }
}

TEST_F(ScenarioTest, YamlSyntaxError) {
  EXPECT_EQ(error_of("name: t\nduration: [2h\nseed: 1\n"),
            at(3, 5) + "YAML syntax error: end of sequence flow not found");
}

TEST_F(ScenarioTest, UnknownKeyWithSuggestion) {
  EXPECT_EQ(error_of(std::string(kHead) + "durtion: 2h\n"),
            at(5, 1) + "durtion: unknown field \"durtion\" (did you mean \"duration\"?)");
  EXPECT_EQ(error_of(std::string(kHead) + "cluster:\n  regoin: eastus\n"),
            at(6, 3) + "cluster.regoin: unknown field \"regoin\" (did you mean \"region\"?)");
  EXPECT_EQ(error_of(std::string(kHead) + "cluster:\n  zzz: 1\n"),
            at(6, 3) +
                "cluster.zzz: unknown field \"zzz\"; expected one of: cloud, region, node_provisioner, "
                "quota, nodes, provisioning, datasets");
}

TEST_F(ScenarioTest, MissingRequiredField) {
  EXPECT_EQ(error_of("duration: 2h\n"), at(1, 1) + "name: required field is missing");
  EXPECT_EQ(error_of("name: t\n"), at(1, 1) + "duration: required field is missing");
}

TEST_F(ScenarioTest, WrongType) {
  EXPECT_EQ(error_of(std::string(kHead) + "seed: abc\n"), at(5, 7) + "seed: expected an integer, got \"abc\"");
  EXPECT_EQ(error_of(std::string(kHead) + "traffic: {workspace: x}\n"),
            at(5, 10) + "traffic: expected a list, got a map");
  EXPECT_EQ(error_of(std::string(kHead) + "cluster: {cloud: gcp}\n"),
            at(5, 18) + "cluster.cloud: unknown cloud \"gcp\"; expected one of: azure, aws, arc");
  EXPECT_EQ(error_of(std::string(kHead) + "cluster: {cloud: azur}\n"),
            at(5, 18) + "cluster.cloud: unknown cloud \"azur\" (did you mean \"azure\"?)");
}

TEST_F(ScenarioTest, DurationWithoutUnit) {
  EXPECT_EQ(error_of("name: t\nduration: 15\n"),
            at(2, 11) + "duration: duration 15 has no unit; expected a number with a unit (e.g. 90s, 15m, 2h)");
}

TEST_F(ScenarioTest, DurationNotADuration) {
  EXPECT_EQ(error_of("name: t\nduration: abc\n"),
            at(2, 11) + "duration: invalid duration \"abc\"; expected a number with a unit (e.g. 90s, 15m, 2h)");
  EXPECT_EQ(error_of("name: t\nduration: 0s\n"), at(2, 11) + "duration: must be positive, got 0s");
}

TEST_F(ScenarioTest, NegativeValues) {
  EXPECT_EQ(error_of(std::string(kHead) + "cluster:\n  quota: {Standard_NC6s_v3: -1}\n"),
            at(6, 29) + "cluster.quota.Standard_NC6s_v3: must not be negative, got -1");
  EXPECT_EQ(error_of(std::string(kHead) + "seed: -3\n"), at(5, 7) + "seed: must not be negative, got -3");
  EXPECT_EQ(
      error_of(std::string(kHead) + "timeline:\n  - {at: 10m, scale: {workspace: workspace-phi-3-mini, count: -2}}\n"),
      at(6, 63) + "timeline[0].scale.count: must not be negative, got -2");
}

TEST_F(ScenarioTest, TrafficForUndefinedWorkspace) {
  EXPECT_EQ(error_of(std::string(kHead) + "traffic:\n"
                                          "  - workspace: workspace-phi3-mini\n"
                                          "    arrival: {process: poisson, rate: 2/s}\n"
                                          "    prompt_tokens: 100\n"
                                          "    output_tokens: 100\n"),
            at(6, 16) +
                "traffic[0].workspace: no Workspace \"workspace-phi3-mini\" is defined in workspaces "
                "(did you mean \"workspace-phi-3-mini\"?)");
  EXPECT_EQ(error_of("name: t\nduration: 1h\nexpect:\n  - {workspace: other, ready_within: 10m}\n"),
            at(4, 17) + "expect[0].workspace: no Workspace \"other\" is defined in workspaces (none are)");
}

TEST_F(ScenarioTest, TimelineActionBeforeStart) {
  EXPECT_EQ(
      error_of(std::string(kHead) + "timeline:\n  - {at: -5m, scale: {workspace: workspace-phi-3-mini, count: 2}}\n"),
      at(6, 10) + "timeline[0].at: must not be negative, got -5m");
}

TEST_F(ScenarioTest, TimelineActionAfterEnd) {
  EXPECT_EQ(error_of(std::string(kHead) + "timeline:\n  - {at: 3h, delete: workspace/workspace-phi-3-mini}\n"),
            at(6, 10) + "timeline[0].at: 3h is after the end of the run (duration 2h)");
}

TEST_F(ScenarioTest, TimelineActionShape) {
  EXPECT_EQ(error_of(std::string(kHead) + "timeline:\n  - {at: 1h}\n"),
            at(6, 5) +
                "timeline[0]: expected an action: one of scale, fail_node, delete, set_quota, "
                "capacity_outage, registry_outage, apply");
  EXPECT_EQ(error_of(std::string(kHead) + "timeline:\n  - {at: 1h, delete: workspace/workspace-phi-3-mini, "
                                          "set_quota: {sku: a, count: 1}}\n"),
            at(6, 54) +
                "timeline[0].set_quota: only one of scale, fail_node, delete, set_quota, capacity_outage, "
                "registry_outage, apply may be given; found delete and set_quota");
  EXPECT_EQ(error_of(std::string(kHead) + "timeline:\n  - {at: 1h, delete: workspaces/x/y/z}\n"),
            at(6, 22) +
                "timeline[0].delete: expected kind/name or kind/namespace/name (e.g. "
                "workspace/workspace-phi-3-mini), got \"workspaces/x/y/z\"");
  EXPECT_EQ(error_of(std::string(kHead) + "timeline:\n  - {at: 1h, delete: worksapce/x}\n"),
            at(6, 22) + "timeline[0].delete: unknown kind \"worksapce\" (did you mean \"workspace\"?)");
}

TEST_F(ScenarioTest, RateNeedsAUnit) {
  EXPECT_EQ(error_of(std::string(kHead) + "traffic:\n"
                                          "  - workspace: workspace-phi-3-mini\n"
                                          "    arrival: {process: poisson, rate: 0.5}\n"
                                          "    prompt_tokens: 100\n"
                                          "    output_tokens: 100\n"),
            at(7, 39) +
                "traffic[0].arrival.rate: rate 0.5 has no unit; expected requests per time unit "
                "(e.g. 2/s, 120/m, 7200/h)");
  EXPECT_EQ(error_of(std::string(kHead) + "traffic:\n"
                                          "  - workspace: workspace-phi-3-mini\n"
                                          "    arrival: {process: posson, rate: 2/s}\n"),
            at(7, 24) + "traffic[0].arrival.process: unknown arrival process \"posson\" (did you mean \"poisson\"?)");
}

TEST_F(ScenarioTest, BadDistributions) {
  EXPECT_EQ(error_of(std::string(kHead) +
                     "cluster:\n  provisioning:\n    vm_create: {dist: lognormal, median: 5m, p90: 2m}\n"),
            at(7, 51) + "cluster.provisioning.vm_create.p90: p90 (2m) must not be below median (5m)");
  EXPECT_EQ(error_of(std::string(kHead) + "cluster:\n  provisioning:\n    vm_create: {dist: normal, mean: 5m}\n"),
            at(7, 23) +
                "cluster.provisioning.vm_create.dist: unknown distribution \"normal\"; expected one of: "
                "fixed, uniform, lognormal, exponential");
  EXPECT_EQ(error_of(std::string(kHead) + "cluster:\n  provisioning:\n    vm_create: {dist: fixed, valeu: 5m}\n"),
            at(7, 30) + "cluster.provisioning.vm_create.valeu: unknown field \"valeu\" (did you mean \"value\"?)");
  EXPECT_EQ(error_of(std::string(kHead) + "traffic:\n"
                                          "  - workspace: workspace-phi-3-mini\n"
                                          "    arrival: {process: poisson, rate: 2/s}\n"
                                          "    prompt_tokens: {dist: uniform, min: 300, max: 200}\n"
                                          "    output_tokens: 0\n"),
            at(8, 51) + "traffic[0].prompt_tokens.max: max (200) must not be below min (300)");
}

TEST_F(ScenarioTest, BadExpectations) {
  EXPECT_EQ(
      error_of(std::string(kHead) + "expect:\n  - {workspace: workspace-phi-3-mini, metric: ttft_p59, below: 2s}\n"),
      at(6, 47) + "expect[0].metric: unknown metric \"ttft_p59\" (did you mean \"ttft_p50\"?)");
  EXPECT_EQ(error_of(std::string(kHead) +
                     "expect:\n  - {workspace: workspace-phi-3-mini, metric: ttft_p95, below: 5 tok/s}\n"),
            at(6, 64) + "expect[0].below: ttft_p95 is compared with a time such as 2s or 500ms, got \"5 tok/s\"");
  EXPECT_EQ(error_of(std::string(kHead) + "expect:\n  - {workspace: workspace-phi-3-mini, metric: ttft_p95}\n"),
            at(6, 5) + "expect[0]: expected a bound for ttft_p95: one of below, above");
  EXPECT_EQ(error_of(std::string(kHead) +
                     "expect:\n  - {workspace: workspace-phi-3-mini, metric: kv_cache_usage_max, below: 120%}\n"),
            at(6, 74) + "expect[0].below: kv_cache_usage_max is a fraction between 0 and 1 (or 0% to 100%), got 120%");
  EXPECT_EQ(
      error_of(std::string(kHead) +
               "expect:\n  - {workspace: workspace-phi-3-mini, metric: kv_cache_usage_mean, above: 2s}\n"),
      at(6, 75) + "expect[0].above: kv_cache_usage_mean is compared with a fraction such as 0.9 or 90%, got \"2s\"");
}

TEST_F(ScenarioTest, ManifestWithoutName) {
  write("ws.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: kaito.sh/v1beta1\nkind: Workspace\n"
        "metadata:\n  labels: {a: b}\n");
  EXPECT_EQ(error_of("name: t\nduration: 1h\nworkspaces:\n  - file: ws.yaml\n"),
            path("ws.yaml") + ":8:3: metadata.name: required field is missing");
}

TEST_F(ScenarioTest, ManifestFileMissing) {
  EXPECT_EQ(error_of("name: t\nduration: 1h\nworkspaces:\n  - file: missing.yaml\n"),
            at(4, 11) + "workspaces[0].file: cannot read manifest file \"missing.yaml\" (" + path("missing.yaml") +
                "): no such file or directory");
}

TEST_F(ScenarioTest, DuplicateManifest) {
  EXPECT_EQ(
      error_of(
          std::string(kHead) +
          "  - manifest: {apiVersion: kaito.sh/v1beta1, kind: Workspace, metadata: {name: workspace-phi-3-mini}}\n"),
      at(5, 80) +
          "workspaces[1].manifest.metadata.name: Workspace/default/workspace-phi-3-mini is defined twice "
          "(first at " +
          path("scenario.yaml") + ":4)");
}

TEST(ParseRateTest, Forms) {
  EXPECT_DOUBLE_EQ(*parse_rate("2/s"), 2.0);
  EXPECT_DOUBLE_EQ(*parse_rate("120/m"), 2.0);
  EXPECT_DOUBLE_EQ(*parse_rate("7200/h"), 2.0);
  EXPECT_DOUBLE_EQ(*parse_rate("0.5 / min"), 0.5 / 60);
  EXPECT_FALSE(parse_rate("2"));
  EXPECT_FALSE(parse_rate("2/d"));
  EXPECT_FALSE(parse_rate("abc/s"));
  EXPECT_FALSE(parse_rate("-1/s"));
  EXPECT_FALSE(parse_rate("inf/s"));
}

TEST(MetricUnitTest, KnownNames) {
  EXPECT_EQ(metric_unit("ttft_p95"), MetricUnit::kSeconds);
  EXPECT_EQ(metric_unit("e2el"), MetricUnit::kSeconds);
  EXPECT_EQ(metric_unit("output_throughput"), MetricUnit::kTokensPerSecond);
  EXPECT_EQ(metric_unit("request_throughput"), MetricUnit::kRequestsPerSecond);
  EXPECT_FALSE(metric_unit("ttft_p59").has_value());
}

}  // namespace
}  // namespace ktwin::sim

namespace ktwin::sim {
namespace {

const char* kGenericModel =
    "models:\n"                             // 5
    "  - hf_id: acme/tiny-7b\n"             // 6
    "    weights_gib: 13.5\n"               // 7
    "    max_position_embeddings: 32768\n"  // 8
    "    architecture: {num_layers: 32, hidden_size: 4096, num_attention_heads: 32, num_kv_heads: 8,"
    " intermediate_size: 14336, vocab_size: 32000, params_billion: 7.2, attention: GQA}\n";  // 9

TEST_F(ScenarioTest, GenericModelsGetKaitosDerivedNumbers) {
  const Scenario s = load_scenario(write("scenario.yaml", std::string(kHead) + kGenericModel));
  ASSERT_EQ(s.models.size(), 1u);
  const ModelPreset& p = s.models[0].preset;
  EXPECT_EQ(p.name, "acme/tiny-7b");
  EXPECT_EQ(p.model_token_limit, 32768);
  EXPECT_EQ(p.bytes_per_token, 2 * 32 * 8 * 128 * 2);  // K and V, layers, KV heads, head_dim 4096/32, fp16
  EXPECT_EQ(p.disk_gib, 14 + 80);
  EXPECT_TRUE(p.supports_distributed);
  EXPECT_FALSE(p.tuning);

  // The run's catalog knows it; a model KAITO already ships is refused where it is written.
  const std::string dup =
      std::string(kHead) +
      "models:\n  - hf_id: microsoft/Phi-3-mini-4k-instruct\n    weights_gib: 7\n"
      "    architecture: {num_layers: 32, hidden_size: 3072, num_attention_heads: 32, num_kv_heads: 32,"
      " intermediate_size: 8192, vocab_size: 32064, params_billion: 3.8, attention: MHA}\n";
  const Scenario d = load_scenario(write("scenario.yaml", dup));
  try {
    (void)run_scenario(d, catalog::default_catalog());
    ADD_FAILURE() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(at(6, 12) + "models[0].hf_id:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("KAITO already has this model"), std::string::npos) << e.what();
  }
}

TEST_F(ScenarioTest, GenericModelErrors) {
  const std::string head(kHead);
  EXPECT_EQ(error_of(head + "models:\n  - {hf_id: tiny, weights_gib: 1, architecture: {}}\n"),
            at(6, 13) + "models[0].hf_id: must look like \"org/model\" (a Hugging Face repository id)");
  EXPECT_NE(
      error_of(head + "models:\n  - {hf_id: a/b, weights_gib: 1}\n").find("missing required field \"architecture\""),
      std::string::npos);
  EXPECT_NE(error_of(head + kGenericModel +
                     "  - hf_id: acme/tiny-7b\n    weights_gib: 1\n"
                     "    architecture: {num_layers: 1, hidden_size: 64, num_attention_heads: 1,"
                     " num_kv_heads: 1, intermediate_size: 64, vocab_size: 10, params_billion: 0.1, attention: MHA}\n")
                .find("model \"acme/tiny-7b\" is already described at line 6"),
            std::string::npos);
}

// `ktwin operator --models FILE`: the forms `ktwin plan --model` reads, and the catalog they extend.
TEST_F(ScenarioTest, GenericModelsFileTakesAnEntryAListOrAScenario) {
  const std::string entry = std::string(kGenericModel).substr(std::string("models:\n").size());
  const std::string one = entry.substr(4);  // one mapping, unindented
  std::string mapping;
  for (size_t at = 0; at < one.size();) {
    const size_t nl = one.find('\n', at);
    std::string line = one.substr(at, nl - at);
    mapping += (line.rfind("    ", 0) == 0 ? line.substr(4) : line) + "\n";
    at = nl + 1;
  }
  for (const auto& [name, text] :
       std::vector<std::pair<std::string, std::string>>{{"entry.yaml", mapping},
                                                        {"list.yaml", entry},
                                                        {"models.yaml", kGenericModel},
                                                        {"scenario.yaml", std::string(kHead) + kGenericModel}}) {
    const auto models = load_generic_models(write(name, text));
    ASSERT_EQ(models.size(), 1u) << name;
    EXPECT_EQ(models[0].preset.name, "acme/tiny-7b") << name;
    const catalog::Catalog cat = with_generic_models(catalog::default_catalog(), models);
    EXPECT_NE(cat.presets.find("acme/tiny-7b"), nullptr) << name;
    EXPECT_EQ(catalog::default_catalog().presets.find("acme/tiny-7b"), nullptr) << "the base catalog is unchanged";
  }

  auto error = [&](const std::string& text) {
    try {
      (void)with_generic_models(catalog::default_catalog(), load_generic_models(write("m.yaml", text)));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    ADD_FAILURE() << "no error for:\n" << text;
    return std::string();
  };
  EXPECT_EQ(error("name: x\n"), path("m.yaml") +
                                    ":1:1: expected a model description with hf_id, a list of them, or a scenario "
                                    "with models:");
  EXPECT_NE(error(std::string(kGenericModel) + entry).find("model \"acme/tiny-7b\" is already described at line 2"),
            std::string::npos);
  const std::string kaito_preset = error(
      "- {hf_id: microsoft/Phi-3-mini-4k-instruct, weights_gib: 7, architecture: {num_layers: 32, "
      "hidden_size: 3072, num_attention_heads: 32, num_kv_heads: 32, intermediate_size: 8192, "
      "vocab_size: 32064, params_billion: 3.8, attention: MHA}}\n");
  EXPECT_NE(kaito_preset.find(":1:11: [0].hf_id: "), std::string::npos) << kaito_preset;
  EXPECT_NE(kaito_preset.find("KAITO already has this model"), std::string::npos) << kaito_preset;
  try {
    (void)load_generic_models(path("absent.yaml"));
    ADD_FAILURE() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read models file"), std::string::npos) << e.what();
  }
}

}  // namespace
TEST_F(ScenarioTest, GatewayTrafficOverSeveralWorkspaces) {
  const std::string two =
      std::string(kHead) + "  - manifest: {apiVersion: kaito.sh/v1beta1, kind: Workspace, metadata: {name: other}}\n";
  const std::string tokens = ", prompt_tokens: 100, output_tokens: 100}\n";
  const std::string ok =
      two + "traffic:\n  - {workspaces: [workspace-phi-3-mini, other], arrival: {process: poisson, rate: 2/s}" + tokens;
  const Scenario sc = parse_scenario(ok, path("scenario.yaml"));
  ASSERT_EQ(sc.traffic.size(), 1u);
  ASSERT_EQ(sc.traffic[0].pool.size(), 2u);
  EXPECT_EQ(sc.traffic[0].workspace.name, "workspace-phi-3-mini");
  EXPECT_EQ(sc.traffic[0].pool[1].name, "other");

  EXPECT_EQ(error_of(two + "traffic:\n  - {workspace: other, workspaces: [workspace-phi-3-mini, other]" + tokens),
            at(7, 36) +
                "traffic[0].workspaces: give workspace (one target) or workspaces (a gateway over several), "
                "not both");
  EXPECT_EQ(error_of(two + "traffic:\n  - {workspaces: [other]" + tokens),
            at(7, 18) + "traffic[0].workspaces: a gateway needs at least two workspaces; use workspace:");
  EXPECT_EQ(error_of(two + "traffic:\n  - {workspaces: [other, other]" + tokens),
            at(7, 26) + "traffic[0].workspaces[1]: \"other\" is listed twice");
  const std::string missing =
      error_of(two + "traffic:\n  - {workspaces: [other, missing], arrival: {process: poisson, rate: 2/s}" + tokens);
  EXPECT_NE(missing.find("traffic[0].workspaces[1]: no Workspace \"missing\" is defined"), std::string::npos)
      << missing;
}

}  // namespace ktwin::sim
