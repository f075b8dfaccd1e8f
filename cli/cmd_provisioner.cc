// `ktwin provisioner`: the gpu-provisioner role of the core (NodeClaim -> one AKS agent pool with one VM,
// Karpenter's lifecycle, leak garbage collection) against Azure Resource Manager and a cluster's API.
#include <condition_variable>
#include <cstdio>
#include <cxxopts.hpp>
#include <mutex>

#include "catalog/catalog.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/shutdown_signal.h"
#include "core/controllers/nodeclaim_controller.h"
#include "core/input_error.h"
#include "core/k8s/events.h"
#include "core/runtime/controller.h"
#include "live/arm_cloud.h"
#include "live/cached_cluster.h"
#include "live/kubeconfig.h"
#include "live/log.h"
#include "live/threads.h"

namespace ktwin::cli {
namespace {

std::string flag_or_env(const cxxopts::ParseResult& args, const char* flag, std::initializer_list<const char*> vars) {
  if (args.count(flag)) return args[flag].as<std::string>();
  for (const char* v : vars)
    if (const char* value = std::getenv(v); value && *value) return value;
  return "";
}

int provisioner_main(int argc, char** argv) {
  cxxopts::Options opts(argv[0],
                        "Provision NodeClaims as AKS agent pools (one VM each) through Azure Resource Manager.");
  opts.add_options()("kubeconfig", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)",
                     cxxopts::value<std::string>()->default_value(""))(
      "context", "kubeconfig context", cxxopts::value<std::string>()->default_value(""))(
      "subscription", "Azure subscription id (default: $AZURE_SUBSCRIPTION_ID)", cxxopts::value<std::string>())(
      "resource-group", "the AKS cluster's resource group (default: $AZURE_RESOURCE_GROUP)",
      cxxopts::value<std::string>())("cluster-name", "the AKS cluster's name (default: $AZURE_CLUSTER_NAME)",
                                     cxxopts::value<std::string>())(
      "arm-endpoint", "Azure Resource Manager endpoint",
      cxxopts::value<std::string>()->default_value("https://management.azure.com"))(
      "api-version", "agent-pool API version", cxxopts::value<std::string>()->default_value("2024-02-01"))(
      "log-format", "text or json", cxxopts::value<std::string>()->default_value("text"))("h,help", "show this help");
  cxxopts::ParseResult args;
  if (auto done = parse_flags(opts, argc, argv, args, "0 stopped by SIGTERM/SIGINT; 2 bad input.")) return *done;

  live::ArmConfig arm;
  arm.subscription_id = flag_or_env(args, "subscription", {"AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID"});
  arm.resource_group = flag_or_env(args, "resource-group", {"AZURE_RESOURCE_GROUP", "ARM_RESOURCE_GROUP"});
  arm.cluster_name = flag_or_env(args, "cluster-name", {"AZURE_CLUSTER_NAME", "CLUSTER_NAME"});
  arm.endpoint = args["arm-endpoint"].as<std::string>();
  arm.api_version = args["api-version"].as<std::string>();
  if (arm.subscription_id.empty())
    throw InputError("", 0, 0, "--subscription", "required (or set AZURE_SUBSCRIPTION_ID)");
  if (arm.resource_group.empty())
    throw InputError("", 0, 0, "--resource-group", "required (or set AZURE_RESOURCE_GROUP)");
  if (arm.cluster_name.empty()) throw InputError("", 0, 0, "--cluster-name", "required (or set AZURE_CLUSTER_NAME)");
  if (!arm.endpoint.starts_with("https://") && !arm.endpoint.starts_with("http://"))
    throw InputError("", 0, 0, "--arm-endpoint", "must be an http(s):// URL, got \"" + arm.endpoint + "\"");
  const std::string format = args["log-format"].as<std::string>();
  if (format != "text" && format != "json")
    throw InputError("", 0, 0, "--log-format", "expected text or json, got \"" + format + "\"");
  const live::RestConfig rest =
      live::resolve_rest_config(args["kubeconfig"].as<std::string>(), args["context"].as<std::string>());
  const live::AzureCredentialConfig credential = live::AzureCredentialConfig::from_environment();

  live::Logger log(format == "json" ? live::LogFormat::kJson : live::LogFormat::kText);
  log.info("setup", "starting ktwin provisioner",
           {{"server", rest.describe()},
            {"cluster", arm.subscription_id + "/" + arm.resource_group + "/" + arm.cluster_name},
            {"arm", arm.endpoint},
            {"credential", credential.describe()}});
  const catalog::Catalog& cat = catalog::default_catalog();
  live::LiveCluster api(std::make_shared<live::HttpClient>(rest));
  live::CachedCluster cache(api);
  live::WallClock clock;
  live::AzureTokenSource tokens(credential);
  live::ArmCloudProvider cloud(
      arm, [&tokens](bool refresh) { return tokens.token(refresh); }, cache, clock);
  EventRecorder events(cache, clock, "gpu-provisioner");
  NodeClaimLifecycleConfig lifecycle;
  lifecycle.cloud = "azure";
  lifecycle.poll_interval = 10 * kSecond;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  {
    live::ThreadPoolExecutor exec(4);
    NodeClaimReconciler reconciler(cache, clock, cloud, cat.skus, events, lifecycle);
    Controller controller(ControllerOptions{"nodeclaim", 10}, reconciler, exec, clock);
    reconciler.setup_watches(controller);
    reconciler.start_garbage_collection(exec);
    log.info("controller.nodeclaim", "starting workers", {{"workers", "10"}});
    ShutdownSignal signal([&](int sig) {
      log.info("setup", "received signal, shutting down", {{"signal", sig == 15 ? "SIGTERM" : "SIGINT"}});
      std::lock_guard<std::mutex> lock(mu);
      stopping = true;
      cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return stopping; });
    lock.unlock();
    controller.stop();
  }
  log.info("setup", "stopped", {});
  return kExitOk;
}

}  // namespace

KTWIN_REGISTER_COMMAND(provisioner, "provisioner",
                       "provision NodeClaims as AKS agent pools through Azure Resource Manager", provisioner_main);

}  // namespace ktwin::cli
