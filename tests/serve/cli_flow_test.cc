// The README's live-mode flow with the real binaries: `ktwin serve --controllers none` and
// `ktwin operator --leader-elect` as separate processes, the Phi-3 workspace to WorkspaceSucceeded=True,
// then SIGTERM: the operator exits 0 having released its Lease, and serve exits 0. Also a generic
// Hugging Face model served by the operator from `--models`.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/object.h"
#include "live/http_client.h"

extern char** environ;

namespace ktwin {
namespace {

using namespace std::chrono_literals;

pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

int wait_exit(pid_t pid, std::chrono::seconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < end) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(20ms);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Whatever happens in a test, no process it started outlives it.
struct Reaper {
  std::vector<pid_t> pids;
  pid_t start(const std::vector<std::string>& args, const std::string& log) {
    const pid_t pid = spawn(args, log);
    if (pid > 0) pids.push_back(pid);
    return pid;
  }
  ~Reaper() {
    for (pid_t p : pids) {
      if (kill(p, 0) == 0) {
        kill(p, SIGKILL);
        waitpid(p, nullptr, 0);
      }
    }
  }
};

// `ktwin serve SCENARIO --controllers none` on a free port; the server's URL once its kubeconfig is written.
struct Served {
  pid_t pid = -1;
  std::string url, kubeconfig, log;
};
Served serve_scenario(const std::string& scenario, const std::string& speed, const std::string& tag) {
  Served s;
  const std::string dir = ::testing::TempDir();
  s.kubeconfig = dir + "/ktwin-" + tag + ".kubeconfig";
  s.log = dir + "/ktwin-" + tag + "-serve.log";
  std::remove(s.kubeconfig.c_str());
  s.pid = spawn({KTWIN_BINARY, "serve", std::string(KTWIN_SOURCE_DIR) + "/" + scenario, "--speed", speed,
                 "--controllers", "none", "--listen", "127.0.0.1:0", "--write-kubeconfig", s.kubeconfig},
                s.log);
  if (s.pid <= 0) return s;
  for (int i = 0; i < 500 && slurp(s.kubeconfig).empty(); ++i) std::this_thread::sleep_for(10ms);
  const std::string kc = slurp(s.kubeconfig);
  if (const size_t at = kc.find("server: "); at != std::string::npos)
    s.url = kc.substr(at + 8, kc.find('\n', at) - at - 8);
  return s;
}

// Polls until the Workspace's WorkspaceSucceeded is True, for up to `limit`.
bool workspace_succeeds(const std::string& url, const std::string& name, std::chrono::seconds limit) {
  live::RestConfig rc;
  rc.server = url;
  live::HttpClient client(rc);
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    auto r = client.request("GET", "/apis/kaito.sh/v1beta1/namespaces/default/workspaces/" + name);
    if (r.status == 200) {
      const json ws = json::parse(r.body);
      if (ws.contains("status") && ws["status"].is_object() && ws["status"].contains("conditions"))
        for (const auto& c : ws["status"]["conditions"])
          if (c.value("type", "") == "WorkspaceSucceeded" && c.value("status", "") == "True") return true;
    }
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST(LiveCliFlow, ServePlusOperatorThenSigterm) {
  const std::string op_log = ::testing::TempDir() + "/ktwin-flow-operator.log";
  const Served served = serve_scenario("scenarios/quickstart-phi3.yaml", "60", "flow");
  ASSERT_GT(served.pid, 0);
  Reaper reaper{{served.pid}};
  ASSERT_EQ(served.url.rfind("http://127.0.0.1:", 0), 0u) << slurp(served.log);

  const pid_t op =
      reaper.start({KTWIN_BINARY, "operator", "--kubeconfig", served.kubeconfig, "--leader-elect",
                    "--leader-election-namespace", "default", "--metrics-addr", "127.0.0.1:0", "--log-format", "json"},
                   op_log);
  ASSERT_GT(op, 0);
  EXPECT_TRUE(workspace_succeeds(served.url, "workspace-phi-3-mini", 30s)) << slurp(op_log);

  kill(op, SIGTERM);
  EXPECT_EQ(wait_exit(op, 20s), 0) << slurp(op_log);
  const std::string log = slurp(op_log);
  EXPECT_NE(log.find("\"msg\":\"successfully acquired lease\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"msg\":\"released leader lease\""), std::string::npos) << log;
  live::RestConfig rc;
  rc.server = served.url;
  live::HttpClient client(rc);
  auto lease = client.request("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/kaito-twin-operator");
  ASSERT_EQ(lease.status, 200);
  EXPECT_EQ(json::parse(lease.body)["spec"].value("holderIdentity", ""), "") << lease.body;

  kill(served.pid, SIGTERM);
  EXPECT_EQ(wait_exit(served.pid, 20s), 0) << slurp(served.log);
  EXPECT_NE(slurp(served.log).find("Expectations:"), std::string::npos);
}

// A Hugging Face model KAITO does not ship: the operator serves it from `--models` (here the scenario that
// describes it), and refuses an unreadable models file before it connects, with exit status 2.
TEST(LiveCliFlow, OperatorServesAGenericModelFromItsModelsFile) {
  const std::string scenario = "scenarios/generic-hf-model.yaml";
  const std::string op_log = ::testing::TempDir() + "/ktwin-generic-operator.log";
  const Served served = serve_scenario(scenario, "90", "generic");
  ASSERT_GT(served.pid, 0);
  Reaper reaper{{served.pid}};
  ASSERT_FALSE(served.url.empty()) << slurp(served.log);

  const pid_t bad = reaper.start({KTWIN_BINARY, "operator", "--kubeconfig", served.kubeconfig, "--models",
                                  ::testing::TempDir() + "/no-such-models.yaml", "--metrics-addr", "0"},
                                 op_log);
  ASSERT_GT(bad, 0);
  EXPECT_EQ(wait_exit(bad, 20s), 2);
  EXPECT_NE(slurp(op_log).find("no-such-models.yaml: cannot read models file"), std::string::npos) << slurp(op_log);

  const pid_t op = reaper.start({KTWIN_BINARY, "operator", "--kubeconfig", served.kubeconfig, "--models",
                                 std::string(KTWIN_SOURCE_DIR) + "/" + scenario, "--metrics-addr", "0"},
                                op_log);
  ASSERT_GT(op, 0);
  // Ready within 30 virtual minutes, 20 s at speed 90.
  EXPECT_TRUE(workspace_succeeds(served.url, "workspace-qwen3-8b", 60s)) << slurp(op_log);
  kill(op, SIGTERM);
  EXPECT_EQ(wait_exit(op, 20s), 0) << slurp(op_log);
}

}  // namespace
}  // namespace ktwin
