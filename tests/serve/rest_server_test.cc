// The twin's Kubernetes API (`ktwin serve`) through the live client: CRUD and error codes, watch
// semantics (resume, 410 after compaction, selectors), discovery and Tables, and kubectl itself.
#include "serve/rest_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "catalog/catalog.h"
#include "cluster_model/object_store.h"
#include "live/cached_cluster.h"
#include "live/http_client.h"
#include "live/live_cluster.h"
#include "serve/paced_driver.h"
#include "serve/scenario_server.h"
#include "sim/kernel.h"
#include "tests/support/test_objects.h"

namespace ktwin::serve {
namespace {

using namespace std::chrono_literals;

// A bare simulated API server (no controllers) served on a free loopback port, in wall-clock pace.
struct ServedStore {
  sim::Kernel kernel;
  cluster_model::ObjectStore store{kernel.executor(), kernel.clock()};
  PacedDriver driver{1.0};
  std::unique_ptr<RestServer> server;
  std::thread loop;

  explicit ServedStore(RestServerOptions options = {}) {
    ServedWorld w;
    w.cluster = &store;
    w.clock = &kernel.clock();
    w.lock = &driver.lock();
    w.resource_version = [this] { return store.resource_version(); };
    w.catch_up = [this] { driver.catch_up(); };
    w.wake = [this] { driver.wake(); };
    server = std::make_unique<RestServer>(w, options);
    EXPECT_TRUE(server->start("127.0.0.1", 0));
    loop = std::thread([this] { driver.run(kernel, 0); });
  }
  ~ServedStore() {
    server->stop();
    driver.stop();
    loop.join();
    server.reset();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }
  std::shared_ptr<live::HttpClient> client() const {
    live::RestConfig c;
    c.server = url();
    live::HttpOptions o;
    o.qps = 1000;
    o.burst = 1000;
    o.initial_backoff = 10ms;
    o.max_backoff = 200ms;
    return std::make_shared<live::HttpClient>(c, o);
  }
};

using ktwin::testing::config_map;

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5000ms) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

TEST(LabelSelectorParse, EveryOperatorOfTheQuerySyntax) {
  LabelSelector s = parse_label_selector("a=b,c==d,e!=f,g in (h, i),j notin (k),l,!m");
  EXPECT_EQ(s.match_labels, (Labels{{"a", "b"}, {"c", "d"}}));
  ASSERT_EQ(s.match_expressions.size(), 5u);
  EXPECT_EQ(s.match_expressions[0], (SelectorRequirement{"e", "NotIn", {"f"}}));
  EXPECT_EQ(s.match_expressions[1], (SelectorRequirement{"g", "In", {"h", "i"}}));
  EXPECT_EQ(s.match_expressions[2], (SelectorRequirement{"j", "NotIn", {"k"}}));
  EXPECT_EQ(s.match_expressions[3], (SelectorRequirement{"l", "Exists", {}}));
  EXPECT_EQ(s.match_expressions[4], (SelectorRequirement{"m", "DoesNotExist", {}}));
  EXPECT_TRUE(parse_label_selector("").empty());
  // What the live client sends round-trips.
  LabelSelector back = parse_label_selector(s.to_string());
  EXPECT_EQ(back.match_labels, s.match_labels);
  EXPECT_EQ(back.match_expressions.size(), s.match_expressions.size());
  EXPECT_THROW(parse_label_selector("a in (b"), std::invalid_argument);
  EXPECT_THROW(parse_label_selector("a,,b"), std::invalid_argument);
  EXPECT_THROW(parse_label_selector("x in b"), std::invalid_argument);
}

TEST(HttpFaultsParse, RatesDelaysAndErrors) {
  HttpFaults f = parse_http_faults("throttle=0.1,conflict=0.2,slow=0.3:50ms,watch-drop-after=7,seed=9,truncate=0");
  EXPECT_DOUBLE_EQ(f.throttle, 0.1);
  EXPECT_DOUBLE_EQ(f.conflict, 0.2);
  EXPECT_DOUBLE_EQ(f.slow, 0.3);
  EXPECT_EQ(f.slow_delay, 50ms);
  EXPECT_EQ(f.watch_drop_after, 7);
  EXPECT_EQ(f.seed, 9u);
  EXPECT_THROW(parse_http_faults("throttle=2"), std::invalid_argument);
  EXPECT_THROW(parse_http_faults("thrtotle=0.1"), std::invalid_argument);
  EXPECT_THROW(parse_http_faults("conflict"), std::invalid_argument);
}

TEST(RestServerTest, CrudStatusPatchAndTheCoresErrorCodes) {
  ServedStore w;
  live::LiveCluster api(w.client());
  auto created = api.create(config_map("a", "1"));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_FALSE(created.value()->meta.uid.empty());
  EXPECT_EQ(api.create(config_map("a", "1")).error().code, ErrorCode::kAlreadyExists);

  Object stale = *created.value();
  Object next = stale;
  next.body["data"]["v"] = "2";
  auto updated = api.update(next);
  ASSERT_TRUE(updated) << updated.error().message;
  stale.body["data"]["v"] = "3";
  EXPECT_EQ(api.update(stale).error().code, ErrorCode::kConflict);  // optimistic concurrency

  auto patched = api.patch("ConfigMap", "default", "a", {{"data", {{"w", "x"}}}});
  ASSERT_TRUE(patched);
  EXPECT_EQ(patched.value()->body["data"], (json{{"v", "2"}, {"w", "x"}}));

  // Status subresource: a Pod's status changes only through it.
  Object pod;
  pod.api_version = "v1";
  pod.kind = "Pod";
  pod.meta.name = "p";
  pod.meta.namespace_ = "default";
  pod.body["spec"] = {{"containers", json::array({{{"name", "c"}, {"image", "i"}}})}};
  auto p = api.create(pod);
  ASSERT_TRUE(p) << p.error().message;
  Object ps = *p.value();
  ps.body["status"] = {{"phase", "Running"}};
  auto st = api.update_status(ps);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(st.value()->str("/status/phase"), "Running");
  EXPECT_TRUE(api.bind_pod("default", "p", "node-1"));
  EXPECT_EQ(api.get("Pod", "default", "p").value()->str("/spec/nodeName"), "node-1");

  ListOptions sel;
  sel.selector = LabelSelector{{{"app", "x"}}, {}};
  ASSERT_TRUE(api.create(config_map("b", "1", {{"app", "x"}})));
  auto listed = api.list("ConfigMap", sel);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed.value().size(), 1u);
  EXPECT_EQ(listed.value()[0]->meta.name, "b");

