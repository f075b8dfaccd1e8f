// The results database, reports and `ktwin plan`: rows that agree with the run, migrations, a killed
// `ktwin run` leaving the file consistent, charts Chromium actually draws, plan verdicts that
// `ktwin run` of the same scenario confirms.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "catalog/catalog.h"
#include "core/input_error.h"
#include "reports/report.h"
#include "reports/results_db.h"
#include "sim/runner.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ktwin;
const std::string kSource = KTWIN_SOURCE_DIR;

struct CmdResult {
  int code = -1;
  std::string output;
};

CmdResult shell(const std::string& cmd) {
  CmdResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}
CmdResult ktwin(const std::string& args) { return shell(std::string(KTWIN_BINARY) + " " + args); }

int64_t query_int(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  int64_t v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

std::string query_text(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::string v;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return v;
}

class ReportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ktwin-reports-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "results.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string read(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  fs::path dir_;
  std::string db_;
};

TEST_F(ReportsTest, ARecordedRunMatchesItsOutcome) {
  const catalog::Catalog& cat = catalog::default_catalog();
  const sim::Scenario sc = sim::load_scenario(kSource + "/scenarios/burst-scale-out.yaml");
  const sim::RunOutcome o = sim::run_scenario(sc, cat);
  reports::ResultsDb db(db_);
  reports::RunMeta meta;
  meta.cloud = "azure";
  const int64_t id = db.record_run(o, cat, meta);
  sqlite3* h = db.handle();
  const std::string where = " WHERE run_id = " + std::to_string(id);
  EXPECT_EQ(query_int(h, "SELECT count(*) FROM event" + where), static_cast<int64_t>(o.log.size()));
  EXPECT_EQ(query_int(h, "SELECT event_count FROM run WHERE id = " + std::to_string(id)),
            static_cast<int64_t>(o.log.size()));
  EXPECT_EQ(query_text(h, "SELECT fingerprint FROM run WHERE id = " + std::to_string(id)), o.fingerprint);
  EXPECT_EQ(query_text(h, "SELECT verdict FROM run WHERE id = " + std::to_string(id)), "pass");
  EXPECT_EQ(query_int(h, "SELECT count(*) FROM expectation" + where), static_cast<int64_t>(o.expectations.size()));
  // Scalars carry the summary's figures, per workspace.
  const double completed = o.summary["metrics"]["phi-3-a"]["completed"].get<double>();
  EXPECT_EQ(
      query_int(h, "SELECT value FROM scalar" + where + " AND name = 'completed' AND workspace = 'default/phi-3-a'"),
      static_cast<int64_t>(completed));
  // Windows of the traffic and the cluster's GPU/cost steps: the first A100 node bills $3.673/hour.
  EXPECT_GT(
      query_int(h, "SELECT count(*) FROM series" + where + " AND name = 'req_s' AND workspace = 'default/phi-3-b'"),
      10);
  EXPECT_EQ(query_int(h, "SELECT max(value) FROM series" + where + " AND name = 'gpus'"), 2);
  EXPECT_EQ(query_text(h, "SELECT printf('%.3f', max(value)) FROM series" + where + " AND name = 'cost_per_hour'"),
            "7.346");
  // Request samples are bounded, evenly thinned, and every one names its workspace.
  const int64_t samples = query_int(h, "SELECT count(*) FROM request_sample" + where);
  EXPECT_GT(samples, 1000);
  EXPECT_LE(samples, 2 * 4096);
  EXPECT_EQ(query_int(h, "SELECT count(*) FROM request_sample" + where + " AND workspace NOT LIKE 'default/phi-3-_'"),
            0);
  EXPECT_EQ(query_int(h, "SELECT count(*) FROM run_overview"), 1);
}

