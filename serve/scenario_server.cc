#include "serve/scenario_server.h"

#include <stdexcept>

#include "cluster_model/object_store.h"
#include "sim/kernel.h"

namespace ktwin::serve {

ScenarioServer::ScenarioServer(const sim::Scenario& scenario, const catalog::Catalog& catalog, ServeOptions options)
    : scenario_(scenario), catalog_(catalog), options_(std::move(options)), driver_(options_.speed) {}

sim::RunOutcome ScenarioServer::run() {
  sim::RunOptions ro;
  ro.builtin_operator = options_.builtin_controllers;
  ro.drive = [this](sim::Kernel& kernel, cluster_model::ObjectStore& store) -> Time {
    ServedWorld world;
    world.cluster = &store;
    world.clock = &kernel.clock();
    world.lock = &driver_.lock();
    world.resource_version = [&store] { return store.resource_version(); };
    world.catch_up = [this] { driver_.catch_up(); };
    world.wake = [this] { driver_.wake(); };
    RestServer server(world, options_.server);
    if (!server.start(options_.host, options_.port))
      throw std::runtime_error("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                               " (address in use or not local)");
    {
      std::lock_guard<std::mutex> lock(mu_);
      server_ = &server;
      if (stop_requested_) driver_.stop();
    }
    if (options_.on_ready) options_.on_ready(server);
    const Time until = options_.until > 0 ? kernel.now() + options_.until : 0;
    const Time end = driver_.run(kernel, until);
    {
      std::lock_guard<std::mutex> lock(mu_);
      server_ = nullptr;
    }
    server.stop();
    final_stats_ = server.stats();
    if (options_.on_finish) {
      std::lock_guard<std::mutex> lock(driver_.lock());
      options_.on_finish(store);
    }
    return end;
  };
  return sim::run_scenario(scenario_, catalog_, ro);
}

void ScenarioServer::stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_requested_ = true;
  driver_.stop();
}

RestServer* ScenarioServer::server() {
  std::lock_guard<std::mutex> lock(mu_);
  return server_;
}

}  // namespace ktwin::serve
