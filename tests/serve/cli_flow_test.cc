// The README's live-mode flow with the real binaries: `ktwin serve --controllers none` and
// `ktwin operator --leader-elect` as separate processes, the Phi-3 workspace to WorkspaceSucceeded=True,
// then SIGTERM: the operator exits 0 having released its Lease, and serve exits 0.
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

TEST(LiveCliFlow, ServePlusOperatorThenSigterm) {
  const std::string dir = ::testing::TempDir();
  const std::string kubeconfig = dir + "/ktwin-flow.kubeconfig";
  const std::string serve_log = dir + "/ktwin-flow-serve.log", op_log = dir + "/ktwin-flow-operator.log";
  std::remove(kubeconfig.c_str());
  const pid_t serve =
      spawn({KTWIN_BINARY, "serve", std::string(KTWIN_SOURCE_DIR) + "/scenarios/quickstart-phi3.yaml", "--speed", "60",
             "--controllers", "none", "--listen", "127.0.0.1:0", "--write-kubeconfig", kubeconfig},
            serve_log);
  ASSERT_GT(serve, 0);
  // Whatever happens below, no process outlives the test.
  struct Reaper {
    std::vector<pid_t> pids;
    ~Reaper() {
      for (pid_t p : pids) {
        if (kill(p, 0) == 0) {
          kill(p, SIGKILL);
          waitpid(p, nullptr, 0);
        }
      }
    }
  } reaper{{serve}};
  for (int i = 0; i < 500 && slurp(kubeconfig).empty(); ++i) std::this_thread::sleep_for(10ms);
  const std::string kc = slurp(kubeconfig);
  ASSERT_NE(kc.find("server: http://127.0.0.1:"), std::string::npos) << slurp(serve_log);
  const size_t at = kc.find("server: ") + 8;
  const std::string url = kc.substr(at, kc.find('\n', at) - at);

  const pid_t op =
      spawn({KTWIN_BINARY, "operator", "--kubeconfig", kubeconfig, "--leader-elect", "--leader-election-namespace",
             "default", "--metrics-addr", "127.0.0.1:0", "--log-format", "json"},
            op_log);
  ASSERT_GT(op, 0);
  reaper.pids.push_back(op);

  live::RestConfig rc;
  rc.server = url;
  live::HttpClient client(rc);
  bool succeeded = false;
  for (int i = 0; i < 600 && !succeeded; ++i) {
    auto r = client.request("GET", "/apis/kaito.sh/v1beta1/namespaces/default/workspaces/workspace-phi-3-mini");
    if (r.status == 200) {
      const json ws = json::parse(r.body);
      if (ws.contains("status") && ws["status"].is_object() && ws["status"].contains("conditions"))
        for (const auto& c : ws["status"]["conditions"])
          succeeded = succeeded || (c.value("type", "") == "WorkspaceSucceeded" && c.value("status", "") == "True");
    }
    if (!succeeded) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(succeeded) << slurp(op_log);

  kill(op, SIGTERM);
  EXPECT_EQ(wait_exit(op, 20s), 0) << slurp(op_log);
  const std::string log = slurp(op_log);
  EXPECT_NE(log.find("\"msg\":\"successfully acquired lease\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"msg\":\"released leader lease\""), std::string::npos) << log;
  auto lease = client.request("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/kaito-twin-operator");
  ASSERT_EQ(lease.status, 200);
  EXPECT_EQ(json::parse(lease.body)["spec"].value("holderIdentity", ""), "") << lease.body;

  kill(serve, SIGTERM);
  EXPECT_EQ(wait_exit(serve, 20s), 0) << slurp(serve_log);
  EXPECT_NE(slurp(serve_log).find("Expectations:"), std::string::npos);
}

}  // namespace
}  // namespace ktwin
