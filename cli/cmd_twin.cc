// `ktwin twin`: plays the simulated cloud, nodes, kubelets, scheduler and workload controllers against a
// Kubernetes API server (KWOK-style), so an operator can be exercised on a real control plane without GPUs.
#include <cstdio>
#include <cxxopts.hpp>
#include <optional>

#include "catalog/catalog.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/shutdown_signal.h"
#include "core/input_error.h"
#include "twin/twin.h"

namespace ktwin::cli {
namespace {

int twin_main(int argc, char** argv) {
  cxxopts::Options opts(argv[0],
                        "Play the simulated cluster (cloud, nodes, kubelets, scheduler, StatefulSet/Job/GC "
                        "controllers) against a Kubernetes API server.");
  opts.add_options()("kubeconfig", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)",
                     cxxopts::value<std::string>()->default_value(""))(
      "context", "kubeconfig context (default: current-context)", cxxopts::value<std::string>()->default_value(""))(
      "scenario", "scenario file: its cluster settings, nodes, manifests and timeline",
      cxxopts::value<std::string>()->default_value(""))("speed", "virtual seconds per wall-clock second",
                                                        cxxopts::value<double>()->default_value("1"))(
      "parts",
      "what to play: all, a list (cloud,device-plugin,scheduler,kubelet,statefulset,job,gc,node-lifecycle), or "
      "all but some (-statefulset,-job,-gc,-node-lifecycle when the cluster runs its own controller-manager)",
      cxxopts::value<std::string>()->default_value("all"))(
      "seed", "seed of the modelled delays (default: the scenario's)", cxxopts::value<uint64_t>())(
      "until", "stop after this much virtual time (e.g. 30m)", cxxopts::value<std::string>())(
      "kube-api-qps", "client-side rate limit", cxxopts::value<double>()->default_value("50"))(
      "kube-api-burst", "client-side burst", cxxopts::value<int>()->default_value("100"))(
      "log-format", "text or json", cxxopts::value<std::string>()->default_value("text"))("h,help", "show this help");
  cxxopts::ParseResult args;
  if (auto done = parse_flags(opts, argc, argv, args,
                              "0 stopped by SIGTERM/SIGINT or --until; 2 bad input or API server unreachable."))
    return *done;

  twin::TwinOptions to;
  to.speed = args["speed"].as<double>();
  if (!(to.speed > 0) || to.speed > 1e6)
    throw InputError("", 0, 0, "--speed",
                     "must be a positive number up to 1000000, got " + args["speed"].as<std::string>());
  try {
    to.parts = sim::parse_world_parts(args["parts"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    throw InputError("", 0, 0, "--parts", e.what());
  }
  if (args.count("seed")) to.seed = args["seed"].as<uint64_t>();
  if (args.count("until")) {
    auto d = parse_duration(args["until"].as<std::string>());
    if (!d || *d <= 0) throw InputError("", 0, 0, "--until", "expected a duration such as 30m or 2h");
    to.until = *d;
  }
  to.http.qps = args["kube-api-qps"].as<double>();
  to.http.burst = args["kube-api-burst"].as<int>();
  if (!(to.http.qps > 0) || to.http.burst < 1)
    throw InputError("", 0, 0, "--kube-api-qps", "QPS and burst must be positive");
  to.http.user_agent = "ktwin-twin";
  const std::string format = args["log-format"].as<std::string>();
  if (format != "text" && format != "json")
    throw InputError("", 0, 0, "--log-format", "expected text or json, got \"" + format + "\"");
  std::optional<sim::Scenario> sc;
  // The scenario's generic models join the catalog, as in `ktwin run` (its admission and weight sizes).
  std::optional<catalog::Catalog> extended;
  if (const std::string path = args["scenario"].as<std::string>(); !path.empty()) {
    sc = sim::load_scenario(path);
    to.scenario = &*sc;
    if (!sc->models.empty()) extended = sim::with_generic_models(catalog::default_catalog(), sc->models);
  }
  to.rest = live::resolve_rest_config(args["kubeconfig"].as<std::string>(), args["context"].as<std::string>());

  live::Logger log(format == "json" ? live::LogFormat::kJson : live::LogFormat::kText);
  twin::Twin twin(to, extended ? *extended : catalog::default_catalog(), log);
  ShutdownSignal signal([&twin, &log](int sig) {
    log.info("setup", "received signal, shutting down", {{"signal", sig == 15 ? "SIGTERM" : "SIGINT"}});
    twin.stop();
  });
  return twin.run();
}

}  // namespace

KTWIN_REGISTER_COMMAND(twin, "twin", "play the simulated cloud, nodes and kubelets against a Kubernetes API server",
                       twin_main);

}  // namespace ktwin::cli
