// The tuning time model: steps from the dataset and TrainingArguments, speed from the GPUs and the
// method, failures from missing data and GPU memory.
#include "sim/tuning_model.h"

#include <gtest/gtest.h>

#include "catalog/catalog.h"

namespace ktwin::sim {
namespace {

class TuningModelTest : public ::testing::Test {
 protected:
  TuningModelTest() {
    world_.presets = &catalog::default_catalog().presets;
    world_.skus = &catalog::default_catalog().skus;
    world_.cloud = "azure";
    world_.datasets = &datasets_;
    world_.peak_tflops = [](const GpuConfig& g) { return g.gpu_id.rfind("A100", 0) == 0 ? 312.0 : 125.0; };
    world_.sample = [](std::string_view, std::string_view) { return kSecond; };
    datasets_.push_back(DatasetSpec{"dolly", 15000, 250, 8, true, 1});
    datasets_.push_back(DatasetSpec{"gone.parquet", 0, 0, 0, false, 2});
  }

  cluster_model::TuningJobFacts facts(const std::string& method = "qlora", int gpus = 1,
                                      const std::string& sku = "Standard_NC24ads_A100_v4") {
    cluster_model::TuningJobFacts f;
    f.model = "microsoft/Phi-3-mini-128k-instruct";
    f.method = method;
    f.gpus = gpus;
    f.instance_type = sku;
    f.inputs = {"https://example.com/dolly.parquet"};
    return f;
  }

  std::vector<DatasetSpec> datasets_;
  TuningWorld world_;
};

TEST(TrainingPlanTest, DefaultsAndOverrides) {
  TrainingPlan d = parse_training_plan("");
  EXPECT_EQ(d.epochs, 3);
  EXPECT_EQ(d.per_device_batch, 1);
  EXPECT_EQ(d.max_steps, -1);
  TrainingPlan p = parse_training_plan(
      "training_config:\n  TrainingArguments:\n    num_train_epochs: 1\n    per_device_train_batch_size: 4\n"
      "    gradient_accumulation_steps: 2\n    max_steps: 50\n    gradient_checkpointing: true\n");
  EXPECT_EQ(p.epochs, 1);
  EXPECT_EQ(p.per_device_batch, 4);
  EXPECT_EQ(p.grad_accumulation, 2);
  EXPECT_EQ(p.max_steps, 50);
  EXPECT_TRUE(p.gradient_checkpointing);
  EXPECT_EQ(parse_training_plan("not: [valid").epochs, 3);  // falls back to defaults
}

TEST_F(TuningModelTest, SucceedsWithAStepCountFromTheData) {
  const auto o = predict_tuning(facts(), world_);
  EXPECT_TRUE(o.dataset_available);
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_NE(o.message.find("45000 steps"), std::string::npos) << o.message;  // 15000 examples x 3 epochs, batch 1
  EXPECT_GT(o.run, 30 * kMinute);
  EXPECT_GT(o.dataset_fetch, 0);
}

TEST_F(TuningModelTest, MethodGpusAndConfigMoveTheTimeTheRightWay) {
  const Duration qlora = predict_tuning(facts("qlora"), world_).run;
  const Duration lora = predict_tuning(facts("lora"), world_).run;
  EXPECT_LT(lora, qlora);  // no NF4 dequantisation
  const Duration two_gpus = predict_tuning(facts("qlora", 2, "Standard_NC48ads_A100_v4"), world_).run;
  EXPECT_LT(two_gpus, qlora);  // data parallel: half the steps
  auto short_run = facts();
  short_run.training_config_yaml = "training_config:\n  TrainingArguments:\n    max_steps: 100\n";
  const auto o = predict_tuning(short_run, world_);
  EXPECT_LT(o.run, 10 * kMinute);
  EXPECT_NE(o.message.find("max_steps 100"), std::string::npos) << o.message;
}

TEST_F(TuningModelTest, MissingDatasetFailsTheDownload) {
  auto f = facts();
  f.inputs = {"https://example.com/gone.parquet"};
  const auto o = predict_tuning(f, world_);
  EXPECT_FALSE(o.dataset_available);
  EXPECT_NE(o.message.find("404"), std::string::npos);
}

TEST_F(TuningModelTest, TooLittleGpuMemoryIsAnOom) {
  const auto o = predict_tuning(facts("qlora", 1, "Standard_NC6s_v3"), world_);
  EXPECT_EQ(o.exit_code, 137);
  EXPECT_EQ(o.failure_reason, "OOMKilled");
  EXPECT_NE(o.message.find("the node has 16 GiB"), std::string::npos) << o.message;
  EXPECT_LT(o.run, 10 * kMinute);
}

TEST_F(TuningModelTest, UnknownDatasetIsAssumedAndSaidSo) {
  auto f = facts();
  f.inputs = {"https://example.com/other.parquet"};
  const auto o = predict_tuning(f, world_);
  EXPECT_NE(o.message.find("assumed"), std::string::npos) << o.message;
}

}  // namespace
}  // namespace ktwin::sim