TEST_F(ReportsTest, MigratesOnceAndRefusesANewerSchema) {
  {
    reports::ResultsDb db(db_);
    EXPECT_EQ(db.schema_version(), reports::ResultsDb::current_schema_version());
  }
  {
    reports::ResultsDb again(db_);
    EXPECT_EQ(again.schema_version(), reports::ResultsDb::current_schema_version());
  }
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(h);
  try {
    reports::ResultsDb newer(db_);
    FAIL() << "opened a database from the future";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99, newer than this ktwin's"), std::string::npos) << e.what();
  }
  std::ofstream(dir_ / "junk.db") << "this is not SQLite, just text long enough to fill a header page .........";
  EXPECT_THROW(reports::ResultsDb((dir_ / "junk.db").string()), InputError);
}

// SIGKILL at many points of `ktwin run` (simulating, writing, committing): the file stays intact and
// every recorded run has all of its rows.
TEST_F(ReportsTest, KillingRunsMidWayLeavesTheDatabaseConsistent) {
  const std::string scenario = kSource + "/scenarios/llama-8b-a100-load.yaml";
  // A finished run first, so later kills land on a database with content.
  ASSERT_EQ(ktwin("run " + scenario + " --quiet --db " + db_).code, 0);
  int killed = 0;
  for (int i = 0; i < 12; ++i) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      execl(KTWIN_BINARY, KTWIN_BINARY, "run", scenario.c_str(), "--quiet", "--db", db_.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10 + 15 * i));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    killed += WIFSIGNALED(status);
  }
  EXPECT_GT(killed, 0);
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &h), SQLITE_OK);
  EXPECT_EQ(query_text(h, "PRAGMA integrity_check"), "ok");
  EXPECT_GE(query_int(h, "SELECT count(*) FROM run"), 1);
  EXPECT_EQ(
      query_int(
          h, "SELECT count(*) FROM run r WHERE r.event_count != (SELECT count(*) FROM event e WHERE e.run_id = r.id)"),
      0);
  EXPECT_EQ(
      query_int(h, "SELECT count(*) FROM run r WHERE (SELECT count(*) FROM expectation e WHERE e.run_id = r.id) != 8"),
      0);
  EXPECT_EQ(query_int(h, "SELECT count(*) FROM event WHERE run_id NOT IN (SELECT id FROM run)"), 0);
  EXPECT_EQ(query_int(h, "SELECT count(*) FROM request_sample WHERE run_id NOT IN (SELECT id FROM run)"), 0);
  sqlite3_close(h);
  // And the database still takes runs.
  EXPECT_EQ(ktwin("run " + scenario + " --quiet --db " + db_).code, 0);
}

TEST_F(ReportsTest, ReportRendersFromTheDatabaseInEveryFormat) {
  ASSERT_EQ(ktwin("run " + kSource + "/scenarios/burst-scale-out.yaml --quiet --db " + db_).code, 0);
  const fs::path html = dir_ / "r.html", md = dir_ / "r.md", js = dir_ / "r.json";
  for (const auto& p : {html, md, js}) {
    const CmdResult r = ktwin("report --db " + db_ + " --run latest -o " + p.string());
    ASSERT_EQ(r.code, 0) << r.output;
  }
  const std::string page = read(html);
  for (const char* id : {"chart-timeline", "chart-rps", "chart-ttft", "chart-tpot", "chart-queue", "chart-ttft-cdf",
                         "chart-tpot-cdf", "chart-gpus", "chart-cost"})
    EXPECT_NE(page.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("http://") == std::string::npos || page.find("http://www.w3.org/2000/svg") != std::string::npos,
            true);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  const std::string markdown = read(md);
  EXPECT_NE(markdown.find("| PASS | phi-3-b ttft_p50 below 1s |"), std::string::npos) << markdown;
  const json j = json::parse(read(js));
  EXPECT_EQ(j["run"]["scenario"], "burst-scale-out");
  EXPECT_EQ(j["expectations"].size(), 5u);
  EXPECT_FALSE(j["series"]["req_s"]["default/phi-3-a"].empty());
  // Unknown runs and databases are input errors.
  EXPECT_EQ(ktwin("report --db " + db_ + " --run 999").code, 2);
  EXPECT_EQ(ktwin("report --db " + (dir_ / "none.db").string()).code, 2);
  EXPECT_FALSE(fs::exists(dir_ / "none.db"));
}

