// deploy/: the CRDs carry KAITO's identity and the same printer columns `ktwin` prints, and the RBAC
// grants exactly what the operator core uses (checked against every API call it makes while running
// the shipped scenarios).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include "catalog/catalog.h"
#include "catalog/yaml_json.h"
#include "core/k8s/printers.h"
#include "sim/runner.h"

namespace ktwin {
namespace {

namespace fs = std::filesystem;
const fs::path kDeploy = fs::path(KTWIN_SOURCE_DIR) / "deploy";

using Rule = std::tuple<std::string, std::string, std::string>;  // API group, resource, verb

std::set<Rule> granted_rules() {
  std::set<Rule> out;
  for (const auto& doc : catalog::load_yaml_file((kDeploy / "rbac.yaml").string())) {
    const json& d = doc.value;
    if (d.value("kind", "") != "ClusterRole" && d.value("kind", "") != "Role") continue;
    for (const auto& r : d.at("rules"))
      for (const auto& g : r.at("apiGroups"))
        for (const auto& res : r.at("resources"))
          for (const auto& v : r.at("verbs")) out.emplace(g, res, v);
  }
  return out;
}

TEST(DeployTest, RbacGrantsExactlyWhatTheOperatorUses) {
  std::set<Rule> used;
  for (const auto& e : fs::directory_iterator(fs::path(KTWIN_SOURCE_DIR) / "scenarios")) {
    if (e.path().extension() != ".yaml") continue;
    sim::RunOptions o;
    o.audit_operator_calls = [&](std::string_view g, std::string_view r, std::string_view v) {
      used.emplace(std::string(g), std::string(r), std::string(v));
    };
    sim::run_scenario(sim::load_scenario(e.path().string()), catalog::default_catalog(), o);
  }
  ASSERT_GT(used.size(), 20u);
  const std::set<Rule> granted = granted_rules();
  for (const auto& [g, r, v] : used)
    EXPECT_TRUE(granted.contains({g, r, v}))
        << "deploy/rbac.yaml does not grant " << v << " on " << r << " (" << (g.empty() ? "core" : g) << ")";
  // Calls the core makes on paths no shipped scenario takes; each must still be granted.
  const std::map<Rule, std::string> unexercised = {
      {{"", "configmaps", "get"}, "inference.config names a vLLM ConfigMap"},
      {{"batch", "jobs", "delete"}, "a tuning Job is replaced when its workspace changes"},
      {{"apps", "controllerrevisions", "delete"}, "old revisions are pruned"},
      {{"karpenter.sh", "nodepools", "update"}, "a NodePool's limits follow the workspace's node count"},
      {{"karpenter.k8s.aws", "ec2nodeclasses", "get"}, "Karpenter mode on AWS"},
      {{"coordination.k8s.io", "leases", "get"}, "leader election"},
      {{"coordination.k8s.io", "leases", "create"}, "leader election"},
      {{"coordination.k8s.io", "leases", "update"}, "leader election"},
  };
  for (const auto& [g, r, v] : granted)
    EXPECT_TRUE(used.contains({g, r, v}) || unexercised.contains({g, r, v}))
        << "deploy/rbac.yaml grants " << v << " on " << r << " (" << (g.empty() ? "core" : g)
        << ") but the operator never uses it";
  for (const auto& [rule, why] : unexercised) EXPECT_TRUE(granted.contains(rule)) << why;
}

// The value kubectl shows for a printer column: dotted paths (with \. inside label keys) and the
// [?(@.type=="X")] filter the Workspace columns use.
std::string column_value(const json& obj, const std::string& path) {
  const json* cur = &obj;
  size_t i = 0;
  while (i < path.size() && cur) {
    if (path[i] == '.') {
      std::string key;
      for (++i; i < path.size() && path[i] != '.' && path[i] != '['; ++i) {
        if (path[i] == '\\' && i + 1 < path.size()) ++i;
        key += path[i];
      }
      cur = cur->is_object() && cur->contains(key) ? &(*cur)[key] : nullptr;
    } else if (path.compare(i, 11, "[?(@.type==") == 0) {
      const size_t q1 = path.find('"', i), q2 = path.find('"', q1 + 1);
      const std::string want = path.substr(q1 + 1, q2 - q1 - 1);
      const json* found = nullptr;
      if (cur->is_array())
        for (const auto& c : *cur)
          if (c.value("type", "") == want) found = &c;
      cur = found;
      i = path.find(']', q2) + 1;
    } else {
      ADD_FAILURE() << "unsupported jsonPath " << path;
      return "";
    }
  }
  if (!cur || cur->is_null()) return "";
  return cur->is_string() ? cur->get<std::string>() : cur->dump();
}

TEST(DeployTest, WorkspaceCrdMatchesKaitoAndOurPrinter) {
  const auto docs = catalog::load_yaml_file((kDeploy / "crds" / "kaito.sh_workspaces.yaml").string());
  ASSERT_EQ(docs.size(), 1u);
  const json& crd = docs[0].value;
  EXPECT_EQ(crd["metadata"]["name"], "workspaces.kaito.sh");
  const json& spec = crd["spec"];
  EXPECT_EQ(spec["group"], "kaito.sh");
  EXPECT_EQ(spec["scope"], "Namespaced");
  EXPECT_EQ(spec["names"]["kind"], "Workspace");
  EXPECT_EQ(spec["names"]["shortNames"], json::array({"wk", "wks"}));
  ASSERT_EQ(spec["versions"].size(), 2u);
  int storage = 0;
  for (const auto& v : spec["versions"]) {
    storage += v["storage"].get<bool>();
    EXPECT_TRUE(v["served"]);
    EXPECT_TRUE(v["subresources"].contains("status"));
    EXPECT_FALSE(v["subresources"].contains("scale"));
  }
  EXPECT_EQ(storage, 1);
  EXPECT_TRUE(spec["versions"][1]["storage"]);  // v1beta1 stores

  // A Workspace as the operator leaves it, shown by the CRD's columns and by ktwin's printer.
  json ws = {{"apiVersion", "kaito.sh/v1beta1"},
             {"kind", "Workspace"},
             {"metadata", {{"name", "workspace-phi-3-mini"}, {"namespace", "default"}}},
             {"resource", {{"instanceType", "Standard_NC6s_v3"}}},
             {"inference", {{"preset", {{"name", "phi-3-mini-4k-instruct"}}}}},
             {"status",
              {{"targetNodeCount", 1},
               {"state", "Ready"},
               {"conditions", json::array({{{"type", "ResourceReady"}, {"status", "True"}},
                                           {{"type", "InferenceReady"}, {"status", "True"}},
                                           {{"type", "WorkspaceSucceeded"}, {"status", "True"}}})}}}};
  for (const auto& version : spec["versions"]) {
    const std::string api_version = "kaito.sh/" + version["name"].get<std::string>();
    ws["apiVersion"] = api_version;
    std::vector<std::string> cells = {"workspace-phi-3-mini"};
    std::vector<std::string> headers = {"NAME"};
    for (const auto& col : version["additionalPrinterColumns"]) {
      std::string h = col["name"];
      for (auto& ch : h) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      headers.push_back(h);
      if (col["name"] != "Age") cells.push_back(column_value(ws, col["jsonPath"]));
    }
    const std::string printed =
        print_objects("Workspace", {std::make_shared<Object>(object_from_json(ws))}, 0, api_version);
    // The age cell is the printer's own (there is no creationTimestamp here); every other cell must agree.
    std::string age = printed.substr(0, printed.find_last_not_of(" \n") + 1);
    age = age.substr(age.find_last_of(' ') + 1);
    cells.push_back(age);
    EXPECT_EQ(printed, format_table({headers, cells})) << api_version;
  }
}

TEST(DeployTest, NodeClaimCrdIsClusterScopedKarpenterV1) {
  const auto docs = catalog::load_yaml_file((kDeploy / "crds" / "karpenter.sh_nodeclaims.yaml").string());
  ASSERT_EQ(docs.size(), 1u);
  const json& spec = docs[0].value["spec"];
  EXPECT_EQ(spec["group"], "karpenter.sh");
  EXPECT_EQ(spec["scope"], "Cluster");
  EXPECT_EQ(spec["versions"][0]["name"], "v1");
  const json nc = {
      {"metadata",
       {{"labels",
         {{"node.kubernetes.io/instance-type", "Standard_NC6s_v3"}, {"karpenter.sh/capacity-type", "on-demand"}}}}},
      {"status",
       {{"nodeName", "aks-ws1-vmss000000"}, {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
  std::map<std::string, std::string> shown;
  for (const auto& col : spec["versions"][0]["additionalPrinterColumns"])
    shown[col["name"]] = column_value(nc, col["jsonPath"]);
  EXPECT_EQ(shown["Type"], "Standard_NC6s_v3");
  EXPECT_EQ(shown["Capacity"], "on-demand");
  EXPECT_EQ(shown["Node"], "aks-ws1-vmss000000");
  EXPECT_EQ(shown["Ready"], "True");
}

// The Deployment runs `ktwin operator` as its flags are spelled, hardened the way clusters' policies
// require, with probes on the endpoints the operator serves; the kustomization renders all of it.
TEST(DeployTest, OperatorDeploymentIsHardenedAndUsesRealFlags) {
  json deployment;
  for (const auto& doc : catalog::load_yaml_file((kDeploy / "operator.yaml").string()))
    if (doc.value.value("kind", "") == "Deployment") deployment = doc.value;
  ASSERT_FALSE(deployment.is_null());
  const json& pod = deployment["spec"]["template"]["spec"];
  EXPECT_EQ(pod["serviceAccountName"], "kaito-twin-operator");
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  ASSERT_EQ(pod["containers"].size(), 1u);
  const json& c = pod["containers"][0];
  EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(c["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/readyz");
  EXPECT_TRUE(c["resources"]["requests"].contains("memory"));
  EXPECT_TRUE(c["resources"]["requests"].contains("cpu"));
  ASSERT_FALSE(c["args"].empty());
  EXPECT_EQ(c["args"][0], "operator");

  // Every flag must be one `ktwin operator --help` lists.
  std::string help;
  std::FILE* p = popen((std::string(KTWIN_BINARY) + " operator --help").c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) help.append(buf, n);
  ASSERT_EQ(pclose(p), 0);
  for (size_t i = 1; i < c["args"].size(); ++i) {
    std::string flag = c["args"][i];
    flag = flag.substr(0, flag.find('='));
    EXPECT_NE(help.find("  " + flag), std::string::npos) << flag << " is not a flag of ktwin operator";
  }

  // The kustomization lists files that exist; kubectl renders it when installed.
  std::set<std::string> kinds;
  for (const auto& doc : catalog::load_yaml_file((kDeploy / "kustomization.yaml").string()))
    for (const auto& r : doc.value["resources"]) {
      EXPECT_TRUE(fs::exists(kDeploy / r.get<std::string>())) << r;
      for (const auto& d : catalog::load_yaml_file((kDeploy / r.get<std::string>()).string()))
        kinds.insert(d.value.value("kind", ""));
    }
  EXPECT_EQ(kinds, (std::set<std::string>{"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole",
                                          "ClusterRoleBinding", "Role", "RoleBinding", "Deployment"}));
  if (std::system("kubectl version --client > /dev/null 2>&1") == 0) {
    EXPECT_EQ(std::system(("kubectl kustomize " + kDeploy.string() + " > /dev/null").c_str()), 0);
  }
}

}  // namespace
}  // namespace ktwin
