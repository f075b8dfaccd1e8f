#include "live/arm_cloud.h"

#include <curl/curl.h>

#include <cstdlib>
#include <stdexcept>

#include "catalog/yaml_json.h"
#include "core/k8s/selector.h"

namespace ktwin::live {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string form_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

size_t append_body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One plain HTTPS call to the identity platform (no retries: the caller reports the failure).
std::pair<long, std::string> identity_call(const std::string& url, const std::string& form_body,
                                           const std::vector<std::string>& headers) {
  CURL* curl = curl_easy_init();
  if (!curl) throw std::runtime_error("cannot initialise libcurl");
  std::string body;
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (!form_body.empty()) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form_body.c_str());
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) throw std::runtime_error("cannot reach " + url + ": " + curl_easy_strerror(rc));
  return {status, body};
}

std::string pool_state(const json& pool) {
  return pool.contains("properties") ? pool["properties"].value("provisioningState", "") : "";
}

// "2025-01-01T00-00-02Z" (label-safe RFC 3339) back to a time.
std::optional<Time> label_time(const std::string& v) {
  if (v.size() < 20 || v[13] != '-' || v[16] != '-') return std::nullopt;
  std::string t = v;
  t[13] = ':';
  t[16] = ':';
  return parse_rfc3339(t);
}

}  // namespace

AzureCredentialConfig AzureCredentialConfig::from_environment() {
  AzureCredentialConfig c;
  c.access_token = env("AZURE_ACCESS_TOKEN");
  c.tenant_id = env("AZURE_TENANT_ID");
  c.client_id = env("AZURE_CLIENT_ID");
  c.client_secret = env("AZURE_CLIENT_SECRET");
  c.federated_token_file = env("AZURE_FEDERATED_TOKEN_FILE");
  if (!env("AZURE_AUTHORITY_HOST").empty()) c.authority_host = env("AZURE_AUTHORITY_HOST");
  if (!env("AZURE_IMDS_ENDPOINT").empty()) c.imds_endpoint = env("AZURE_IMDS_ENDPOINT");
  while (c.authority_host.ends_with('/')) c.authority_host.pop_back();
  while (c.imds_endpoint.ends_with('/')) c.imds_endpoint.pop_back();
  return c;
}

std::string AzureCredentialConfig::describe() const {
  if (!access_token.empty()) return "static token (AZURE_ACCESS_TOKEN)";
  if (!tenant_id.empty() && !client_id.empty() && !client_secret.empty())
    return "service principal " + client_id + " in tenant " + tenant_id;
  if (!tenant_id.empty() && !client_id.empty() && !federated_token_file.empty())
    return "workload identity " + client_id + " in tenant " + tenant_id;
  return client_id.empty() ? "managed identity (system-assigned)" : "managed identity " + client_id;
}

AzureTokenSource::AzureTokenSource(AzureCredentialConfig config) : config_(std::move(config)) {}

int AzureTokenSource::fetches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetches_;
}

std::string AzureTokenSource::token(bool refresh) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!config_.access_token.empty()) return config_.access_token;
  const auto now = std::chrono::steady_clock::now();
  if (!refresh && !token_.empty() && now < expires_) return token_;
  const std::string scope = config_.resource + "/.default";
  std::pair<long, std::string> r;
  std::string who;
  if (!config_.tenant_id.empty() && !config_.client_id.empty() &&
      (!config_.client_secret.empty() || !config_.federated_token_file.empty())) {
    std::string form =
        "grant_type=client_credentials&client_id=" + form_escape(config_.client_id) + "&scope=" + form_escape(scope);
    if (!config_.client_secret.empty()) {
      form += "&client_secret=" + form_escape(config_.client_secret);
      who = "service principal " + config_.client_id;
    } else {
      std::string assertion = catalog::read_text_file(config_.federated_token_file);
      while (!assertion.empty() && std::isspace(static_cast<unsigned char>(assertion.back()))) assertion.pop_back();
      form += "&client_assertion_type=" + form_escape("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
              "&client_assertion=" + form_escape(assertion);
      who = "workload identity " + config_.client_id;
    }
    r = identity_call(config_.authority_host + "/" + config_.tenant_id + "/oauth2/v2.0/token", form,
                      {"Content-Type: application/x-www-form-urlencoded"});
  } else {
    std::string url = config_.imds_endpoint + "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" +
                      form_escape(config_.resource + "/");
    if (!config_.client_id.empty()) url += "&client_id=" + form_escape(config_.client_id);
    who = "managed identity";
    r = identity_call(url, "", {"Metadata: true"});
  }
  ++fetches_;
  json body;
  try {
    body = json::parse(r.second);
  } catch (const json::exception&) {
    throw std::runtime_error("Azure AD token for " + who + ": HTTP " + std::to_string(r.first) + ", not JSON");
  }
  if (r.first != 200 || !body.contains("access_token"))
    throw std::runtime_error("Azure AD token for " + who + ": HTTP " + std::to_string(r.first) + ": " +
                             body.value("error_description", body.value("error", std::string("no access_token"))));
  token_ = body["access_token"].get<std::string>();
  long long ttl = 3600;
  if (body.contains("expires_in"))
    ttl = body["expires_in"].is_string() ? std::stoll(body["expires_in"].get<std::string>())
                                         : body["expires_in"].get<long long>();
  expires_ = now + std::chrono::seconds(std::max<long long>(ttl - 300, 30));
  return token_;
}

