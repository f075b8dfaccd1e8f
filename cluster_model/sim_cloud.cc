#include "cluster_model/sim_cloud.h"

#include <cstdio>

#include "core/k8s/conditions.h"
#include "core/util/sha256.h"

namespace ktwin::cluster_model {

SimCloud::SimCloud(Cluster& cluster, Executor& executor, Clock& clock, const SkuCatalog& skus, DurationSampler sample,
                   ModelEventSink sink, SimCloudConfig config)
    : cluster_(cluster),
      executor_(executor),
      clock_(clock),
      skus_(skus),
      sample_(std::move(sample)),
      sink_(std::move(sink)),
      config_(std::move(config)) {}

int SimCloud::machines_in_use(const std::string& sku) const {
  int n = 0;
  for (const auto& [_, vm] : vms_)
    if (vm.spec.instance_type == sku && vm.allocated) ++n;
  return n;
}

Result<Instance> SimCloud::create(const InstanceSpec& spec) {
  if (auto it = vms_.find(spec.name); it != vms_.end()) {
    if (it->second.inst.state == InstanceState::kDeleting)
      return make_error(ErrorCode::kConflict, "agent pool " + spec.name + " is being deleted", "OperationNotAllowed");
    return it->second.inst;  // an operation is already in progress: adopt it
  }
  if (config_.cloud == "azure" && !skus_.find(config_.cloud, spec.instance_type) &&
      spec.instance_type.rfind("Standard_", 0) != 0) {
    return make_error(ErrorCode::kInvalid, "The VM size " + spec.instance_type + " is not supported",
                      "InvalidParameter");
  }
  if (auto q = quota_.find(spec.instance_type); q != quota_.end()) {
    const int used = machines_in_use(spec.instance_type);
    if (used >= q->second) {
      ++stats_.quota_rejections;
      if (quota_rejected_.insert(spec.name).second) sink_("Machine", spec.name, "create rejected: quota exceeded");
      return make_error(ErrorCode::kQuotaExceeded,
                        "Operation could not be completed as it results in exceeding approved quota for " +
                            spec.instance_type + " in region " + config_.region + ": limit " +
                            std::to_string(q->second) + " machines, in use " + std::to_string(used),
                        "QuotaExceeded");
    }
  }
  Vm vm;
  vm.spec = spec;
  vm.inst.name = spec.name;
  vm.inst.instance_type = spec.instance_type;
  vm.inst.state = InstanceState::kCreating;
  vm.inst.created_at = clock_.now();
  vm.inst.labels = spec.labels;
  const uint64_t id = next_vm_id_++;
  char pid[256];
  if (config_.cloud == "aws") {
    std::snprintf(pid, sizeof pid, "aws:///%sa/i-%017llx", config_.region.c_str(),
                  static_cast<unsigned long long>(id) + 1);
    vm.node_name = "ip-10-0-" + std::to_string(id / 250) + "-" + std::to_string(id % 250 + 4) + ".ec2.internal";
  } else {
    std::snprintf(pid, sizeof pid,
                  "azure:///subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mc_sim_%s/providers/"
                  "Microsoft.Compute/virtualMachineScaleSets/aks-%s-vmss/virtualMachines/0",
                  config_.region.c_str(), spec.name.c_str());
    vm.node_name = "aks-" + spec.name + "-" + sha256_hex(spec.name).substr(0, 8) + "-vmss000000";
  }
  vm.inst.provider_id = pid;
  ++stats_.created;

  const std::string name = spec.name;
  const uint64_t epoch = vm.epoch;
  auto outage = outages_.find(spec.instance_type);
  const bool no_capacity = outage != outages_.end() && clock_.now() < outage->second;
  vms_.emplace(name, std::move(vm));
  if (no_capacity) {
    sink_("Machine", name, "create started (" + spec.instance_type + "), no capacity");
    executor_.post_after(sample_("capacity_error", spec.instance_type), [this, name, epoch] {
      auto it = vms_.find(name);
      if (it == vms_.end() || it->second.epoch != epoch) return;
      it->second.inst.state = InstanceState::kFailed;
      it->second.allocated = false;
      it->second.inst.error_reason = "AllocationFailed";
      it->second.inst.error_message =
          "Allocation failed. We do not have sufficient capacity for the requested VM size " +
          it->second.spec.instance_type + " in region " + config_.region +
          ". Read more about improving likelihood of allocation success at "
          "http://aka.ms/allocation-guidance";
      ++stats_.capacity_failures;
      sink_("Machine", name, "create failed: AllocationFailed");
    });
  } else {
    sink_("Machine", name, "create started (" + spec.instance_type + ")");
    executor_.post_after(sample_("vm_create", spec.instance_type), [this, name, epoch] { vm_booted(name, epoch); });
  }
  return vms_.find(name)->second.inst;
}

Object SimCloud::build_node(const Vm& vm) const {
  Object node;
  node.api_version = "v1";
  node.kind = "Node";
  node.meta.name = vm.node_name;
  node.meta.labels = vm.spec.labels;
  const std::string& sku = vm.spec.instance_type;
  node.meta.labels["kubernetes.io/os"] = "linux";
  node.meta.labels["kubernetes.io/arch"] = "amd64";
  node.meta.labels["kubernetes.io/hostname"] = vm.node_name;
  node.meta.labels["node.kubernetes.io/instance-type"] = sku;
  node.meta.labels["beta.kubernetes.io/instance-type"] = sku;
  node.meta.labels["topology.kubernetes.io/region"] = config_.region;
  node.meta.labels["topology.kubernetes.io/zone"] = config_.region + "-1";
  node.meta.labels["agentpool"] = vm.spec.name;
  if (config_.cloud == "azure") {
    node.meta.labels["kubernetes.azure.com/agentpool"] = vm.spec.name;
    node.meta.labels["kubernetes.azure.com/os-sku"] = vm.spec.image_family == "azurelinux" ? "AzureLinux" : "Ubuntu";
  }
  json taints = json::array();
  for (const auto& t : vm.spec.taints) taints.push_back({{"key", t.key}, {"value", t.value}, {"effect", t.effect}});
  node.body["spec"] = {{"providerID", vm.inst.provider_id}};
  if (!taints.empty()) node.body["spec"]["taints"] = taints;
  json cap = {{"pods", "110"}, {"ephemeral-storage", std::to_string(vm.spec.os_disk_gb) + "Gi"}};
  if (const Sku* s = skus_.find(config_.cloud, sku)) {
    cap["cpu"] = std::to_string(s->vcpus);
    cap["memory"] = std::to_string(static_cast<int64_t>(s->memory_gib)) + "Gi";
  }
  const std::string now = format_rfc3339(clock_.now());
  node.body["status"] = {
      {"capacity", cap},
      {"allocatable", cap},
      {"conditions", json::array({{{"type", "Ready"},
                                   {"status", "False"},
                                   {"reason", "KubeletNotReady"},
                                   {"message", "container runtime network not ready: NetworkReady=false"},
                                   {"lastHeartbeatTime", now},
                                   {"lastTransitionTime", now}}})},
      {"nodeInfo",
       {{"kubeletVersion", "v1.30.5"},
        {"containerRuntimeVersion", "containerd://1.7.22"},
        {"operatingSystem", "linux"}}}};
  return node;
}

void SimCloud::vm_booted(const std::string& name, uint64_t epoch) {
  auto it = vms_.find(name);
  if (it == vms_.end() || it->second.epoch != epoch) return;
  sink_("Machine", name, "vm running");
  // The VM's kubelet registers the Node after boot and bootstrap.
  executor_.post_after(sample_("node_join", it->second.spec.instance_type), [this, name, epoch] {
    auto vm = vms_.find(name);
    if (vm == vms_.end() || vm->second.epoch != epoch) return;
    auto created = cluster_.create(build_node(vm->second));
    sink_("Machine", name,
          created ? "node " + vm->second.node_name + " registered"
                  : "node registration failed: " + created.error().message);
    executor_.post_after(sample_("node_ready", vm->second.spec.instance_type),
                         [this, name, epoch] { node_ready(name, epoch); });
  });
}

void SimCloud::node_ready(const std::string& name, uint64_t epoch) {
  auto it = vms_.find(name);
  if (it == vms_.end() || it->second.epoch != epoch) return;
  const std::string now = format_rfc3339(clock_.now());
  json cond = {{"type", "Ready"},          {"status", "True"},
               {"reason", "KubeletReady"}, {"message", "kubelet is posting ready status"},
               {"lastHeartbeatTime", now}, {"lastTransitionTime", now}};
  (void)cluster_.patch("Node", "", it->second.node_name, {{"status", {{"conditions", json::array({cond})}}}}, true);
  // The agent-pool operation completes once its node is ready.
  it->second.inst.state = InstanceState::kRunning;
  ++stats_.running;
  sink_("Machine", name, "agent pool provisioning succeeded");
}

Result<Instance> SimCloud::get(std::string_view name) {
  auto it = vms_.find(name);
  if (it == vms_.end())
    return make_error(ErrorCode::kNotFound, "agent pool " + std::string(name) + " not found", "NotFound");
  return it->second.inst;
}

Status SimCloud::remove(std::string_view name_view) {
  auto it = vms_.find(name_view);
  if (it == vms_.end())
    return make_error(ErrorCode::kNotFound, "agent pool " + std::string(name_view) + " not found", "NotFound");
  Vm& vm = it->second;
  if (vm.inst.state == InstanceState::kDeleting) return {};
  if (vm.inst.state == InstanceState::kRunning) --stats_.running;
  vm.inst.state = InstanceState::kDeleting;
  const uint64_t epoch = ++vm.epoch;
  const std::string name(name_view);
  sink_("Machine", name, "delete started");
  executor_.post_after(sample_("vm_delete", vm.spec.instance_type), [this, name, epoch] {
    auto it2 = vms_.find(name);
    if (it2 == vms_.end() || it2->second.epoch != epoch) return;
    // The cloud node lifecycle controller removes Nodes whose VM is gone.
    (void)cluster_.remove("Node", "", it2->second.node_name);
    vms_.erase(it2);
    ++stats_.deleted;
    sink_("Machine", name, "deleted");
  });
  return {};
}

Result<std::vector<Instance>> SimCloud::list() {
  std::vector<Instance> out;
  for (const auto& [_, vm] : vms_) out.push_back(vm.inst);
  return out;
}

void SimCloud::set_quota(const std::string& sku, std::optional<int> machines) {
  if (machines)
    quota_[sku] = *machines;
  else
    quota_.erase(sku);
}

void SimCloud::capacity_outage(const std::string& sku, Time until) { outages_[sku] = until; }

Status SimCloud::fail_instance(std::string_view name) {
  auto it = vms_.find(name);
  if (it == vms_.end()) return make_error(ErrorCode::kNotFound, "agent pool " + std::string(name) + " not found");
  it->second.failed_vm = true;
  const std::string now = format_rfc3339(clock_.now());
  json cond = {{"type", "Ready"},
               {"status", "Unknown"},
               {"reason", "NodeStatusUnknown"},
               {"message", "Kubelet stopped posting node status."},
               {"lastHeartbeatTime", now},
               {"lastTransitionTime", now}};
  sink_("Machine", it->first, "vm failed");
  auto r = cluster_.patch("Node", "", it->second.node_name, {{"status", {{"conditions", json::array({cond})}}}}, true);
  if (!r) return r.error();
  return {};
}

std::string SimCloud::instance_of_node(std::string_view node_name) const {
  for (const auto& [name, vm] : vms_)
    if (vm.node_name == node_name) return name;
  return "";
}

SimCloudStats SimCloud::stats() const { return stats_; }

}  // namespace ktwin::cluster_model