  EXPECT_TRUE(api.remove("ConfigMap", "default", "a"));
  EXPECT_EQ(api.get("ConfigMap", "default", "a").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(api.remove("ConfigMap", "default", "a").error().code, ErrorCode::kNotFound);
}

TEST(RestServerTest, ABusyPortIsAnErrorNotASharedPort) {
  ServedStore w;
  ServedStore other;
  EXPECT_FALSE(other.server->start("127.0.0.1", w.server->port()));
}

TEST(RestServerTest, RejectsBodiesThatContradictTheirUrl) {
  ServedStore w;
  auto client = w.client();
  auto r = client->request("POST", "/api/v1/namespaces/default/configmaps",
                           R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"other"}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("namespace"), std::string::npos);
  r = client->request("POST", "/api/v1/namespaces/default/configmaps", R"({"kind":"Secret","metadata":{"name":"a"}})");
  EXPECT_EQ(r.status, 400);
  r = client->request("POST", "/api/v1/namespaces/default/configmaps", "{not json");
  EXPECT_EQ(r.status, 400);
  r = client->request("GET", "/api/v1/namespaces/default/widgets");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["kind"], "Status");
  r = client->request("PATCH", "/api/v1/namespaces/default/configmaps/a", "{}", "application/apply-patch+yaml");
  EXPECT_EQ(r.status, 415);
}

