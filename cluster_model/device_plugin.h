// The NVIDIA device plugin: some time after a GPU node turns Ready, `nvidia.com/gpu` appears in its
// capacity and allocatable. Acts only through the Cluster port.
#pragma once
#include <memory>
#include <set>
#include <string>

#include "cluster_model/model_hooks.h"
#include "core/ports.h"
#include "core/presets/sku.h"

namespace ktwin::cluster_model {

class DevicePlugin {
 public:
  DevicePlugin(Cluster& cluster, Executor& executor, const SkuCatalog& skus, std::string cloud, DurationSampler sample,
               ModelEventSink sink);
  void start();
  void stop() { watch_.reset(); }

 private:
  void on_node(const WatchEvent& ev);
  int gpus_of(const Object& node) const;

  Cluster& cluster_;
  Executor& executor_;
  const SkuCatalog& skus_;
  std::string cloud_;
  DurationSampler sample_;
  ModelEventSink sink_;
  std::set<std::string> pending_;  //!< node uids with a registration scheduled
  std::unique_ptr<WatchSubscription> watch_;
};

}  // namespace ktwin::cluster_model
