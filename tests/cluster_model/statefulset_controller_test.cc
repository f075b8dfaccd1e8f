// StatefulSet controller: pod identity, Parallel and OrderedReady creation, rolling update one pod at a
// time, scale down, replacement of vanished and failed pods, and status.
#include "cluster_model/statefulset_controller.h"

#include <gtest/gtest.h>

#include "cluster_model/gc_controller.h"
#include "cluster_model/object_store.h"
#include "cluster_model/scheduler.h"
#include "tests/cluster_model/test_support.h"

namespace ktwin::cluster_model {
namespace {

using testing::make_node;
using testing::make_object;
using testing::ManualLoop;
using testing::TestKubelet;

Object statefulset(const std::string& name, int replicas, const std::string& policy, const std::string& image) {
  Object s = make_object("StatefulSet", "default", name);
  s.api_version = "apps/v1";
  s.body["spec"] = {{"replicas", replicas},
                    {"serviceName", name + "-headless"},
                    {"selector", {{"matchLabels", {{"app", name}}}}},
                    {"template",
                     {{"metadata", {{"labels", {{"app", name}}}}},
                      {"spec", {{"containers", json::array({{{"name", "main"}, {"image", image}}})}}}}}};
  if (!policy.empty()) s.body["spec"]["podManagementPolicy"] = policy;
  return s;
}

class StatefulSetTest : public ::testing::Test {
 protected:
  ManualLoop loop_;
  ObjectStore store_{loop_, loop_};
  StatefulSetController controller_{store_, loop_, loop_};

  void SetUp() override { controller_.start(); }