// ---- headless Chromium ----

// Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) to RGB rows.
bool decode_png(const std::string& png, int& width, int& height, std::vector<uint8_t>& rgb) {
  if (png.size() < 8 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return false;
  auto be32 = [&](size_t at) {
    return static_cast<uint32_t>(static_cast<uint8_t>(png[at])) << 24 |
           static_cast<uint32_t>(static_cast<uint8_t>(png[at + 1])) << 16 |
           static_cast<uint32_t>(static_cast<uint8_t>(png[at + 2])) << 8 | static_cast<uint8_t>(png[at + 3]);
  };
  std::string idat;
  int channels = 0;
  for (size_t at = 8; at + 8 <= png.size();) {
    const uint32_t len = be32(at);
    const std::string type = png.substr(at + 4, 4);
    if (type == "IHDR") {
      width = static_cast<int>(be32(at + 8));
      height = static_cast<int>(be32(at + 12));
      const int depth = static_cast<uint8_t>(png[at + 16]), color = static_cast<uint8_t>(png[at + 17]);
      if (depth != 8 || (color != 2 && color != 6) || png[at + 20] != 0) return false;
      channels = color == 6 ? 4 : 3;
    } else if (type == "IDAT") {
      idat += png.substr(at + 8, len);
    }
    at += 12 + len;
  }
  const size_t stride = static_cast<size_t>(width) * static_cast<size_t>(channels);
  std::vector<uint8_t> raw((stride + 1) * static_cast<size_t>(height));
  uLongf raw_len = raw.size();
  if (channels == 0 ||
      uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK)
    return false;
  std::vector<uint8_t> prev(stride, 0), cur(stride);
  rgb.clear();
  for (int y = 0; y < height; ++y) {
    const uint8_t* line = raw.data() + static_cast<size_t>(y) * (stride + 1);
    const int filter = line[0];
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= static_cast<size_t>(channels) ? cur[x - static_cast<size_t>(channels)] : 0, b = prev[x],
                c = x >= static_cast<size_t>(channels) ? prev[x - static_cast<size_t>(channels)] : 0;
      int pred = 0;
      switch (filter) {
        case 1:
          pred = a;
          break;
        case 2:
          pred = b;
          break;
        case 3:
          pred = (a + b) / 2;
          break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          break;
      }
      cur[x] = static_cast<uint8_t>(line[1 + x] + pred);
    }
    for (int x = 0; x < width; ++x)
      for (int k = 0; k < 3; ++k)
        rgb.push_back(cur[static_cast<size_t>(x) * static_cast<size_t>(channels) + static_cast<size_t>(k)]);
    std::swap(prev, cur);
  }
  return true;
}

TEST_F(ReportsTest, ChromiumDrawsTheCharts) {
  if (shell("command -v chromium").code != 0)
    GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs it)";
  ASSERT_EQ(ktwin("run " + kSource + "/scenarios/burst-scale-out.yaml --quiet --db " + db_ + " --report " +
                  (dir_ / "r.html").string())
                .code,
            0);
  const fs::path png = dir_ / "shot.png";
  const CmdResult c =
      shell("cd " + dir_.string() +
            " && chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr "
            "--user-data-dir=" +
            (dir_ / "profile").string() + " --window-size=1100,4000 --screenshot=" + png.string() + " file://" +
            (dir_ / "r.html").string());
  ASSERT_EQ(c.code, 0) << c.output;
  EXPECT_EQ(c.output.find("CONSOLE"), std::string::npos) << c.output;  // console errors or warnings
  int w = 0, h = 0;
  std::vector<uint8_t> rgb;
  ASSERT_TRUE(decode_png(read(png), w, h, rgb));
  ASSERT_EQ(w, 1100);
  // Charts draw in saturated colours; text, grids and tables are grey. Count bands of rows that hold
  // coloured pixels: the timeline, four traffic charts, two CDFs, GPUs and cost.
  int bands = 0;
  bool in_band = false;
  int blank_run = 0;
  for (int y = 0; y < h; ++y) {
    int coloured = 0;
    for (int x = 0; x < w; ++x) {
      const uint8_t* p = &rgb[(static_cast<size_t>(y) * static_cast<size_t>(w) + static_cast<size_t>(x)) * 3];
      const int mx = std::max({p[0], p[1], p[2]}), mn = std::min({p[0], p[1], p[2]});
      coloured += mx - mn > 80;
    }
    if (coloured > 0) {
      if (!in_band) ++bands;
      in_band = true;
      blank_run = 0;
    } else if (++blank_run > 40) {
      in_band = false;
    }
  }
  EXPECT_GE(bands, 8) << "coloured regions found: " << bands;
}

