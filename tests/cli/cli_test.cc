// `ktwin` as a user runs it: exit codes, messages naming file:line:column, nothing written on bad
// input, byte-identical output files across runs.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

namespace fs = std::filesystem;

struct CmdResult {
  int code = -1;
  std::string output;  // stdout + stderr
};

CmdResult ktwin(const std::string& args) {
  std::string cmd = std::string(KTWIN_BINARY) + " " + args + " 2>&1";
  CmdResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ktwin-cli-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  static std::string read(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  fs::path dir_;
};

const std::string kSource = KTWIN_SOURCE_DIR;

TEST_F(CliTest, QuickstartRunsAndWritesSummaryAndEvents) {
  const std::string summary = (dir_ / "s.json").string(), events = (dir_ / "e.jsonl").string();
  CmdResult r =
      ktwin("run " + kSource + "/scenarios/quickstart-phi3.yaml --summary-json " + summary + " --events " + events);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("WORKSPACESUCCEEDED"), std::string::npos);
  EXPECT_NE(r.output.find("PASSED"), std::string::npos);
  const std::string s = read(summary);
  for (const char* key : {"\"scenario\"", "\"seed\"", "\"fingerprint\"", "\"sim_end_s\"", "\"workspaces\"",
                          "\"target_node_count\"", "\"ready_at_s\"", "\"conditions\"", "\"nodeclaims_created\"",
                          "\"nodes\"", "\"instance_type\"", "\"expectations\"", "\"passed\""})
    EXPECT_NE(s.find(key), std::string::npos) << key;
  const std::string first = read(events);
  EXPECT_NE(first.find("\"t_s\""), std::string::npos);
  ASSERT_EQ(ktwin("run " + kSource + "/scenarios/quickstart-phi3.yaml --quiet --events " + events).code, 0);
  EXPECT_EQ(first, read(events));
}

TEST_F(CliTest, CheckDeterminismPasses) {
  CmdResult r = ktwin("run " + kSource + "/scenarios/quickstart-phi3.yaml --quiet --check-determinism");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("identical"), std::string::npos);
}

TEST_F(CliTest, FailedExpectationExitsOne) {
  const std::string ws = write("ws.yaml", read(kSource + "/scenarios/workspaces/phi-3-mini.yaml"));
  const std::string sc = write("sc.yaml",
                               "name: too-fast\nduration: 30m\nworkspaces:\n  - file: ws.yaml\n"
                               "expect:\n  - {workspace: workspace-phi-3-mini, ready_within: 2m}\n");
  (void)ws;
  CmdResult r = ktwin("run " + sc + " --quiet");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("FAIL"), std::string::npos);
}

struct BadInput {
  const char* name;
  const char* scenario;  // written to bad.yaml beside ws.yaml (the quickstart Workspace)
  const char* expected;  // the whole output after "error: "; {f} = bad.yaml's path, {d} = its directory
};

class BadScenario : public CliTest, public ::testing::WithParamInterface<BadInput> {};

std::string expand(std::string s, const std::string& f, const std::string& d) {
  for (size_t at; (at = s.find("{f}")) != std::string::npos;) s.replace(at, 3, f);
  for (size_t at; (at = s.find("{d}")) != std::string::npos;) s.replace(at, 3, d);
  return s;
}