TEST(RestServerTest, DiscoveryAndTablesForKubectl) {
  ServedStore w;
  auto client = w.client();
  auto apis = json::parse(client->request("GET", "/apis").body);
  bool kaito = false;
  for (const auto& g : apis["groups"])
    if (g["name"] == "kaito.sh") {
      kaito = true;
      EXPECT_EQ(g["preferredVersion"]["version"], "v1beta1");
      EXPECT_EQ(g["versions"].size(), 2u);  // v1beta1 and v1alpha1
    }
  EXPECT_TRUE(kaito);
  auto gv = json::parse(client->request("GET", "/apis/kaito.sh/v1beta1").body);
  bool workspaces = false, status = false;
  for (const auto& r : gv["resources"]) {
    if (r["name"] == "workspaces") {
      workspaces = true;
      EXPECT_EQ(r["shortNames"], json({"wk", "wks"}));
      EXPECT_EQ(r["namespaced"], true);
    }
    status = status || r["name"] == "workspaces/status";
  }
  EXPECT_TRUE(workspaces && status);
  auto core = json::parse(client->request("GET", "/api/v1").body);
  bool binding = false;
  for (const auto& r : core["resources"]) binding = binding || r["name"] == "pods/binding";
  EXPECT_TRUE(binding);

  live::LiveCluster api(client);
  Object ws;
  ws.api_version = "kaito.sh/v1beta1";
  ws.kind = "Workspace";
  ws.meta.name = "w";
  ws.meta.namespace_ = "default";
  ws.body["resource"] = {{"instanceType", "Standard_NC6s_v3"}};
  ws.body["inference"] = {{"preset", {{"name", "phi-3-mini-4k-instruct"}}}};
  ASSERT_TRUE(api.create(ws));
  // kubectl asks for a Table and prints its columns: the printer columns of the Workspace CRD.
  httplib::Client http("127.0.0.1", w.server->port());
  auto res = http.Get("/apis/kaito.sh/v1beta1/namespaces/default/workspaces",
                      {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}});
  ASSERT_TRUE(res);
  json table = json::parse(res->body);
  EXPECT_EQ(table["kind"], "Table");
  std::vector<std::string> columns;
  for (const auto& c : table["columnDefinitions"]) columns.push_back(c["name"]);
  EXPECT_EQ(columns, (std::vector<std::string>{"NAME", "INSTANCE", "RESOURCEREADY", "INFERENCEREADY", "JOBSTARTED",
                                               "WORKSPACESUCCEEDED", "TARGETNODECOUNT", "STATE", "AGE"}));
  ASSERT_EQ(table["rows"].size(), 1u);
  EXPECT_EQ(table["rows"][0]["cells"][0], "w");
  EXPECT_EQ(table["rows"][0]["cells"][1], "Standard_NC6s_v3");
  EXPECT_EQ(table["rows"][0]["object"]["metadata"]["name"], "w");
  // Served as v1alpha1 too, with that apiVersion.
  auto alpha = json::parse(client->request("GET", "/apis/kaito.sh/v1alpha1/namespaces/default/workspaces/w").body);
  EXPECT_EQ(alpha["apiVersion"], "kaito.sh/v1alpha1");
}

TEST(RestServerTest, WatchResumesFromAVersionAndAnswersGoneAfterCompaction) {
  ServedStore w;
  live::LiveCluster api(w.client());
  ASSERT_TRUE(api.create(config_map("a", "1")));
  auto list = json::parse(w.client()->request("GET", "/api/v1/namespaces/default/configmaps").body);
  const std::string rv = list["metadata"]["resourceVersion"];
  ASSERT_TRUE(api.create(config_map("b", "1")));
  ASSERT_TRUE(api.patch("ConfigMap", "default", "a", {{"data", {{"v", "2"}}}}));

  std::vector<std::string> lines;
  auto client = w.client();
  std::atomic<bool> cancel{false};
  client->stream(
      "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&resourceVersion=" + rv,
      [&](std::string_view line) {
        lines.emplace_back(line);
        return lines.size() < 2;
      },
      5s, &cancel);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[0])["type"], "ADDED");
  EXPECT_EQ(json::parse(lines[0])["object"]["metadata"]["name"], "b");
  EXPECT_EQ(json::parse(lines[1])["type"], "MODIFIED");

  w.server->compact();
  lines.clear();
  client->stream(
      "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&resourceVersion=" + rv,
      [&](std::string_view line) {
        lines.emplace_back(line);
        return true;
      },
      5s, &cancel);
  ASSERT_EQ(lines.size(), 1u);
  json gone = json::parse(lines[0]);
  EXPECT_EQ(gone["type"], "ERROR");
  EXPECT_EQ(gone["object"]["code"], 410);
}

