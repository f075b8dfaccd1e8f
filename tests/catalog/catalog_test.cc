// Catalog loader: the shipped data loads and is consistent; bad files give InputErrors with file:line:field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "catalog/catalog.h"
#include "catalog/embedded_data.h"
#include "catalog/yaml_json.h"

namespace ktwin::catalog {
namespace {

namespace fs = std::filesystem;

const std::string kSourceDir = KTWIN_SOURCE_DIR;

const char* kGoodModel = R"(presets:
  - name: tiny
    hf_id: org/tiny
    family: test
    weights_gib: 1.5
    model_token_limit: 4096
    disk_gib: 20
    architecture:
      num_layers: 2
      hidden_size: 64
      num_attention_heads: 4
      num_kv_heads: 2
      intermediate_size: 128
      vocab_size: 1000
      params_billion: 0.01
      attention: GQA
)";

const char* kGoodSkus = R"(cloud: azure
skus:
  - {name: Standard_Test, gpu_model: NVIDIA A100, gpu_count: 2, total_gpu_memory_gib: 160, compute_capability: "8.0"}
)";

// A throw-away presets directory with models/ and skus/.
class TempPresets {
 public:
  TempPresets() {
    root_ = fs::temp_directory_path() /
            ("ktwin-catalog-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "models");
    fs::create_directories(root_ / "skus");
  }
  ~TempPresets() { fs::remove_all(root_); }
  std::string write(const std::string& rel, const std::string& text) {
    fs::path p = root_ / rel;
    std::ofstream(p) << text;
    return p.string();
  }
  std::string dir() const { return root_.string(); }

 private:
  fs::path root_;
};

//! Loads the directory and returns the InputError it must raise.
InputError load_error(const TempPresets& t) {
  try {
    load_catalog_dir(t.dir());
  } catch (const InputError& e) {
    return e;
  }
  ADD_FAILURE() << "expected an InputError";
  return InputError("", 0, 0, "", "");
}

TEST(CatalogLoader, MinimalDirectoryLoadsWithDefaults) {
  TempPresets t;
  t.write("models/tiny.yaml", kGoodModel);
  t.write("skus/azure.yaml", kGoodSkus);
  Catalog c = load_catalog_dir(t.dir());
  const ModelPreset* p = c.presets.find("org/tiny");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->arch.head_dim, 16);
  EXPECT_EQ(p->bytes_per_token, 2 * 2 * 2 * 16 * 2);  // derived when not given
  EXPECT_DOUBLE_EQ(p->arch.active_params_billion, 0.01);
  EXPECT_TRUE(p->supports_distributed);
  EXPECT_EQ(p->dtype_flag, "bfloat16");
  const Sku* s = c.skus.find("azure", "Standard_Test");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->gpu.compute_major, 8);
  EXPECT_FALSE(s->removed);
}

TEST(CatalogLoader, WrongTypeNamesFileLineAndField) {
  TempPresets t;
  std::string bad = kGoodModel;
  bad.replace(bad.find("weights_gib: 1.5"), 16, "weights_gib: big");
  const std::string file = t.write("models/bad.yaml", bad);
  t.write("skus/azure.yaml", kGoodSkus);
  InputError e = load_error(t);
  EXPECT_EQ(e.file(), file);
  EXPECT_EQ(e.line(), 5);
  EXPECT_GT(e.column(), 0);
  EXPECT_EQ(e.field(), "presets[0].weights_gib");
  const std::string what = e.what();
  EXPECT_NE(what.find(file + ":5:"), std::string::npos) << what;
  EXPECT_NE(what.find("must be a number"), std::string::npos) << what;
}

TEST(CatalogLoader, UnknownKeySuggestsTheRightOne) {
  TempPresets t;
  std::string bad = kGoodModel;
  bad.replace(bad.find("disk_gib"), 8, "disk_gb");
  t.write("models/bad.yaml", bad);
  t.write("skus/azure.yaml", kGoodSkus);
  InputError e = load_error(t);
  EXPECT_EQ(e.line(), 7);
  EXPECT_NE(std::string(e.what()).find("did you mean \"disk_gib\""), std::string::npos) << e.what();
}

