// `ktwin operator`: the core's workspace controller against a Kubernetes API server (AKS, any cluster,
// or `ktwin serve`), in place of KAITO's controller.
#include <cstdio>
#include <cxxopts.hpp>
#include <optional>

#include "catalog/catalog.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/shutdown_signal.h"
#include "core/input_error.h"
#include "live/operator.h"
#include "sim/scenario.h"

namespace ktwin::cli {
namespace {

int operator_main(int argc, char** argv) {
  cxxopts::Options opts(argv[0], "Run the workspace controller against a Kubernetes API server.");
  opts.add_options()("kubeconfig", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)",
                     cxxopts::value<std::string>()->default_value(""))(
      "context", "kubeconfig context (default: current-context)", cxxopts::value<std::string>()->default_value(""))(
      "namespace", "namespace to reconcile Workspaces in, or all", cxxopts::value<std::string>()->default_value("all"))(
      "node-provisioner", "gpu-provisioner, karpenter or byo",
      cxxopts::value<std::string>()->default_value("gpu-provisioner"))(
      "cloud", "azure or aws", cxxopts::value<std::string>()->default_value("azure"))(
      "leader-elect", "hold a coordination.k8s.io/v1 Lease while reconciling (for several replicas)")(
      "leader-election-namespace", "namespace of the Lease",
      cxxopts::value<std::string>()->default_value("kaito-system"))(
      "leader-election-id", "name of the Lease", cxxopts::value<std::string>()->default_value("kaito-twin-operator"))(
      "metrics-addr", "HOST:PORT for /healthz, /readyz and /metrics (0 to disable)",
      cxxopts::value<std::string>()->default_value("127.0.0.1:8080"))(
      "max-concurrent-reconciles", "workspace reconciles at once", cxxopts::value<int>()->default_value("5"))(
      "kube-api-qps", "client-side rate limit", cxxopts::value<double>()->default_value("20"))(
      "kube-api-burst", "client-side burst", cxxopts::value<int>()->default_value("30"))(
      "models",
      "generic Hugging Face org/model presets to serve besides KAITO's: FILE holds one scenario models: entry, "
      "a list of them, or a scenario with models: (KAITO reads these numbers from the Hub; ktwin has no network)",
      cxxopts::value<std::string>()->default_value(""))(
      "log-format", "text or json", cxxopts::value<std::string>()->default_value("text"))("h,help", "show this help");
  cxxopts::ParseResult args;
  if (auto done = parse_flags(opts, argc, argv, args,
                              "0 stopped by SIGTERM/SIGINT; 1 leader election lost; 2 bad input; 3 cannot serve "
                              "metrics."))
    return *done;

  live::OperatorOptions oo;
  const std::string cloud = args["cloud"].as<std::string>();
  if (cloud != "azure" && cloud != "aws")
    throw InputError("", 0, 0, "--cloud", "expected azure or aws, got \"" + cloud + "\"");
  oo.core.cloud = cloud;
  oo.core.node_class = default_node_class_config(cloud);
  if (!parse_node_provisioner(args["node-provisioner"].as<std::string>(), oo.core.node_provisioner))
    throw InputError(
        "", 0, 0, "--node-provisioner",
        "expected gpu-provisioner, karpenter or byo, got \"" + args["node-provisioner"].as<std::string>() + "\"");
  oo.core.max_concurrent_reconciles = args["max-concurrent-reconciles"].as<int>();
  if (oo.core.max_concurrent_reconciles < 1 || oo.core.max_concurrent_reconciles > 256)
    throw InputError("", 0, 0, "--max-concurrent-reconciles", "must be between 1 and 256");
  const std::string ns = args["namespace"].as<std::string>();
  oo.watch_namespace = ns == "all" ? "" : ns;
  oo.leader_elect = args.count("leader-elect") > 0;
  oo.election.namespace_ = args["leader-election-namespace"].as<std::string>();
  oo.election.name = args["leader-election-id"].as<std::string>();
  oo.metrics_addr = args["metrics-addr"].as<std::string>();
  oo.http.qps = args["kube-api-qps"].as<double>();
  oo.http.burst = args["kube-api-burst"].as<int>();
  if (!(oo.http.qps > 0) || oo.http.burst < 1)
    throw InputError("", 0, 0, "--kube-api-qps", "QPS and burst must be positive");
  const std::string format = args["log-format"].as<std::string>();
  if (format != "text" && format != "json")
    throw InputError("", 0, 0, "--log-format", "expected text or json, got \"" + format + "\"");
  std::optional<catalog::Catalog> extended;
  if (const std::string path = args["models"].as<std::string>(); !path.empty())
    extended = sim::with_generic_models(catalog::default_catalog(), sim::load_generic_models(path));
  oo.rest = live::resolve_rest_config(args["kubeconfig"].as<std::string>(), args["context"].as<std::string>());

  live::Logger log(format == "json" ? live::LogFormat::kJson : live::LogFormat::kText);
  live::Operator op(oo, extended ? *extended : catalog::default_catalog(), log);
  ShutdownSignal signal([&op, &log](int sig) {
    log.info("setup", "received signal, shutting down", {{"signal", sig == 15 ? "SIGTERM" : "SIGINT"}});
    op.stop();
  });
  return op.run();
}

}  // namespace

KTWIN_REGISTER_COMMAND(operator, "operator", "run the workspace controller against a Kubernetes API server",
                       operator_main);

}  // namespace ktwin::cli
