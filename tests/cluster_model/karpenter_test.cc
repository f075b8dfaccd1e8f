// Karpenter mode end to end at unit scale: KAITO's per-workspace NodePool (name, shape, replicas that
// only grow, BYO coverage, NodeClass readiness, deletion) and Karpenter's static NodePool controller
// stamping and trimming NodeClaims.
#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "cluster_model/object_store.h"
#include "core/api/workspace.h"
#include "core/controllers/node_provisioner.h"
#include "core/controllers/nodepool_controller.h"
#include "core/controllers/workspace_manifests.h"
#include "tests/cluster_model/test_support.h"

namespace ktwin::cluster_model {
namespace {

using testing::make_node;
using testing::make_object;
using testing::ManualLoop;

constexpr const char* kSku = "Standard_NC24ads_A100_v4";

Object workspace(const std::string& name, Labels extra_labels = {}) {
  Object ws =
      make_object("Workspace", "default", name,
                  {{"resource", {{"instanceType", kSku}, {"labelSelector", {{"matchLabels", {{"apps", name}}}}}}},
                   {"inference", {{"preset", {{"name", "phi-4"}}}}}});
  ws.api_version = "kaito.sh/v1beta1";
  ws.meta.labels = std::move(extra_labels);
  return ws;
}

class KarpenterTest : public ::testing::Test {
 protected:
  KarpenterTest() {
    config_.cloud = "azure";
    config_.node_provisioner = NodeProvisionerKind::kKarpenter;
    config_.node_class = default_node_class_config("azure");
    provisioner_ = make_node_provisioner(
        ProvisionerDeps{store_, loop_, events_, catalog::default_catalog().skus, config_, expectations_});
  }

  void add_node_class(const std::string& name, bool ready) {
    Object nc = make_object("AKSNodeClass", "", name);
    auto r = store_.create(nc);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    Object with_status = *r.value();
    with_status.body["status"] = {
        {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}};
    ASSERT_TRUE(store_.update_status(std::move(with_status)).ok());
  }

  Status provision(const Object& ws, int target) {
    const kaito::WorkspaceSpec spec = kaito::parse_workspace_spec(ws);
    ProvisionContext ctx{ws, spec, target, 0, std::nullopt, std::nullopt};
    return provisioner_->provision_nodes(ctx);
  }

  int64_t replicas(const std::string& pool) {
    auto np = store_.get("NodePool", "", pool);
    return np.ok() ? np.value()->num("/spec/replicas") : -1;
  }

  ManualLoop loop_;
  ObjectStore store_{loop_, loop_};
  EventRecorder events_{store_, loop_, "test"};
  OperatorConfig config_;
  CreationExpectations expectations_{5 * kMinute};
  std::unique_ptr<NodeProvisioner> provisioner_;
};

TEST(NodePoolName, NamespaceDashNameAndHashWhenTooLong) {
  EXPECT_EQ(nodepool_name("default", "workspace-phi-4"), "default-workspace-phi-4");
  const std::string long_name(260, 'a');
  const std::string n = nodepool_name("ns", long_name);
  EXPECT_EQ(n.size(), 253u);
  EXPECT_EQ(n[243], '-');
  EXPECT_NE(n, nodepool_name("ns", long_name + "b"));
}

TEST(NodePoolManifest, ShapeAsKaitoBuildsIt) {
  OperatorConfig cfg;
  cfg.node_provisioner = NodeProvisionerKind::kKarpenter;
  const Object ws = workspace("ws1");
  const Object np = build_nodepool(ws, kaito::parse_workspace_spec(ws), cfg, "image-family-ubuntu", 3);
  EXPECT_EQ(np.meta.name, "default-ws1");
  EXPECT_EQ(*np.meta.label(kaito::kLabelKarpenterManagedBy), "kaito");
  EXPECT_EQ(np.num("/spec/replicas"), 3);
  EXPECT_EQ(np.str("/spec/template/metadata/labels/apps"), "ws1");
  EXPECT_EQ(np.str("/spec/template/metadata/labels/karpenter.kaito.sh~1workspace-name"), "ws1");
  EXPECT_EQ(np.str("/spec/template/spec/nodeClassRef/kind"), "AKSNodeClass");
  EXPECT_EQ(np.str("/spec/template/spec/nodeClassRef/name"), "image-family-ubuntu");
  const json& reqs = np.at("/spec/template/spec/requirements");
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0]["values"][0], kSku);
  EXPECT_EQ(reqs[1]["key"], "karpenter.azure.com/placement-scope");
  EXPECT_EQ(np.str("/spec/template/spec/taints/0/key"), "sku");
  EXPECT_EQ(np.str("/spec/disruption/budgets/0/nodes"), "1");

  // InferenceSet children: drift blocked (KAITO rolls them one at a time), owner labels added.
  const Object child = workspace("ws2", {{kaito::kLabelCreatedByInferenceSet, "iset"}});
  const Object np2 = build_nodepool(child, kaito::parse_workspace_spec(child), cfg, "image-family-ubuntu", 1);
  EXPECT_EQ(np2.str("/spec/disruption/budgets/0/nodes"), "0");
  EXPECT_EQ(*np2.meta.label("karpenter.kaito.sh/inferenceset"), "iset");

  // AWS: EC2NodeClass and no Azure placement scope.
  cfg.node_class = default_node_class_config("aws");
  const Object np3 = build_nodepool(ws, kaito::parse_workspace_spec(ws), cfg, "default", 1);
  EXPECT_EQ(np3.str("/spec/template/spec/nodeClassRef/kind"), "EC2NodeClass");
  EXPECT_EQ(np3.at("/spec/template/spec/requirements").size(), 1u);
}