TEST(CatalogLoader, IntegerFieldRejectsFraction) {
  TempPresets t;
  std::string bad = kGoodModel;
  bad.replace(bad.find("num_layers: 2"), 13, "num_layers: 2.5");
  t.write("models/bad.yaml", bad);
  t.write("skus/azure.yaml", kGoodSkus);
  InputError e = load_error(t);
  EXPECT_EQ(e.field(), "presets[0].architecture.num_layers");
  EXPECT_EQ(e.line(), 9);
}

TEST(CatalogLoader, MissingRequiredFieldAndBadEnum) {
  {
    TempPresets t;
    std::string bad = kGoodModel;
    bad.erase(bad.find("    hf_id: org/tiny\n"), 20);
    t.write("models/bad.yaml", bad);
    t.write("skus/azure.yaml", kGoodSkus);
    InputError e = load_error(t);
    EXPECT_NE(std::string(e.what()).find("missing required field \"hf_id\""), std::string::npos) << e.what();
    EXPECT_EQ(e.line(), 2);
  }
  {
    TempPresets t;
    std::string bad = kGoodModel;
    bad.replace(bad.find("attention: GQA"), 14, "attention: XYZ");
    t.write("models/bad.yaml", bad);
    t.write("skus/azure.yaml", kGoodSkus);
    InputError e = load_error(t);
    EXPECT_EQ(e.field(), "presets[0].architecture.attention");
  }
}

TEST(CatalogLoader, SyntaxErrorHasLine) {
  TempPresets t;
  const std::string file = t.write("models/bad.yaml", "presets:\n  - name: [unclosed\n");
  t.write("skus/azure.yaml", kGoodSkus);
  InputError e = load_error(t);
  EXPECT_EQ(e.file(), file);
  EXPECT_GT(e.line(), 0);
}

TEST(CatalogLoader, DuplicatePresetAcrossFilesIsRejected) {
  TempPresets t;
  t.write("models/a.yaml", kGoodModel);
  std::string again = kGoodModel;
  again.replace(again.find("name: tiny"), 10, "name: tiny2");  // new name, same hf_id
  const std::string file = t.write("models/b.yaml", again);
  t.write("skus/azure.yaml", kGoodSkus);
  InputError e = load_error(t);
  EXPECT_EQ(e.file(), file);
  EXPECT_EQ(e.line(), 2);
  EXPECT_NE(std::string(e.what()).find("already used"), std::string::npos) << e.what();
}

TEST(CatalogLoader, SkuErrors) {
  {
    TempPresets t;
    t.write("models/tiny.yaml", kGoodModel);
    std::string dup = kGoodSkus;
    dup += "  - {name: Standard_Test, gpu_model: NVIDIA A10, gpu_count: 1, total_gpu_memory_gib: 24}\n";
    const std::string file = t.write("skus/azure.yaml", dup);
    InputError e = load_error(t);
    EXPECT_EQ(e.file(), file);
    EXPECT_EQ(e.line(), 4);
    EXPECT_NE(std::string(e.what()).find("duplicate SKU"), std::string::npos);
  }
  {
    TempPresets t;
    t.write("models/tiny.yaml", kGoodModel);
    std::string bad = kGoodSkus;
    bad.replace(bad.find("gpu_count: 2"), 12, "gpu_count: \"2\"");
    t.write("skus/azure.yaml", bad);
    InputError e = load_error(t);
    EXPECT_EQ(e.field(), "skus[0].gpu_count");
    EXPECT_EQ(e.line(), 3);
  }
  {
    TempPresets t;
    t.write("models/tiny.yaml", kGoodModel);
    std::string bad = kGoodSkus;
    bad.replace(bad.find("\"8.0\""), 5, "\"eight\"");
    t.write("skus/azure.yaml", bad);
    InputError e = load_error(t);
    EXPECT_EQ(e.field(), "skus[0].compute_capability");
  }
}

