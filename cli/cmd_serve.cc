// `ktwin serve`: a scenario's simulated cluster as a Kubernetes API server on loopback, in wall-clock
// pace, for kubectl and for external operators (`--controllers none`).
#include <cstdio>
#include <cxxopts.hpp>
#include <fstream>

#include "catalog/catalog.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "cli/shutdown_signal.h"
#include "cli/verdicts.h"
#include "core/input_error.h"
#include "serve/scenario_server.h"

namespace ktwin::cli {
namespace {

// A kubeconfig for the served API (plain HTTP on loopback, anonymous).
std::string kubeconfig_for(const std::string& server) {
  return "apiVersion: v1\nkind: Config\nclusters:\n- name: ktwin\n  cluster:\n    server: " + server +
         "\ncontexts:\n- name: ktwin\n  context:\n    cluster: ktwin\n    namespace: default\n"
         "current-context: ktwin\nusers: []\n";
}

int serve(int argc, char** argv) {
  cxxopts::Options opts(argv[0],
                        "Serve a scenario's simulated cluster as a Kubernetes API (kubectl, external operators).");
  opts.positional_help("SCENARIO.yaml");
  opts.add_options()("scenario", "scenario file", cxxopts::value<std::string>())(
      "listen", "address to serve on (loopback only)", cxxopts::value<std::string>()->default_value("127.0.0.1:8001"))(
      "speed", "virtual seconds per wall-clock second", cxxopts::value<double>()->default_value("1"))(
      "controllers",
      "builtin: run the core's workspace controller in-process; none: leave Workspaces to an "
      "external operator",
      cxxopts::value<std::string>()->default_value("builtin"))(
      "until", "stop after this much virtual time (e.g. 30m) and print the expectations' verdicts",
      cxxopts::value<std::string>())("write-kubeconfig", "write a kubeconfig for the served API to FILE",
                                     cxxopts::value<std::string>())(
      "inject-faults", "HTTP faults for testing clients, e.g. throttle=0.05,conflict=0.05,slow=0.1:200ms",
      cxxopts::value<std::string>())("h,help", "show this help");
  opts.parse_positional({"scenario"});
  cxxopts::ParseResult args;
  if (auto done = parse_flags(opts, argc, argv, args,
                              "0 stopped by a signal, or --until reached with every expectation passing; "
                              "1 an expectation failed at --until; 2 bad input; 3 cannot listen."))
    return *done;
  if (!args.count("scenario")) {
    std::fprintf(stderr, "error: a scenario file is required\n%s", opts.help().c_str());
    return kExitBadInput;
  }
  serve::ServeOptions so;
  const std::string listen = args["listen"].as<std::string>();
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) throw InputError("", 0, 0, "--listen", "expected HOST:PORT, got \"" + listen + "\"");
  so.host = listen.substr(0, colon);
  if (so.host != "127.0.0.1" && so.host != "localhost" && so.host != "::1")
    throw InputError(
        "", 0, 0, "--listen",
        "the twin's API has no authentication; it serves on loopback only (127.0.0.1, ::1), got \"" + so.host + "\"");
  try {
    size_t used = 0;
    so.port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1 || so.port < 0 || so.port > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    throw InputError("", 0, 0, "--listen", "invalid port in \"" + listen + "\"");
  }
  so.speed = args["speed"].as<double>();
  if (!(so.speed > 0) || so.speed > 1e6)
    throw InputError("", 0, 0, "--speed",
                     "must be a positive number up to 1000000, got " + args["speed"].as<std::string>());
  const std::string controllers = args["controllers"].as<std::string>();
  if (controllers != "builtin" && controllers != "none")
    throw InputError("", 0, 0, "--controllers", "expected builtin or none, got \"" + controllers + "\"");
  so.builtin_controllers = controllers == "builtin";
  if (args.count("until")) {
    auto d = parse_duration(args["until"].as<std::string>());
    if (!d || *d <= 0) throw InputError("", 0, 0, "--until", "expected a duration such as 30m or 2h");
    so.until = *d;
  }
  if (args.count("inject-faults")) {
    try {
      so.server.faults = serve::parse_http_faults(args["inject-faults"].as<std::string>());
    } catch (const std::invalid_argument& e) {
      throw InputError("", 0, 0, "--inject-faults", e.what());
    }
  }
  const sim::Scenario sc = sim::load_scenario(args["scenario"].as<std::string>());
  const catalog::Catalog& cat = catalog::default_catalog();

  const std::string kubeconfig_path = args.count("write-kubeconfig") ? args["write-kubeconfig"].as<std::string>() : "";
  so.on_ready = [&](serve::RestServer& server) {
    const std::string url = "http://" + (so.host == "::1" ? "[::1]" : so.host) + ":" + std::to_string(server.port());
    if (!kubeconfig_path.empty()) write_file_atomically(kubeconfig_path, kubeconfig_for(url));
    std::printf("Serving scenario %s at %s (%gx wall-clock speed, controllers: %s)\n", sc.name.c_str(), url.c_str(),
                so.speed, so.builtin_controllers ? "builtin" : "none (run an operator against this API)");
    std::printf("  kubectl --server %s get workspaces -w\n", url.c_str());
    if (!kubeconfig_path.empty()) std::printf("  kubeconfig: %s\n", kubeconfig_path.c_str());
    std::printf("Stop with Ctrl-C.\n");
    std::fflush(stdout);
  };
  serve::ScenarioServer server(sc, cat, so);
  ShutdownSignal signal([&server](int) { server.stop(); });
  sim::RunOutcome outcome;
  try {
    outcome = server.run();
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return kExitInternal;
  }
  std::printf("\nStopped at %s simulated.\n\n%s\n", format_duration(outcome.sim_end).c_str(), outcome.tables.c_str());
  const int passed = print_expectations(outcome.expectations);
  std::printf("%d/%zu expectations passed\n", passed, outcome.expectations.size());
  if (signal.received() != 0 || so.until == 0) return kExitOk;
  return outcome.passed ? kExitOk : kExitFailed;
}

}  // namespace

KTWIN_REGISTER_COMMAND(serve, "serve", "serve a scenario's simulated cluster as a Kubernetes API", serve);

}  // namespace ktwin::cli
