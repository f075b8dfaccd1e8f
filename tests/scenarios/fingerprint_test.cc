// Determinism gate: tests/fingerprints.csv pins the event-log fingerprint of every shipped scenario
// at its own seed and at two others. A change that moves any of them must be deliberate: rerun with
// KTWIN_UPDATE_GOLDEN=1 and review the diff of the CSV together with the goldens.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "catalog/catalog.h"
#include "sim/runner.h"

namespace ktwin {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kExtraSeeds[] = {1, 777};

TEST(Fingerprints, EveryScenarioAtThreeSeedsMatchesTheTable) {
  const fs::path table = fs::path(KTWIN_SOURCE_DIR) / "tests" / "fingerprints.csv";
  std::vector<std::string> scenarios;
  for (const auto& e : fs::directory_iterator(fs::path(KTWIN_SOURCE_DIR) / "scenarios"))
    if (e.is_regular_file() && e.path().extension() == ".yaml") scenarios.push_back(e.path().filename().string());
  std::sort(scenarios.begin(), scenarios.end());

  std::string fresh = "scenario,seed,fingerprint\n";
  for (const auto& name : scenarios) {
    const sim::Scenario sc = sim::load_scenario((fs::path(KTWIN_SOURCE_DIR) / "scenarios" / name).string());
    std::vector<uint64_t> seeds{sc.seed};
    for (uint64_t s : kExtraSeeds)
      if (s != sc.seed) seeds.push_back(s);
    for (uint64_t seed : seeds) {
      sim::RunOptions opts;
      opts.seed = seed;
      fresh += "scenarios/" + name + "," + std::to_string(seed) + "," +
               sim::run_scenario(sc, catalog::default_catalog(), opts).fingerprint + "\n";
    }
  }
  const char* update = std::getenv("KTWIN_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(table, std::ios::binary) << fresh;
    GTEST_SKIP() << "fingerprints rewritten: " << table;
  }
  std::ifstream in(table, std::ios::binary);
  ASSERT_TRUE(in) << "missing " << table << " (run with KTWIN_UPDATE_GOLDEN=1)";
  std::stringstream want;
  want << in.rdbuf();
  std::istringstream a(want.str()), b(fresh);
  std::string la, lb;
  for (int line = 1;; ++line) {
    const bool ha = static_cast<bool>(std::getline(a, la)), hb = static_cast<bool>(std::getline(b, lb));
    if (!ha && !hb) break;
    ASSERT_EQ(ha ? la : "<end>", hb ? lb : "<end>") << "fingerprints.csv line " << line;
  }
}

}  // namespace
}  // namespace ktwin
