// The ARM agent-pool cloud against a fake Azure Resource Manager and identity platform on loopback:
// the PUT gpu-provisioner sends, polling to Running with the registered Node's providerID, adopting a
// create in progress, error codes, deletes, KAITO-only listing, and Azure AD tokens (cached, refreshed
// after a 401, service principal and managed identity).
#include "live/arm_cloud.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <map>
#include <regex>
#include <thread>

#include "cluster_model/object_store.h"
#include "sim/kernel.h"

namespace ktwin::live {
namespace {

const std::string kPools =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks/agentPools";

struct FakeAzure {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex mu;
  std::map<std::string, json> pools;
  std::map<std::string, int> polls;
  std::vector<json> puts;
  std::string quota_error_for;  // vmSize answered with QuotaExceeded
  int token_fetches = 0;
  int reject_next_tokens = 0;  // answer 401 to this many ARM calls
  std::string last_imds_query, last_imds_metadata;

  FakeAzure() {
    server.Post(R"(/tenant/oauth2/v2\.0/token)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      if (req.body.find("client_secret=s3cret") == std::string::npos) {
        res.status = 401;
        res.set_content(R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret"})",
                        "application/json");
        return;
      }
      ++token_fetches;
      res.set_content(json{{"access_token", "tok-" + std::to_string(token_fetches)}, {"expires_in", 3599}}.dump(),
                      "application/json");
    });
    server.Get("/metadata/identity/oauth2/token", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      ++token_fetches;
      last_imds_query = req.get_param_value("resource");
      last_imds_metadata = req.get_header_value("Metadata");
      res.set_content(R"({"access_token":"mi-token","expires_in":"86399"})", "application/json");
    });
    auto authorized = [this](const httplib::Request& req, httplib::Response& res) {
      if (reject_next_tokens > 0) {
        --reject_next_tokens;
        res.status = 401;
        res.set_content(R"({"error":{"code":"ExpiredAuthenticationToken","message":"expired"}})", "application/json");
        return false;
      }
      if (req.get_header_value("Authorization").rfind("Bearer ", 0) != 0) {
        res.status = 401;
        return false;
      }
      return true;
    };
    server.Put(kPools + "/([a-z0-9]+)", [this, authorized](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      if (!authorized(req, res)) return;
      const std::string name = req.matches[1];
      json body = json::parse(req.body);
      puts.push_back(body);
      if (body["properties"]["vmSize"] == quota_error_for) {
        res.status = 400;
        res.set_content(
            R"({"error":{"code":"QuotaExceeded","message":"Operation could not be completed as it results in exceeding approved standardNCSv3Family Cores quota."}})",
            "application/json");
        return;
      }
      if (pools.count(name) && pools[name]["properties"]["provisioningState"] == "Creating") {
        res.status = 409;
        res.set_content(R"({"error":{"code":"OperationNotAllowed","message":"Another operation is in progress"}})",
                        "application/json");
        return;
      }
      body["name"] = name;
      body["properties"]["provisioningState"] = "Creating";
      pools[name] = body;
      res.status = 201;
      res.set_content(body.dump(), "application/json");
    });
    server.Get(kPools + "/([a-z0-9]+)", [this, authorized](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      if (!authorized(req, res)) return;
      const std::string name = req.matches[1];
      if (!pools.count(name)) {
        res.status = 404;
        res.set_content(R"({"error":{"code":"NotFound","message":"agent pool not found"}})", "application/json");
        return;
      }
      // The create completes on the second poll.
      if (pools[name]["properties"]["provisioningState"] == "Creating" && ++polls[name] >= 2)
        pools[name]["properties"]["provisioningState"] = "Succeeded";
      res.set_content(pools[name].dump(), "application/json");
    });
    server.Get(kPools, [this, authorized](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      if (!authorized(req, res)) return;
      json value = json::array();
      for (const auto& [name, pool] : pools) value.push_back(pool);
      res.set_content(json{{"value", value}}.dump(), "application/json");
    });
    server.Delete(kPools + "/([a-z0-9]+)", [this, authorized](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      if (!authorized(req, res)) return;
      const std::string name = req.matches[1];
      if (!pools.count(name)) {
        res.status = 404;
        return;
      }
      pools[name]["properties"]["provisioningState"] = "Deleting";
      res.status = 202;
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeAzure() {
    server.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

struct Fixture {
  FakeAzure azure;
  sim::Kernel kernel;
  cluster_model::ObjectStore store{kernel.executor(), kernel.clock()};
  AzureTokenSource tokens{[this] {
    AzureCredentialConfig c;
    c.tenant_id = "tenant";
    c.client_id = "app";
    c.client_secret = "s3cret";
    c.authority_host = azure.url();
    return c;
  }()};
  ArmCloudProvider cloud{[this] {
                           ArmConfig c;
                           c.endpoint = azure.url();
                           c.subscription_id = "sub";
                           c.resource_group = "rg";
                           c.cluster_name = "aks";
                           c.http.initial_backoff = std::chrono::milliseconds(5);
                           return c;
                         }(),
                         [this](bool refresh) { return tokens.token(refresh); }, store, kernel.clock()};

  static InstanceSpec spec(const std::string& name, const std::string& sku = "Standard_NC6s_v3") {
    InstanceSpec s;
    s.name = name;
    s.instance_type = sku;
    s.labels = {{"kaito.sh/workspace", "ws"},
                {"karpenter.sh/nodepool", "kaito"},
                {"kaito.sh/creation-timestamp", "2025-01-01T00-00-02Z"}};
    s.taints = {{"sku", "gpu", "NoSchedule"}};
    s.os_disk_gb = 80;
    s.image_family = "ubuntu";
    return s;
  }
};

TEST(ArmCloudTest, CreatePollsToRunningWithTheRegisteredNodesProviderId) {
  Fixture f;
  auto created = f.cloud.create(Fixture::spec("ws1a2b3c4d5"));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created.value().state, InstanceState::kCreating);
  ASSERT_EQ(f.azure.puts.size(), 1u);
  const json& props = f.azure.puts[0]["properties"];
  EXPECT_EQ(props["count"], 1);
  EXPECT_EQ(props["vmSize"], "Standard_NC6s_v3");
  EXPECT_EQ(props["osSKU"], "Ubuntu");
  EXPECT_EQ(props["osDiskSizeGB"], 80);
  EXPECT_EQ(props["nodeTaints"], json({"sku=gpu:NoSchedule"}));
  EXPECT_EQ(props["nodeLabels"]["kaito.sh/workspace"], "ws");

  EXPECT_EQ(f.cloud.get("ws1a2b3c4d5").value().state, InstanceState::kCreating);  // ARM: Creating
  auto done = f.cloud.get("ws1a2b3c4d5");                                         // ARM: Succeeded, but no Node yet
  ASSERT_TRUE(done);
  EXPECT_EQ(done.value().state, InstanceState::kCreating);
  EXPECT_EQ(done.value().created_at, parse_rfc3339("2025-01-01T00:00:02Z").value());

  Object node;
  node.api_version = "v1";
  node.kind = "Node";
  node.meta.name = "aks-ws1a2b3c4d5-12345678-vmss000000";
  node.meta.labels = {{"agentpool", "ws1a2b3c4d5"}};
  node.body["spec"] = {{"providerID", "azure:///subscriptions/sub/.../virtualMachines/0"}};
  ASSERT_TRUE(f.store.create(node));
  auto running = f.cloud.get("ws1a2b3c4d5");
  ASSERT_TRUE(running);
  EXPECT_EQ(running.value().state, InstanceState::kRunning);
  EXPECT_EQ(running.value().provider_id, "azure:///subscriptions/sub/.../virtualMachines/0");
  EXPECT_EQ(f.tokens.fetches(), 1) << "the token is cached";
}

TEST(ArmCloudTest, AdoptsACreateAlreadyInProgress) {
  Fixture f;
  {
    std::lock_guard<std::mutex> lock(f.azure.mu);
    f.azure.pools["wsadopt"] = {{"name", "wsadopt"},
                                {"properties", {{"provisioningState", "Creating"}, {"vmSize", "Standard_NC6s_v3"}}}};
  }
  auto r = f.cloud.create(Fixture::spec("wsadopt"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r.value().state, InstanceState::kCreating);
  EXPECT_TRUE(f.azure.puts.empty()) << "a create in progress must not be sent again";
}

TEST(ArmCloudTest, ErrorsBecomeTheCoresCodes) {
  Fixture f;
  f.azure.quota_error_for = "Standard_NC24ads_A100_v4";
  auto quota = f.cloud.create(Fixture::spec("wsquota", "Standard_NC24ads_A100_v4"));
  ASSERT_FALSE(quota);
  EXPECT_EQ(quota.error().code, ErrorCode::kQuotaExceeded);
  EXPECT_EQ(quota.error().reason, "QuotaExceeded");
  EXPECT_NE(quota.error().message.find("standardNCSv3Family"), std::string::npos);
  EXPECT_EQ(f.cloud.get("missing").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(f.cloud.create(Fixture::spec("Bad-Name")).error().code, ErrorCode::kInvalid);
  EXPECT_EQ(f.cloud.create(Fixture::spec("waytoolongname1")).error().code, ErrorCode::kInvalid);
  InstanceSpec no_disk = Fixture::spec("wsnodisk");
  no_disk.os_disk_gb = 0;
  EXPECT_EQ(f.cloud.create(no_disk).error().code, ErrorCode::kInvalid);
  EXPECT_TRUE(f.azure.puts.size() == 1u) << "invalid specs never reach ARM";
}

TEST(ArmCloudTest, DeleteAndListOnlyKaitosPools) {
  Fixture f;
  ASSERT_TRUE(f.cloud.create(Fixture::spec("wsone")));
  {
    std::lock_guard<std::mutex> lock(f.azure.mu);
    f.azure.pools["nodepool1"] = {{"name", "nodepool1"},
                                  {"properties", {{"provisioningState", "Succeeded"}, {"vmSize", "Standard_D4s_v3"}}}};
  }
  auto listed = f.cloud.list();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed.value().size(), 1u);
  EXPECT_EQ(listed.value()[0].name, "wsone");
  EXPECT_TRUE(f.cloud.remove("wsone"));
  EXPECT_EQ(f.cloud.get("wsone").value().state, InstanceState::kDeleting);
  EXPECT_TRUE(f.cloud.remove("wsone"));  // already deleting: nothing more to do
  EXPECT_EQ(f.cloud.remove("nothere").error().code, ErrorCode::kNotFound);
}

TEST(ArmCloudTest, TokenRefreshedAfterA401AndBadSecretsExplained) {
  Fixture f;
  ASSERT_TRUE(f.cloud.create(Fixture::spec("wstok")));
  EXPECT_EQ(f.tokens.fetches(), 1);
  f.azure.reject_next_tokens = 1;
  ASSERT_TRUE(f.cloud.get("wstok"));
  EXPECT_EQ(f.tokens.fetches(), 2) << "a 401 asks the identity platform again";

  AzureCredentialConfig bad;
  bad.tenant_id = "tenant";
  bad.client_id = "app";
  bad.client_secret = "wrong";
  bad.authority_host = f.azure.url();
  AzureTokenSource source(bad);
  try {
    source.token();
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("AADSTS7000215"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("wrong"), std::string::npos) << "never print the secret";
  }
}

TEST(ArmCloudTest, ManagedIdentityAsksImdsWithTheMetadataHeader) {
  FakeAzure azure;
  AzureCredentialConfig c;
  c.imds_endpoint = azure.url();
  AzureTokenSource source(c);
  EXPECT_EQ(source.token(), "mi-token");
  EXPECT_EQ(source.token(), "mi-token");
  EXPECT_EQ(azure.token_fetches, 1);
  EXPECT_EQ(azure.last_imds_metadata, "true");
  EXPECT_EQ(azure.last_imds_query, "https://management.azure.com/");
  EXPECT_EQ(c.describe(), "managed identity (system-assigned)");
}

}  // namespace
}  // namespace ktwin::live
