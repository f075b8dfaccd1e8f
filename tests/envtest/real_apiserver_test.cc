// `ktwin operator` + `ktwin twin` against a real kube-apiserver (1.20, built from Debian's source package by
// scripts/envtest.sh, which `make test` runs first): the Phi-3 quickstart must reach WorkspaceSucceeded=True
// and leave the objects and conditions of `ktwin run`, also through an apiserver kill and restart (etcd kept),
// short watches and a conflicting writer. The operator authenticates as deploy/rbac.yaml's ServiceAccount,
// so the RBAC rules are checked by a real authorizer too.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "catalog/catalog.h"
#include "cluster_model/object_store.h"
#include "core/k8s/conditions.h"
#include "live/kubeconfig.h"
#include "live/live_cluster.h"
#include "live/operator.h"
#include "sim/kernel.h"
#include "sim/runner.h"
#include "sim/scenario.h"
#include "sim/world.h"
#include "tests/support/object_compare.h"
#include "twin/twin.h"

namespace ktwin {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kSource = KTWIN_SOURCE_DIR;

std::string cache_bin() {
  if (const char* c = std::getenv("KTWIN_ENVTEST_CACHE")) return std::string(c) + "/bin";
  return std::string(std::getenv("HOME") ? std::getenv("HOME") : "/root") + "/.cache/kaito-twin/envtest/bin";
}

// Runs a command, returning its exit status and output (stdout and stderr).
int run(const std::string& cmd, std::string* output = nullptr) {
  std::FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  if (output) *output = out;
  return rc;
}

// etcd + kube-apiserver for one test, with KAITO's CRDs, namespace and RBAC applied.
class ControlPlane {
 public:
  ControlPlane() {
    char tmpl[] = "/tmp/ktwin-envtest-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::string out;
    started_ = run("bash " + kSource + "/scripts/envtest.sh start " + dir_, &out) == 0;
    if (!started_) {
      error_ = "scripts/envtest.sh start failed (run `scripts/envtest.sh build` first; `make test` does):\n" + out;
      return;
    }
    for (const char* f : {"deploy/namespace.yaml", "deploy/crds", "deploy/rbac.yaml"})
      if (kubectl("apply -f " + kSource + "/" + f, &out) != 0) {
        started_ = false;
        error_ = std::string("kubectl apply -f ") + f + " failed:\n" + out;
        return;
      }
    // The CRDs are served once Established.
    kubectl("wait --for condition=established --timeout=60s crd/workspaces.kaito.sh crd/nodeclaims.karpenter.sh", &out);
  }
  ~ControlPlane() {
    run("bash " + kSource + "/scripts/envtest.sh stop " + dir_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  bool started() const { return started_; }
  const std::string& error() const { return error_; }
  std::string admin_kubeconfig() const { return dir_ + "/admin.kubeconfig"; }
  std::string operator_kubeconfig() const { return dir_ + "/operator.kubeconfig"; }
  int kubectl(const std::string& args, std::string* out = nullptr) const {
    return run(cache_bin() + "/kubectl --kubeconfig " + admin_kubeconfig() + " " + args, out);
  }
  bool kill_apiserver() { return run("bash " + kSource + "/scripts/envtest.sh kill-apiserver " + dir_) == 0; }
  bool start_apiserver() { return run("bash " + kSource + "/scripts/envtest.sh start-apiserver " + dir_) == 0; }

 private:
  std::string dir_;
  bool started_ = false;
  std::string error_;
};

struct LiveRun {
  testing::Snapshot objects;
  live::OperatorStatus status;
  twin::TwinStatus twin;
  int operator_exit = -1;
  int twin_exit = -1;
  std::set<std::string> nodeclaims_created;  // every NodeClaim name ever seen ADDED
  // Wall time from each NodeClaim's ADDED to the first event showing its deletionTimestamp.
  std::map<std::string, std::chrono::steady_clock::duration> nodeclaim_lifetimes;
  bool succeeded = false;
};

// The operator (as its ServiceAccount) and the twin (as cluster-admin) against the control plane, for the
// scenario's duration (plus `extra`) at `speed`; `meanwhile` runs alongside (faults).
LiveRun run_live(ControlPlane& cp, const sim::Scenario& sc, double speed, std::chrono::seconds watch_timeout,
                 const std::function<void()>& meanwhile = {}, Duration extra = 0) {
  // The scenario's generic models are known to both, as `ktwin operator --models` and `ktwin twin --scenario` do.
  const catalog::Catalog cat = sim::with_generic_models(catalog::default_catalog(), sc.models);
  LiveRun out;
  // KTWIN_ENVTEST_LOG=FILE keeps the operator's and the twin's logs (JSON lines) for a failing run.
  const char* log_path = std::getenv("KTWIN_ENVTEST_LOG");
  std::FILE* devnull = std::fopen(log_path ? log_path : "/dev/null", log_path ? "a" : "w");
  live::Logger log(live::LogFormat::kJson, devnull);

  live::HttpOptions http;
  http.qps = 200;
  http.burst = 200;
  http.initial_backoff = 50ms;
  http.max_backoff = 1000ms;
  http.max_attempts = 10;

  // The test's own view: every NodeClaim ever created.
  auto admin = std::make_shared<live::HttpClient>(live::resolve_rest_config(cp.admin_kubeconfig()), http);
  live::LiveCluster admin_api(admin, live::LiveClusterOptions{watch_timeout, 100ms});
  std::mutex mu;
  std::map<std::string, std::chrono::steady_clock::time_point> claim_added;
  auto claims_watch = admin_api.watch("NodeClaim", "", [&](const WatchEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    const std::string& name = e.object->meta.name;
    if (e.type == WatchEventType::kAdded) {
      out.nodeclaims_created.insert(name);
      claim_added[name] = std::chrono::steady_clock::now();
    }
    if (e.object->meta.deletion_timestamp && claim_added.contains(name) && !out.nodeclaim_lifetimes.contains(name))
      out.nodeclaim_lifetimes[name] = std::chrono::steady_clock::now() - claim_added[name];
  });

  live::OperatorOptions oo;
  oo.core = sim::operator_config_of(sc.cluster);
  oo.rest = live::resolve_rest_config(cp.operator_kubeconfig());
  oo.http = http;
  oo.informers = live::LiveClusterOptions{watch_timeout, 100ms};
  oo.metrics_addr = "127.0.0.1:0";
  live::Operator op(oo, cat, log);
  std::thread operator_thread([&] { out.operator_exit = op.run(); });

  twin::TwinOptions to;
  to.rest = live::resolve_rest_config(cp.admin_kubeconfig());
  to.http = http;
  to.informers = live::LiveClusterOptions{watch_timeout, 100ms};
  to.speed = speed;
  to.scenario = &sc;
  to.until = sc.duration + extra;
  twin::Twin tw(to, cat, log);
  std::thread twin_thread([&] { out.twin_exit = tw.run(); });

  if (meanwhile) meanwhile();
  twin_thread.join();
  out.twin = tw.status();
  out.status = op.status();
  op.stop();
  operator_thread.join();
  claims_watch->stop();
  out.objects = testing::snapshot(admin_api);
  for (const auto& [key, obj] : out.objects)
    if (key.rfind("Workspace/", 0) == 0)
      out.succeeded = condition_is_true(obj["status"]["conditions"], "WorkspaceSucceeded");
  std::fclose(devnull);
  return out;
}

// Removes, at any depth, the members whose value `omitted` picks.
void drop_members(json& j, const std::function<bool(const json&)>& omitted) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end();) {
      if (omitted(it.value())) {
        it = j.erase(it);
      } else {
        drop_members(it.value(), omitted);
        ++it;
      }
    }
  } else if (j.is_array()) {
    for (auto& e : j) drop_members(e, omitted);
  }
}
// Kubernetes omits empty strings on the wire, and zero status counts (StatefulSet readyReplicas, Job
// active), all omitempty; the simulated store keeps them.
void drop_omitempty(testing::Snapshot& snap) {
  for (auto& kv : snap) {
    drop_members(kv.second, [](const json& v) { return v.is_string() && v.get_ref<const std::string&>().empty(); });
    if (kv.second.contains("status"))
      drop_members(kv.second["status"], [](const json& v) { return v.is_number_integer() && v.get<int64_t>() == 0; });
  }
}

