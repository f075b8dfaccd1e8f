#include "live/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>

#include "catalog/yaml_json.h"
#include "core/input_error.h"

namespace ktwin::live {
namespace {

using Clock = std::chrono::steady_clock;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  std::string body;
  std::string retry_after;
  const std::function<bool(std::string_view)>* on_line = nullptr;
  bool stopped_by_caller = false;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->body.append(data, size * n);
  if (t->on_line) {
    size_t start = 0;
    for (size_t nl; (nl = t->body.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(t->body.data() + start, nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty() && !(*t->on_line)(line)) {
        t->stopped_by_caller = true;
        t->body.erase(0, nl + 1);
        return 0;  // makes curl stop the transfer
      }
    }
    t->body.erase(0, start);
  }
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view h(data, size * n);
  constexpr std::string_view kName = "retry-after:";
  if (h.size() > kName.size() && std::equal(kName.begin(), kName.end(), h.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      })) {
    std::string v(h.substr(kName.size()));
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.erase(v.begin());
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
    t->retry_after = v;
  }
  return size * n;
}

bool retriable_status(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// Transport errors after which a POST may already have been applied are not retried for POST.
bool request_never_sent(CURLcode code) {
  return code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_SSL_CONNECT_ERROR;
}

struct Url {
  std::string scheme, host, port;
};

Url split_server(const std::string& server) {
  Url u;
  const size_t sep = server.find("://");
  u.scheme = server.substr(0, sep);
  std::string rest = server.substr(sep + 3);
  rest = rest.substr(0, rest.find('/'));
  const size_t colon = rest.rfind(':');
  if (colon != std::string::npos && rest.find(']', colon) == std::string::npos) {
    u.host = rest.substr(0, colon);
    u.port = rest.substr(colon + 1);
  } else {
    u.host = rest;
    u.port = u.scheme == "https" ? "443" : "80";
  }
  return u;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(const std::string& value) {
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return std::chrono::milliseconds(std::stoll(value.substr(0, 9)) * 1000);
  const time_t at = curl_getdate(value.c_str(), nullptr);  // an HTTP date
  if (at < 0) return std::nullopt;
  const time_t now = std::time(nullptr);
  return std::chrono::milliseconds(std::max<int64_t>(0, static_cast<int64_t>(at - now)) * 1000);
}

HttpClient::HttpClient(RestConfig config, HttpOptions options)
    : config_(std::move(config)), options_(std::move(options)), tokens_(options_.burst), last_refill_(Clock::now()) {
  global_init();
}

HttpClient::~HttpClient() = default;

std::string HttpClient::authorization() {
  if (options_.token_provider) {
    const bool refresh = refresh_token_.exchange(false);
    const std::string token = options_.token_provider(refresh);
    return token.empty() ? "" : "Bearer " + token;
  }
  if (config_.exec) {
    std::lock_guard<std::mutex> lock(auth_mu_);
    const auto now_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    // Refresh ten seconds before the plugin's credential expires.
    if (!exec_credential_ || (exec_credential_->expires && *exec_credential_->expires - 10 * kSecond < now_ns))
      exec_credential_ = run_exec_plugin(*config_.exec, config_.server);
    return exec_credential_->token.empty() ? "" : "Bearer " + exec_credential_->token;
  }
  if (!config_.token_file.empty()) {
    std::string token = catalog::read_text_file(config_.token_file);
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
    return "Bearer " + token;
  }
  if (!config_.bearer_token.empty()) return "Bearer " + config_.bearer_token;
  return "";
}

void HttpClient::wait_for_token_bucket() {
  if (options_.qps <= 0) return;
  std::unique_lock<std::mutex> lock(bucket_mu_);
  for (;;) {
    const auto now = Clock::now();
    tokens_ = std::min<double>(options_.burst,
                               tokens_ + std::chrono::duration<double>(now - last_refill_).count() * options_.qps);
    last_refill_ = now;
    if (tokens_ >= 1) {
      tokens_ -= 1;
      return;
    }
    const auto wait = std::chrono::duration<double>((1 - tokens_) / options_.qps);
    lock.unlock();
    std::this_thread::sleep_for(wait);
    lock.lock();
  }
}

HttpResponse HttpClient::perform(std::string_view method, const std::string& path, const std::string& body,
                                 std::string_view content_type, const std::function<bool(std::string_view)>* on_line,
                                 std::chrono::milliseconds timeout, bool& maybe_applied,
                                 const std::atomic<bool>* cancel) {
  HttpResponse r;
  maybe_applied = false;
  std::string auth;
  try {
    auth = authorization();
  } catch (const InputError& e) {
    r.error = e.what();  // a failing credential plugin: its message, never a token
    r.credential_failed = true;
    return r;
  }
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    r.error = "curl_easy_init failed";
    return r;
  }
  CURL* h = curl.get();
  const Url server = split_server(config_.server);
  std::string url = config_.server + path;
  std::string connect_to;
  curl_slist* connect_list = nullptr;
  if (!config_.tls_server_name.empty() && server.scheme == "https") {
    // Verify the certificate for tls-server-name while connecting to the server's own address.
    url = "https://" + config_.tls_server_name + ":" + server.port + path;
    connect_to = config_.tls_server_name + ":" + server.port + ":" + server.host + ":" + server.port;
    connect_list = curl_slist_append(nullptr, connect_to.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_list);
  }
  const std::string method_s(method);
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method_s.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  if (method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  const std::string ct = "Content-Type: " + std::string(content_type);
  if (!body.empty()) headers = curl_slist_append(headers, ct.c_str());
  const std::string auth_header = "Authorization: " + auth;
  if (!auth.empty()) headers = curl_slist_append(headers, auth_header.c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  if (!config_.username.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, config_.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, config_.password.c_str());
  }

  // TLS: verification stays on unless the kubeconfig said otherwise.
  curl_blob ca{const_cast<char*>(config_.ca_pem.data()), config_.ca_pem.size(), CURL_BLOB_NOCOPY};
  if (!config_.ca_pem.empty()) curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
  if (config_.insecure_skip_tls_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  std::string cert_pem = config_.client_cert_pem, key_pem = config_.client_key_pem;
  {
    std::lock_guard<std::mutex> lock(auth_mu_);
    if (exec_credential_ && !exec_credential_->client_cert_pem.empty()) {
      cert_pem = exec_credential_->client_cert_pem;
      key_pem = exec_credential_->client_key_pem;
    }
  }
  curl_blob cert{cert_pem.data(), cert_pem.size(), CURL_BLOB_NOCOPY};
  curl_blob key{key_pem.data(), key_pem.size(), CURL_BLOB_NOCOPY};
  if (!cert_pem.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
  }

  Transfer t;
  t.on_line = on_line;
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  if (cancel) {
    // libcurl calls this about once a second while a stream is idle; non-zero aborts the transfer.
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(cancel));
    curl_easy_setopt(
        h, CURLOPT_XFERINFOFUNCTION, +[](void* flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
          return static_cast<const std::atomic<bool>*>(flag)->load() ? 1 : 0;
        });
  }
  char error_buf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buf);

  const CURLcode code = curl_easy_perform(h);
  curl_slist_free_all(headers);
  curl_slist_free_all(connect_list);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
  r.body = std::move(t.body);
  r.retry_after = std::move(t.retry_after);
  const bool cancelled = code == CURLE_ABORTED_BY_CALLBACK && cancel && cancel->load();
  if (code != CURLE_OK && !(code == CURLE_WRITE_ERROR && t.stopped_by_caller) && !cancelled &&
      !(on_line && code == CURLE_OPERATION_TIMEDOUT && r.status != 0)) {
    r.error = std::string(curl_easy_strerror(code)) + (*error_buf ? std::string(": ") + error_buf : "");
    r.status = 0;  // a truncated or timed-out answer is not an answer
    maybe_applied = !request_never_sent(code);
  }
  return r;
}

HttpResponse HttpClient::request(std::string_view method, const std::string& path, const std::string& body,
                                 std::string_view content_type) {
  thread_local std::mt19937 jitter_rng{std::random_device{}()};
  bool refreshed = false;
  HttpResponse r;
  auto backoff = options_.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    wait_for_token_bucket();
    bool maybe_applied = false;
    r = perform(method, path, body, content_type, nullptr, options_.request_timeout, maybe_applied);
    r.attempts = attempt;
    if (r.status == 401 && options_.token_provider && !refreshed) {
      refresh_token_ = true;
      refreshed = true;
      --attempt;
      continue;
    }
    if (r.status == 401 && config_.exec && !refreshed) {
      // The plugin's token may have been revoked early: ask it again, once.
      std::lock_guard<std::mutex> lock(auth_mu_);
      exec_credential_.reset();
      refreshed = true;
      --attempt;
      continue;
    }
    // A POST that may have reached the server is not repeated: it could create the object twice.
    const bool transport = r.status == 0 && !r.error.empty() && !r.credential_failed;
    const bool may_retry = retriable_status(r.status) || (transport && (!maybe_applied || method != "POST"));
    if (!may_retry || attempt >= options_.max_attempts) return r;
    auto wait = parse_retry_after(r.retry_after)
                    .value_or(backoff + std::chrono::milliseconds(std::uniform_int_distribution<int>(
                                            0, static_cast<int>(backoff.count() / 4))(jitter_rng)));
    wait = std::min(wait, std::chrono::milliseconds(60000));
    std::this_thread::sleep_for(wait);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

HttpResponse HttpClient::stream(const std::string& path, const std::function<bool(std::string_view)>& on_line,
                                std::chrono::seconds timeout, const std::atomic<bool>* cancel) {
  wait_for_token_bucket();
  bool maybe_applied = false;
  return perform("GET", path, "", "application/json", &on_line,
                 std::chrono::duration_cast<std::chrono::milliseconds>(timeout), maybe_applied, cancel);
}

}  // namespace ktwin::live