  std::vector<std::string> pod_names() {
    std::vector<std::string> out;
    auto pods = store_.list("Pod");
    for (const auto& p : pods.value()) out.push_back(p->meta.name);
    return out;
  }
  ObjectPtr pod(const std::string& name) {
    auto p = store_.get("Pod", "default", name);
    return p.ok() ? p.value() : nullptr;
  }
  ObjectPtr sts(const std::string& name) { return store_.get("StatefulSet", "default", name).value(); }
};

TEST_F(StatefulSetTest, ParallelCreatesAllPodsWithIdentity) {
  auto created = store_.create(statefulset("ws", 3, "Parallel", "vllm:1"));
  ASSERT_TRUE(created.ok());
  loop_.drain();
  EXPECT_EQ(pod_names(), (std::vector<std::string>{"ws-0", "ws-1", "ws-2"}));
  ObjectPtr p1 = pod("ws-1");
  EXPECT_EQ(*p1->meta.label("app"), "ws");
  EXPECT_EQ(*p1->meta.label("statefulset.kubernetes.io/pod-name"), "ws-1");
  EXPECT_EQ(*p1->meta.label("apps.kubernetes.io/pod-index"), "1");
  EXPECT_EQ(*p1->meta.label("controller-revision-hash"), StatefulSetController::revision_of(**created));
  ASSERT_NE(p1->meta.controller_ref(), nullptr);
  EXPECT_EQ(p1->meta.controller_ref()->uid, (*created)->meta.uid);
  EXPECT_EQ(p1->meta.controller_ref()->kind, "StatefulSet");
  EXPECT_EQ(p1->str("/spec/hostname"), "ws-1");
  EXPECT_EQ(p1->str("/spec/subdomain"), "ws-headless");
  EXPECT_EQ(p1->str("/spec/restartPolicy"), "Always");
  EXPECT_EQ(p1->str("/spec/containers/0/image"), "vllm:1");

  auto s = sts("ws");
  EXPECT_EQ(s->num("/status/replicas"), 3);
  EXPECT_EQ(s->num("/status/readyReplicas"), 0);
  EXPECT_EQ(s->num("/status/observedGeneration"), 1);
  EXPECT_EQ(s->str("/status/updateRevision"), StatefulSetController::revision_of(**created));
}

TEST_F(StatefulSetTest, OrderedReadyCreatesOneAtATime) {
  TestKubelet kubelet(store_, loop_, false);
  kubelet.auto_ready = false;
  ASSERT_TRUE(store_.create(statefulset("web", 3, "", "nginx")).ok());
  loop_.drain();
  EXPECT_EQ(pod_names(), (std::vector<std::string>{"web-0"}));
  kubelet.set_phase("default", "web-0", "Running", false);  // running but not ready: wait
  loop_.drain();
  EXPECT_EQ(pod_names().size(), 1u);
  kubelet.set_phase("default", "web-0", "Running", true);
  loop_.drain();
  EXPECT_EQ(pod_names(), (std::vector<std::string>{"web-0", "web-1"}));
  kubelet.set_phase("default", "web-1", "Running", true);
  loop_.drain();
  kubelet.set_phase("default", "web-2", "Running", true);
  loop_.drain();
  auto s = sts("web");
  EXPECT_EQ(s->num("/status/replicas"), 3);
  EXPECT_EQ(s->num("/status/readyReplicas"), 3);
  EXPECT_EQ(s->num("/status/availableReplicas"), 3);
  EXPECT_EQ(s->num("/status/currentReplicas"), 3);
  EXPECT_EQ(s->num("/status/updatedReplicas"), 3);
}

TEST_F(StatefulSetTest, RollingUpdateReplacesOnePodAtATimeFromTheTop) {
  TestKubelet kubelet(store_, loop_, false);
  kubelet.auto_remove = false;  // we finish deletions by hand to observe each step
  ASSERT_TRUE(store_.create(statefulset("ws", 3, "Parallel", "v1")).ok());
  loop_.drain();
  // Make all pods "bound" so deletion is graceful, as on a real node.
  for (auto name : {"ws-0", "ws-1", "ws-2"}) ASSERT_TRUE(store_.bind_pod("default", name, "node").ok());
  loop_.drain();
  const std::string old_rev = sts("ws")->str("/status/currentRevision");

  Object s = *sts("ws");
  s.body["spec"]["template"]["spec"]["containers"][0]["image"] = "v2";
  ASSERT_TRUE(store_.update(s).ok());
  loop_.drain();
  const std::string new_rev = sts("ws")->str("/status/updateRevision");
  ASSERT_NE(new_rev, old_rev);
  EXPECT_EQ(sts("ws")->num("/status/observedGeneration"), 2);

  auto finish_deletion = [&](const std::string& name) {
    DeleteOptions force;
    force.grace_period_seconds = 0;
    ASSERT_TRUE(store_.remove("Pod", "default", name, force).ok());
    loop_.drain();
  };
  auto deleting = [&](const std::string& name) {
    auto p = pod(name);
    return p && p->meta.deletion_timestamp.has_value();
  };
  for (int ord : {2, 1, 0}) {
    const std::string name = "ws-" + std::to_string(ord);
    EXPECT_TRUE(deleting(name)) << name;
    for (int other = 0; other < 3; ++other) {
      if (other != ord) {
        EXPECT_FALSE(deleting("ws-" + std::to_string(other))) << "while updating " << name;
      }
    }
    finish_deletion(name);
    // The replacement exists with the new revision and is made ready by the kubelet.
    ASSERT_TRUE(pod(name));
    EXPECT_EQ(*pod(name)->meta.label("controller-revision-hash"), new_rev);
    ASSERT_TRUE(store_.bind_pod("default", name, "node").ok());
    loop_.drain();
  }
  auto done = sts("ws");
  EXPECT_EQ(done->str("/status/currentRevision"), new_rev);
  EXPECT_EQ(done->num("/status/updatedReplicas"), 3);
  EXPECT_EQ(done->num("/status/currentReplicas"), 3);
  EXPECT_EQ(done->num("/status/readyReplicas"), 3);
}

TEST_F(StatefulSetTest, RollingUpdateWaitsForReplacementReady) {
  TestKubelet kubelet(store_, loop_, false);
  ASSERT_TRUE(store_.create(statefulset("ws", 2, "Parallel", "v1")).ok());
  loop_.drain();
  kubelet.auto_ready = false;
  Object s = *sts("ws");
  s.body["spec"]["template"]["spec"]["containers"][0]["image"] = "v2";
  ASSERT_TRUE(store_.update(s).ok());
  loop_.drain();  // ws-1 deleted (unbound: at once) and recreated, but never becomes ready
  ObjectPtr p0 = pod("ws-0");
  ObjectPtr p1 = pod("ws-1");
  ASSERT_TRUE(p0 && p1);
  EXPECT_FALSE(p0->meta.deletion_timestamp.has_value());
  EXPECT_NE(*p0->meta.label("controller-revision-hash"), *p1->meta.label("controller-revision-hash"));
  loop_.advance(10 * kMinute);
  EXPECT_FALSE(pod("ws-0")->meta.deletion_timestamp.has_value());
  kubelet.set_phase("default", "ws-1", "Running", true);
  loop_.drain();
  EXPECT_EQ(*pod("ws-0")->meta.label("controller-revision-hash"), *p1->meta.label("controller-revision-hash"));
}

TEST_F(StatefulSetTest, ScaleDownDeletesHighestOrdinals) {
  TestKubelet kubelet(store_, loop_, false);
  ASSERT_TRUE(store_.create(statefulset("ws", 4, "Parallel", "v1")).ok());
  loop_.drain();
  ASSERT_TRUE(store_.patch("StatefulSet", "default", "ws", {{"spec", {{"replicas", 2}}}}).ok());
  loop_.drain();
  EXPECT_EQ(pod_names(), (std::vector<std::string>{"ws-0", "ws-1"}));
  EXPECT_EQ(sts("ws")->num("/status/replicas"), 2);
}

TEST_F(StatefulSetTest, RecreatesVanishedAndFailedPods) {
  TestKubelet kubelet(store_, loop_, false);
  ASSERT_TRUE(store_.create(statefulset("ws", 2, "Parallel", "v1")).ok());
  loop_.drain();
  const std::string uid0 = pod("ws-0")->meta.uid;
  ASSERT_TRUE(store_.bind_pod("default", "ws-0", "gone-node").ok());
  DeleteOptions force;  // what pod GC does when the node is gone
  force.grace_period_seconds = 0;
  ASSERT_TRUE(store_.remove("Pod", "default", "ws-0", force).ok());
  loop_.drain();
  ASSERT_TRUE(pod("ws-0"));
  EXPECT_NE(pod("ws-0")->meta.uid, uid0);

  const std::string uid1 = pod("ws-1")->meta.uid;
  kubelet.set_phase("default", "ws-1", "Failed", false);
  loop_.drain();
  ASSERT_TRUE(pod("ws-1"));
  EXPECT_NE(pod("ws-1")->meta.uid, uid1);
  EXPECT_EQ(pod("ws-1")->str("/status/phase"), "Running");
}

// Scheduler, kubelet stand-in, StatefulSet controller and GC together on one store.
TEST(StatefulSetIntegrationTest, ScheduledPodsFollowTheirStatefulSet) {
  ManualLoop loop;
  ObjectStore store(loop, loop);
  Scheduler scheduler(store, loop, loop);
  StatefulSetController sts(store, loop, loop);
  GarbageCollector gc(store, loop);
  TestKubelet kubelet(store, loop, true);
  scheduler.start();
  sts.start();
  gc.start();
  for (int i = 0; i < 2; ++i)
    ASSERT_TRUE(store.create(make_node("gpu-" + std::to_string(i), {{"nvidia.com/gpu", "1"}})).ok());
  Object s = statefulset("ws", 2, "Parallel", "vllm");
  s.body["spec"]["template"]["spec"]["containers"][0]["resources"] = {{"requests", {{"nvidia.com/gpu", "1"}}}};
  ASSERT_TRUE(store.create(s).ok());
  loop.drain();
  auto obj = store.get("StatefulSet", "default", "ws");
  EXPECT_EQ((*obj)->num("/status/readyReplicas"), 2);
  EXPECT_NE((*store.get("Pod", "default", "ws-0"))->str("/spec/nodeName"),
            (*store.get("Pod", "default", "ws-1"))->str("/spec/nodeName"));
  ASSERT_TRUE(store.remove("StatefulSet", "default", "ws").ok());
  loop.drain();
  EXPECT_TRUE(store.list("Pod")->empty());
}

}  // namespace
}  // namespace ktwin::cluster_model
