// `ktwin predict` and `ktwin calibrate` end to end on small CSVs, and the coefficient file round trip.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/input_error.h"
#include "gpu_model/calibration.h"

namespace {

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

std::string binary() {
  const char* env = std::getenv("KTWIN_BINARY");
  return env != nullptr && *env != '\0' ? env : KTWIN_BINARY;
}

RunResult run(const std::string& args) {
  RunResult r;
  const std::string err_file = std::filesystem::temp_directory_path() / ("ktwin_gpu_err_" + std::to_string(::getpid()));
  FILE* pipe = popen(("'" + binary() + "' " + args + " 2>'" + err_file + "'").c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  r.err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  std::filesystem::remove(err_file);
  return r;
}

const char* kHeader =
    "row,model_id,gpu_id,weight_dtype,num_gpus,tp,engine,mode,batch,concurrency,request_rate,num_prompts,input_tokens,"
    "output_tokens,input_dist,ttft_ms,tpot_ms,e2e_ms,out_tok_s_total,req_s_total,usable,notes,source\n";

std::string write_csv(const std::string& name, const std::string& body) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << body;
  return path.string();
}

class GpuCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(binary())) GTEST_SKIP() << "ktwin binary not built: " << binary();
  }
};

TEST_F(GpuCliTest, PredictJsonShape) {
  const std::string csv = write_csv(
      "ktwin_predict_small.csv",
      std::string(kHeader) +
          "1,meta-llama/Llama-2-7b-hf,A100-SXM-80GB,fp16,1,1,trtllm,static,1,,,,2048,1,fixed,133,,,,,yes,\"a, quoted "
          "note\",src\n"
          "2,meta-llama/"
          "Llama-3.1-8B-Instruct,H100-SXM-80GB,fp8,1,1,vllm,closed_loop,,8,,100,500,100,fixed,60,10,,700,,yes,,\n"
          "3,acme/Unknown-7B,H100-SXM-80GB,fp16,1,1,vllm,static,1,,,,10,10,fixed,5,,,,,yes,,\n"
          "4,meta-llama/Llama-2-7b-hf,A100-SXM-80GB,fp16,1,1,vllm,static,1,,,,10,10,fixed,5,,,,,no,,\n");
  const RunResult r = run("predict --csv '" + csv + "' --json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  ASSERT_EQ(j.at("rows").size(), 2u);
  EXPECT_EQ(j["rows"][0]["row"], 1);
  EXPECT_EQ(j["rows"][0]["predicted"].size(), 1u);
  EXPECT_GT(j["rows"][0]["predicted"]["ttft_ms"].get<double>(), 50);
  EXPECT_LT(j["rows"][0]["predicted"]["ttft_ms"].get<double>(), 400);
  EXPECT_EQ(j["rows"][1]["measured"].size(), 3u);
  for (const char* m : {"ttft_ms", "tpot_ms", "out_tok_s_total"})
    EXPECT_TRUE(j["rows"][1]["predicted"].contains(m)) << m;
  EXPECT_EQ(j["summary"]["ttft_ms"]["n"], 2);
  EXPECT_EQ(j["summary"]["tpot_ms"]["n"], 1);
  EXPECT_FALSE(j["summary"].contains("e2e_ms"));
  EXPECT_TRUE(j["summary"]["ttft_ms"]["median_ape"].is_number());
  EXPECT_TRUE(j["summary"]["ttft_ms"]["p90_ape"].is_number());
  // The unknown model is reported, not silently dropped; the unusable row is ignored.
  EXPECT_NE(r.err.find("skipped row 3: unknown model architecture \"acme/Unknown-7B\""), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("row 4"), std::string::npos) << r.err;
  // Table form.
  const RunResult t = run("predict --csv '" + csv + "'");
  EXPECT_EQ(t.exit_code, 0);
  EXPECT_NE(t.out.find("MEDIAN APE"), std::string::npos) << t.out;
}

TEST_F(GpuCliTest, BadCsvIsFileLineErrorExit2) {
  const std::string bad_col =
      write_csv("ktwin_bad_col.csv", "row,model_id,gpu_id,tp,mode,ttft_msec\n1,a,b,1,static,3\n");
  RunResult r = run("predict --csv '" + bad_col + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(":1: ttft_msec: unknown column \"ttft_msec\" (did you mean \"ttft_ms\"?)"), std::string::npos)
      << r.err;
  const std::string bad_num = write_csv(
      "ktwin_bad_num.csv",
      std::string(kHeader) + "\n" +
          "1,meta-llama/Llama-2-7b-hf,A100-SXM-80GB,fp16,1,one,trtllm,static,1,,,,2048,1,fixed,133,,,,,yes,,\n");
  r = run("predict --csv '" + bad_num + "' --json");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(":3: tp: not a non-negative number: \"one\""), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  r = run("predict --csv /nonexistent.csv");
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(GpuCliTest, CalibrateWritesAFileThatPredictUses) {
  std::string body = kHeader;
  body += "1,meta-llama/Llama-2-7b-hf,A100-SXM-80GB,fp16,1,1,trtllm,static,1,,,,2048,1,fixed,133,,,,,yes,,\n";
  body += "2,meta-llama/Llama-2-7b-hf,H100-SXM-80GB,fp8,1,1,trtllm,static,1,,,,2048,1,fixed,36,,,,,yes,,\n";
  body += "3,meta-llama/Llama-2-70b-hf,A100-SXM-80GB,fp16,4,4,trtllm,static,1,,,,2048,1,fixed,377,,,,,yes,,\n";
  const std::string csv = write_csv("ktwin_calib_small.csv", body);
  const std::string out = (std::filesystem::temp_directory_path() / "ktwin_calib_out.yaml").string();
  std::filesystem::remove(out);
  const RunResult r = run("calibrate --csv '" + csv + "' --out '" + out + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(std::filesystem::exists(out));
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string pred;
  const ktwin::gpu::Coefficients c = ktwin::gpu::parse_coefficients_yaml(text, out, &pred);
  EXPECT_EQ(pred, "roofline");
  EXPECT_NE(text.find("ttft_ms: {n: 3"), std::string::npos) << text;
  // The fitted file, used by predict, reproduces the error the fit reported.
  const RunResult p = run("predict --csv '" + csv + "' --json --coefficients '" + out + "'");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const auto j = nlohmann::json::parse(p.out);
  const double fitted = j["summary"]["ttft_ms"]["median_ape"].get<double>();
  char want[64];
  std::snprintf(want, sizeof want, "median_ape: %.4f", fitted);
  EXPECT_NE(text.find(want), std::string::npos) << text << " vs " << fitted;
  EXPECT_LT(fitted, 0.25);
  (void)c;
}

// The statistic behind tpot_ms and the vLLM generation come from optional columns, else from the notes.
TEST(Measurements, TpotStatisticAndVllmGenerationFromColumnsOrNotes) {
  using namespace ktwin::gpu;
  const std::string head =
      "row,model_id,gpu_id,tp,engine,mode,num_prompts,input_dist,tpot_ms,out_tok_s_total,notes,engine_version,tpot_"
      "stat\n";
  const std::string body =
      "1,meta-llama/Llama-3.1-8B-Instruct,H100-SXM-80GB,1,vllm,saturated,100,sharegpt,20,3000,"
      "\"vLLM v0.5.4; stats: tpot_ms = MEDIAN ITL (vLLM inter-token latency), not mean TPOT\",,\n"
      "2,meta-llama/Llama-3.1-8B-Instruct,H100-SXM-80GB,1,vllm,saturated,100,sharegpt,20,3000,\"vLLM "
      "v0.5.4\",0.10.1,mean_itl\n"
      "3,meta-llama/Llama-3.1-8B-Instruct,H100-SXM-80GB,1,nim,saturated,100,sharegpt,20,3000,\"genai-perf at fixed "
      "concurrency\",,\n"
      "4,meta-llama/Llama-3.1-8B-Instruct,H100-SXM-80GB,1,vllm,saturated,100,sharegpt,20,3000,,,\n";
  const auto rows = parse_measurements_csv(head + body, "m.csv");
  ASSERT_EQ(rows.size(), 4u);
  std::string why;
  const auto a = setup_row(rows[0], why), b = setup_row(rows[1], why), c = setup_row(rows[2], why),
             d = setup_row(rows[3], why);
  ASSERT_TRUE(a && b && c && d) << why;
  EXPECT_EQ(a->deployment.engine, EngineKind::kVllmV0);
  EXPECT_EQ(a->tpot_stat, TpotStat::kMedianItl);
  EXPECT_EQ(b->deployment.engine, EngineKind::kVllm);  // the column wins over the notes
  EXPECT_EQ(b->tpot_stat, TpotStat::kMeanItl);
  EXPECT_EQ(c->deployment.engine, EngineKind::kTrtllm);
  EXPECT_EQ(c->tpot_stat, TpotStat::kMeanTpot);  // genai-perf's ITL is per request
  EXPECT_EQ(d->deployment.engine, EngineKind::kVllm);
  EXPECT_EQ(d->tpot_stat, TpotStat::kMedianTpot);
  EXPECT_FALSE(a->engine.chunked_prefill);
  EXPECT_TRUE(d->engine.chunked_prefill);
  EXPECT_EQ(d->engine.max_num_seqs, 1024);  // vLLM V1 on an 80 GB H100
  try {
    parse_measurements_csv(head + "1,m,g,1,vllm,saturated,1,sharegpt,20,1,,,p50\n", "m.csv");
    FAIL();
  } catch (const ktwin::InputError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_NE(std::string(e.what()).find("tpot_stat"), std::string::npos) << e.what();
  }
}

TEST(Coefficients, RoundTripAndStrictKeys) {
  using ktwin::gpu::Coefficients;
  Coefficients c;
  c[Coefficients::kHbmEff] = 0.7312345;
  c[Coefficients::kSeqOverheadVllmUs] = 42.5;
  const std::string text = ktwin::gpu::format_coefficients_yaml("roofline", c, {{"ttft_ms", {3, 0.1, 0.2}}}, "x.csv");
  const Coefficients back = ktwin::gpu::parse_coefficients_yaml(text, "c.yaml");
  for (int i = 0; i < Coefficients::kCount; ++i) EXPECT_NEAR(back[i], c[i], 1e-5 * std::abs(c[i]) + 1e-12) << i;
  std::string bad = text;
  bad.replace(bad.find("hbm_eff"), 7, "hbm_efff");
  try {
    ktwin::gpu::parse_coefficients_yaml(bad, "c.yaml");
    FAIL();
  } catch (const ktwin::InputError& e) {
    EXPECT_GT(e.line(), 0);
    EXPECT_NE(std::string(e.what()).find("did you mean \"hbm_eff\""), std::string::npos) << e.what();
  }
  std::string range = text;
  const size_t at = range.find("hbm_eff: ") + 9;
  range.replace(at, range.find(' ', at) - at, "7");
  EXPECT_THROW(ktwin::gpu::parse_coefficients_yaml(range, "c.yaml"), ktwin::InputError);
}

}  // namespace
