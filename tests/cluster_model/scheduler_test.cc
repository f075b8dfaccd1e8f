// Scheduler: quantities, tolerations, filters, GPU bin-packing, the unschedulable message, retries when
// nodes appear or capacity frees up, and a scale smoke test.
#include "cluster_model/scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "cluster_model/object_store.h"
#include "core/k8s/conditions.h"
#include "tests/cluster_model/test_support.h"

namespace ktwin::cluster_model {
namespace {

using testing::make_node;
using testing::make_pod;
using testing::ManualLoop;

TEST(QuantityTest, Parses) {
  EXPECT_EQ(parse_quantity_milli("4"), 4000);
  EXPECT_EQ(parse_quantity_milli("500m"), 500);
  EXPECT_EQ(parse_quantity_milli("1.5"), 1500);
  EXPECT_EQ(parse_quantity_milli("16Gi"), 16LL * (1LL << 30) * 1000);
  EXPECT_EQ(parse_quantity_milli("512Mi"), 512LL * (1LL << 20) * 1000);
  EXPECT_EQ(parse_quantity_milli("1G"), 1'000'000'000LL * 1000);
  EXPECT_EQ(parse_quantity_milli("1k"), 1'000'000);
  EXPECT_EQ(parse_quantity_milli("1e3"), 1'000'000);
  EXPECT_EQ(parse_quantity_milli("100u"), 1);  // rounded up
  EXPECT_EQ(parse_quantity_milli(2), 2000);
  EXPECT_EQ(parse_quantity_milli(0.25), 250);
  EXPECT_FALSE(parse_quantity_milli("abc"));
  EXPECT_FALSE(parse_quantity_milli("1Qi"));
  EXPECT_FALSE(parse_quantity_milli(""));
  EXPECT_FALSE(parse_quantity_milli(json()));
}

TEST(PodRequestsTest, SumsContainersAndFallsBackToLimits) {
  json spec = {{"containers",
                {{{"name", "a"}, {"resources", {{"requests", {{"cpu", "1"}}}, {"limits", {{"nvidia.com/gpu", 2}}}}}},
                 {{"name", "b"}, {"resources", {{"requests", {{"cpu", "500m"}, {"memory", "1Gi"}}}}}}}},
               {"initContainers", {{{"name", "i"}, {"resources", {{"requests", {{"cpu", "4"}}}}}}}}};
  ResourceList r = pod_requests(spec);
  EXPECT_EQ(r["cpu"], 4000);  // the init container dominates
  EXPECT_EQ(r["memory"], (1LL << 30) * 1000);
  EXPECT_EQ(r["nvidia.com/gpu"], 2000);
  EXPECT_EQ(r["pods"], 1000);
}

TEST(TolerationTest, KubernetesMatching) {
  Taint gpu{"sku", "gpu", "NoSchedule"};
  EXPECT_FALSE(tolerates(json(), gpu));
  EXPECT_TRUE(tolerates(
      json::array({{{"key", "sku"}, {"operator", "Equal"}, {"value", "gpu"}, {"effect", "NoSchedule"}}}), gpu));
  EXPECT_TRUE(tolerates(json::array({{{"key", "sku"}, {"value", "gpu"}}}), gpu));  // default Equal, any effect
  EXPECT_FALSE(tolerates(json::array({{{"key", "sku"}, {"value", "cpu"}}}), gpu));
  EXPECT_TRUE(tolerates(json::array({{{"key", "sku"}, {"operator", "Exists"}}}), gpu));
  EXPECT_FALSE(tolerates(json::array({{{"key", "sku"}, {"operator", "Exists"}, {"effect", "NoExecute"}}}), gpu));
  EXPECT_TRUE(tolerates(json::array({{{"operator", "Exists"}}}), gpu));  // empty key + Exists: everything
}

class SchedulerTest : public ::testing::Test {
 protected:
  ManualLoop loop_;
  ObjectStore store_{loop_, loop_};
  Scheduler scheduler_{store_, loop_, loop_};

  void SetUp() override { scheduler_.start(); }

  void add_node(const std::string& name, json alloc, Labels labels = {}, json taints = nullptr) {
    Object n = make_node(name, std::move(alloc), std::move(labels));
    if (!taints.is_null()) n.body["spec"]["taints"] = std::move(taints);
    ASSERT_TRUE(store_.create(n).ok());
  }
  void add_pod(const std::string& name, json requests, json extra_spec = json::object()) {
    Object p = make_pod("default", name, std::move(requests));
    for (auto it = extra_spec.begin(); it != extra_spec.end(); ++it) p.body["spec"][it.key()] = it.value();
    ASSERT_TRUE(store_.create(p).ok());
  }
  std::string node_of(const std::string& pod) { return (*store_.get("Pod", "default", pod))->str("/spec/nodeName"); }
  std::string message_of(const std::string& pod) {
    auto c = find_condition((*store_.get("Pod", "default", pod))->at("/status/conditions"), "PodScheduled");
    return c ? c->status + "/" + c->reason + ": " + c->message : "";
  }
};

TEST_F(SchedulerTest, GpuFitAndBinPacking) {
  add_node("a-small", {{"nvidia.com/gpu", "1"}});
  add_node("b-big", {{"nvidia.com/gpu", "4"}});
  add_node("c-big", {{"nvidia.com/gpu", "4"}});
  add_pod("two", {{"nvidia.com/gpu", "2"}});
  loop_.drain();
  EXPECT_EQ(node_of("two"), "b-big");  // a-small cannot hold 2; b before c by name
  add_pod("one", {{"nvidia.com/gpu", "1"}});
  loop_.drain();
  EXPECT_EQ(node_of("one"), "b-big");  // most GPUs already in use wins
  add_pod("one-more", {{"nvidia.com/gpu", 1}});
  loop_.drain();
  EXPECT_EQ(node_of("one-more"), "b-big");
  add_pod("again", {{"nvidia.com/gpu", 1}});
  loop_.drain();
  EXPECT_EQ(node_of("again"), "a-small");  // b-big is full; tie at 0 used: a-small by name
  EXPECT_TRUE(condition_is_true((*store_.get("Pod", "default", "again"))->at("/status/conditions"), "PodScheduled"));
  EXPECT_EQ(scheduler_.stats().bound, 4u);
}

TEST_F(SchedulerTest, CpuAndMemoryFit) {
  add_node("n", {{"cpu", "4"}, {"memory", "16Gi"}, {"pods", "2"}});
  add_pod("a", {{"cpu", "3"}, {"memory", "8Gi"}});
  add_pod("b", {{"cpu", "1500m"}});
  add_pod("c", {{"memory", "512Mi"}});
  add_pod("d", {{"memory", "512Mi"}});
  loop_.drain();
  EXPECT_EQ(node_of("a"), "n");
  EXPECT_EQ(node_of("b"), "");
  EXPECT_EQ(message_of("b"), "False/Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.");
  EXPECT_EQ(node_of("c"), "n");
  EXPECT_EQ(node_of("d"), "");
  EXPECT_EQ(message_of("d"), "False/Unschedulable: 0/1 nodes are available: 1 Too many pods.");
}

TEST_F(SchedulerTest, TaintsAndTolerations) {
  add_node("tainted", {{"nvidia.com/gpu", "1"}}, {},
           json::array({{{"key", "sku"}, {"value", "gpu"}, {"effect", "NoSchedule"}}}));
  add_pod("plain", {{"nvidia.com/gpu", "1"}});
  loop_.drain();
  EXPECT_EQ(node_of("plain"), "");
  EXPECT_EQ(message_of("plain"),
            "False/Unschedulable: 0/1 nodes are available: 1 node(s) had untolerated taint {sku: gpu}.");
  add_pod("tolerant", {{"nvidia.com/gpu", "1"}},
          {{"tolerations",
            json::array({{{"key", "sku"}, {"operator", "Equal"}, {"value", "gpu"}, {"effect", "NoSchedule"}}})}});
  loop_.drain();
  EXPECT_EQ(node_of("tolerant"), "tainted");
}

TEST_F(SchedulerTest, UnschedulableMessageCountsReasons) {
  add_node("gpu-node-without-room", {{"nvidia.com/gpu", "0"}}, {{"pool", "gpu"}});
  add_node("cpu-1", {{"cpu", "8"}}, {{"pool", "cpu"}});
  add_node("cpu-2", {{"cpu", "8"}}, {{"pool", "cpu"}});
  add_pod("p", {{"nvidia.com/gpu", "1"}}, {{"nodeSelector", {{"pool", "gpu"}}}});
  loop_.drain();
  EXPECT_EQ(message_of("p"),
            "False/Unschedulable: 0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) didn't match "
            "Pod's node affinity/selector.");
  EXPECT_EQ((*store_.get("Pod", "default", "p"))->str("/status/phase"), "Pending");
}

TEST_F(SchedulerTest, RequiredNodeAffinity) {
  add_node("n1", {{"cpu", "1"}}, {{"kubernetes.io/hostname", "n1"}});
  add_node("n2", {{"cpu", "1"}}, {{"kubernetes.io/hostname", "n2"}});
  json affinity = {
      {"nodeAffinity",
       {{"requiredDuringSchedulingIgnoredDuringExecution",
         {{"nodeSelectorTerms", json::array({{{"matchExpressions", json::array({{{"key", "kubernetes.io/hostname"},
                                                                                 {"operator", "In"},
                                                                                 {"values", {"n2"}}}})}}})}}}}}};
  add_pod("p", {{"cpu", "1"}}, {{"affinity", affinity}});
  loop_.drain();
  EXPECT_EQ(node_of("p"), "n2");
}

TEST_F(SchedulerTest, NotReadyCordonedAndDeletingNodesAreSkipped) {
  Object not_ready = make_node("a-not-ready", {{"cpu", "4"}});
  not_ready.body["status"]["conditions"][0]["status"] = "False";
  ASSERT_TRUE(store_.create(not_ready).ok());
  Object cordoned = make_node("b-cordoned", {{"cpu", "4"}});
  cordoned.body["spec"]["unschedulable"] = true;
  ASSERT_TRUE(store_.create(cordoned).ok());
  add_pod("p", {{"cpu", "1"}});
  loop_.drain();
  EXPECT_EQ(message_of("p"),
            "False/Unschedulable: 0/2 nodes are available: 1 node(s) had untolerated taint "
            "{node.kubernetes.io/not-ready: }, 1 node(s) were unschedulable.");
  // Becoming Ready is a node change: the pending pod is retried.
  Object nr = **store_.get("Node", "", "a-not-ready");
  nr.body["status"]["conditions"][0]["status"] = "True";
  ASSERT_TRUE(store_.update_status(nr).ok());
  loop_.drain();
  EXPECT_EQ(node_of("p"), "a-not-ready");
}

TEST_F(SchedulerTest, RetriesWhenANodeAppears) {
  add_pod("p", {{"nvidia.com/gpu", "1"}});
  loop_.drain();
  EXPECT_EQ(message_of("p"), "False/Unschedulable: no nodes available to schedule pods");
  add_node("small", {{"cpu", "2"}});
  loop_.drain();
  EXPECT_EQ(node_of("p"), "");  // not retried: the new node cannot hold it
  add_node("gpu", {{"nvidia.com/gpu", "1"}});
  loop_.drain();
  EXPECT_EQ(node_of("p"), "gpu");
  EXPECT_EQ(scheduler_.stats().pending, 0u);
}

TEST_F(SchedulerTest, RetriesWhenCapacityIsFreed) {
  add_node("gpu", {{"nvidia.com/gpu", "1"}});
  add_pod("first", {{"nvidia.com/gpu", "1"}});
  loop_.drain();
  add_pod("second", {{"nvidia.com/gpu", "1"}});
  loop_.drain();
  EXPECT_EQ(node_of("first"), "gpu");
  EXPECT_EQ(node_of("second"), "");
  // A finished pod no longer counts.
  ASSERT_TRUE(store_.patch("Pod", "default", "first", {{"status", {{"phase", "Succeeded"}}}}, true).ok());
  loop_.drain();
  EXPECT_EQ(node_of("second"), "gpu");
  // Deleting a running pod frees its GPU too (once it is gone).
  add_pod("third", {{"nvidia.com/gpu", "1"}});
  loop_.drain();
  EXPECT_EQ(node_of("third"), "");
  DeleteOptions force;
  force.grace_period_seconds = 0;
  ASSERT_TRUE(store_.remove("Pod", "default", "second", force).ok());
  loop_.drain();
  EXPECT_EQ(node_of("third"), "gpu");
}

TEST_F(SchedulerTest, IgnoresOtherSchedulersAndDeletingPods) {
  add_node("n", {{"cpu", "4"}});
  add_pod("mine", {{"cpu", "1"}}, {{"schedulerName", "default-scheduler"}});
  add_pod("theirs", {{"cpu", "1"}}, {{"schedulerName", "volcano"}});
  loop_.drain();
  EXPECT_EQ(node_of("mine"), "n");
  EXPECT_EQ(node_of("theirs"), "");
  EXPECT_EQ(message_of("theirs"), "");
}

TEST_F(SchedulerTest, ExistingBoundPodsCountAtStartup) {
  ManualLoop loop;
  ObjectStore store(loop, loop);
  ASSERT_TRUE(store.create(make_node("n", {{"nvidia.com/gpu", "1"}})).ok());
  ASSERT_TRUE(store.create(make_pod("default", "old", {{"nvidia.com/gpu", "1"}})).ok());
  ASSERT_TRUE(store.bind_pod("default", "old", "n").ok());
  ASSERT_TRUE(store.create(make_pod("default", "new", {{"nvidia.com/gpu", "1"}})).ok());
  Scheduler s(store, loop, loop);
  s.start();
  loop.drain();
  EXPECT_EQ((*store.get("Pod", "default", "new"))->str("/spec/nodeName"), "");
}

// 10x smaller than the target by default; KTWIN_SCALE=full runs 100,000 pods on 10,000 nodes.
TEST(SchedulerScaleTest, ManyPodsOnManyNodes) {
  const bool full = std::getenv("KTWIN_SCALE") && std::string(std::getenv("KTWIN_SCALE")) == "full";
  const int nodes = full ? 10'000 : 1'000, pods = full ? 100'000 : 10'000;
  ManualLoop loop;
  ObjectStore store(loop, loop);
  Scheduler scheduler(store, loop, loop);
  scheduler.start();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < nodes; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "node-%05d", i);
    ASSERT_TRUE(
        store.create(make_node(name, {{"nvidia.com/gpu", "8"}, {"cpu", "96"}, {"memory", "900Gi"}, {"pods", "110"}}))
            .ok());
  }
  for (int i = 0; i < pods; ++i) {  // per node: 8 one-GPU pods and 2 CPU-only pods
    json requests = i % 10 < 8 ? json{{"nvidia.com/gpu", "1"}, {"cpu", "4"}} : json{{"cpu", "4"}};
    ASSERT_TRUE(store.create(make_pod("default", "pod-" + std::to_string(i), requests)).ok());
    if (i % 1000 == 999) loop.drain();
  }
  loop.drain();
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("scheduled %d pods onto %d nodes in %.2f s (wall)\n", pods, nodes, secs);
  EXPECT_EQ(scheduler.stats().bound, static_cast<uint64_t>(pods));
  EXPECT_EQ(scheduler.stats().pending, 0u);
  // Bin-packing: GPU pods fill nodes in name order, 8 per node.
  auto all = store.list("Pod");
  int gpu_pods_on_node0 = 0;
  for (const auto& p : all.value())
    gpu_pods_on_node0 += p->str("/spec/nodeName") == "node-00000" &&
                         p->at("/spec/containers/0/resources/requests").contains("nvidia.com/gpu");
  EXPECT_EQ(gpu_pods_on_node0, 8);
}

}  // namespace
}  // namespace ktwin::cluster_model
