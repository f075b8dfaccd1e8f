// Every shipped scenario: its expectations pass, two runs give byte-identical event logs, and the log
// equals the golden file beside the scenario (NAME.events.jsonl). Set KTWIN_UPDATE_GOLDEN=1 to
// rewrite the goldens after an intended change, then review the diff.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "catalog/catalog.h"
#include "sim/runner.h"

namespace ktwin {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> shipped_scenarios() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(KTWIN_SOURCE_DIR) / "scenarios"))
    if (e.is_regular_file() && e.path().extension() == ".yaml") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// First differing line, for a readable failure.
std::string first_difference(const std::string& want, const std::string& got) {
  std::istringstream a(want), b(got);
  std::string la, lb;
  for (int line = 1;; ++line) {
    const bool ha = static_cast<bool>(std::getline(a, la));
    const bool hb = static_cast<bool>(std::getline(b, lb));
    if (!ha && !hb) return "";
    if (!ha || !hb || la != lb)
      return "line " + std::to_string(line) + "\n  golden: " + (ha ? la : "<end>") +
             "\n  run:    " + (hb ? lb : "<end>");
  }
}

class ShippedScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(ShippedScenario, PassesIsDeterministicAndMatchesGolden) {
  const std::string path = GetParam();
  const sim::Scenario sc = sim::load_scenario(path);
  const auto& cat = catalog::default_catalog();
  const sim::RunOutcome first = sim::run_scenario(sc, cat);
  for (const auto& e : first.expectations) EXPECT_TRUE(e.passed) << e.text << ": " << e.detail;
  const sim::RunOutcome second = sim::run_scenario(sc, cat);
  EXPECT_EQ(first.fingerprint, second.fingerprint) << first_difference(first.events_jsonl, second.events_jsonl);

  fs::path golden = fs::path(path).replace_extension(".events.jsonl");
  const char* update = std::getenv("KTWIN_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(golden, std::ios::binary) << first.events_jsonl;
    GTEST_SKIP() << "golden rewritten: " << golden;
  }
  ASSERT_TRUE(fs::exists(golden)) << "missing golden " << golden << " (run with KTWIN_UPDATE_GOLDEN=1)";
  const std::string want = read(golden);
  EXPECT_TRUE(want == first.events_jsonl)
      << "event log differs from " << golden << " at " << first_difference(want, first.events_jsonl);
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = fs::path(info.param).stem().string();
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ShippedScenario, ::testing::ValuesIn(shipped_scenarios()), test_name);

// Same-time events in two other orders: every expectation still holds (only the log may change).
class ShuffledTies : public ::testing::TestWithParam<std::string> {};