TEST(CatalogLoader, MissingDirectoryOrFiles) {
  EXPECT_THROW(load_catalog_dir("/nonexistent/ktwin/presets"), InputError);
  TempPresets t;
  t.write("skus/azure.yaml", kGoodSkus);
  InputError e = load_error(t);
  EXPECT_NE(std::string(e.what()).find("no model preset files"), std::string::npos);
}

TEST(ShippedCatalog, SourceTreeMatchesEmbeddedCopy) {
  Catalog from_dir = load_catalog_dir(kSourceDir + "/presets");
  const Catalog& embedded = default_catalog();
  EXPECT_EQ(from_dir.presets.names(), embedded.presets.names());
  for (const auto& c : embedded.skus.clouds()) {
    EXPECT_EQ(from_dir.skus.list(c).size(), embedded.skus.list(c).size()) << c;
  }
  // The repository root is accepted too.
  EXPECT_EQ(load_catalog_dir(kSourceDir).presets.names(), embedded.presets.names());
  size_t yaml_files = 0;
  for (const auto& f : embedded_files()) yaml_files += f.path.substr(0, 8) == "presets/" ? 1 : 0;
  EXPECT_GT(yaml_files, 3u);
}

TEST(ShippedCatalog, EverySkuGpuIdIsInGpusYaml) {
  auto docs = load_yaml_file(kSourceDir + "/presets/gpus.yaml");
  ASSERT_EQ(docs.size(), 1u);
  std::set<std::string> ids;
  for (const auto& g : docs[0].value.at("gpus")) {
    ASSERT_TRUE(ids.insert(g.at("id").get<std::string>()).second) << "duplicate GPU id " << g.at("id");
    for (const char* key : {"memory_gb", "bandwidth_gbs", "fp16_tflops", "fp8_tflops"}) {
      EXPECT_TRUE(g.at(key).is_number()) << g.at("id") << "." << key;
    }
    EXPECT_TRUE(g.at("interconnect").at("pcie_gbs").is_number());
    EXPECT_TRUE(g.at("interconnect").at("nvlink_gbs").is_number());
  }
  // Spellings shared with the calibration data set.
  for (const char* id :
       {"H100-SXM-80GB", "A100-SXM-80GB", "A100-SXM-40GB", "L40S-48GB", "H200-SXM-141GB", "A10G-24GB"}) {
    EXPECT_TRUE(ids.count(id)) << id;
  }
  const auto& skus = default_catalog().skus;
  for (const auto& cloud : skus.clouds()) {
    for (const Sku* s : skus.list(cloud)) {
      if (s->gpu.gpu_id.empty()) continue;
      EXPECT_TRUE(ids.count(s->gpu.gpu_id)) << s->name() << ": gpu_id " << s->gpu.gpu_id << " not in gpus.yaml";
    }
  }
}

TEST(ShippedCatalog, PerGpuMemoryOfTableSkus) {
  const auto& skus = default_catalog().skus;
  struct Want {
    const char* cloud;
    const char* sku;
    int gpus;
    double total;
  };
  for (const Want& w :
       {Want{"azure", "Standard_NV36ads_A10_v5", 1, 24}, Want{"azure", "Standard_NC80adis_H100_v5", 2, 188},
        Want{"azure", "Standard_ND96isr_H200_v5", 8, 1128}, Want{"aws", "p4d.24xlarge", 8, 320},
        Want{"aws", "g6.48xlarge", 8, 192}, Want{"arc", "Standard_NC16_A2", 2, 32}}) {
    const Sku* s = skus.find(w.cloud, w.sku);
    ASSERT_NE(s, nullptr) << w.sku;
    EXPECT_EQ(s->gpu.gpu_count, w.gpus) << w.sku;
    EXPECT_DOUBLE_EQ(s->gpu.total_gpu_memory_gib, w.total) << w.sku;
  }
}

}  // namespace
}  // namespace ktwin::catalog
