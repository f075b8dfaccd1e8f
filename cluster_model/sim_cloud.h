// The simulated cloud behind the gpu-provisioner: each machine is an AKS agent pool with one VM.
// Creation is a long-running operation with modelled latency; the VM's kubelet registers a Node,
// which turns Ready; quota and capacity failures and VM loss are modelled faults. Acts on the
// cluster only through the Cluster port.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster_model/model_hooks.h"
#include "core/ports.h"
#include "core/presets/sku.h"

namespace ktwin::cluster_model {

struct SimCloudConfig {
  std::string cloud = "azure";
  std::string region = "eastus";
};

struct SimCloudStats {
  int created = 0;  //!< create calls accepted
  int quota_rejections = 0;
  int capacity_failures = 0;
  int deleted = 0;
  int running = 0;  //!< machines currently running
};

class SimCloud : public CloudProvider {
 public:
  SimCloud(Cluster& cluster, Executor& executor, Clock& clock, const SkuCatalog& skus, DurationSampler sample,
           ModelEventSink sink, SimCloudConfig config);

  std::string name() const override { return config_.cloud; }
  Result<Instance> create(const InstanceSpec& spec) override;
  Result<Instance> get(std::string_view name) override;
  Status remove(std::string_view name) override;
  Result<std::vector<Instance>> list() override;

  //! Machines allowed for a SKU; nullopt = unlimited. Machines already there are not touched.
  void set_quota(const std::string& sku, std::optional<int> machines);
  //! Until `until`, new machines of the SKU fail with AllocationFailed.
  void capacity_outage(const std::string& sku, Time until);
  //! The VM behind an instance dies: its kubelet stops posting status, the Node goes Unknown.
  Status fail_instance(std::string_view name);
  //! Instance name owning a node, or "" when the node is not one of ours.
  std::string instance_of_node(std::string_view node_name) const;
  SimCloudStats stats() const;

 private:
  struct Vm {
    Instance inst;
    InstanceSpec spec;
    std::string node_name;
    uint64_t epoch = 0;  //!< bumps on delete/failure so stale timers do nothing
    bool failed_vm = false;
    bool allocated = true;  //!< false once allocation failed: it never held quota
  };
  int machines_in_use(const std::string& sku) const;
  void vm_booted(const std::string& name, uint64_t epoch);
  void node_ready(const std::string& name, uint64_t epoch);
  Object build_node(const Vm& vm) const;

  Cluster& cluster_;
  Executor& executor_;
  Clock& clock_;
  const SkuCatalog& skus_;
  DurationSampler sample_;
  ModelEventSink sink_;
  SimCloudConfig config_;
  std::map<std::string, Vm, std::less<>> vms_;
  std::map<std::string, int> quota_;
  std::map<std::string, Time> outages_;
  std::set<std::string> quota_rejected_;  //!< machines whose rejection was logged once
  uint64_t next_vm_id_ = 0;
  SimCloudStats stats_;
};

}  // namespace ktwin::cluster_model