TEST_P(ShuffledTies, OutcomesDoNotDependOnTieOrder) {
  const sim::Scenario sc = sim::load_scenario(GetParam());
  for (uint64_t shuffle : {11u, 12u}) {
    sim::RunOptions opts;
    opts.shuffle_ties_seed = shuffle;
    const sim::RunOutcome out = sim::run_scenario(sc, catalog::default_catalog(), opts);
    for (const auto& e : out.expectations)
      EXPECT_TRUE(e.passed) << "shuffle " << shuffle << ": " << e.text << ": " << e.detail;
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ShuffledTies, ::testing::ValuesIn(shipped_scenarios()), test_name);

TEST(Quickstart, ReadyBetweenSixAndTwentyMinutesWithOneNodeClaim) {
  const sim::Scenario sc = sim::load_scenario(std::string(KTWIN_SOURCE_DIR) + "/scenarios/quickstart-phi3.yaml");
  const auto out = sim::run_scenario(sc, catalog::default_catalog());
  ASSERT_EQ(out.summary["workspaces"].size(), 1u);
  const json& ws = out.summary["workspaces"][0];
  ASSERT_TRUE(ws["ready_at_s"].is_number());
  EXPECT_GE(ws["ready_at_s"].get<double>(), 6 * 60);
  EXPECT_LE(ws["ready_at_s"].get<double>(), 20 * 60);
  EXPECT_EQ(ws["nodeclaims_created"], 1);
  EXPECT_EQ(ws["target_node_count"], 1);
  EXPECT_EQ(ws["state"], "Ready");
  for (const char* c : {"ResourceReady", "InferenceReady", "WorkspaceSucceeded", "NodeClaimReady", "NodesReady"})
    EXPECT_EQ(ws["conditions"][c]["status"], "True") << c;
  EXPECT_NE(out.tables.find("WORKSPACESUCCEEDED"), std::string::npos);
  // One inference pod, Running and Ready, no later than the workspace.
  EXPECT_EQ(out.summary["pods"]["total"], 1);
  EXPECT_EQ(out.summary["pods"]["ready"], 1);
  EXPECT_EQ(out.summary["pods"]["phases"]["Running"], 1);
  EXPECT_LE(out.summary["pods"]["last_ready_at_s"].get<double>(), ws["ready_at_s"].get<double>());
}

// The smaller scale scenario (scale_bench times both): every StatefulSet pod scheduled and Ready.
TEST(ScaleScenario, EveryStatefulSetPodReadyOnAThousandNodes) {
  const sim::Scenario sc = sim::load_scenario(std::string(KTWIN_SOURCE_DIR) + "/bench/scale/pods-1k.yaml");
  const auto out = sim::run_scenario(sc, catalog::default_catalog());
  EXPECT_EQ(out.summary["pods"]["total"], 10'000);
  EXPECT_EQ(out.summary["pods"]["ready"], 10'000) << out.summary["pods"].dump();
  EXPECT_EQ(out.summary["nodes"].size(), 1'000u);
  EXPECT_TRUE(out.passed);
}

TEST(Quickstart, DifferentSeedsGiveDifferentTimelines) {
  const sim::Scenario sc = sim::load_scenario(std::string(KTWIN_SOURCE_DIR) + "/scenarios/quickstart-phi3.yaml");
  sim::RunOptions a, b;
  a.seed = 1;
  b.seed = 2;
  EXPECT_NE(sim::run_scenario(sc, catalog::default_catalog(), a).fingerprint,
            sim::run_scenario(sc, catalog::default_catalog(), b).fingerprint);
}

}  // namespace
}  // namespace ktwin

namespace ktwin {
namespace {

// The operator behind an API server that answers 30% of writes with 409 and 5% of calls with
// 429/503: it must still converge, with no duplicate NodeClaim.
TEST(Faults, QuickstartConvergesUnderConflictsAndThrottling) {
  const sim::Scenario sc = sim::load_scenario(std::string(KTWIN_SOURCE_DIR) + "/scenarios/quickstart-phi3.yaml");
  sim::RunOptions opts;
  opts.operator_conflict_rate = 0.3;
  opts.operator_unavailable_rate = 0.05;
  const auto out = sim::run_scenario(sc, catalog::default_catalog(), opts);
  for (const auto& e : out.expectations) EXPECT_TRUE(e.passed) << e.text << ": " << e.detail;
  EXPECT_GT(out.summary["injected_faults"]["conflicts"].get<int>(), 5);
  EXPECT_GT(out.summary["reconciles"]["errors"].get<int>(), 5);
  EXPECT_EQ(out.summary["workspaces"][0]["nodeclaims_created"], 1);
  // Faults change the timeline, never the outcome: the same seed still reproduces it.
  EXPECT_EQ(out.fingerprint, sim::run_scenario(sc, catalog::default_catalog(), opts).fingerprint);
}

}  // namespace
}  // namespace ktwin

namespace ktwin {
namespace {

// After the delete, nothing of the workspace is left: no NodeClaim, no machine, no node, no
// workload. Also behind an API server that answers with 409s and 503s (finalizer removal retries).
TEST(Deletion, LeavesNothingBehindEvenUnderFaults) {
  const sim::Scenario sc = sim::load_scenario(std::string(KTWIN_SOURCE_DIR) + "/scenarios/delete-cleanup.yaml");
  for (double rate : {0.0, 0.3}) {
    sim::RunOptions opts;
    opts.operator_conflict_rate = rate;
    opts.operator_unavailable_rate = rate / 3;
    const auto out = sim::run_scenario(sc, catalog::default_catalog(), opts);
    ASSERT_EQ(out.summary["workspaces"].size(), 1u) << "rate " << rate;
    EXPECT_EQ(out.summary["workspaces"][0]["state"], "Deleted") << "rate " << rate;
    EXPECT_TRUE(out.summary["nodeclaims"].empty()) << "rate " << rate << ": " << out.summary["nodeclaims"].dump();
    EXPECT_TRUE(out.summary["nodes"].empty()) << "rate " << rate << ": " << out.summary["nodes"].dump();
    EXPECT_EQ(out.summary["cloud"]["machines_deleted"], 1) << "rate " << rate;
    EXPECT_EQ(out.tables.find("workspace-phi-3-mini   1/1"), std::string::npos) << out.tables;
  }
}

}  // namespace
}  // namespace ktwin
