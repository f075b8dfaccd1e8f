#include "core/controllers/workspace_manifests.h"

#include <cmath>

#include "core/util/sha256.h"

namespace ktwin {

namespace {

void set_owner(Object& obj, const Object& ws) {
  if (!ws.meta.uid.empty()) obj.meta.owner_references = {owner_reference_to(ws, true)};
}

std::string gib_quantity(double gib) { return std::to_string(static_cast<int64_t>(std::ceil(gib))) + "Gi"; }

json node_affinity(const Labels& labels) {
  json exprs = json::array();
  for (const auto& [k, v] : labels) exprs.push_back({{"key", k}, {"operator", "In"}, {"values", {v}}});
  return {
      {"nodeAffinity",
       {{"requiredDuringSchedulingIgnoredDuringExecution", {{"nodeSelectorTerms", {{{"matchExpressions", exprs}}}}}}}}};
}

json gpu_tolerations() {
  return json::array({{{"key", "nvidia.com/gpu"}, {"operator", "Exists"}, {"effect", "NoSchedule"}},
                      {{"key", "sku"}, {"operator", "Equal"}, {"value", "gpu"}, {"effect", "NoSchedule"}},
                      {{"key", "kubernetes.azure.com/scalesetpriority"},
                       {"operator", "Equal"},
                       {"value", "spot"},
                       {"effect", "NoSchedule"}}});
}

}  // namespace

std::string nodeclaim_name(const std::string& ns, const std::string& name, Time now, int attempt) {
  std::string seed = ns + name + format_rfc3339(now) + "." + std::to_string(now % kSecond);
  if (attempt > 0) seed += "#" + std::to_string(attempt);
  return "ws" + sha256_hex(seed).substr(0, 9);
}

Labels workload_node_labels(const Object& ws, const OperatorConfig& cfg) {
  Labels labels = kaito::sanitized_match_labels(ws.at("/resource/labelSelector"));
  if (cfg.node_provisioner == NodeProvisionerKind::kKarpenter) {
    labels[kaito::kLabelKarpenterWorkspaceName] = ws.meta.name;
    labels[kaito::kLabelKarpenterWorkspaceNamespace] = ws.meta.namespace_;
  } else if (cfg.nap()) {
    labels[kaito::kLabelWorkspace] = ws.meta.name;
    labels[kaito::kLabelWorkspaceNamespace] = ws.meta.namespace_;
  }
  return labels;
}

std::string nodepool_name(const std::string& ns, const std::string& name) {
  constexpr size_t kMaxLen = 253, kHashLen = 9;
  std::string full = ns + "-" + name;  // not const: returned by move
  if (full.size() <= kMaxLen) return full;
  return full.substr(0, kMaxLen - 1 - kHashLen) + "-" + sha256_hex(full).substr(0, kHashLen);
}

Object build_nodepool(const Object& ws, const kaito::WorkspaceSpec& spec, const OperatorConfig& cfg,
                      const std::string& node_class_name, int64_t replicas) {
  const std::string* inference_set = ws.meta.label(kaito::kLabelCreatedByInferenceSet);
  Object np;
  np.api_version = "karpenter.sh/v1";
  np.kind = "NodePool";
  np.meta.name = nodepool_name(ws.meta.namespace_, ws.meta.name);
  np.meta.labels = {{kaito::kLabelKarpenterManagedBy, "kaito"},
                    {kaito::kLabelKarpenterWorkspaceName, ws.meta.name},
                    {kaito::kLabelKarpenterWorkspaceNamespace, ws.meta.namespace_}};
  // Template labels reach the NodeClaims and nodes, so pods' affinity (matchLabels) is satisfied.
  json template_labels = json::object();
  for (const auto& [k, v] : kaito::sanitized_match_labels(spec.resource.label_selector)) template_labels[k] = v;
  template_labels[kaito::kLabelKarpenterWorkspaceName] = ws.meta.name;
  template_labels[kaito::kLabelKarpenterWorkspaceNamespace] = ws.meta.namespace_;
  if (inference_set) {
    template_labels["karpenter.kaito.sh/inferenceset"] = *inference_set;
    template_labels["karpenter.kaito.sh/inferenceset-namespace"] = ws.meta.namespace_;
    np.meta.labels["karpenter.kaito.sh/inferenceset"] = *inference_set;
    np.meta.labels["karpenter.kaito.sh/inferenceset-namespace"] = ws.meta.namespace_;
  }
  json reqs =
      json::array({{{"key", kLabelInstanceType}, {"operator", "In"}, {"values", {spec.resource.instance_type}}}});
  if (cfg.node_class.group == "karpenter.azure.com")  // Azure Karpenter needs a regional placement scope
    reqs.push_back({{"key", "karpenter.azure.com/placement-scope"}, {"operator", "In"}, {"values", {"regional"}}});
  // InferenceSet children drift one at a time under KAITO's control; standalone ones let Karpenter do it.
  const std::string drift_budget = inference_set ? "0" : "1";
  np.body["spec"] = {
      {"replicas", replicas},
      {"template",
       {{"metadata", {{"labels", template_labels}}},
        {"spec",
         {{"nodeClassRef", {{"group", cfg.node_class.group}, {"kind", cfg.node_class.kind}, {"name", node_class_name}}},
          {"requirements", reqs},
          {"taints", json::array({{{"key", "sku"}, {"value", "gpu"}, {"effect", "NoSchedule"}}})}}}}},
      {"disruption",
       {{"consolidateAfter", "0s"}, {"budgets", json::array({{{"nodes", drift_budget}, {"reasons", {"Drifted"}}}})}}}};
  return np;
}

Object build_nodeclaim(const Object& ws, const kaito::WorkspaceSpec& spec, const OperatorConfig& cfg,
                       const std::string& name, double disk_gib) {
  Object nc;
  nc.api_version = "karpenter.sh/v1";
  nc.kind = "NodeClaim";
  nc.meta.name = name;
  nc.meta.labels = kaito::sanitized_match_labels(spec.resource.label_selector);
  nc.meta.labels[kLabelNodePool] = kNodeClaimNodePool;
  nc.meta.labels[kaito::kLabelWorkspace] = ws.meta.name;
  nc.meta.labels[kaito::kLabelWorkspaceNamespace] = ws.meta.namespace_;
  const std::string* family = ws.meta.annotation(kaito::kAnnotationNodeImageFamily);
  nc.meta.annotations["karpenter.sh/do-not-disrupt"] = "true";
  nc.meta.annotations[kaito::kAnnotationNodeImageFamily] = family ? *family : "ubuntu";
  const std::string& sku = spec.resource.instance_type;
  json reqs = json::array({{{"key", kLabelNodePool}, {"operator", "In"}, {"values", {kNodeClaimNodePool}}},
                           {{"key", kLabelInstanceType}, {"operator", "In"}, {"values", {sku}}},
                           {{"key", "kubernetes.io/os"}, {"operator", "In"}, {"values", {"linux"}}}});
  json node_class;
  if (cfg.cloud == "aws") {
    reqs.push_back({{"key", "karpenter.k8s.aws/instance-gpu-count"}, {"operator", "Gt"}, {"values", {"0"}}});
    node_class = {{"group", "karpenter.k8s.aws"}, {"kind", "EC2NodeClass"}, {"name", "default"}};
  } else {
    reqs.push_back({{"key", "karpenter.azure.com/sku-name"}, {"operator", "In"}, {"values", {sku}}});
    node_class = {{"group", "kaito.sh"}, {"kind", "KaitoNodeClass"}, {"name", "default"}};
  }
  nc.body["spec"] = {{"nodeClassRef", node_class},
                     {"taints", json::array({{{"key", "sku"}, {"value", "gpu"}, {"effect", "NoSchedule"}}})},
                     {"requirements", reqs},
                     {"resources", {{"requests", {{"storage", gib_quantity(disk_gib > 0 ? disk_gib : 1024)}}}}}};
  return nc;
}

Object build_service(const Object& ws, bool vllm) {
  Object svc;
  svc.api_version = "v1";
  svc.kind = "Service";
  svc.meta.name = ws.meta.name;
  svc.meta.namespace_ = ws.meta.namespace_;
  svc.meta.labels[kaito::kLabelWorkspace] = ws.meta.name;
  set_owner(svc, ws);
  const std::string* lb = ws.meta.annotation(kaito::kAnnotationEnableLB);
  const bool load_balancer = lb && *lb == "True";
  json ports = json::array({{{"name", "http"}, {"protocol", "TCP"}, {"port", 80}, {"targetPort", 5000}},
                            {{"name", "ray"}, {"protocol", "TCP"}, {"port", 6379}, {"targetPort", 6379}},
                            {{"name", "dashboard"}, {"protocol", "TCP"}, {"port", 8265}, {"targetPort", 8265}}});
  if (!load_balancer && vllm)
    ports.push_back({{"name", "kv-events"}, {"protocol", "TCP"}, {"port", 5557}, {"targetPort", 5557}});
  svc.body["spec"] = {{"type", load_balancer ? "LoadBalancer" : "ClusterIP"},
                      {"selector", {{kaito::kLabelWorkspace, ws.meta.name}, {kLabelPodName, ws.meta.name + "-0"}}},
                      {"ports", ports},
                      {"publishNotReadyAddresses", true}};
  return svc;
}

Object build_headless_service(const Object& ws) {
  Object svc;
  svc.api_version = "v1";
  svc.kind = "Service";
  svc.meta.name = ws.meta.name + "-headless";
  svc.meta.namespace_ = ws.meta.namespace_;
  svc.meta.labels[kaito::kLabelWorkspace] = ws.meta.name;
  set_owner(svc, ws);
  svc.body["spec"] = {{"clusterIP", "None"},
                      {"selector", {{kaito::kLabelWorkspace, ws.meta.name}}},
                      {"publishNotReadyAddresses", true}};
  return svc;
}

namespace {

json adapter_volumes_and_init(const Object& ws, const kaito::WorkspaceSpec& spec, const std::string& image_base,
                              json& volumes, json& mounts, json& env) {
  json init = json::array();
  if (!spec.inference) return init;
  for (const auto& a : spec.inference->adapters) {
    const std::string vol = a.source.name;
    if (!a.source.image.empty()) {
      volumes.push_back({{"name", vol}, {"emptyDir", json::object()}});
      json c = {
          {"name", vol},
          {"image", a.source.image},
          {"command", {"/bin/sh", "-c", "mkdir -p /mnt/adapter/" + vol + " && cp -r /data/* /mnt/adapter/" + vol}},
          {"volumeMounts", {{{"name", vol}, {"mountPath", "/mnt/adapter/" + vol}}}}};
      if (!a.source.image_pull_secrets.empty()) c["imagePullSecrets"] = a.source.image_pull_secrets;
      init.push_back(std::move(c));
    } else if (!a.source.volume_source.is_null()) {
      json v = a.source.volume_source;
      v["name"] = vol;
      volumes.push_back(std::move(v));
    }
    mounts.push_back({{"name", vol}, {"mountPath", "/mnt/adapter/" + vol}});
    if (a.strength) env.push_back({{"name", vol}, {"value", *a.strength}});
  }
  (void)ws;
  (void)image_base;
  return init;
}

}  // namespace

Object build_inference_statefulset(const Object& ws, const kaito::WorkspaceSpec& spec, const OperatorConfig& cfg,
                                   const WorkloadInput& in) {
  Object sts;
  sts.api_version = "apps/v1";
  sts.kind = "StatefulSet";
  sts.meta.name = ws.meta.name;
  sts.meta.namespace_ = ws.meta.namespace_;
  sts.meta.labels[kaito::kLabelWorkspace] = ws.meta.name;
  sts.meta.annotations[kaito::kAnnotationRevision] = std::to_string(in.revision);
  set_owner(sts, ws);

  const Labels node_labels = workload_node_labels(ws, cfg);
  json pod_spec;
  json pod_labels = {{kaito::kLabelWorkspace, ws.meta.name}};

  if (!in.preset) {
    // Template workspace: the user's pod template, with KAITO's labels, affinity and tolerations added.
    json tmpl = spec.inference ? spec.inference->template_ : json::object();
    pod_spec = tmpl.contains("spec") ? tmpl["spec"] : json::object();
    if (tmpl.contains("metadata") && tmpl["metadata"].contains("labels") && tmpl["metadata"]["labels"].is_object())
      for (auto it = tmpl["metadata"]["labels"].begin(); it != tmpl["metadata"]["labels"].end(); ++it)
        pod_labels[it.key()] = it.value();
    pod_spec["affinity"] = node_affinity(node_labels);
    json tol = pod_spec.contains("tolerations") && pod_spec["tolerations"].is_array() ? pod_spec["tolerations"]
                                                                                      : json::array();
    for (const auto& t : gpu_tolerations()) tol.push_back(t);
    pod_spec["tolerations"] = tol;
  } else {
    const ModelPreset& p = *in.preset;
    InferenceCommandInput ci;
    ci.preset = &p;
    ci.gpu = in.gpu;
    ci.nodes = in.replicas;
    ci.runtime = in.runtime;
    ci.served_model_name = p.name;
    ci.has_adapters = spec.inference && !spec.inference->adapters.empty();
    ci.has_config_file = spec.inference && !spec.inference->config.empty();
    ci.user_max_model_len = in.user_max_model_len;
    InferenceCommand cmd = build_inference_command(ci, ws.meta.name, ws.meta.namespace_);

    json volumes = json::array({{{"name", "dshm"}, {"emptyDir", {{"medium", "Memory"}}}},
                                {{"name", "model-weights-volume"}, {"emptyDir", json::object()}}});
    json mounts = json::array({{{"name", "dshm"}, {"mountPath", "/dev/shm"}},
                               {{"name", "model-weights-volume"}, {"mountPath", "/workspace/weights"}}});
    json env = json::array({{{"name", "VLLM_USE_FLASHINFER_SAMPLER"}, {"value", "0"}}});
    if (ci.has_config_file) {
      volumes.push_back({{"name", "config-volume"}, {"configMap", {{"name", spec.inference->config}}}});
      mounts.push_back({{"name", "config-volume"}, {"mountPath", "/mnt/config"}});
    }
    if (spec.inference && spec.inference->preset && !spec.inference->preset->model_access_secret.empty())
      env.push_back(
          {{"name", "HF_TOKEN"},
           {"valueFrom",
            {{"secretKeyRef",
              {{"name", spec.inference->preset->model_access_secret}, {"key", "HF_TOKEN"}, {"optional", true}}}}}});
    json init = adapter_volumes_and_init(ws, spec, cfg.preset_registry, volumes, mounts, env);
    if (in.replicas > 1)
      env.push_back(
          {{"name", "POD_INDEX"},
           {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.labels['apps.kubernetes.io/pod-index']"}}}}}});

    const int gpus = in.gpu.gpu_count > 0 ? in.gpu.gpu_count : 1;
    const int64_t startup_threshold = (p.readiness_timeout_seconds() + 9) / 10;
    json probe_http = {{"path", "/health"}, {"port", 5000}, {"scheme", "HTTP"}};
    json container = {
        {"name", ws.meta.name},
        {"image", cfg.preset_registry + "/kaito-base:" + cfg.base_image_tag},
        {"command", {"/bin/sh", "-c", cmd.shell}},
        {"resources",
         {{"requests", {{kResourceGpu, std::to_string(gpus)}}}, {"limits", {{kResourceGpu, std::to_string(gpus)}}}}},
        {"ports", json::array({{{"name", "http"}, {"containerPort", 5000}}})},
        {"startupProbe", {{"httpGet", probe_http}, {"periodSeconds", 10}, {"failureThreshold", startup_threshold}}},
        {"livenessProbe", {{"httpGet", probe_http}, {"periodSeconds", 10}, {"failureThreshold", 3}}},
        {"readinessProbe", {{"httpGet", probe_http}, {"initialDelaySeconds", 30}, {"periodSeconds", 10}}},
        {"volumeMounts", mounts},
        {"env", env}};
    if (in.runtime == "vllm") container["ports"].push_back({{"name", "kv-events"}, {"containerPort", 5557}});
    pod_spec = {{"containers", json::array({container})},
                {"volumes", volumes},
                {"tolerations", gpu_tolerations()},
                {"affinity", node_affinity(node_labels)}};
    if (!init.empty()) pod_spec["initContainers"] = init;
  }

  sts.body["spec"] = {{"replicas", in.replicas},
                      {"podManagementPolicy", "Parallel"},
                      {"serviceName", ws.meta.name + "-headless"},
                      {"selector", {{"matchLabels", {{kaito::kLabelWorkspace, ws.meta.name}}}}},
                      {"persistentVolumeClaimRetentionPolicy", {{"whenScaled", "Retain"}, {"whenDeleted", "Delete"}}},
                      {"updateStrategy", {{"type", "RollingUpdate"}}},
                      {"template", {{"metadata", {{"labels", pod_labels}}}, {"spec", pod_spec}}}};
  return sts;
}

Object build_tuning_job(const Object& ws, const kaito::WorkspaceSpec& spec, const OperatorConfig& cfg,
                        const WorkloadInput& in) {
  Object job;
  job.api_version = "batch/v1";
  job.kind = "Job";
  job.meta.name = ws.meta.name;
  job.meta.namespace_ = ws.meta.namespace_;
  job.meta.labels[kaito::kLabelWorkspace] = ws.meta.name;
  job.meta.annotations[kaito::kAnnotationRevision] = std::to_string(in.revision);
  set_owner(job, ws);
  const int gpus = in.gpu.gpu_count > 0 ? in.gpu.gpu_count : 1;
  const std::string hf = in.preset ? in.preset->hf_id : "";
  json volumes = json::array({{{"name", "data-volume"}, {"emptyDir", json::object()}},
                              {{"name", "results-volume"}, {"emptyDir", json::object()}}});
  json mounts = json::array({{{"name", "data-volume"}, {"mountPath", "/mnt/data"}},
                             {{"name", "results-volume"}, {"mountPath", "/mnt/output"}}});
  if (spec.tuning && !spec.tuning->config.empty()) {
    volumes.push_back({{"name", "config-volume"}, {"configMap", {{"name", spec.tuning->config}}}});
    mounts.push_back({{"name", "config-volume"}, {"mountPath", "/mnt/config"}});
  }
  json container = {
      {"name", ws.meta.name},
      {"image", cfg.preset_registry + "/kaito-base:" + cfg.base_image_tag},
      {"command",
       {"/bin/sh", "-c",
        "accelerate launch --num_processes " + std::to_string(gpus) + " /workspace/tfs/fine_tuning.py --model=" + hf +
            " --method=" + (spec.tuning ? spec.tuning->method : "") + " --config=/mnt/config/training_config.yaml"}},
      {"resources",
       {{"requests", {{kResourceGpu, std::to_string(gpus)}}}, {"limits", {{kResourceGpu, std::to_string(gpus)}}}}},
      {"volumeMounts", mounts},
      {"env", json::array({{{"name", "PYTORCH_CUDA_ALLOC_CONF"}, {"value", "expandable_segments:True"}}})}};
  json init = json::array();
  if (spec.tuning && spec.tuning->input) {
    const auto& input = *spec.tuning->input;
    if (!input.urls.empty()) {
      std::string urls;
      for (const auto& u : input.urls) urls += (urls.empty() ? "" : " ") + u;
      init.push_back(
          {{"name", "data-downloader"},
           {"image", "curlimages/curl"},
           {"command",
            {"/bin/sh", "-c", "for u in $DATA_URLS; do curl -fsSLO --output-dir /mnt/data \"$u\" || exit 1; done"}},
           {"env", json::array({{{"name", "DATA_URLS"}, {"value", urls}}})},
           {"volumeMounts", {{{"name", "data-volume"}, {"mountPath", "/mnt/data"}}}}});
    } else if (!input.image.empty()) {
      init.push_back({{"name", input.name.empty() ? "data-puller" : input.name},
                      {"image", input.image},
                      {"command", {"/bin/sh", "-c", "cp -r /data/* /mnt/data"}},
                      {"volumeMounts", {{{"name", "data-volume"}, {"mountPath", "/mnt/data"}}}}});
    }
  }
  json containers = json::array({container});
  if (spec.tuning && spec.tuning->output && !spec.tuning->output->image.empty())
    containers.push_back({{"name", "docker-sidecar"},
                          {"image", "docker:dind"},
                          {"command", {"/bin/sh", "-c", "push results to " + spec.tuning->output->image}},
                          {"volumeMounts", {{{"name", "results-volume"}, {"mountPath", "/mnt/output"}}}}});
  json pod_spec = {{"restartPolicy", "Never"},
                   {"containers", containers},
                   {"volumes", volumes},
                   {"tolerations", gpu_tolerations()},
                   {"affinity", node_affinity(workload_node_labels(ws, cfg))}};
  if (!init.empty()) pod_spec["initContainers"] = init;
  job.body["spec"] = {
      {"backoffLimit", 6},
      {"template", {{"metadata", {{"labels", {{kaito::kLabelWorkspace, ws.meta.name}}}}}, {"spec", pod_spec}}}};
  return job;
}

std::string workspace_spec_hash(const Object& ws) {
  std::string data;
  for (const char* field : {"/resource", "/inference", "/tuning"}) data += ws.at(field).dump();
  return sha256_hex(data);
}

Object build_controller_revision(const Object& ws, const std::string& hash, int64_t revision) {
  Object cr;
  cr.api_version = "apps/v1";
  cr.kind = "ControllerRevision";
  cr.meta.name = ws.meta.name + "-" + hash.substr(0, 5);
  cr.meta.namespace_ = ws.meta.namespace_;
  cr.meta.labels[kaito::kLabelRevisionWorkspaceName] = ws.meta.name;
  cr.meta.annotations[kaito::kAnnotationHash] = hash;
  set_owner(cr, ws);
  json data = json::object();
  for (const char* field : {"resource", "inference", "tuning"})
    if (ws.body.contains(field)) data[field] = ws.body[field];
  cr.body["data"] = data;
  cr.body["revision"] = revision;
  return cr;
}

}  // namespace ktwin
