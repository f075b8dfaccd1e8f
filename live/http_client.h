// HTTP to a Kubernetes API server over libcurl: TLS and credentials from a RestConfig, JSON bodies,
// client-side rate limiting (QPS/burst) and retries with backoff on 429/5xx that honour Retry-After.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "live/kubeconfig.h"

namespace ktwin::live {

struct HttpResponse {
  long status = 0;  //!< 0: no HTTP answer (see `error`)
  std::string body;
  std::string error;               //!< transport failure (connection refused, TLS, timeout), or ""
  std::string retry_after;         //!< the Retry-After header, when present
  int attempts = 1;                //!< how many tries it took
  bool credential_failed = false;  //!< the exec plugin or token file failed; nothing was sent
  bool ok() const { return status >= 200 && status < 300; }
};

struct HttpOptions {
  double qps = 20;  //!< client-go's defaults for a controller
  int burst = 30;
  int max_attempts = 5;  //!< for retriable failures (429, 5xx, transport errors on idempotent calls)
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};  //!< not for watches
  std::string user_agent = "ktwin-operator";
  //! When set, the bearer token for every request (e.g. an Azure AD token); asked with refresh=true once
  //! after a 401. May throw std::runtime_error: the request then fails with that message.
  std::function<std::string(bool refresh)> token_provider;
};

class HttpClient {
 public:
  HttpClient(RestConfig config, HttpOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  //! One call, retried while retriable. `path` starts with "/" (e.g. "/api/v1/namespaces/default/pods").
  //! A 401 refreshes an exec plugin's credential once. Never throws for HTTP or transport failures.
  HttpResponse request(std::string_view method, const std::string& path, const std::string& body = "",
                       std::string_view content_type = "application/json");

  //! A long-lived GET (watch=true) handing each complete line to `on_line` as it arrives; returns when the
  //! server closes the stream, `on_line` returns false, `timeout` passes or `*cancel` becomes true (checked
  //! about once a second). Not retried. The response's body holds what was not a complete line (e.g. an
  //! error Status).
  HttpResponse stream(const std::string& path, const std::function<bool(std::string_view line)>& on_line,
                      std::chrono::seconds timeout, const std::atomic<bool>* cancel = nullptr);

  const RestConfig& config() const { return config_; }

 private:
  HttpResponse perform(std::string_view method, const std::string& path, const std::string& body,
                       std::string_view content_type, const std::function<bool(std::string_view)>* on_line,
                       std::chrono::milliseconds timeout, bool& maybe_applied,
                       const std::atomic<bool>* cancel = nullptr);
  std::string authorization();  //!< the Authorization header value, "" for none
  void wait_for_token_bucket();

  RestConfig config_;
  HttpOptions options_;
  std::mutex auth_mu_;
  std::optional<ExecCredential> exec_credential_;
  std::atomic<bool> refresh_token_{false};
  std::mutex bucket_mu_;
  double tokens_;
  std::chrono::steady_clock::time_point last_refill_;
};

//! Milliseconds to wait for a Retry-After header (seconds or an HTTP date); nullopt when absent or unreadable.
std::optional<std::chrono::milliseconds> parse_retry_after(const std::string& value);

}  // namespace ktwin::live