TEST(RestServerTest, InformerSurvivesCompactionAndRestartWithoutDuplicates) {
  ServedStore w;
  live::LiveClusterOptions lo;
  lo.relist_backoff = 20ms;
  live::LiveCluster api(w.client(), lo);
  std::mutex mu;
  std::vector<std::string> seen;
  auto sub = api.watch("ConfigMap", "default", [&](const WatchEvent& ev) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(std::string(watch_event_type_name(ev.type)) + " " + ev.object->meta.name + " " +
                   ev.object->body["data"]["v"].get<std::string>());
  });
  auto count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return seen.size();
  };
  ASSERT_TRUE(api.create(config_map("a", "1")));
  ASSERT_TRUE(eventually([&] { return count() == 1; }));
  // The server goes away, history is compacted, changes happen meanwhile, the server comes back.
  const int port = w.server->port();
  w.server->stop();
  w.server->compact();
  {
    std::lock_guard<std::mutex> lock(w.driver.lock());
    ASSERT_TRUE(w.store.patch("ConfigMap", "default", "a", {{"data", {{"v", "2"}}}}));
    Object b = config_map("b", "1");
    ASSERT_TRUE(w.store.create(b));
  }
  ASSERT_TRUE(w.server->start("127.0.0.1", port));
  ASSERT_TRUE(eventually([&] { return count() == 3; }, 10000ms));
  ASSERT_TRUE(api.remove("ConfigMap", "default", "b"));
  ASSERT_TRUE(eventually([&] { return count() == 4; }));
  std::this_thread::sleep_for(100ms);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED a 1", "MODIFIED a 2", "ADDED b 1", "DELETED b 1"}));
}

