// The live operator at scale: `ktwin operator` (its own process, so its memory is its own) against
// `ktwin serve --controllers none` on loopback. 1,000 Workspaces are created through the API; the
// benchmark reports the operator's resident memory once all have their NodeClaims, and the time from a
// Workspace create to its NodeClaim appearing, for creates made one at a time afterwards.
#include <benchmark/benchmark.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <algorithm>

#include <condition_variable>
#include <fstream>
#include <future>
#include <map>
#include <mutex>

#include "catalog/catalog.h"
#include "live/http_client.h"
#include "live/live_cluster.h"
#include "serve/scenario_server.h"
#include "sim/scenario.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const char* kEmptyCluster = R"(name: operator-bench
description: an empty AKS cluster for the live operator benchmark
seed: 1
duration: 24h
cluster:
  cloud: azure
  region: eastus
  node_provisioner: gpu-provisioner
)";

std::string workspace_json(const std::string& name) {
  return R"({"apiVersion":"kaito.sh/v1beta1","kind":"Workspace","metadata":{"name":")" + name +
         R"(","namespace":"default"},"resource":{"instanceType":"Standard_NC6s_v3","labelSelector":{"matchLabels":{"apps":")" +
         name + R"("}}},"inference":{"preset":{"name":"phi-3-mini-4k-instruct"}}})";
}

double rss_mib(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::string(field).size())) / 1024.0;
  return 0;
}

void BM_OperatorThousandWorkspaces(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const auto sc = ktwin::sim::parse_scenario(kEmptyCluster, std::string(KTWIN_SOURCE_DIR) + "/bench/operator.yaml");
  double rss = 0, hwm = 0, p50 = 0, p95 = 0, worst = 0, bulk_s = 0;
  for (auto _ : state) {
    ktwin::serve::ServeOptions so;
    so.speed = 1;
    so.builtin_controllers = false;
    std::promise<int> port_promise;
    so.on_ready = [&](ktwin::serve::RestServer& s) { port_promise.set_value(s.port()); };
    ktwin::serve::ScenarioServer server(sc, ktwin::catalog::default_catalog(), so);
    auto served = std::async(std::launch::async, [&] { return server.run(); });
    const std::string url = "http://127.0.0.1:" + std::to_string(port_promise.get_future().get());
    const std::string kubeconfig = "/tmp/ktwin-operator-bench-" + std::to_string(getpid()) + ".yaml";
    std::ofstream(kubeconfig) << "apiVersion: v1\nkind: Config\nclusters:\n- name: b\n  cluster:\n    server: " << url
                              << "\ncontexts:\n- name: b\n  context:\n    cluster: b\ncurrent-context: b\nusers: []\n";

    // The operator as its own process, rate limits opened up for loopback.
    std::vector<std::string> args = {KTWIN_BINARY,       "operator", "--kubeconfig",   kubeconfig,
                                     "--metrics-addr",   "0",        "--kube-api-qps", "2000",
                                     "--kube-api-burst", "2000",     "--log-format",   "json"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    if (posix_spawn(&pid, KTWIN_BINARY, &fa, nullptr, argv.data(), environ) != 0) {
      state.SkipWithError("cannot start ktwin operator");
      break;
    }
    posix_spawn_file_actions_destroy(&fa);

    ktwin::live::RestConfig rc;
    rc.server = url;
    ktwin::live::HttpOptions ho;
    ho.qps = 5000;
    ho.burst = 5000;
    auto client = std::make_shared<ktwin::live::HttpClient>(rc, ho);
    ktwin::live::LiveCluster api(client);
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, Clock::time_point> claimed;  // workspace -> when its first NodeClaim was seen
    auto watch = api.watch("NodeClaim", "", [&](const ktwin::WatchEvent& ev) {
      if (ev.type != ktwin::WatchEventType::kAdded) return;
      const std::string* ws = ev.object->meta.label("kaito.sh/workspace");
      if (!ws) return;
      std::lock_guard<std::mutex> lock(mu);
      claimed.emplace(*ws, Clock::now());
      cv.notify_all();
    });

    const auto bulk_start = Clock::now();
    for (int i = 0; i < n; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "bulk-%04d", i);
      auto r = client->request("POST", "/apis/kaito.sh/v1beta1/namespaces/default/workspaces", workspace_json(name));
      if (r.status != 201) state.SkipWithError(("create failed: " + r.body).c_str());
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, 600s, [&] { return static_cast<int>(claimed.size()) >= n; });
      bulk_s = std::chrono::duration<double>(Clock::now() - bulk_start).count();
      if (static_cast<int>(claimed.size()) < n) state.SkipWithError("not every Workspace got its NodeClaim in 600 s");
    }
    std::this_thread::sleep_for(2s);  // let the bulk's follow-up reconciles drain
    rss = rss_mib(pid, "VmRSS:");

    // Create -> NodeClaim, one Workspace at a time.
    std::vector<double> latencies;
    for (int i = 0; i < 50; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "single-%02d", i);
      const auto start = Clock::now();
      auto r = client->request("POST", "/apis/kaito.sh/v1beta1/namespaces/default/workspaces", workspace_json(name));
      if (r.status != 201) state.SkipWithError(("create failed: " + r.body).c_str());
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, 10s, [&] { return claimed.count(name) > 0; });
      if (!claimed.count(name)) {
        state.SkipWithError("a Workspace got no NodeClaim within 10 s");
        break;
      }
      latencies.push_back(std::chrono::duration<double, std::milli>(claimed[name] - start).count());
    }
    if (std::getenv("KTWIN_BENCH_VERBOSE"))
      for (double l : latencies) std::fprintf(stderr, "%.1f ", l);
    hwm = rss_mib(pid, "VmHWM:");
    std::sort(latencies.begin(), latencies.end());
    if (!latencies.empty()) {
      p50 = latencies[latencies.size() / 2];
      p95 = latencies[std::min(latencies.size() - 1, latencies.size() * 95 / 100)];
      worst = latencies.back();
    }
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    watch.reset();
    server.stop();
    served.get();
    std::remove(kubeconfig.c_str());
  }
  state.counters["operator_rss_mib"] = rss;
  state.counters["operator_peak_rss_mib"] = hwm;
  state.counters["bulk_to_all_nodeclaims_s"] = bulk_s;
  state.counters["create_to_nodeclaim_p50_ms"] = p50;
  state.counters["create_to_nodeclaim_p95_ms"] = p95;
  state.counters["create_to_nodeclaim_max_ms"] = worst;
}
BENCHMARK(BM_OperatorThousandWorkspaces)->Arg(1000)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
