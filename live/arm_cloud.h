// The gpu-provisioner's cloud on real Azure: one NodeClaim = one AKS agent pool with one VM, through the
// Azure Resource Manager agent-pool REST API (create/get/delete, long-running operations, adopting a
// create already in progress), with Azure AD tokens from a service principal, workload identity or the
// VM's managed identity.
#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/ports.h"
#include "live/http_client.h"

namespace ktwin::live {

//! Where Azure AD tokens come from, read from the environment as Azure's SDKs do:
//! AZURE_ACCESS_TOKEN (a token as is), else AZURE_TENANT_ID + AZURE_CLIENT_ID with AZURE_CLIENT_SECRET
//! (service principal) or AZURE_FEDERATED_TOKEN_FILE (workload identity), else the managed identity of
//! the VM (IMDS; AZURE_CLIENT_ID picks a user-assigned one). AZURE_AUTHORITY_HOST and
//! AZURE_IMDS_ENDPOINT override the endpoints.
struct AzureCredentialConfig {
  std::string access_token;
  std::string tenant_id, client_id, client_secret, federated_token_file;
  std::string authority_host = "https://login.microsoftonline.com";
  std::string imds_endpoint = "http://169.254.169.254";
  std::string resource = "https://management.azure.com";
  static AzureCredentialConfig from_environment();
  //! "service principal <client id>", "workload identity ...", "managed identity", "static token": no secrets.
  std::string describe() const;
};

//! Fetches and caches tokens (renewed five minutes before they expire). Thread-safe; throws
//! std::runtime_error with the identity platform's error when a token cannot be had.
class AzureTokenSource {
 public:
  explicit AzureTokenSource(AzureCredentialConfig config);
  std::string token(bool refresh = false);
  int fetches() const;

 private:
  AzureCredentialConfig config_;
  mutable std::mutex mu_;
  std::string token_;
  std::chrono::steady_clock::time_point expires_;
  int fetches_ = 0;
};

struct ArmConfig {
  std::string endpoint = "https://management.azure.com";
  std::string subscription_id;
  std::string resource_group;  //!< of the managed cluster
  std::string cluster_name;
  std::string api_version = "2024-02-01";
  HttpOptions http;
};

//! CloudProvider over ARM. create() sends the PUT and returns at once (kCreating); get() follows the
//! agent pool's provisioningState and, once it succeeded, reports kRunning with the providerID of the
//! Node that registered for the pool (labels agentpool=<name>), which it looks up through `cluster`.
class ArmCloudProvider : public CloudProvider {
 public:
  ArmCloudProvider(ArmConfig config, std::function<std::string(bool)> token, Cluster& cluster, Clock& clock);
  std::string name() const override { return "azure"; }
  Result<Instance> create(const InstanceSpec& spec) override;
  Result<Instance> get(std::string_view name) override;
  Status remove(std::string_view name) override;
  Result<std::vector<Instance>> list() override;

  //! The agent pool's ARM path (no api-version).
  std::string pool_path(std::string_view name) const;

 private:
  Result<Instance> instance_from(const json& pool);
  Error arm_error(const HttpResponse& r, std::string_view what) const;

  ArmConfig config_;
  std::shared_ptr<HttpClient> client_;
  Cluster& cluster_;
  Clock& clock_;
};

//! An agent-pool body for an InstanceSpec, as gpu-provisioner sends it (exposed for tests).
json agent_pool_body(const InstanceSpec& spec);

}  // namespace ktwin::live