// The operator's informer cache over the served API: reads come from the shared informer once it has
// synced, a late watcher first hears of what is cached, and the cache follows writes through the watch.
TEST(CachedClusterTest, SharedInformerServesReadsAndReplaysToLateWatchers) {
  ServedStore w;
  live::LiveCluster api(w.client());
  live::CachedCluster cache(api);
  ASSERT_TRUE(api.create(config_map("a", "1", {{"app", "x"}})));
  std::mutex mu;
  std::vector<std::string> first, second;
  auto record = [&mu](std::vector<std::string>& into) {
    return [&mu, &into](const WatchEvent& ev) {
      std::lock_guard<std::mutex> lock(mu);
      into.push_back(std::string(watch_event_type_name(ev.type)) + " " + ev.object->meta.name);
    };
  };
  auto s1 = cache.watch("ConfigMap", "", record(first));
  auto seen = [&](const std::vector<std::string>& v, size_t n) {
    return eventually([&] {
      std::lock_guard<std::mutex> lock(mu);
      return v.size() >= n;
    });
  };
  ASSERT_TRUE(seen(first, 1));
  ASSERT_TRUE(eventually([&] {
    (void)cache.get("ConfigMap", "default", "a");
    return cache.stats().cache_reads > 0;
  }));
  const auto before = cache.stats();
  auto got = cache.get("ConfigMap", "default", "a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got.value()->body["data"]["v"], "1");
  ListOptions sel;
  sel.selector = LabelSelector{{{"app", "x"}}, {}};
  ASSERT_EQ(cache.list("ConfigMap", sel).value().size(), 1u);
  EXPECT_EQ(cache.get("ConfigMap", "default", "zzz").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(cache.stats().api_reads, before.api_reads) << "a synced kind never goes to the API server";

  auto s2 = cache.watch("ConfigMap", "", record(second));  // late joiner
  ASSERT_TRUE(seen(second, 1));
  ASSERT_TRUE(cache.patch("ConfigMap", "default", "a", {{"data", {{"v", "2"}}}}));
  ASSERT_TRUE(seen(first, 2));
  ASSERT_TRUE(seen(second, 2));
  EXPECT_EQ(cache.get("ConfigMap", "default", "a").value()->body["data"]["v"], "2");  // the event came after the store
  ASSERT_TRUE(cache.remove("ConfigMap", "default", "a"));
  ASSERT_TRUE(seen(first, 3));
  EXPECT_EQ(cache.get("ConfigMap", "default", "a").error().code, ErrorCode::kNotFound);
  s1.reset();
  ASSERT_TRUE(seen(second, 3));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(first, (std::vector<std::string>{"ADDED a", "MODIFIED a", "DELETED a"}));
  EXPECT_EQ(second, (std::vector<std::string>{"ADDED a", "MODIFIED a", "DELETED a"}));
  // Kinds nobody watches are read from the API server.
  (void)cache.get("Secret", "default", "s");
  EXPECT_EQ(cache.stats().api_reads, before.api_reads + 1);
}

// kubectl itself (when installed) against the served quickstart: apply, get with the CRD's printer
// columns, get -w, delete.
TEST(KubectlTest, ApplyGetWatchDeleteAgainstTheServedTwin) {
  if (std::system("kubectl version --client > /dev/null 2>&1") != 0) GTEST_SKIP() << "kubectl is not installed";
  const sim::Scenario sc = sim::load_scenario(std::string(KTWIN_SOURCE_DIR) + "/scenarios/quickstart-phi3.yaml");
  ServeOptions so;
  so.speed = 60;
  std::promise<int> port;
  so.on_ready = [&port](RestServer& s) { port.set_value(s.port()); };
  ScenarioServer server(sc, catalog::default_catalog(), so);
  auto served = std::async(std::launch::async, [&] { return server.run(); });
  const std::string url = "http://127.0.0.1:" + std::to_string(port.get_future().get());
  auto kubectl = [&](const std::string& args) {
    std::string out;
    std::FILE* p = popen(("kubectl --server " + url + " " + args + " 2>&1").c_str(), "r");
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int rc = pclose(p);
    return std::make_pair(rc, out);
  };
  auto [rc, out] = kubectl("get workspace");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("NAME                   INSTANCE           RESOURCEREADY   INFERENCEREADY   JOBSTARTED   "
                     "WORKSPACESUCCEEDED   TARGETNODECOUNT   STATE"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("workspace-phi-3-mini   Standard_NC6s_v3"), std::string::npos) << out;

  const std::string manifest = ::testing::TempDir() + "/ktwin-kubectl-ws.yaml";
  std::ofstream(manifest) << "apiVersion: kaito.sh/v1beta1\nkind: Workspace\nmetadata:\n  name: ws-kubectl\n"
                             "resource:\n  instanceType: Standard_NC6s_v3\n  labelSelector:\n    matchLabels:\n"
                             "      apps: kubectl\ninference:\n  preset:\n    name: phi-3.5-mini-instruct\n";
  std::tie(rc, out) = kubectl("apply -f " + manifest);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("workspace.kaito.sh/ws-kubectl created"), std::string::npos) << out;
  std::tie(rc, out) = kubectl("apply -f " + manifest);
  EXPECT_NE(out.find("unchanged"), std::string::npos) << out;
  std::tie(rc, out) = kubectl("get wk ws-kubectl -w --request-timeout=3s");
  EXPECT_NE(out.find("ws-kubectl"), std::string::npos) << out;
  std::tie(rc, out) = kubectl("delete -f " + manifest + " --wait=false");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("deleted"), std::string::npos) << out;
  server.stop();
  served.get();
}

}  // namespace
}  // namespace ktwin::serve