// ---- ktwin plan ----

TEST_F(ReportsTest, PlanVerdictsAgreeWithRunsOfTheirScenarios) {
  const fs::path emitted = dir_ / "trials";
  const CmdResult r = ktwin(
      "plan --preset llama-3.1-8b-instruct --rate 20 --prompt-tokens 1000 --output-tokens 200 --slo ttft_p95=1s "
      "--slo tpot_p95=50ms --sku Standard_NC24ads_A100_v4 --sku Standard_NC40ads_H100_v5 --sku Standard_NV36ads_A10_v5 "
      "--max-replicas 4 --json --db " +
      db_ + " --emit-scenarios " + emitted.string() + " --report " + (dir_ / "plan.html").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const json j = json::parse(r.output);
  ASSERT_EQ(j["candidates"].size(), 3u) << r.output;
  EXPECT_EQ(j["recommended"]["sku"], "Standard_NC24ads_A100_v4");
  EXPECT_EQ(j["recommended"]["replicas"], 3);
  int passing = 0, failing = 0;
  for (const auto& c : j["candidates"]) {
    for (const char* key : {"sku", "gpus_per_node", "nodes_per_replica", "replicas", "cost_per_hour", "ttft_p95_ms",
                            "tpot_p95_ms", "max_rate", "meets_slo"})
      EXPECT_TRUE(c.contains(key)) << key;
    const bool meets = c["meets_slo"];
    (meets ? passing : failing) += 1;
    const std::string sku = c["sku"];
    const CmdResult run = ktwin("run " + (emitted / (sku + ".yaml")).string() + " --quiet --no-db");
    EXPECT_EQ(run.code, meets ? 0 : 1) << sku << "\n" << run.output;
  }
  EXPECT_EQ(passing, 2);
  EXPECT_EQ(failing, 1);  // one A10 per replica cannot carry 20 req/s on four replicas
  const std::string page = read(dir_ / "plan.html");
  EXPECT_NE(page.find("id=\"chart-pareto\""), std::string::npos);
  reports::ResultsDb db(db_);
  EXPECT_EQ(query_int(db.handle(), "SELECT count(*) FROM plan_candidate"), 3);
  EXPECT_EQ(query_text(db.handle(), "SELECT sku FROM plan_candidate WHERE recommended"), "Standard_NC24ads_A100_v4");
}

TEST_F(ReportsTest, PlanRejectsBadInputClearly) {
  EXPECT_EQ(ktwin("plan --preset nope --rate 1 --no-db").code, 2);
  const CmdResult slo = ktwin("plan --preset llama-3.1-8b-instruct --rate 1 --slo ttft_p95 --no-db");
  EXPECT_EQ(slo.code, 2);
  EXPECT_NE(slo.output.find("--slo: expected NAME=VALUE such as ttft_p95=800ms"), std::string::npos) << slo.output;
  const CmdResult metric = ktwin("plan --preset llama-3.1-8b-instruct --rate 1 --slo gpu=1s --no-db");
  EXPECT_NE(metric.output.find("\"gpu\" is not a latency metric"), std::string::npos) << metric.output;
  EXPECT_EQ(ktwin("plan --preset llama-3.1-8b-instruct --rate -1 --no-db").code, 2);
  EXPECT_EQ(ktwin("plan --preset llama-3.1-8b-instruct --rate 1 --price X=abc --no-db").code, 2);
}

TEST_F(ReportsTest, PlanScaleUpReportsTheProvisioningWindow) {
  // Three replicas carry 20 req/s with little headroom; growing from one leaves a backlog while two provision.
  const std::string base =
      "plan --preset llama-3.1-8b-instruct --rate 20 --prompt-tokens 1000 --output-tokens 200 --slo ttft_p95=1s "
      "--slo tpot_p95=50ms --slo e2el_p99=20s --sku Standard_NC24ads_A100_v4 --no-headroom --json --db " +
      db_;
  const CmdResult r = ktwin(base + " --scale-up 1:3 --emit-scenarios " + (dir_ / "trials").string());
  ASSERT_EQ(r.code, 1) << r.output;  // the SLOs are missed during growth
  const json j = json::parse(r.output);
  ASSERT_EQ(j["recommended"]["replicas"], 3);
  const json& g = j["scale_up"];
  EXPECT_EQ(g["sku"], "Standard_NC24ads_A100_v4");
  EXPECT_EQ(g["from"], 1);
  EXPECT_EQ(g["to"], 3);
  EXPECT_NEAR(g["rate_before"].get<double>(), 20.0 / 3, 1e-9);
  ASSERT_EQ(g["new_ready_after_s"].size(), 2u);
  const double last_ready = std::max(g["new_ready_after_s"][0].get<double>(), g["new_ready_after_s"][1].get<double>());
  EXPECT_GT(last_ready, 300);  // a GPU node takes minutes to provision
  EXPECT_EQ(g["first_violation_after_s"], 0.0);
  EXPECT_GE(g["violation_s"].get<double>(), last_ready - 60);  // missed at least until the last replica serves
  EXPECT_TRUE(g["recovered"]);
  EXPECT_GT(g["recovered_after_s"].get<double>(), last_ready);  // the backlog drains after that
  EXPECT_GT(g["worst_ttft_p95_ms"].get<double>(), 60000);
  EXPECT_EQ(g["failed_requests"], 0);
  EXPECT_FALSE(g["meets_slo_throughout"]);
  EXPECT_EQ(g["unchecked_slos"], json::array({"e2el_p99"}));
  ASSERT_FALSE(g["windows"].empty());
  EXPECT_TRUE(g["windows"].front()["violates"]);
  EXPECT_FALSE(g["windows"].back()["violates"]);
  EXPECT_EQ(g["windows"].back()["replicas_ready"], 3);
  // The growth run is a scenario of its own; running it gives the same event log.
  const std::string emitted = (dir_ / "trials" / "scale-up-Standard_NC24ads_A100_v4-1to3.yaml").string();
  const CmdResult rerun = ktwin("run " + emitted + " --quiet --no-db");
  EXPECT_EQ(rerun.code, 0) << rerun.output;

  // The growth run is recorded as a run of its own, which the plan points at.
  reports::ResultsDb db(db_);
  const int64_t run = std::stoll(query_text(db.handle(), "SELECT value FROM run_attr WHERE key = 'scale_up_run'"));
  EXPECT_EQ(g["run_id"], run);
  EXPECT_EQ(query_text(db.handle(),
                       "SELECT value FROM run_attr WHERE run_id = " + std::to_string(run) + " AND key = 'source'"),
            "ktwin plan --scale-up");
  EXPECT_GT(query_int(db.handle(), "SELECT count(*) FROM series WHERE run_id = " + std::to_string(run)), 0);
  EXPECT_EQ(ktwin("report --db " + db_ + " --run " + std::to_string(run) + " --format md").code, 0);
  const std::string fingerprint =
      query_text(db.handle(), "SELECT fingerprint FROM run WHERE id = " + std::to_string(run));
  ASSERT_FALSE(fingerprint.empty());
  EXPECT_NE(rerun.output.find("Fingerprint: " + fingerprint), std::string::npos) << rerun.output;

  // With spare replicas before the step, the same growth holds the SLOs.
  const CmdResult gentle = ktwin(base + " --rate 10 --scale-up 3:4");
  ASSERT_EQ(gentle.code, 0) << gentle.output;
  const json k = json::parse(gentle.output)["scale_up"];
  EXPECT_TRUE(k["meets_slo_throughout"]) << k.dump(2);
  EXPECT_EQ(k["violation_s"], 0.0);
}

TEST_F(ReportsTest, PlanTakesAnOrgModelAndAScenariosTraffic) {
  // An org/model described as a scenario's models: entry; its trial scenarios run with the same verdict.
  const fs::path emitted = dir_ / "trials";
  const CmdResult described =
      ktwin("plan --preset qwen/qwen3-8b --model " + kSource +
            "/scenarios/generic-hf-model.yaml --rate 4 --slo ttft_p95=1s --sku Standard_NC24ads_A100_v4 --no-headroom "
            "--json --no-db --emit-scenarios " +
            emitted.string());
  ASSERT_EQ(described.code, 0) << described.output;
  const json d = json::parse(described.output);
  EXPECT_EQ(d["preset"], "Qwen/Qwen3-8B");
  EXPECT_NE(d["model_origin"].get<std::string>().find("generic-hf-model.yaml line 12"), std::string::npos);
  ASSERT_EQ(d["candidates"].size(), 1u);
  EXPECT_EQ(ktwin("run " + (emitted / "Standard_NC24ads_A100_v4.yaml").string() + " --quiet --no-db").code, 0);

  // An architecture of presets/architectures.yaml, sized from its parameter count.
  const CmdResult arch = ktwin(
      "plan --preset meta-llama/Llama-2-13b-hf --rate 2 --sku Standard_NC24ads_A100_v4 "
      "--sku Standard_NV36ads_A10_v5 --no-headroom --json --no-db");
  ASSERT_EQ(arch.code, 0) << arch.output;
  const json a = json::parse(arch.output);
  EXPECT_NE(a["model_origin"].get<std::string>().find("architectures.yaml"), std::string::npos);
  ASSERT_EQ(a["candidates"].size(), 2u);
  EXPECT_EQ(a["candidates"][0]["nodes_per_replica"], 1);
  EXPECT_EQ(a["candidates"][1]["nodes_per_replica"], 2);  // 24 GiB of bf16 weights need two A10 nodes

  // Rate, arrival and token lengths from a scenario's busiest entry; a flag given as well wins.
  const std::string traffic = kSource + "/scenarios/burst-scale-out.yaml";
  const CmdResult from_scenario = ktwin("plan --preset phi-3-mini-4k-instruct --traffic " + traffic +
                                        " --sku Standard_NC24ads_A100_v4 --no-headroom --json --no-db");
  ASSERT_EQ(from_scenario.code, 0) << from_scenario.output;
  const json t = json::parse(from_scenario.output);
  EXPECT_EQ(t["rate"], 24.0);
  EXPECT_NE(t["traffic_origin"].get<std::string>().find("burst-scale-out.yaml line 38 (poisson 24/s)"),
            std::string::npos);
  const CmdResult overridden = ktwin("plan --preset phi-3-mini-4k-instruct --traffic " + traffic +
                                     " --rate 3 --sku Standard_NC24ads_A100_v4 --no-headroom --json --no-db");
  EXPECT_EQ(json::parse(overridden.output)["rate"], 3.0) << overridden.output;

  // Gamma arrivals and an empirical length file relative to that scenario, planned from another directory.
  fs::create_directories(dir_ / "load" / "data");
  std::ofstream(dir_ / "load" / "data" / "prompts.csv") << "tokens\n300\n900\n1500\n";
  std::ofstream(dir_ / "load" / "s.yaml")
      << "name: s\nduration: 1h\nworkspaces:\n  - manifest: {apiVersion: kaito.sh/v1beta1, kind: Workspace, "
         "metadata: {name: w}}\ntraffic:\n  - {workspace: w, arrival: {process: gamma, rate: 3/s, cv: 2},\n"
         "     prompt_tokens: {dist: empirical, file: data/prompts.csv}, output_tokens: 100}\n";
  const CmdResult gamma =
      shell("cd / && " + std::string(KTWIN_BINARY) + " plan --preset phi-3-mini-4k-instruct --traffic " +
            (dir_ / "load" / "s.yaml").string() +
            " --sku Standard_NC24ads_A100_v4 --no-headroom --no-db --emit-scenarios " + (dir_ / "gamma").string());
  ASSERT_EQ(gamma.code, 0) << gamma.output;
  const std::string trial = read(dir_ / "gamma" / "Standard_NC24ads_A100_v4.yaml");
  EXPECT_NE(trial.find("{process: gamma, rate: 3/s, cv: 2}"), std::string::npos) << trial;
  EXPECT_NE(trial.find("file: \"" + (dir_ / "load" / "data" / "prompts.csv").string() + "\""), std::string::npos)
      << trial;
}

TEST_F(ReportsTest, PlanComparesClouds) {
  const fs::path emitted = dir_ / "trials";
  const CmdResult r = ktwin(
      "plan --preset llama-3.1-8b-instruct --rate 20 --slo ttft_p95=1s --slo tpot_p95=50ms --cloud azure --cloud aws "
      "--sku Standard_NC24ads_A100_v4 --sku p4d.24xlarge --no-headroom --json --no-db --emit-scenarios " +
      emitted.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const json j = json::parse(r.output);
  EXPECT_EQ(j["clouds"], json::array({"azure", "aws"}));
  ASSERT_EQ(j["candidates"].size(), 2u) << r.output;
  EXPECT_EQ(j["candidates"][0]["cloud"], "azure");
  EXPECT_EQ(j["candidates"][1]["cloud"], "aws");
  EXPECT_EQ(j["recommended"]["cloud"], "azure");
  // Each trial runs in its SKU's cloud.
  EXPECT_NE(read(emitted / "p4d.24xlarge.yaml").find("  cloud: aws\n"), std::string::npos);
  const CmdResult bad = ktwin("plan --preset llama-3.1-8b-instruct --rate 1 --cloud gcp --no-db");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.output.find("--cloud: unknown cloud \"gcp\"; expected one of: arc, aws, azure"), std::string::npos)
      << bad.output;
}

TEST_F(ReportsTest, PlanRejectsBadModelTrafficAndScaleUpInput) {
  const CmdResult unknown = ktwin("plan --preset acme/secret-model --rate 1 --no-db");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.output.find("describe it with --model FILE"), std::string::npos) << unknown.output;
  const CmdResult wrong =
      ktwin("plan --preset acme/other --model " + kSource + "/scenarios/generic-hf-model.yaml --rate 1 --no-db");
  EXPECT_EQ(wrong.code, 2);
  EXPECT_NE(wrong.output.find("describes no model \"acme/other\" (it has: Qwen/Qwen3-8B)"), std::string::npos)
      << wrong.output;
  const CmdResult no_rate =
      ktwin("plan --preset phi-3-mini-4k-instruct --traffic " + kSource + "/scenarios/quickstart-phi3.yaml --no-db");
  EXPECT_EQ(no_rate.code, 2);
  EXPECT_NE(no_rate.output.find("no poisson or gamma traffic entry"), std::string::npos) << no_rate.output;
  for (const char* bad : {"3", "2:2", "0:2", "3:1", "1:3x", "1:40"}) {
    const CmdResult r = ktwin(std::string("plan --preset phi-3-mini-4k-instruct --rate 1 --no-db --scale-up ") + bad);
    EXPECT_EQ(r.code, 2) << bad << "\n" << r.output;
    EXPECT_NE(r.output.find("--scale-up"), std::string::npos) << r.output;
  }
}

}  // namespace
