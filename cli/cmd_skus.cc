// `ktwin skus`: the GPU SKU catalogs KAITO knows per cloud (node-total GPU memory, as KAITO stores it).
#include <cxxopts.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/yaml_json.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "core/k8s/printers.h"

namespace ktwin::cli {
namespace {

using Row = std::vector<std::string>;

//! Shortest form with at most `decimals` digits after the point: 80 -> "80", 23.5 -> "23.5".
std::string num(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

std::string compute_capability(const GpuConfig& g) {
  if (g.compute_major == 0 && g.compute_minor == 0) return "-";
  return std::to_string(g.compute_major) + "." + std::to_string(g.compute_minor);
}

json sku_json(const Sku& s) {
  const GpuConfig& g = s.gpu;
  return {{"cloud", s.cloud},
          {"name", s.name()},
          {"gpu_model", g.gpu_model},
          {"gpu_id", g.gpu_id},
          {"gpu_count", g.gpu_count},
          {"total_gpu_memory_gib", g.total_gpu_memory_gib},
          {"per_gpu_memory_gib", g.per_gpu_memory_gib()},
          {"compute_capability", compute_capability(g) == "-" ? "" : compute_capability(g)},
          {"nvme", g.nvme},
          {"vcpus", s.vcpus},
          {"memory_gib", s.memory_gib},
          {"price_per_hour", s.price_per_hour},
          {"price_source", s.price_source},
          {"removed", s.removed}};
}

int run_skus(int argc, char** argv) {
  cxxopts::Options opts("ktwin skus", "List the GPU instance types (SKUs) KAITO knows, per cloud");
  opts.add_options()("cloud", "Only this cloud: azure, aws or arc (default: all)", cxxopts::value<std::string>())(
      "all", "Include SKUs that KAITO has removed from its catalog")("json", "Print JSON instead of a table")(
      "h,help", "Show this help");
  cxxopts::ParseResult r;
  if (auto done = parse_flags(opts, argc, argv, r)) return *done;
  const auto& skus = catalog::default_catalog().skus;
  const bool include_removed = r.count("all") > 0;
  std::vector<std::string> clouds = skus.clouds();
  if (r.count("cloud")) {
    const std::string cloud = r["cloud"].as<std::string>();
    if (std::find(clouds.begin(), clouds.end(), cloud) == clouds.end()) {
      std::string msg = "unknown cloud \"" + cloud + "\"";
      std::string s = catalog::closest_match(cloud, clouds);
      if (!s.empty()) msg += " (did you mean \"" + s + "\"?)";
      std::string known;
      for (const auto& c : clouds) known += (known.empty() ? "" : ", ") + c;
      std::fprintf(stderr, "error: %s; known clouds: %s\n", msg.c_str(), known.c_str());
      return kExitBadInput;
    }
    clouds = {cloud};
  }

  if (r.count("json")) {
    json out = json::array();
    for (const auto& c : clouds) {
      for (const Sku* s : skus.list(c, include_removed)) out.push_back(sku_json(*s));
    }
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  const bool show_cloud = clouds.size() > 1;
  Row header;
  if (show_cloud) header.push_back("CLOUD");
  for (const char* h : {"SKU", "GPUS", "GPU", "GPU MEM", "PER GPU", "CC", "NVME", "$/HR"}) header.push_back(h);
  if (include_removed) header.push_back("STATUS");
  std::vector<Row> rows{header};
  for (const auto& c : clouds) {
    for (const Sku* s : skus.list(c, include_removed)) {
      const GpuConfig& g = s->gpu;
      Row row;
      if (show_cloud) row.push_back(s->cloud);
      row.insert(row.end(), {s->name(), std::to_string(g.gpu_count), g.gpu_model, num(g.total_gpu_memory_gib, 2) + "Gi",
                             num(g.per_gpu_memory_gib(), 2) + "Gi", compute_capability(g), g.nvme ? "yes" : "no",
                             s->price_per_hour > 0 ? num(s->price_per_hour, 5) : "-"});
      if (include_removed) row.push_back(s->removed ? "removed" : "current");
      rows.push_back(std::move(row));
    }
  }
  std::fputs(format_table(rows).c_str(), stdout);
  return kExitOk;
}

}  // namespace
}  // namespace ktwin::cli

KTWIN_REGISTER_COMMAND(skus, "skus", "List GPU instance types per cloud (ktwin skus [--cloud C] [--all])",
                       ktwin::cli::run_skus);