json agent_pool_body(const InstanceSpec& spec) {
  json taints = json::array();
  for (const auto& t : spec.taints) taints.push_back(t.key + "=" + t.value + ":" + t.effect);
  json labels = json::object();
  for (const auto& [k, v] : spec.labels) labels[k] = v;
  json props = {{"count", 1},
                {"vmSize", spec.instance_type},
                {"type", "VirtualMachineScaleSets"},
                {"mode", "User"},
                {"osType", "Linux"},
                {"osSKU", spec.image_family == "azurelinux" ? "AzureLinux" : "Ubuntu"},
                {"nodeLabels", labels},
                {"nodeTaints", taints}};
  if (spec.os_disk_gb > 0) props["osDiskSizeGB"] = spec.os_disk_gb;
  return {{"properties", props}};
}

ArmCloudProvider::ArmCloudProvider(ArmConfig config, std::function<std::string(bool)> token, Cluster& cluster,
                                   Clock& clock)
    : config_(std::move(config)), cluster_(cluster), clock_(clock) {
  RestConfig rc;
  rc.server = config_.endpoint;
  while (rc.server.ends_with('/')) rc.server.pop_back();
  rc.source = "Azure Resource Manager";
  HttpOptions ho = config_.http;
  ho.token_provider = std::move(token);
  ho.user_agent = "ktwin-provisioner";
  client_ = std::make_shared<HttpClient>(rc, ho);
}

std::string ArmCloudProvider::pool_path(std::string_view name) const {
  return "/subscriptions/" + config_.subscription_id + "/resourceGroups/" + config_.resource_group +
         "/providers/Microsoft.ContainerService/managedClusters/" + config_.cluster_name + "/agentPools" +
         (name.empty() ? "" : "/" + std::string(name));
}

Error ArmCloudProvider::arm_error(const HttpResponse& r, std::string_view what) const {
  std::string code, message = r.error;
  try {
    const json body = json::parse(r.body);
    const json& err = body.contains("error") ? body["error"] : body;
    code = err.value("code", "");
    message = err.value("message", message);
  } catch (const json::exception&) {
  }
  const std::string text = std::string(what) + ": " + (code.empty() ? "" : code + ": ") +
                           (message.empty() ? "HTTP " + std::to_string(r.status) : message);
  ErrorCode ec = ErrorCode::kInternal;
  if (r.status == 404 || code == "NotFound" || code == "ResourceNotFound") {
    ec = ErrorCode::kNotFound;
  } else if (code.find("Quota") != std::string::npos) {
    ec = ErrorCode::kQuotaExceeded;
  } else if (code.find("AllocationFailed") != std::string::npos || code == "SkuNotAvailable" ||
             code == "OverconstrainedAllocationRequest" || code == "OverconstrainedZonalAllocationRequest") {
    ec = ErrorCode::kCapacityUnavailable;
  } else if (r.status == 401 || r.status == 403) {
    ec = ErrorCode::kForbidden;
  } else if (r.status == 409) {
    ec = ErrorCode::kConflict;
  } else if (r.status == 429) {
    ec = ErrorCode::kTooManyRequests;
  } else if (r.status == 0 || r.status >= 500) {
    ec = ErrorCode::kUnavailable;
  } else if (r.status == 400) {
    ec = ErrorCode::kInvalid;
  }
  return make_error(ec, text, code);
}

Result<Instance> ArmCloudProvider::instance_from(const json& pool) {
  Instance inst;
  inst.name = pool.value("name", "");
  const json& props = pool.contains("properties") ? pool["properties"] : json::object();
  inst.instance_type = props.value("vmSize", "");
  if (props.contains("nodeLabels") && props["nodeLabels"].is_object())
    for (const auto& [k, v] : props["nodeLabels"].items())
      if (v.is_string()) inst.labels[k] = v.get<std::string>();
  auto created = inst.labels.find("kaito.sh/creation-timestamp");
  if (created != inst.labels.end()) inst.created_at = label_time(created->second).value_or(0);
  const std::string state = props.value("provisioningState", "");
  if (state == "Deleting") {
    inst.state = InstanceState::kDeleting;
  } else if (state == "Failed" || state == "Canceled") {
    inst.state = InstanceState::kFailed;
    const json& perr = props.contains("status") && props["status"].contains("provisioningError")
                           ? props["status"]["provisioningError"]
                           : json::object();
    inst.error_reason = perr.value("code", "AgentPoolProvisioningFailed");
    inst.error_message = perr.value("message", "agent pool " + inst.name + " provisioning " + state);
  } else if (state == "Succeeded") {
    // Running once its Node registered with a providerID, as gpu-provisioner waits for it.
    ListOptions opts;
    opts.selector = LabelSelector{{{"agentpool", inst.name}}, {}};
    auto nodes = cluster_.list("Node", opts);
    if (!nodes) return nodes.error();
    inst.state = InstanceState::kCreating;
    for (const auto& n : nodes.value())
      if (!n->str("/spec/providerID").empty()) {
        inst.provider_id = n->str("/spec/providerID");
        inst.state = InstanceState::kRunning;
      }
  } else {
    inst.state = InstanceState::kCreating;  // Creating, Updating, Scaling, ...
  }
  return inst;
}

