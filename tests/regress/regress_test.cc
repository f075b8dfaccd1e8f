// Inputs the fuzzers (fuzz/) once crashed on, one file each under tests/regress/<target>/, named for the bug;
// plus the seed corpus (the shipped scenarios, manifests and JSON objects), so `make test` replays both
// through the same entry points without clang or libFuzzer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/targets.h"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> files_in(const fs::path& dir, const std::string& ext = "") {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && (ext.empty() || e.path().extension() == ext) && e.path().filename() != "README.md")
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void replay(const ktwin::fuzz::Target& t, const fs::path& file) {
  SCOPED_TRACE(std::string(t.name) + " <- " + file.string());
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NO_THROW(t.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

const ktwin::fuzz::Target& target(const std::string& name) {
  for (const auto& t : ktwin::fuzz::targets())
    if (t.name == name) return t;
  throw std::logic_error("no fuzz target " + name);
}

const fs::path kSource = KTWIN_SOURCE_DIR;

}  // namespace

TEST(Regress, CrashInputsStayFixed) {
  int replayed = 0;
  for (const auto& t : ktwin::fuzz::targets()) {
    for (const auto& f : files_in(kSource / "tests/regress" / t.name)) {
      replay(t, f);
      ++replayed;
    }
  }
  RecordProperty("replayed", replayed);
}

TEST(Regress, SeedCorpusRunsClean) {
  const auto scenarios = files_in(kSource / "scenarios", ".yaml");
  const auto manifests = files_in(kSource / "tests/manifests", ".yaml");
  const auto objects = files_in(kSource / "fuzz/seeds/object_json", ".json");
  ASSERT_GT(scenarios.size(), 10u);
  ASSERT_GT(manifests.size(), 10u);
  ASSERT_GT(objects.size(), 5u);
  for (const auto& f : scenarios) replay(target("scenario"), f);
  for (const auto& f : manifests) replay(target("manifest"), f);
  for (const auto& f : objects) replay(target("object_json"), f);
}
