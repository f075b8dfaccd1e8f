// The objects KAITO generates for a workspace: NodeClaim shape (spec §4.3), Services and the
// inference StatefulSet with its vLLM flags (§2.4, §4.4).
#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "core/controllers/workspace_controller.h"
#include "core/controllers/workspace_manifests.h"

namespace ktwin {
namespace {

Object workspace(const std::string& sku, const std::string& preset) {
  Object ws = object_from_json(json::parse(R"({
    "apiVersion": "kaito.sh/v1beta1", "kind": "Workspace",
    "metadata": {"name": "workspace-phi-3-mini", "namespace": "default", "uid": "u-1"},
    "resource": {"instanceType": ")" + sku +
                                           R"(", "labelSelector": {"matchLabels": {"apps": "phi-3"}}},
    "inference": {"preset": {"name": ")" + preset +
                                           R"("}}})"));
  return ws;
}

const catalog::Catalog& cat() { return catalog::default_catalog(); }

TEST(NodeClaim, NameIsElevenCharsAndStable) {
  const std::string a = nodeclaim_name("default", "ws", kSimEpoch, 0);
  EXPECT_EQ(a.size(), 11u);
  EXPECT_EQ(a.rfind("ws", 0), 0u);
  EXPECT_EQ(a, nodeclaim_name("default", "ws", kSimEpoch, 0));
  EXPECT_NE(a, nodeclaim_name("default", "ws", kSimEpoch, 1));
  EXPECT_NE(a, nodeclaim_name("default", "ws", kSimEpoch + 1, 0));
}

TEST(NodeClaim, ShapeMatchesKaito) {
  Object ws = workspace("Standard_NC6s_v3", "phi-3-mini-4k-instruct");
  auto spec = kaito::parse_workspace_spec(ws);
  OperatorConfig cfg;
  Object nc = build_nodeclaim(ws, spec, cfg, "wsabcdef012", 80);
  EXPECT_EQ(nc.api_version, "karpenter.sh/v1");
  EXPECT_EQ(nc.meta.labels.at("karpenter.sh/nodepool"), "kaito");
  EXPECT_EQ(nc.meta.labels.at("kaito.sh/workspace"), "workspace-phi-3-mini");
  EXPECT_EQ(nc.meta.labels.at("kaito.sh/workspacenamespace"), "default");
  EXPECT_EQ(nc.meta.labels.at("apps"), "phi-3");
  EXPECT_EQ(nc.meta.annotations.at("karpenter.sh/do-not-disrupt"), "true");
  EXPECT_EQ(nc.meta.annotations.at("kaito.sh/node-image-family"), "ubuntu");
  EXPECT_EQ(nc.at("/spec/nodeClassRef/kind"), "KaitoNodeClass");
  EXPECT_EQ(nc.at("/spec/nodeClassRef/group"), "kaito.sh");
  EXPECT_EQ(nc.at("/spec/taints/0"), json({{"key", "sku"}, {"value", "gpu"}, {"effect", "NoSchedule"}}));
  EXPECT_EQ(nc.at("/spec/resources/requests/storage"), "80Gi");
  const json& reqs = nc.at("/spec/requirements");
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[0]["key"], "karpenter.sh/nodepool");
  EXPECT_EQ(reqs[1]["key"], "node.kubernetes.io/instance-type");
  EXPECT_EQ(reqs[1]["values"][0], "Standard_NC6s_v3");
  EXPECT_EQ(reqs[2]["key"], "kubernetes.io/os");
  EXPECT_EQ(reqs[3]["key"], "karpenter.azure.com/sku-name");
}

TEST(NodeClaim, AwsUsesEc2NodeClassAndGpuCountRequirement) {
  Object ws = workspace("p4d.24xlarge", "llama-3.1-8b-instruct");
  auto spec = kaito::parse_workspace_spec(ws);
  OperatorConfig cfg;
  cfg.cloud = "aws";
  Object nc = build_nodeclaim(ws, spec, cfg, "wsabcdef012", 110);
  EXPECT_EQ(nc.at("/spec/nodeClassRef/kind"), "EC2NodeClass");
  EXPECT_EQ(nc.at("/spec/requirements/3/key"), "karpenter.k8s.aws/instance-gpu-count");
  EXPECT_EQ(nc.at("/spec/requirements/3/operator"), "Gt");
}

InferenceCommand command_for(const std::string& preset, const std::string& sku, int nodes) {
  InferenceCommandInput in;
  in.preset = cat().presets.find(preset);
  EXPECT_NE(in.preset, nullptr) << preset;
  in.gpu = cat().skus.find("azure", sku)->gpu;
  in.nodes = nodes;
  return build_inference_command(in, "ws", "default");
}

TEST(VllmFlags, Float16OnV100) {
  auto cmd = command_for("phi-3-mini-4k-instruct", "Standard_NC6s_v3", 1);
  EXPECT_EQ(cmd.flags.at("dtype"), "float16");
  EXPECT_EQ(cmd.flags.at("tensor-parallel-size"), "1");
  EXPECT_EQ(cmd.flags.at("gpu-memory-utilization"), "0.84");
  EXPECT_EQ(cmd.flags.at("max-model-len"), "auto");
  EXPECT_EQ(cmd.flags.at("served-model-name"), "phi-3-mini-4k-instruct");
  EXPECT_EQ(cmd.flags.at("download-dir"), "/workspace/weights");
  EXPECT_NE(cmd.shell.find("python3 /workspace/vllm/inference_api.py"), std::string::npos);
}

TEST(VllmFlags, Bfloat16OnA100AndA10Utilisation) {
  EXPECT_EQ(command_for("phi-3-mini-4k-instruct", "Standard_NC24ads_A100_v4", 1).flags.at("dtype"), "bfloat16");
  EXPECT_EQ(command_for("phi-3-mini-4k-instruct", "Standard_NV36ads_A10_v5", 1).flags.at("gpu-memory-utilization"),
            "0.82");
}

TEST(VllmFlags, SmallModelOnMultiGpuNodeUsesDataParallelism) {
  auto cmd = command_for("phi-3-mini-4k-instruct", "Standard_NC96ads_A100_v4", 1);
  EXPECT_EQ(cmd.flags.at("data-parallel-size"), "4");
  EXPECT_EQ(cmd.flags.at("tensor-parallel-size"), "1");
  EXPECT_EQ(cmd.data_parallel, 4);
}

TEST(VllmFlags, LargeModelUsesTensorParallelism) {
  auto cmd = command_for("llama-3.3-70b-instruct", "Standard_NC96ads_A100_v4", 1);
  EXPECT_EQ(cmd.flags.at("tensor-parallel-size"), "4");
  EXPECT_EQ(cmd.flags.count("data-parallel-size"), 0u);
}

TEST(VllmFlags, MultiNodeAddsPipelineParallelismAndRay) {
  auto cmd = command_for("llama-3.3-70b-instruct", "Standard_NC24ads_A100_v4", 3);
  EXPECT_EQ(cmd.flags.at("pipeline-parallel-size"), "3");
  EXPECT_EQ(cmd.flags.at("distributed-executor-backend"), "ray");
  EXPECT_NE(cmd.shell.find("ray start --head"), std::string::npos);
  EXPECT_NE(cmd.shell.find("ws-0.ws-headless.default.svc.cluster.local:6379"), std::string::npos);
}

TEST(Workload, ServiceAndStatefulSetShape) {
  Object ws = workspace("Standard_NC6s_v3", "phi-3-mini-4k-instruct");
  auto spec = kaito::parse_workspace_spec(ws);
  Object svc = build_service(ws, true);
  EXPECT_EQ(svc.at("/spec/type"), "ClusterIP");
  EXPECT_EQ(svc.at("/spec/selector/statefulset.kubernetes.io~1pod-name"), "workspace-phi-3-mini-0");
  EXPECT_EQ(svc.at("/spec/ports").size(), 4u);
  EXPECT_EQ(svc.at("/spec/ports/0/port"), 80);
  EXPECT_EQ(svc.at("/spec/ports/0/targetPort"), 5000);
  EXPECT_EQ(svc.at("/spec/publishNotReadyAddresses"), true);
  Object headless = build_headless_service(ws);
  EXPECT_EQ(headless.meta.name, "workspace-phi-3-mini-headless");
  EXPECT_EQ(headless.at("/spec/clusterIP"), "None");

  OperatorConfig cfg;
  WorkloadInput in;
  in.preset = cat().presets.find("phi-3-mini-4k-instruct");
  in.gpu = cat().skus.find("azure", "Standard_NC6s_v3")->gpu;
  in.revision = 3;
  Object sts = build_inference_statefulset(ws, spec, cfg, in);
  EXPECT_EQ(sts.at("/spec/podManagementPolicy"), "Parallel");
  EXPECT_EQ(sts.at("/spec/serviceName"), "workspace-phi-3-mini-headless");
  EXPECT_EQ(sts.meta.annotations.at("workspace.kaito.io/revision"), "3");
  const json& c = sts.at("/spec/template/spec/containers/0");
  EXPECT_EQ(c["resources"]["limits"]["nvidia.com/gpu"], "1");
  EXPECT_EQ(c["image"], "mcr.microsoft.com/aks/kaito/kaito-base:0.5.0");
  EXPECT_EQ(c["readinessProbe"]["initialDelaySeconds"], 30);
  // ReadinessTimeout = clamp(15 min + 18 s x 7.12 GiB, 30 min, 180 min) = 30 min -> 180 x 10 s.
  EXPECT_EQ(c["startupProbe"]["failureThreshold"], 180);
  const json& terms = sts.at(
      "/spec/template/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/"
      "matchExpressions");
  EXPECT_EQ(terms.size(), 3u);  // apps, kaito.sh/workspace, kaito.sh/workspacenamespace
  EXPECT_EQ(sts.at("/spec/template/spec/tolerations").size(), 3u);
}

TEST(Revision, HashCoversResourceInferenceTuning) {
  Object a = workspace("Standard_NC6s_v3", "phi-3-mini-4k-instruct");
  Object b = a;
  b.meta.labels["x"] = "y";  // metadata does not change the hash
  EXPECT_EQ(workspace_spec_hash(a), workspace_spec_hash(b));
  b.body["inference"]["adapters"] = json::array({{{"source", {{"name", "a"}, {"image", "x"}}}}});
  EXPECT_NE(workspace_spec_hash(a), workspace_spec_hash(b));
  Object cr = build_controller_revision(a, workspace_spec_hash(a), 1);
  EXPECT_EQ(cr.meta.name, "workspace-phi-3-mini-" + workspace_spec_hash(a).substr(0, 5));
  EXPECT_EQ(cr.meta.labels.at("workspace.kaito.io/name"), "workspace-phi-3-mini");
}

TEST(PodFailure, ClassifiesLikeKaito) {
  Object pod;
  pod.kind = "Pod";
  pod.meta.name = "p";
  std::string msg;
  EXPECT_EQ(classify_pod_failure(pod, msg), "");
  pod.body["status"]["containerStatuses"] = json::array({{{"name", "c"},
                                                          {"lastState", {{"terminated", {{"reason", "OOMKilled"}}}}},
                                                          {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}}}});
  EXPECT_EQ(classify_pod_failure(pod, msg), "ContainerOOMKilled");
  pod.body["status"]["containerStatuses"][0].erase("lastState");
  EXPECT_EQ(classify_pod_failure(pod, msg), "ContainerCrashLoopBackOff");
  pod.body["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] = "ImagePullBackOff";
  EXPECT_EQ(classify_pod_failure(pod, msg), "ImagePullError");
  pod.body["status"]["containerStatuses"] = json::array();
  pod.body["status"]["conditions"] =
      json::array({{{"type", "PodScheduled"}, {"status", "False"}, {"reason", "Unschedulable"}, {"message", "0/1"}}});
  EXPECT_EQ(classify_pod_failure(pod, msg), "Unschedulable");
}

TEST(PodFailure, PriorityIsAcrossTheWholePod) {
  Object pod;
  pod.kind = "Pod";
  pod.meta.name = "p";
  std::string msg;
  // CrashLoopBackOff in the first container, OOMKilled in the second: OOMKilled wins.
  pod.body["status"]["containerStatuses"] =
      json::array({{{"name", "a"}, {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}}},
                   {{"name", "b"}, {"state", {{"terminated", {{"reason", "OOMKilled"}}}}}}});
  EXPECT_EQ(classify_pod_failure(pod, msg), "ContainerOOMKilled");
  pod.body["status"]["containerStatuses"] = json::array();
  pod.body["status"]["reason"] = "Evicted";
  pod.body["status"]["message"] = "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi";
  EXPECT_EQ(classify_pod_failure(pod, msg), "NodeDiskPressure");
  pod.body["status"]["message"] = "The node had condition: [MemoryPressure]";
  EXPECT_EQ(classify_pod_failure(pod, msg), "NodeMemoryPressure");
}

}  // namespace
}  // namespace ktwin
