// Garbage collector: background cascading deletion through ownerReferences, orphans at startup, and
// force deletion of pods whose node is gone.
#include "cluster_model/gc_controller.h"

#include <gtest/gtest.h>

#include "cluster_model/object_store.h"
#include "tests/cluster_model/test_support.h"

namespace ktwin::cluster_model {
namespace {

using testing::make_node;
using testing::make_object;
using testing::make_pod;
using testing::ManualLoop;

class GcTest : public ::testing::Test {
 protected:
  ManualLoop loop_;
  ObjectStore store_{loop_, loop_};
  GarbageCollector gc_{store_, loop_};

  ObjectPtr create(Object o) {
    auto r = store_.create(std::move(o));
    EXPECT_TRUE(r.ok()) << r.error().to_string();
    return r.value();
  }
  Object owned(Object o, const ObjectPtr& owner, bool controller = true) {
    o.meta.owner_references.push_back(owner_reference_to(*owner, controller));
    return o;
  }
  bool exists(std::string_view kind, std::string_view ns, std::string_view name) {
    return store_.get(kind, ns, name).ok();
  }
};

TEST_F(GcTest, StatefulSetDeletionDeletesItsPods) {
  gc_.start();
  auto sts = create(make_object("StatefulSet", "default", "ws", {{"spec", {{"replicas", 2}}}}));
  create(owned(make_pod("default", "ws-0"), sts));
  create(owned(make_pod("default", "ws-1"), sts));
  create(make_pod("default", "unrelated"));
  loop_.drain();
  ASSERT_TRUE(store_.remove("StatefulSet", "default", "ws").ok());
  loop_.drain();
  EXPECT_FALSE(exists("Pod", "default", "ws-0"));
  EXPECT_FALSE(exists("Pod", "default", "ws-1"));
  EXPECT_TRUE(exists("Pod", "default", "unrelated"));
  EXPECT_EQ(gc_.stats().dependents_deleted, 2u);
}

TEST_F(GcTest, OwnerChainCascades) {
  gc_.start();
  Object ws = make_object("Workspace", "default", "w");
  ws.api_version = "kaito.sh/v1beta1";
  auto workspace = create(ws);
  auto sts = create(owned(make_object("StatefulSet", "default", "w"), workspace));
  auto svc = create(owned(make_object("Service", "default", "w"), workspace));
  create(owned(make_pod("default", "w-0"), sts));
  auto claim = create(owned(make_object("NodeClaim", "", "ws-claim"), workspace, false));  // cluster-scoped
  loop_.drain();
  ASSERT_TRUE(store_.remove("Workspace", "default", "w").ok());
  loop_.drain();
  EXPECT_FALSE(exists("StatefulSet", "default", "w"));
  EXPECT_FALSE(exists("Service", "default", "w"));
  EXPECT_FALSE(exists("Pod", "default", "w-0"));
  // A cluster-scoped dependent of a namespaced owner is an invalid reference: kept, like kube.
  EXPECT_TRUE(exists("NodeClaim", "", "ws-claim"));
  (void)svc;
  (void)claim;
}

TEST_F(GcTest, BoundPodsAreDeletedGracefully) {
  gc_.start();
  auto sts = create(make_object("StatefulSet", "default", "s"));
  create(make_node("n1", {{"cpu", "4"}}));
  create(owned(make_pod("default", "s-0"), sts));
  ASSERT_TRUE(store_.bind_pod("default", "s-0", "n1").ok());
  loop_.drain();
  ASSERT_TRUE(store_.remove("StatefulSet", "default", "s").ok());
  loop_.drain();
  auto pod = store_.get("Pod", "default", "s-0");
  ASSERT_TRUE(pod.ok());  // the kubelet finishes the deletion
  EXPECT_TRUE((*pod)->meta.deletion_timestamp.has_value());
}

TEST_F(GcTest, OrphansAtStartupAreCollected) {
  auto sts = create(make_object("StatefulSet", "default", "old"));
  create(owned(make_pod("default", "old-0"), sts));
  ASSERT_TRUE(store_.remove("StatefulSet", "default", "old").ok());
  // Same name, new uid: the pod's owner is still gone.
  create(make_object("StatefulSet", "default", "old"));
  auto live = create(make_object("StatefulSet", "default", "live"));
  create(owned(make_pod("default", "live-0"), live));
  gc_.start();
  loop_.drain();
  EXPECT_FALSE(exists("Pod", "default", "old-0"));
  EXPECT_TRUE(exists("Pod", "default", "live-0"));
  EXPECT_TRUE(exists("StatefulSet", "default", "old"));
}

TEST_F(GcTest, DependentWithAnotherLiveOwnerIsKept) {
  gc_.start();
  auto a = create(make_object("ConfigMap", "default", "a"));
  auto b = create(make_object("ConfigMap", "default", "b"));
  Object dep = owned(make_object("Secret", "default", "shared"), a, false);
  dep.meta.owner_references.push_back(owner_reference_to(*b, false));
  create(dep);
  loop_.drain();
  ASSERT_TRUE(store_.remove("ConfigMap", "default", "a").ok());
  loop_.drain();
  EXPECT_TRUE(exists("Secret", "default", "shared"));
  ASSERT_TRUE(store_.remove("ConfigMap", "default", "b").ok());
  loop_.drain();
  EXPECT_FALSE(exists("Secret", "default", "shared"));
}

TEST_F(GcTest, DeletingOwnerWithFinalizerKeepsDependentsUntilGone) {
  gc_.start();
  Object ws = make_object("Workspace", "default", "w");
  ws.meta.finalizers = {"workspace.finalizer.kaito.sh"};
  auto owner = create(ws);
  create(owned(make_object("ConfigMap", "default", "cfg"), owner));
  loop_.drain();
  ASSERT_TRUE(store_.remove("Workspace", "default", "w").ok());
  loop_.drain();
  EXPECT_TRUE(exists("ConfigMap", "default", "cfg"));
  Object w = **store_.get("Workspace", "default", "w");
  w.meta.finalizers.clear();
  ASSERT_TRUE(store_.update(w).ok());
  loop_.drain();
  EXPECT_FALSE(exists("ConfigMap", "default", "cfg"));
}

TEST_F(GcTest, PodsOnMissingNodesAreForceDeleted) {
  create(make_node("n1", {{"cpu", "4"}}));
  create(make_pod("default", "on-n1"));
  create(make_pod("default", "on-ghost"));
  ASSERT_TRUE(store_.bind_pod("default", "on-n1", "n1").ok());
  ASSERT_TRUE(store_.bind_pod("default", "on-ghost", "ghost").ok());
  gc_.start();
  loop_.drain();
  EXPECT_TRUE(exists("Pod", "default", "on-n1"));
  EXPECT_FALSE(exists("Pod", "default", "on-ghost"));  // grace 0: gone at once

  ASSERT_TRUE(store_.remove("Node", "", "n1").ok());
  loop_.drain();
  EXPECT_FALSE(exists("Pod", "default", "on-n1"));
  EXPECT_EQ(gc_.stats().orphan_pods_deleted, 2u);
}

TEST_F(GcTest, StoppedCollectorDoesNothing) {
  gc_.start();
  auto sts = create(make_object("StatefulSet", "default", "s"));
  create(owned(make_pod("default", "s-0"), sts));
  loop_.drain();
  gc_.stop();
  ASSERT_TRUE(store_.remove("StatefulSet", "default", "s").ok());
  loop_.drain();
  EXPECT_TRUE(exists("Pod", "default", "s-0"));
}

}  // namespace
}  // namespace ktwin::cluster_model