Result<Instance> ArmCloudProvider::create(const InstanceSpec& spec) {
  // An agent pool name must start with a letter, lower-case alphanumerics, at most 12 characters.
  bool valid = !spec.name.empty() && spec.name.size() <= 12 && std::islower(static_cast<unsigned char>(spec.name[0]));
  for (char c : spec.name) valid = valid && (std::islower(static_cast<unsigned char>(c)) || std::isdigit(c));
  if (!valid)
    return make_error(ErrorCode::kInvalid, "agent pool name \"" + spec.name + "\" must match ^[a-z][a-z0-9]{0,11}$",
                      "InvalidAgentPoolName");
  if (spec.os_disk_gb <= 0)
    return make_error(ErrorCode::kInvalid, "agent pool " + spec.name + " needs an OS disk size (storage request)",
                      "InvalidOSDiskSize");
  // A create already in progress (e.g. we restarted mid-create) is adopted, not repeated.
  const HttpResponse existing = client_->request("GET", pool_path(spec.name) + "?api-version=" + config_.api_version);
  if (existing.status == 200) {
    try {
      const json pool = json::parse(existing.body);
      const std::string state = pool_state(pool);
      if (state == "Creating" || state == "Succeeded") return instance_from(pool);
    } catch (const json::exception&) {
    }
  }
  const HttpResponse r = client_->request("PUT", pool_path(spec.name) + "?api-version=" + config_.api_version,
                                          agent_pool_body(spec).dump());
  if (r.status == 409) {
    // "OperationNotAllowed: another operation is in progress": the create we asked for earlier.
    auto got = get(spec.name);
    if (got && got.value().state == InstanceState::kCreating) return got;
  }
  if (r.status != 200 && r.status != 201) return arm_error(r, "create agent pool " + spec.name);
  Instance inst;
  inst.name = spec.name;
  inst.instance_type = spec.instance_type;
  inst.labels = spec.labels;
  inst.state = InstanceState::kCreating;
  inst.created_at = clock_.now();
  try {
    const json pool = json::parse(r.body);
    if (pool_state(pool) == "Failed") return instance_from(pool);
  } catch (const json::exception&) {
  }
  return inst;
}

Result<Instance> ArmCloudProvider::get(std::string_view name) {
  const HttpResponse r = client_->request("GET", pool_path(name) + "?api-version=" + config_.api_version);
  if (r.status != 200) return arm_error(r, "get agent pool " + std::string(name));
  try {
    return instance_from(json::parse(r.body));
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kUnavailable, "get agent pool " + std::string(name) + ": unreadable answer");
  }
}

Status ArmCloudProvider::remove(std::string_view name) {
  auto current = get(name);
  if (!current) return current.error();
  if (current.value().state == InstanceState::kDeleting) return {};
  const HttpResponse r = client_->request("DELETE", pool_path(name) + "?api-version=" + config_.api_version);
  if (r.status == 200 || r.status == 202 || r.status == 204) return {};
  return arm_error(r, "delete agent pool " + std::string(name));
}

Result<std::vector<Instance>> ArmCloudProvider::list() {
  const HttpResponse r = client_->request("GET", pool_path("") + "?api-version=" + config_.api_version);
  if (r.status != 200) return arm_error(r, "list agent pools");
  std::vector<Instance> out;
  try {
    const json body = json::parse(r.body);
    for (const auto& pool : body.value("value", json::array())) {
      const json& labels =
          pool.contains("properties") ? pool["properties"].value("nodeLabels", json::object()) : json::object();
      // Only KAITO's pools: the system pool and anyone else's are never touched.
      if (!labels.is_object() || !labels.contains("karpenter.sh/nodepool") ||
          (!labels.contains("kaito.sh/workspace") && !labels.contains("kaito.sh/ragengine")))
        continue;
      auto inst = instance_from(pool);
      if (!inst) return inst.error();
      out.push_back(std::move(inst.value()));
    }
  } catch (const json::exception&) {
    return make_error(ErrorCode::kUnavailable, "list agent pools: unreadable answer");
  }
  return out;
}

}  // namespace ktwin::live