// Each kind of broken scenario: the exact message (file:line:column, field path, what was expected), exit
// code 2, and no output file written, not even the directory for it.
TEST_P(BadScenario, ExitsTwoWithTheExactMessageAndWritesNothing) {
  const BadInput& c = GetParam();
  write("ws.yaml", read(kSource + "/scenarios/workspaces/phi-3-mini.yaml"));
  const std::string sc = write("bad.yaml", c.scenario);
  const fs::path out = dir_ / "out";
  CmdResult r =
      ktwin("run " + sc + " --summary-json " + (out / "s.json").string() + " --events " + (out / "e.jsonl").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_EQ(r.output, "error: " + expand(c.expected, sc, dir_.string()) + "\n");
  EXPECT_FALSE(fs::exists(out));
}

const BadInput kBadInputs[] = {
    {"yaml_syntax", "name: x\nduration: [30m\n", "{f}:3:1: YAML syntax error: end of sequence flow not found"},
    {"tab_indentation", "name: x\nduration: 30m\nworkspaces:\n\t- file: ws.yaml\n",
     "{f}:4:2: YAML syntax error: illegal block entry"},
    {"duplicate_key", "name: x\nduration: 30m\nduration: 1h\n", "{f}:3:1: duration: duplicate key \"duration\""},
    {"empty_file", "", "{f}: scenario file is empty"},
    {"unknown_key", "name: x\nduraton: 30m\nworkspaces:\n  - file: ws.yaml\n",
     "{f}:2:1: duraton: unknown field \"duraton\" (did you mean \"duration\"?)"},
    {"unknown_nested_key", "name: x\nduration: 30m\ncluster:\n  provisioing: {}\nworkspaces:\n  - file: ws.yaml\n",
     "{f}:4:3: cluster.provisioing: unknown field \"provisioing\" (did you mean \"provisioning\"?)"},
    {"name_missing", "duration: 30m\nworkspaces:\n  - file: ws.yaml\n", "{f}:1:1: name: required field is missing"},
    {"seed_wrong_type", "name: x\nduration: 30m\nseed: abc\nworkspaces:\n  - file: ws.yaml\n",
     "{f}:3:7: seed: expected an integer, got \"abc\""},
    {"duration_without_unit", "name: x\nduration: 15\nworkspaces:\n  - file: ws.yaml\n",
     "{f}:2:11: duration: duration 15 has no unit; expected a number with a unit (e.g. 90s, 15m, 2h)"},
    {"duration_negative", "name: x\nduration: -5m\nworkspaces:\n  - file: ws.yaml\n",
     "{f}:2:11: duration: must be positive, got -5m"},
    {"metrics_window_without_unit", "name: x\nduration: 30m\nmetrics_window: 60\nworkspaces:\n  - file: ws.yaml\n",
     "{f}:3:17: metrics_window: duration 60 has no unit; expected a number with a unit (e.g. 90s, 15m, 2h)"},
    {"workspace_file_missing", "name: x\nduration: 30m\nworkspaces:\n  - file: nope.yaml\n",
     "{f}:4:11: workspaces[0].file: cannot read manifest file \"nope.yaml\" ({d}/nope.yaml): no such file or "
     "directory"},
    {"manifest_not_a_map", "name: x\nduration: 30m\nworkspaces:\n  - manifest: [1, 2]\n",
     "{f}:4:15: workspaces[0].manifest: expected a Kubernetes object (a map with apiVersion, kind and metadata), got a "
     "list"},
    {"workspace_defined_twice", "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\n  - file: ws.yaml\n",
     "{d}/ws.yaml:5:9: metadata.name: Workspace/default/workspace-phi-3-mini is defined twice (first at "
     "{d}/ws.yaml:2)"},
    {"unknown_cloud", "name: x\nduration: 30m\ncluster: {cloud: gcp}\nworkspaces:\n  - file: ws.yaml\n",
     "{f}:3:18: cluster.cloud: unknown cloud \"gcp\"; expected one of: azure, aws, arc"},
    {"unknown_node_provisioner",
     "name: x\nduration: 30m\ncluster: {node_provisioner: karpentr}\nworkspaces:\n  - file: ws.yaml\n",
     "{f}:3:29: cluster.node_provisioner: unknown node provisioner \"karpentr\" (did you mean \"karpenter\"?)"},
    {"provisioning_p90_below_median",
     "name: x\nduration: 30m\ncluster:\n  provisioning:\n    vm_create: {dist: lognormal, median: 5m, p90: "
     "2m}\nworkspaces:\n  - file: ws.yaml\n",
     "{f}:5:51: cluster.provisioning.vm_create.p90: p90 (2m) must not be below median (5m)"},
    {"traffic_unknown_workspace",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntraffic:\n  - {workspace: phi3, arrival: {process: "
     "poisson, rate: 2/s}, prompt_tokens: 100, output_tokens: 10}\n",
     "{f}:6:17: traffic[0].workspace: no Workspace \"phi3\" is defined in workspaces; defined: workspace-phi-3-mini"},
    {"rate_negative",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntraffic:\n  - {workspace: workspace-phi-3-mini, arrival: "
     "{process: poisson, rate: -2/s}, prompt_tokens: 100, output_tokens: 10}\n",
     "{f}:6:73: traffic[0].arrival.rate: must be positive, got \"-2/s\""},
    {"rate_without_unit",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntraffic:\n  - {workspace: workspace-phi-3-mini, arrival: "
     "{process: poisson, rate: 5}, prompt_tokens: 100, output_tokens: 10}\n",
     "{f}:6:73: traffic[0].arrival.rate: rate 5 has no unit; expected requests per time unit (e.g. 2/s, 120/m, "
     "7200/h)"},
    {"unknown_arrival_process",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntraffic:\n  - {workspace: workspace-phi-3-mini, arrival: "
     "{process: possion, rate: 2/s}, prompt_tokens: 100, output_tokens: 10}\n",
     "{f}:6:58: traffic[0].arrival.process: unknown arrival process \"possion\" (did you mean \"poisson\"?)"},
    {"closed_loop_without_clients",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntraffic:\n  - {workspace: workspace-phi-3-mini, arrival: "
     "{process: closed_loop, concurrency: 0}, prompt_tokens: 100, output_tokens: 10}\n",
     "{f}:6:84: traffic[0].arrival.concurrency: must be at least 1, got 0"},
    {"traffic_ends_before_start",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntraffic:\n  - {workspace: workspace-phi-3-mini, start: "
     "20m, end: 10m, arrival: {process: poisson, rate: 2/s}, prompt_tokens: 100, output_tokens: 10}\n",
     "{f}:6:56: traffic[0].end: end (10m) must be after start (20m)"},
    {"unknown_token_distribution",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntraffic:\n  - {workspace: workspace-phi-3-mini, arrival: "
     "{process: poisson, rate: 2/s}, prompt_tokens: {dist: gaussian, mean: 5}, output_tokens: 10}\n",
     "{f}:6:101: traffic[0].prompt_tokens.dist: unknown distribution \"gaussian\"; expected one of: fixed, uniform, "
     "lognormal, empirical"},
    {"lognormal_p90_below_median",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntraffic:\n  - {workspace: workspace-phi-3-mini, arrival: "
     "{process: poisson, rate: 2/s}, prompt_tokens: {dist: lognormal, median: 500, p90: 100}, output_tokens: 10}\n",
     "{f}:6:130: traffic[0].prompt_tokens.p90: p90 (100) must not be below median (500)"},
    {"uniform_max_below_min",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntraffic:\n  - {workspace: workspace-phi-3-mini, arrival: "
     "{process: poisson, rate: 2/s}, prompt_tokens: {dist: uniform, min: 300, max: 200}, output_tokens: 10}\n",
     "{f}:6:125: traffic[0].prompt_tokens.max: max (200) must not be below min (300)"},
    {"trace_file_missing",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntraffic:\n  - {workspace: workspace-phi-3-mini, arrival: "
     "{process: trace, trace: absent.csv}}\n",
     "{f}:6:72: traffic[0].arrival.trace: cannot read trace file \"absent.csv\" ({d}/absent.csv): no such file or "
     "directory"},
    {"timeline_before_time_zero",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntimeline:\n  - {at: -1m, delete: {workspace: "
     "workspace-phi-3-mini}}\n",
     "{f}:6:10: timeline[0].at: must not be negative, got -1m"},
    {"timeline_after_the_end",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntimeline:\n  - {at: 2h, delete: {workspace: "
     "workspace-phi-3-mini}}\n",
     "{f}:6:10: timeline[0].at: 2h is after the end of the run (duration 30m)"},
    {"registry_with_path",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntimeline:\n  - {at: 1m, registry_outage: {registry: "
     "a.io/x, duration: 5m}}\n",
     "{f}:6:42: timeline[0].registry_outage.registry: expected a registry host such as myregistry.azurecr.io"},
    {"expect_unknown_workspace",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\nexpect:\n  - {workspace: phi3, ready_within: 10m}\n",
     "{f}:6:17: expect[0].workspace: no Workspace \"phi3\" is defined in workspaces; defined: workspace-phi-3-mini"},
    {"expect_unknown_metric",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntraffic:\n  - {workspace: workspace-phi-3-mini, arrival: "
     "{process: poisson, rate: 2/s}, prompt_tokens: 100, output_tokens: 10}\nexpect:\n  - {workspace: "
     "workspace-phi-3-mini, metric: ttft_p59, below: 2s}\n",
     "{f}:8:47: expect[0].metric: unknown metric \"ttft_p59\" (did you mean \"ttft_p50\"?)"},
    {"expect_wrong_unit",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntraffic:\n  - {workspace: workspace-phi-3-mini, arrival: "
     "{process: poisson, rate: 2/s}, prompt_tokens: 100, output_tokens: 10}\nexpect:\n  - {workspace: "
     "workspace-phi-3-mini, metric: ttft_p95, below: 5 tok/s}\n",
     "{f}:8:64: expect[0].below: ttft_p95 is compared with a time such as 2s or 500ms, got \"5 tok/s\""},
    {"expect_negative_bound",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntraffic:\n  - {workspace: workspace-phi-3-mini, arrival: "
     "{process: poisson, rate: 2/s}, prompt_tokens: 100, output_tokens: 10}\nexpect:\n  - {workspace: "
     "workspace-phi-3-mini, metric: completed_requests, above: -3}\n",
     "{f}:8:74: expect[0].above: must not be negative, got -3"},
    {"expect_fraction_over_one",
     "name: x\nduration: 30m\nworkspaces:\n  - file: ws.yaml\ntraffic:\n  - {workspace: workspace-phi-3-mini, arrival: "
     "{process: poisson, rate: 2/s}, prompt_tokens: 100, output_tokens: 10}\nexpect:\n  - {workspace: "
     "workspace-phi-3-mini, metric: kv_cache_usage_max, below: 120%}\n",
     "{f}:8:74: expect[0].below: kv_cache_usage_max is a fraction between 0 and 1 (or 0% to 100%), got 120%"},
};

INSTANTIATE_TEST_SUITE_P(Cli, BadScenario, ::testing::ValuesIn(kBadInputs),
                         [](const ::testing::TestParamInfo<BadInput>& i) { return std::string(i.param.name); });

TEST_F(CliTest, MissingScenarioFileExitsTwo) {
  CmdResult r = ktwin("run " + (dir_ / "absent.yaml").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("absent.yaml"), std::string::npos);
}

TEST_F(CliTest, UnknownPresetInManifestIsAnAdmissionRejectionNotACrash) {
  write("ws.yaml",
        "apiVersion: kaito.sh/v1beta1\nkind: Workspace\nmetadata: {name: w}\n"
        "resource: {instanceType: Standard_NC6s_v3, labelSelector: {matchLabels: {a: b}}}\n"
        "inference: {preset: {name: no-such-model}}\n");
  const std::string sc = write("sc.yaml",
                               "name: x\nduration: 5m\nworkspaces:\n  - file: ws.yaml\n"
                               "expect:\n  - {workspace: w, never_ready: true}\n");
  CmdResult r = ktwin("run " + sc);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("rejected by admission"), std::string::npos) << r.output;
  // The violation points at the preset name's line and column in the manifest file.
  EXPECT_NE(r.output.find("ws.yaml:5:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Unsupported inference preset name no-such-model"), std::string::npos) << r.output;
}

TEST_F(CliTest, EveryCommandHasHelp) {
  for (const char* cmd : {"run", "validate", "estimate", "presets", "skus"}) {
    CmdResult r = ktwin(std::string(cmd) + " --help");
    EXPECT_EQ(r.code, 0) << cmd << ": " << r.output;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << cmd;
  }
}

}  // namespace

namespace {

// `ktwin test`: a passing scenario, a golden that no longer matches (readable diff, exit 1), JUnit XML,
// --update-golden, --filter, and a missing path (exit 2).
TEST_F(CliTest, TestCommandGoldensJunitAndFilters) {
  fs::create_directories(dir_ / "s" / "workspaces");
  fs::copy_file(kSource + "/scenarios/quickstart-phi3.yaml", dir_ / "s" / "quickstart-phi3.yaml");
  fs::copy_file(kSource + "/scenarios/workspaces/phi-3-mini.yaml", dir_ / "s" / "workspaces" / "phi-3-mini.yaml");
  fs::copy_file(kSource + "/scenarios/delete-cleanup.yaml", dir_ / "s" / "delete-cleanup.yaml");
  const std::string junit = (dir_ / "junit.xml").string();

  // No goldens yet: expectations decide; the workspace manifest is not taken for a scenario.
  CmdResult r = ktwin("test " + (dir_ / "s").string() + " --jobs 2 --junit " + junit);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("2/2 scenarios passed"), std::string::npos) << r.output;
  std::string xml = read(junit);
  EXPECT_NE(xml.find("<testsuite name=\"ktwin scenarios\" tests=\"2\" failures=\"0\" errors=\"0\""), std::string::npos)
      << xml;

  // Write goldens, then tamper with one event: the diff names the event and both versions.
  r = ktwin("test " + (dir_ / "s").string() + " --update-golden");
  EXPECT_EQ(r.code, 0) << r.output;
  const fs::path golden = dir_ / "s" / "quickstart-phi3.events.jsonl";
  ASSERT_TRUE(fs::exists(golden));
  std::string text = read(golden);
  const size_t pos = text.find("Launched=True");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, std::string("Launched=True").size(), "Launched=Fals");
  std::ofstream(golden, std::ios::binary | std::ios::trunc) << text;
  r = ktwin("test " + (dir_ / "s").string() + " --junit " + junit);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("event log differs from the golden at event"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("golden: ["), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Launched=Fals"), std::string::npos) << r.output;
  xml = read(junit);
  EXPECT_NE(xml.find("failures=\"1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<failure message="), std::string::npos) << xml;

  // --filter picks by name; the tampered scenario is left out.
  r = ktwin("test " + (dir_ / "s").string() + " --filter 'delete-*'");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("1/1 scenarios passed"), std::string::npos) << r.output;

  r = ktwin("test " + (dir_ / "nowhere").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("no such file or directory"), std::string::npos) << r.output;
}

}  // namespace
