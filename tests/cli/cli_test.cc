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
  CmdResult r = ktwin("run " + kSource + "/scenarios/quickstart-phi3.yaml --summary-json " + summary + " --events " + events);
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
  const char* scenario;
  const char* where;    // expected "file:line:column" suffix, after the file name
  const char* message;  // expected substring
};

class BadScenario : public CliTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(BadScenario, ExitsTwoNamingFileLineAndWritesNothing) {
  const BadInput& c = GetParam();
  write("ws.yaml", read(kSource + "/scenarios/workspaces/phi-3-mini.yaml"));
  const std::string sc = write("bad.yaml", c.scenario);
  const fs::path summary = dir_ / "out" / "s.json";
  CmdResult r = ktwin("run " + sc + " --summary-json " + summary.string() + " --events " + (dir_ / "e.jsonl").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(std::string("bad.yaml") + c.where), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(summary));
  EXPECT_FALSE(fs::exists(dir_ / "e.jsonl"));
}

const BadInput kBadInputs[] = {
    {"yaml_syntax", "name: x\nduration: [30m\n", ":3:", "YAML syntax error"},
    {"unknown_key", "name: x\nduraton: 30m\nworkspaces: []\n", ":2:1:", "did you mean \"duration\""},
    {"bad_duration", "name: x\nduration: 15\n", ":2:11:", "duration"},
    {"wrong_type", "name: x\nduration: 30m\nseed: abc\n", ":3:7:", "seed"},
    {"missing_file", "name: x\nduration: 30m\nworkspaces:\n  - file: nope.yaml\n", ":4:", "nope.yaml"},
    {"registry_with_path", "name: x\nduration: 30m\ntimeline:\n  - {at: 1m, registry_outage: {registry: a.io/x, duration: 5m}}\n",
     ":4:", "expected a registry host"},
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
  const std::string sc = write("sc.yaml", "name: x\nduration: 5m\nworkspaces:\n  - file: ws.yaml\n"
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
  EXPECT_NE(xml.find("<testsuite name=\"ktwin scenarios\" tests=\"2\" failures=\"0\" errors=\"0\""), std::string::npos) << xml;

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
