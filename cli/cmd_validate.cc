// `ktwin validate`: runs KAITO's Workspace admission webhook over manifests, offline. ConfigMaps in the
// given files answer the config checks; Node manifests (--nodes or in the files) answer the BYO checks.
#include <cstdio>
#include <cxxopts.hpp>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/yaml_json.h"
#include "cli/commands.h"
#include "core/admission/workspace_validation.h"
#include "core/api/workspace.h"
#include "core/input_error.h"

namespace ktwin::cli {

namespace {

struct LoadedObject {
  std::shared_ptr<const catalog::YamlDocument> doc;
  Object obj;
};

struct Manifests {
  std::vector<LoadedObject> workspaces;
  std::map<std::string, LoadedObject> config_maps;  //!< "ns/name"
  std::vector<LoadedObject> nodes;
};

std::string ns_of(const Object& o) { return o.meta.namespace_.empty() ? "default" : o.meta.namespace_; }

//! Reads every document of `path`; an unreadable file or a non-object document is an InputError.
void load_into(const std::string& path, Manifests& out) {
  for (auto& parsed : catalog::load_yaml_file(path)) {
    auto doc = std::make_shared<const catalog::YamlDocument>(std::move(parsed));
    if (doc->value.is_null()) continue;  // empty document between "---"
    if (!doc->value.is_object()) throw doc->error("", "expected a Kubernetes object (a map)");
    Object obj;
    try {
      obj = object_from_json(doc->value);
    } catch (const std::exception& e) {
      throw doc->error("", e.what());
    }
    if (obj.kind == "Workspace") {
      out.workspaces.push_back({doc, std::move(obj)});
    } else if (obj.kind == "ConfigMap") {
      std::string key = ns_of(obj) + "/" + obj.meta.name;
      out.config_maps[key] = {doc, std::move(obj)};
    } else if (obj.kind == "Node") {
      out.nodes.push_back({doc, std::move(obj)});
    }
  }
}

std::string location(const catalog::YamlDocument& doc, const std::string& pointer) {
  return doc.file + ":" + std::to_string(doc.position_of(pointer).line);
}

//! --feature-gates "enableMIG=true,enableAccelerator=true"
void apply_feature_gates(const std::string& spec, admission::AdmissionContext& ctx) {
  size_t pos = 0;
  while (pos < spec.size()) {
    size_t comma = spec.find(',', pos);
    std::string item = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? spec.size() : comma + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string name = item.substr(0, eq);
    std::string value = eq == std::string::npos ? "true" : item.substr(eq + 1);
    if (value != "true" && value != "false")
      throw InputError("", 0, 0, "--feature-gates", "gate " + name + " must be true or false");
    bool on = value == "true";
    if (name == "enableMIG")
      ctx.enable_mig = on;
    else if (name == "enableAccelerator")
      ctx.enable_accelerator = on;
    else if (name == "disableNodeAutoProvisioning")
      ctx.node_auto_provisioning = !on;
    else
      throw InputError("", 0, 0, "--feature-gates", "unknown feature gate " + name);
  }
}

json violation_json(const catalog::YamlDocument& doc, const admission::Violation& v) {
  catalog::SourcePos pos = doc.position_of(v.pointer);
  return json{
      {"field", v.field}, {"message", v.message}, {"pointer", v.pointer}, {"line", pos.line}, {"column", pos.column}};
}

}  // namespace

int run_validate(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Check KAITO Workspace manifests against KAITO's admission webhook rules.");
  options.positional_help("FILE...");
  // clang-format off
  options.add_options()
      ("old", "Previous version of the workspaces: validate FILE as an UPDATE of the same-named one",
       cxxopts::value<std::string>())
      ("cloud", "CLOUD_PROVIDER whose SKU catalog applies: azure, aws or arc",
       cxxopts::value<std::string>()->default_value("azure"))
      ("node-provisioner", "gpu-provisioner, karpenter (node auto-provisioning) or byo (bring your own nodes)",
       cxxopts::value<std::string>()->default_value("gpu-provisioner"))
      ("nodes", "YAML file of Node manifests the BYO checks look at (repeatable)",
       cxxopts::value<std::vector<std::string>>())
      ("feature-gates", "KAITO feature gates, e.g. enableMIG=true,enableAccelerator=true",
       cxxopts::value<std::string>()->default_value(""))
      ("release-namespace", "Namespace of KAITO's default config templates",
       cxxopts::value<std::string>()->default_value("kaito-workspace"))
      ("json", "Print the verdicts as JSON")
      ("h,help", "Show this help")
      ("files", "Manifest files", cxxopts::value<std::vector<std::string>>());
  // clang-format on
  options.parse_positional({"files"});

  cxxopts::ParseResult args;
  try {
    args = options.parse(argc, argv);
  } catch (const cxxopts::exceptions::exception& e) {
    throw InputError("", 0, 0, "", e.what());
  }
  if (args.count("help")) {
    std::cout << options.help({""}) << "\nExit status: 0 all accepted, 1 one or more rejected, 2 bad input.\n";
    return kExitOk;
  }
  if (!args.count("files")) throw InputError("", 0, 0, "", "no manifest files given (see --help)");

  admission::AdmissionContext ctx;
  ctx.cloud = args["cloud"].as<std::string>();
  if (ctx.cloud != "azure" && ctx.cloud != "aws" && ctx.cloud != "arc")
    throw InputError("", 0, 0, "--cloud", "unknown cloud \"" + ctx.cloud + "\" (azure, aws or arc)");
  const std::string provisioner = args["node-provisioner"].as<std::string>();
  if (provisioner == "byo")
    ctx.node_auto_provisioning = false;
  else if (provisioner != "gpu-provisioner" && provisioner != "karpenter")
    throw InputError("", 0, 0, "--node-provisioner",
                     "unknown node provisioner \"" + provisioner + "\" (gpu-provisioner, karpenter or byo)");
  apply_feature_gates(args["feature-gates"].as<std::string>(), ctx);
  ctx.release_namespace = args["release-namespace"].as<std::string>();

  // Read everything first: on bad input nothing is printed but the error.
  Manifests in;
  for (const auto& f : args["files"].as<std::vector<std::string>>()) load_into(f, in);
  if (args.count("nodes")) {
    Manifests node_files;  // only the Nodes of these files count
    for (const auto& f : args["nodes"].as<std::vector<std::string>>()) load_into(f, node_files);
    for (auto& n : node_files.nodes) in.nodes.push_back(std::move(n));
  }
  Manifests old;
  if (args.count("old")) load_into(args["old"].as<std::string>(), old);
  if (in.workspaces.empty()) throw InputError("", 0, 0, "", "no Workspace found in the given files");

  const catalog::Catalog& cat = catalog::default_catalog();
  ctx.presets = &cat.presets;
  ctx.skus = &cat.skus;
  ctx.find_config_map = [&in](std::string_view ns, std::string_view name) -> const Object* {
    auto it = in.config_maps.find(std::string(ns) + "/" + std::string(name));
    return it == in.config_maps.end() ? nullptr : &it->second.obj;
  };
  ctx.find_nodes = [&in](const LabelSelector& sel) {
    std::vector<const Object*> out;
    for (const auto& n : in.nodes)
      if (sel.matches(n.obj.meta.labels)) out.push_back(&n.obj);
    return out;
  };

  const bool as_json = args.count("json") > 0;
  json results = json::array();
  int rejected = 0;
  for (const auto& ws : in.workspaces) {
    const catalog::YamlDocument& doc = *ws.doc;
    const LoadedObject* previous = nullptr;
    for (const auto& o : old.workspaces)
      if (ns_of(o.obj) == ns_of(ws.obj) && o.obj.meta.name == ws.obj.meta.name) previous = &o;
    admission::AdmissionResult res = previous ? admission::review_workspace_update(previous->obj, ws.obj, ctx)
                                              : admission::review_workspace_create(ws.obj, ctx);
    if (!res.allowed()) ++rejected;
    const std::string& name = ws.obj.meta.name;
    if (as_json) {
      json vs = json::array(), warns = json::array();
      for (const auto& v : res.violations) vs.push_back(violation_json(doc, v));
      for (const auto& w : res.warnings) warns.push_back(violation_json(doc, w));
      results.push_back({{"file", doc.file},
                         {"line", doc.position_of("").line},
                         {"name", name},
                         {"namespace", ns_of(ws.obj)},
                         {"operation", previous ? "UPDATE" : "CREATE"},
                         {"verdict", res.allowed() ? "accepted" : "rejected"},
                         {"violations", vs},
                         {"warnings", warns}});
      continue;
    }
    if (res.allowed()) std::cout << "ACCEPTED " << location(doc, "") << " " << name << "\n";
    for (const auto& v : res.violations)
      std::cout << "REJECTED " << location(doc, v.pointer) << " " << name << ": " << admission::to_string(v) << "\n";
    for (const auto& w : res.warnings)
      std::cout << "WARNING " << location(doc, w.pointer) << " " << name << ": " << admission::to_string(w) << "\n";
  }
  if (as_json) std::cout << json{{"results", results}, {"rejected", rejected}}.dump(2) << "\n";
  std::cout.flush();
  return rejected > 0 ? kExitFailed : kExitOk;
}

KTWIN_REGISTER_COMMAND(validate, "validate", "check Workspace manifests against KAITO's admission rules", run_validate);

}  // namespace ktwin::cli
