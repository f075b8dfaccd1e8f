// `ktwin presets`, `ktwin skus` and `ktwin estimate` end to end: output and exit codes of the built binary.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

std::string binary() {
  const char* env = std::getenv("KTWIN_BINARY");
  return env != nullptr && *env != '\0' ? env : KTWIN_BINARY;
}

RunResult run(const std::string& args, const std::string& env = "") {
  RunResult r;
  std::string cmd = env + "'" + binary() + "' " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(binary())) GTEST_SKIP() << "ktwin binary not built: " << binary();
  }
};

TEST_F(CliTest, PresetsListAndShow) {
  auto list = run("presets");
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_EQ(list.output.rfind("NAME", 0), 0u) << list.output;
  EXPECT_NE(list.output.find("phi-3-mini-4k-instruct"), std::string::npos);
  EXPECT_NE(list.output.find("gated"), std::string::npos);
  EXPECT_NE(list.output.find("deprecated"), std::string::npos);

  auto show = run("presets show microsoft/Phi-3-mini-4k-instruct");
  EXPECT_EQ(show.exit_code, 0) << show.output;
  EXPECT_NE(show.output.find("393216"), std::string::npos) << show.output;

  auto json = run("presets show phi-4 --json");
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_NE(json.output.find("\"bytes_per_token\": 204800"), std::string::npos) << json.output;

  auto unknown = run("presets show phi-3-mini");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.output.find("did you mean"), std::string::npos) << unknown.output;

  EXPECT_EQ(run("presets --help").exit_code, 0);
  EXPECT_EQ(run("presets frobnicate").exit_code, 2);
}

TEST_F(CliTest, Skus) {
  auto azure = run("skus --cloud azure");
  EXPECT_EQ(azure.exit_code, 0) << azure.output;
  EXPECT_NE(azure.output.find("Standard_NC24ads_A100_v4"), std::string::npos);
  EXPECT_EQ(azure.output.find("Standard_NC6s_v3"), std::string::npos);  // removed: only with --all

  auto all = run("skus --cloud azure --all");
  EXPECT_NE(all.output.find("Standard_NC6s_v3"), std::string::npos);
  EXPECT_NE(all.output.find("removed"), std::string::npos);

  auto bad = run("skus --cloud azur");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("did you mean \"azure\""), std::string::npos) << bad.output;
  EXPECT_EQ(run("skus --help").exit_code, 0);
}

TEST_F(CliTest, Estimate) {
  auto ok = run("estimate --preset llama-3.3-70b-instruct --instance-type Standard_NV36ads_A10_v5");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("Result: 9 nodes"), std::string::npos) << ok.output;

  auto json = run("estimate --preset deepseek-r1-0528 --instance-type Standard_NC80adis_H100_v5 --json");
  EXPECT_EQ(json.exit_code, 0) << json.output;
  EXPECT_NE(json.output.find("\"nodes\": 5"), std::string::npos) << json.output;

  auto aws = run("estimate --preset phi-4 --instance-type g5.xlarge --cloud aws");
  EXPECT_EQ(aws.exit_code, 0) << aws.output;

  auto wrong_cloud = run("estimate --preset phi-4 --instance-type g5.xlarge");
  EXPECT_EQ(wrong_cloud.exit_code, 2);
  EXPECT_NE(wrong_cloud.output.find("--cloud aws"), std::string::npos) << wrong_cloud.output;

  auto bad_preset = run("estimate --preset phi-4-mini --instance-type Standard_NC24ads_A100_v4");
  EXPECT_EQ(bad_preset.exit_code, 2);
  EXPECT_NE(bad_preset.output.find("did you mean \"phi-4-mini-instruct\""), std::string::npos) << bad_preset.output;

  auto bad_sku = run("estimate --preset phi-4 --instance-type Standard_NC24ads_A100_v5");
  EXPECT_EQ(bad_sku.exit_code, 2);
  EXPECT_NE(bad_sku.output.find("did you mean \"Standard_NC24ads_A100_v4\""), std::string::npos) << bad_sku.output;

  auto too_small =
      run("estimate --preset llama-3.3-70b-instruct --instance-type Standard_NV36ads_A10_v5 "
          "--max-model-len 131072");
  EXPECT_EQ(too_small.exit_code, 1) << too_small.output;
  EXPECT_NE(too_small.output.find("too small"), std::string::npos) << too_small.output;

  auto over_limit =
      run("estimate --preset phi-3-mini-4k-instruct --instance-type Standard_NV36ads_A10_v5 "
          "--max-model-len 8192");
  EXPECT_EQ(over_limit.exit_code, 2) << over_limit.output;

  EXPECT_EQ(run("estimate --preset phi-4").exit_code, 2);
  EXPECT_EQ(run("estimate --help").exit_code, 0);
}

TEST_F(CliTest, PresetsDirFromEnvironment) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "ktwin-cli-presets-dir-test";
  fs::remove_all(dir);
  fs::create_directories(dir / "models");
  fs::create_directories(dir / "skus");
  std::ofstream(dir / "skus" / "azure.yaml")
      << "cloud: azure\nskus:\n  - {name: Standard_X, gpu_model: NVIDIA A10, gpu_count: 1, total_gpu_memory_gib: 24}\n";
  std::ofstream(dir / "models" / "bad.yaml")
      << "presets:\n  - name: x\n    hf_id: org/x\n    family: t\n    weights_gib: lots\n";
  auto bad = run("presets", "KTWIN_PRESETS_DIR='" + dir.string() + "' ");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find((dir / "models" / "bad.yaml").string() + ":5:"), std::string::npos) << bad.output;
  fs::remove_all(dir);
}

}  // namespace