TEST_F(KarpenterTest, NodeClassMustBeReady) {
  const Object ws = workspace("ws1");
  Status s = provision(ws, 2);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("NodeClass \"image-family-ubuntu\" is not ready"), std::string::npos)
      << s.error().message;
  add_node_class("image-family-ubuntu", false);
  s = provision(ws, 2);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("exists but is not Ready"), std::string::npos) << s.error().message;
  EXPECT_EQ(replicas("default-ws1"), -1);
}

TEST_F(KarpenterTest, ReplicasCoverTargetMinusByoAndOnlyGrow) {
  add_node_class("image-family-ubuntu", true);
  add_node_class("image-family-azure-linux", true);
  const Object ws = workspace("ws1");
  // A ready BYO node with the workspace's labels and SKU covers one of the three.
  ASSERT_TRUE(
      store_.create(make_node("byo-1", {{"nvidia.com/gpu", "1"}}, {{"apps", "ws1"}, {kLabelInstanceType, kSku}})).ok());
  // A sibling workspace's Karpenter node with the same user labels does not.
  ASSERT_TRUE(store_
                  .create(make_node(
                      "other-1", {{"nvidia.com/gpu", "1"}},
                      {{"apps", "ws1"}, {kLabelInstanceType, kSku}, {kaito::kLabelKarpenterWorkspaceName, "other"}}))
                  .ok());
  ASSERT_TRUE(provision(ws, 3));
  EXPECT_EQ(replicas("default-ws1"), 2);

  // The BYO node goes away: replicas grow to the full target.
  ASSERT_TRUE(store_.remove("Node", "", "byo-1"));
  ASSERT_TRUE(provision(ws, 3));
  EXPECT_EQ(replicas("default-ws1"), 3);

  // New BYO capacity never shrinks the pool (that would disrupt running Karpenter nodes).
  ASSERT_TRUE(
      store_.create(make_node("byo-2", {{"nvidia.com/gpu", "1"}}, {{"apps", "ws1"}, {kLabelInstanceType, kSku}})).ok());
  ASSERT_TRUE(provision(ws, 3));
  EXPECT_EQ(replicas("default-ws1"), 3);

  // The node-class-name annotation picks another NodeClass for a new pool.
  Object ws2 = workspace("ws2");
  ws2.meta.annotations[kaito::kAnnotationNodeClassName] = "image-family-azure-linux";
  ASSERT_TRUE(provision(ws2, 1));
  auto np = store_.get("NodePool", "", "default-ws2");
  ASSERT_TRUE(np.ok());
  EXPECT_EQ(np.value()->str("/spec/template/spec/nodeClassRef/name"), "image-family-azure-linux");

  ASSERT_TRUE(provisioner_->delete_nodes(ws));
  loop_.drain();
  EXPECT_EQ(replicas("default-ws1"), -1);
  ASSERT_TRUE(provisioner_->delete_nodes(ws));  // idempotent
}

TEST_F(KarpenterTest, NodePoolControllerStampsAndTrimsNodeClaims) {
  add_node_class("image-family-ubuntu", true);
  const Object ws = workspace("ws1");
  ASSERT_TRUE(provision(ws, 3));
  NodePoolReconciler reconciler(store_, loop_, events_);
  Controller controller(ControllerOptions{"nodepool", 2}, reconciler, loop_, loop_);
  reconciler.setup_watches(controller);
  loop_.drain();

  ListOptions opts;
  opts.selector = LabelSelector{{{kLabelNodePool, "default-ws1"}}, {}};
  auto claims = store_.list("NodeClaim", opts);
  ASSERT_TRUE(claims.ok());
  ASSERT_EQ(claims.value().size(), 3u);
  const Object& nc = *claims.value().front();
  EXPECT_EQ(nc.meta.name.rfind("default-ws1-", 0), 0u);
  EXPECT_EQ(nc.meta.name.size(), std::string("default-ws1-").size() + 5);
  EXPECT_EQ(*nc.meta.label(kaito::kLabelKarpenterWorkspaceName), "ws1");
  EXPECT_EQ(*nc.meta.label("apps"), "ws1");
  ASSERT_EQ(nc.meta.owner_references.size(), 1u);
  EXPECT_EQ(nc.meta.owner_references[0].kind, "NodePool");
  EXPECT_EQ(nc.str("/spec/nodeClassRef/name"), "image-family-ubuntu");
  EXPECT_EQ(nc.at("/spec/requirements").back()["key"], kLabelNodePool);
  EXPECT_EQ(store_.get("NodePool", "", "default-ws1").value()->num("/status/nodes"), 3);

  // A NodeClaim deleted by liveness or repair is replaced.
  ASSERT_TRUE(store_.remove("NodeClaim", "", nc.meta.name));
  loop_.drain();
  EXPECT_EQ(store_.list("NodeClaim", opts).value().size(), 3u);

  // Scale down trims to replicas.
  Object pool = *store_.get("NodePool", "", "default-ws1").value();
  pool.body["spec"]["replicas"] = 1;
  ASSERT_TRUE(store_.update(std::move(pool)).ok());
  loop_.drain();
  EXPECT_EQ(store_.list("NodeClaim", opts).value().size(), 1u);
}

}  // namespace
}  // namespace ktwin::cluster_model