class RealApiServer : public ::testing::Test {
 protected:
  static constexpr double kSpeed = 60;

  void SetUp() override {
    cp_ = std::make_unique<ControlPlane>();
    ASSERT_TRUE(cp_->started()) << cp_->error();
  }

  // The scenario (a path in the source tree), and the objects its in-process run leaves at its end.
  void load(const std::string& scenario) {
    sc_ = sim::load_scenario(kSource + "/" + scenario);
    sim::RunOptions ro;
    ro.drive = [this](sim::Kernel& kernel, cluster_model::ObjectStore& store) {
      const Time end = kernel.now() + sc_.duration;
      kernel.run_until(end);
      expected_ = testing::snapshot(store);
      return end;
    };
    outcome_ = sim::run_scenario(sc_, catalog::default_catalog(), ro);
  }

  // The live objects equal the in-process ones, leaving out what the real API server adds by defaulting,
  // and what differs because it is a real (1.20) server:
  // - the simulated store gives every kind a metadata.generation, a real server only the kinds whose
  //   strategy tracks one (not ControllerRevisions, Pods, Nodes or Services);
  // - the StatefulSet controller hashes the pod template as stored, and the real server stored it with
  //   its defaults, so controller-revision-hash values (and those revisions' names) differ;
  // - fields newer than 1.20 are dropped by the server (StatefulSet persistentVolumeClaimRetentionPolicy and
  //   status.availableReplicas), and empty strings and zero status counts are omitted on the wire (omitempty);
  // - admission adds the DefaultTolerationSeconds tolerations to pods;
  // - the server's own `kubernetes` Service;
  // - pod IPs: the modelled CNI hands them out in the order pods start, and when two workspaces come up at
  //   once that order is a race in a live run;
  // - a crash-looping container's restart count, by one (below).
  void expect_same_objects(LiveRun& live) {
    testing::Snapshot want_objects = testing::canonical_names(expected_);
    testing::Snapshot got_objects = testing::canonical_names(live.objects);
    got_objects.erase("Service/default/kubernetes");
    for (auto* snap : {&want_objects, &got_objects})
      for (auto& [key, obj] : *snap)
        if (key.rfind("Pod/", 0) == 0 && obj.contains("status")) {
          obj["status"].erase("podIP");
          obj["status"].erase("podIPs");
        }
    for (auto& [key, obj] : want_objects) {
      if (auto it = got_objects.find(key); it != got_objects.end() && !it->second["metadata"].contains("generation"))
        obj["metadata"].erase("generation");
      if (key.rfind("StatefulSet/", 0) == 0) {
        obj["spec"].erase("persistentVolumeClaimRetentionPolicy");
        if (obj.contains("status")) obj["status"].erase("availableReplicas");
      }
    }
    for (auto& [key, obj] : got_objects) {
      if (key.rfind("Pod/", 0) != 0 || !obj["spec"]["tolerations"].is_array()) continue;
      json kept = json::array();
      for (const auto& t : obj["spec"]["tolerations"]) {
        const std::string k = t.value("key", "");
        const bool defaulted = t.value("effect", "") == "NoExecute" && t.value("tolerationSeconds", 0) == 300 &&
                               (k == "node.kubernetes.io/not-ready" || k == "node.kubernetes.io/unreachable");
        if (!defaulted) kept.push_back(t);
      }
      obj["spec"]["tolerations"] = kept;
    }
    // A crash loop's restart count integrates time: each cycle of the live run is a few API round trips
    // longer, which may cost one restart by the end.
    for (auto& [key, obj] : want_objects) {
      auto it = got_objects.find(key);
      if (key.rfind("Pod/", 0) != 0 || it == got_objects.end() || !obj.contains("status")) continue;
      json& want_cs = obj["status"]["containerStatuses"];
      const json& got_cs = it->second["status"]["containerStatuses"];
      if (!want_cs.is_array() || !got_cs.is_array() || want_cs.size() != got_cs.size()) continue;
      for (size_t i = 0; i < want_cs.size(); ++i) {
        const int64_t w = want_cs[i].value("restartCount", int64_t{0}), g = got_cs[i].value("restartCount", int64_t{0});
        if (w != g && std::abs(w - g) <= 1 && std::min(w, g) >= 1) want_cs[i]["restartCount"] = g;
      }
    }
    drop_omitempty(want_objects);
    drop_omitempty(got_objects);
    testing::prune_to(got_objects, want_objects);
    auto hashes = [](const std::string& text) {
      return std::regex_replace(
          std::regex_replace(text,
                             std::regex(R"(("controller-revision-hash"|"currentRevision"|"updateRevision"):"[^"]*")"),
                             "$1:\"H\""),
          std::regex(R"(ControllerRevision/([a-z0-9.-]+)/([a-z0-9.-]+)-[0-9a-f]{9,10} )"),
          "ControllerRevision/$1/$2-H ");
    };
    const std::string want = hashes(testing::normalize(want_objects)), got = hashes(testing::normalize(got_objects));
    // KTWIN_ENVTEST_DUMP=DIR keeps both sides of the comparison, for a diff.
    if (const char* dump = std::getenv("KTWIN_ENVTEST_DUMP")) {
      std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(name.begin(), name.end(), '/', '.');
      std::ofstream(std::string(dump) + "/" + name + ".in-process.txt") << want;
      std::ofstream(std::string(dump) + "/" + name + ".live.txt") << got;
    }
    EXPECT_TRUE(want == got) << testing::first_difference(want, got, 8);
  }

  // NodeClaims the in-process run created, over all workspaces.
  int64_t nodeclaims_created_in_process() const {
    int64_t n = 0;
    for (const auto& w : outcome_.summary["workspaces"]) n += w.value("nodeclaims_created", 0);
    return n;
  }

  sim::Scenario sc_;
  testing::Snapshot expected_;
  sim::RunOutcome outcome_;
  std::unique_ptr<ControlPlane> cp_;
};

TEST_F(RealApiServer, QuickstartSucceedsWithTheObjectsOfTheInProcessRun) {
  load("scenarios/quickstart-phi3.yaml");
  LiveRun live = run_live(*cp_, sc_, kSpeed, 300s);
  EXPECT_TRUE(live.succeeded) << "WorkspaceSucceeded is not True";
  EXPECT_EQ(live.operator_exit, 0);
  EXPECT_EQ(live.twin_exit, 0);
  EXPECT_GT(live.status.reconciles, 0u);
  EXPECT_EQ(live.status.reconcile_errors, 0u) << "the ServiceAccount's RBAC must allow every call";
  EXPECT_EQ(live.twin.apply_failures, 0u);
  EXPECT_GT(live.twin.heartbeats, 0u);
  EXPECT_EQ(live.nodeclaims_created.size(), 1u);
  expect_same_objects(live);

  // kubectl of the same version shows deploy/crds' printer columns, filled in.
  std::string table;
  ASSERT_EQ(cp_->kubectl("get workspace", &table), 0) << table;
  EXPECT_NE(table.find("INSTANCE"), std::string::npos) << table;
  EXPECT_NE(table.find("RESOURCEREADY"), std::string::npos) << table;
  EXPECT_NE(table.find("INFERENCEREADY"), std::string::npos) << table;
  EXPECT_NE(table.find("WORKSPACESUCCEEDED"), std::string::npos) << table;
  EXPECT_NE(table.find("workspace-phi-3-mini"), std::string::npos) << table;
  const std::string instance = expected_["Workspace/default/workspace-phi-3-mini"]["resource"]["instanceType"];
  EXPECT_NE(table.find(instance), std::string::npos) << table;
  EXPECT_NE(table.find("True"), std::string::npos) << table;
  std::printf("%s", table.c_str());
}

TEST_F(RealApiServer, ConvergesThroughAnApiServerRestartShortWatchesAndAConflictingWriter) {
  load("scenarios/quickstart-phi3.yaml");
  std::atomic<int> pokes{0};
  bool restarted = false;
  LiveRun live = run_live(
      *cp_, sc_, kSpeed, 2s,
      [&] {
        // A second writer touches the Workspace while the operator reconciles it, so its updates meet 409s.
        auto admin = std::make_shared<live::HttpClient>(live::resolve_rest_config(cp_->admin_kubeconfig()));
        live::LiveCluster api(admin);
        std::atomic<bool> done{false};
        std::thread writer([&] {
          while (!done) {
            auto r =
                api.patch("Workspace", "default", "workspace-phi-3-mini",
                          {{"metadata", {{"annotations", {{"test.kaito-twin/poke", std::to_string(pokes + 1)}}}}}});
            if (r) ++pokes;
            std::this_thread::sleep_for(30ms);
          }
        });
        // Mid-provisioning the API server dies (SIGKILL) and comes back on the same etcd: every watch breaks
        // and the new server's watch cache starts at the current revision, so old resourceVersions are gone.
        std::this_thread::sleep_for(4s);
        // Down for 3 s plus its start-up: longer than the HTTP client's own retries, so the twin's world must
        // wait for the server rather than drop a step.
        restarted = cp_->kill_apiserver();
        std::this_thread::sleep_for(3s);
        restarted = restarted && cp_->start_apiserver();
        std::this_thread::sleep_for(4s);
        done = true;
        writer.join();
        EXPECT_TRUE(api.patch("Workspace", "default", "workspace-phi-3-mini",
                              {{"metadata", {{"annotations", {{"test.kaito-twin/poke", nullptr}}}}}}));
      },
      // The world stands still while the server is down (and a loaded or sanitizer
      // run is slower), so it gets 30 more virtual minutes to finish; the quickstart
      // is at rest long before, so its objects still compare with the run's at 30 min.
      30 * kMinute);
  EXPECT_TRUE(restarted);
  EXPECT_GT(pokes.load(), 20);
  EXPECT_TRUE(live.succeeded) << "WorkspaceSucceeded is not True";
  EXPECT_EQ(live.operator_exit, 0);
  EXPECT_EQ(live.twin_exit, 0);
  EXPECT_EQ(live.nodeclaims_created.size(), 1u) << "no NodeClaim may be created twice";
  std::printf("operator: %llu reconciles, %llu errors (conflicts, apiserver down), %llu requeues; %d pokes\n",
              static_cast<unsigned long long>(live.status.reconciles),
              static_cast<unsigned long long>(live.status.reconcile_errors),
              static_cast<unsigned long long>(live.status.requeues), pokes.load());
  expect_same_objects(live);
}

// A timeline fault played by the twin: the VM under the ready workspace dies at 20 minutes; the Node goes
// Unknown, the gpu-provisioner role repairs it after 10 minutes, the pod is collected and recreated on the
// operator's replacement NodeClaim. Real deletions (finalizers, graceful pod deletion) on the real server.
TEST_F(RealApiServer, NodeFailureIsRepairedAsInTheInProcessRun) {
  load("scenarios/node-failure-repair.yaml");
  LiveRun live = run_live(*cp_, sc_, 180, 300s);
  EXPECT_TRUE(live.succeeded) << "WorkspaceSucceeded is not True";
  EXPECT_EQ(live.operator_exit, 0);
  EXPECT_EQ(live.twin_exit, 0);
  const int64_t created_in_process = nodeclaims_created_in_process();
  EXPECT_EQ(created_in_process, 2);
  EXPECT_EQ(static_cast<int64_t>(live.nodeclaims_created.size()), created_in_process);
  expect_same_objects(live);
}

// Karpenter mode: the operator makes a NodePool per workspace (its node class from the cluster), the twin
// plays Karpenter (NodeClaims from NodePools, liveness replacement during a capacity outage) and the cascade
// when a workspace is deleted. The NodePool and AKSNodeClass CRDs stand in for Karpenter's own.
TEST_F(RealApiServer, KarpenterModeMatchesTheInProcessRun) {
  constexpr double kKarpenterSpeed = 180;
  std::string out;
  ASSERT_EQ(cp_->kubectl("apply -f " + kSource + "/tests/envtest/crds", &out), 0) << out;
  ASSERT_EQ(cp_->kubectl("wait --for condition=established --timeout=60s crd/nodepools.karpenter.sh "
                         "crd/aksnodeclasses.karpenter.azure.com",
                         &out),
            0)
      << out;
  load("tests/envtest/data/karpenter-phi3.yaml");
  // The deleted workspace's NodeClaim waits out its VM's deletion; 10 more virtual minutes let the live run
  // come to rest too.
  LiveRun live = run_live(*cp_, sc_, kKarpenterSpeed, 300s, {}, 10 * kMinute);
  EXPECT_TRUE(live.succeeded) << "WorkspaceSucceeded is not True";
  EXPECT_EQ(live.operator_exit, 0);
  EXPECT_EQ(live.twin_exit, 0);
  EXPECT_EQ(live.status.reconcile_errors, 0u) << "the ServiceAccount's RBAC must allow every call";
  EXPECT_EQ(live.twin.apply_failures, 0u);
  // How many launches the outage costs is a race between its end and Karpenter's 5-minute liveness, run on
  // sampled VM durations, so the count is not compared with the in-process run's; at least one is.
  const int64_t created_in_process = nodeclaims_created_in_process();
  EXPECT_GE(created_in_process, 3);
  EXPECT_GE(live.nodeclaims_created.size(), 3u) << "the capacity outage should have cost a NodeClaim";
  std::printf("NodeClaims created: %zu live, %lld in process\n", live.nodeclaims_created.size(),
              static_cast<long long>(created_in_process));
  // A failed launch is given up after 5 minutes of the twin's time. (When the twin compared the server's
  // wall-clock creationTimestamps with its sped-up clock, claims went after 2.8-4.1 virtual minutes.)
  // Measured from the ADDED event, which a loaded machine may see late: the bound leaves a minute for that.
  ASSERT_FALSE(live.nodeclaim_lifetimes.empty());
  for (const auto& [name, lifetime] : live.nodeclaim_lifetimes) {
    const double virtual_minutes = std::chrono::duration<double>(lifetime).count() * kKarpenterSpeed / 60;
    EXPECT_GE(virtual_minutes, 4.0) << name << " was deleted " << virtual_minutes
                                    << " virtual minutes after its create";
  }
  EXPECT_TRUE(live.objects.contains("NodePool//default-workspace-phi-3-a"));
  EXPECT_FALSE(live.objects.contains("NodePool//default-workspace-phi-3-b"));
  expect_same_objects(live);
}

// More scenarios in twin mode against the real server, each ending with the objects of its in-process run.
// By default those whose paths the tests above do not take: a distributed StatefulSet over two nodes, Jobs
// (generated pod names, failures), a generic Hugging Face model, a crash-looping pod. KTWIN_ENVTEST_SCENARIOS
// chooses others when the tests are listed (comma-separated paths in the source tree, or `all`).
std::vector<std::string> sweep_scenarios() {
  const char* env = std::getenv("KTWIN_ENVTEST_SCENARIOS");
  std::string list = env ? env
                         : "scenarios/multi-node-llama-70b.yaml,scenarios/tuning-failures.yaml,"
                           "scenarios/generic-hf-model.yaml,scenarios/oom-bypass.yaml";
  std::vector<std::string> out;
  if (list == "all") {
    for (const auto& f : fs::directory_iterator(kSource + "/scenarios"))
      if (f.path().extension() == ".yaml") out.push_back("scenarios/" + f.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  for (size_t start = 0; start < list.size();) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    if (comma > start) out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

class RealApiServerScenario : public RealApiServer, public ::testing::WithParamInterface<std::string> {};

TEST_P(RealApiServerScenario, EndsWithTheObjectsOfTheInProcessRun) {
  std::string out;
  ASSERT_EQ(cp_->kubectl("apply -f " + kSource + "/tests/envtest/crds", &out), 0) << out;
  load(GetParam());
  // The scenario in about 30 s of wall time, at 60x or faster.
  const double speed = std::max(60.0, static_cast<double>(sc_.duration) / static_cast<double>(30 * kSecond));
  LiveRun live = run_live(*cp_, sc_, speed, 300s);
  EXPECT_EQ(live.operator_exit, 0);
  EXPECT_EQ(live.twin_exit, 0);
  EXPECT_EQ(live.status.reconcile_errors, 0u) << "the ServiceAccount's RBAC must allow every call";
  const int64_t created_in_process = nodeclaims_created_in_process();
  std::printf(
      "speed %.0f; operator: %llu reconciles; twin: %llu applied, %llu refused; NodeClaims: %zu live, "
      "%lld in process\n",
      speed, static_cast<unsigned long long>(live.status.reconciles),
      static_cast<unsigned long long>(live.twin.applied), static_cast<unsigned long long>(live.twin.apply_failures),
      live.nodeclaims_created.size(), static_cast<long long>(created_in_process));
  // During a capacity outage the number of failed launches is a race between the outage's end and the
  // provisioner's retries, so only an outage-free run must create exactly as many NodeClaims.
  const bool outage = std::any_of(sc_.timeline.begin(), sc_.timeline.end(), [](const sim::TimelineAction& a) {
    return std::holds_alternative<sim::CapacityOutageAction>(a.action);
  });
  if (!outage) {
    EXPECT_EQ(static_cast<int64_t>(live.nodeclaims_created.size()), created_in_process);
  }
  expect_same_objects(live);
}

INSTANTIATE_TEST_SUITE_P(Chosen, RealApiServerScenario, ::testing::ValuesIn(sweep_scenarios()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = fs::path(info.param).stem().string();
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RealApiServerScenario);

}  // namespace
}  // namespace ktwin
