// The API-server HTTP client against a loopback cpp-httplib server: credentials on the wire, retries
// on 429/503 with Retry-After, no repeated POST after an ambiguous failure, watch streaming, and TLS
// verification (a self-signed CA is accepted only when the config names it).
#include "live/http_client.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace ktwin::live {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A server on a free loopback port, run on its own thread for the test's lifetime.
template <typename Server>
class Running {
 public:
  explicit Running(Server& s) : server_(s) {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~Running() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  Server& server_;
  int port_ = 0;
  std::thread thread_;
};

RestConfig plain(int port) {
  RestConfig c;
  c.server = "http://127.0.0.1:" + std::to_string(port);
  c.source = "test";
  return c;
}

HttpOptions fast() {
  HttpOptions o;
  o.initial_backoff = 10ms;
  o.max_backoff = 50ms;
  o.qps = 0;  // no client-side limit unless a test sets one
  return o;
}

TEST(HttpClientTest, SendsTheBearerTokenAndJson) {
  httplib::Server s;
  std::string auth, content_type, body;
  s.Put("/api/v1/namespaces/default/configmaps/x", [&](const httplib::Request& req, httplib::Response& res) {
    auth = req.get_header_value("Authorization");
    content_type = req.get_header_value("Content-Type");
    body = req.body;
    res.set_content(R"({"kind":"ConfigMap"})", "application/json");
  });
  Running<httplib::Server> run(s);
  RestConfig c = plain(run.port());
  c.bearer_token = "t0k3n";
  HttpClient client(c, fast());
  const HttpResponse r = client.request("PUT", "/api/v1/namespaces/default/configmaps/x", R"({"a":1})");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.body, R"({"kind":"ConfigMap"})");
  EXPECT_EQ(auth, "Bearer t0k3n");
  EXPECT_EQ(content_type, "application/json");
  EXPECT_EQ(body, R"({"a":1})");
}

TEST(HttpClientTest, TokenFileIsReadAgainForEveryRequest) {
  const fs::path token = fs::temp_directory_path() / ("ktwin-token-" + std::to_string(::getpid()));
  std::ofstream(token) << "first\n";
  httplib::Server s;
  std::vector<std::string> seen;
  s.Get("/version", [&](const httplib::Request& req, httplib::Response& res) {
    seen.push_back(req.get_header_value("Authorization"));
    res.set_content("{}", "application/json");
  });
  Running<httplib::Server> run(s);
  RestConfig c = plain(run.port());
  c.token_file = token.string();
  HttpClient client(c, fast());
  client.request("GET", "/version");
  std::ofstream(token) << "second\n";  // a projected token rotated
  client.request("GET", "/version");
  fs::remove(token);
  EXPECT_EQ(seen, (std::vector<std::string>{"Bearer first", "Bearer second"}));
  const HttpResponse gone = client.request("GET", "/version");
  EXPECT_TRUE(gone.credential_failed);
  EXPECT_EQ(gone.attempts, 1);
}

TEST(HttpClientTest, RetriesThrottlingHonouringRetryAfter) {
  httplib::Server s;
  std::atomic<int> calls{0};
  s.Get("/api/v1/pods", [&](const httplib::Request&, httplib::Response& res) {
    if (++calls < 3) {
      res.status = calls == 1 ? 429 : 503;
      res.set_header("Retry-After", "1");
      res.set_content(R"({"kind":"Status","code":429})", "application/json");
      return;
    }
    res.set_content(R"({"items":[]})", "application/json");
  });
  Running<httplib::Server> run(s);
  HttpClient client(plain(run.port()), fast());
  const auto start = std::chrono::steady_clock::now();
  const HttpResponse r = client.request("GET", "/api/v1/pods");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_GE(took, 2s);  // two waits of Retry-After: 1, not the 10 ms backoff

  // A server that keeps refusing: the last answer comes back after max_attempts.
  httplib::Server busy;
  busy.Get("/x", [](const httplib::Request&, httplib::Response& res) { res.status = 500; });
  Running<httplib::Server> run_busy(busy);
  HttpOptions o = fast();
  o.max_attempts = 3;
  HttpClient client_busy(plain(run_busy.port()), o);
  const HttpResponse failed = client_busy.request("GET", "/x");
  EXPECT_EQ(failed.status, 500);
  EXPECT_EQ(failed.attempts, 3);
  // Conflicts and not-found are answers, not failures to retry.
  busy.Get("/conflict", [](const httplib::Request&, httplib::Response& res) { res.status = 409; });
  EXPECT_EQ(client_busy.request("GET", "/conflict").attempts, 1);
}

TEST(HttpClientTest, TransportFailuresRetryExceptAmbiguousPosts) {
  // Nothing listens: the request was never sent, so even a POST is retried until attempts run out.
  httplib::Server probe;
  int free_port = 0;
  {
    Running<httplib::Server> run(probe);
    free_port = run.port();
  }
  HttpOptions o = fast();
  o.max_attempts = 3;
  o.connect_timeout = 500ms;
  HttpClient refused(plain(free_port), o);
  const HttpResponse r = refused.request("POST", "/api/v1/namespaces/default/pods", "{}");
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
  EXPECT_EQ(r.attempts, 3);

  // A server that takes the POST and then times out: it may have created the object, so no retry.
  httplib::Server slow;
  std::atomic<int> posts{0};
  slow.Post("/create", [&](const httplib::Request&, httplib::Response& res) {
    ++posts;
    std::this_thread::sleep_for(700ms);
    res.set_content("{}", "application/json");
  });
  slow.Get("/read", [&](const httplib::Request&, httplib::Response& res) {
    ++posts;
    std::this_thread::sleep_for(700ms);
    res.set_content("{}", "application/json");
  });
  Running<httplib::Server> run(slow);
  o.request_timeout = 200ms;
  HttpClient client(plain(run.port()), o);
  const HttpResponse post = client.request("POST", "/create", "{}");
  EXPECT_EQ(post.status, 0);
  EXPECT_EQ(post.attempts, 1);
  EXPECT_EQ(posts.load(), 1);
  const HttpResponse get = client.request("GET", "/read");
  EXPECT_EQ(get.attempts, 3);  // reads are safe to repeat
}

TEST(HttpClientTest, StreamsWatchLinesAsTheyArrive) {
  httplib::Server s;
  s.Get("/api/v1/pods", [](const httplib::Request& req, httplib::Response& res) {
    ASSERT_EQ(req.get_param_value("watch"), "true");
    res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink& sink) {
      const std::string events[] = {R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})"
                                    "\n",
                                    R"({"type":"MODIFIED","object":{"metadata":{"name":"a"}}})"
                                    "\n{\"type\":\"DEL",
                                    "ETED\",\"object\":{}}\n"};
      for (const auto& e : events) {
        sink.write(e.data(), e.size());
        std::this_thread::sleep_for(20ms);
      }
      sink.done();
      return true;
    });
  });
  Running<httplib::Server> run(s);
  HttpClient client(plain(run.port()), fast());
  std::vector<std::string> lines;
  const HttpResponse r = client.stream(
      "/api/v1/pods?watch=true",
      [&](std::string_view line) {
        lines.emplace_back(line);
        return true;
      },
      10s);
  EXPECT_EQ(r.status, 200) << r.error;
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2], R"({"type":"DELETED","object":{}})");  // a line split across chunks is joined

  // The caller can stop a stream early.
  int seen = 0;
  const HttpResponse stopped = client.stream(
      "/api/v1/pods?watch=true", [&](std::string_view) { return ++seen < 1; }, 10s);
  EXPECT_EQ(seen, 1);
  EXPECT_TRUE(stopped.error.empty()) << stopped.error;
}

TEST(HttpClientTest, ClientSideRateLimit) {
  httplib::Server s;
  s.Get("/x", [](const httplib::Request&, httplib::Response& res) { res.set_content("{}", "application/json"); });
  Running<httplib::Server> run(s);
  HttpOptions o = fast();
  o.qps = 20;
  o.burst = 2;
  HttpClient client(plain(run.port()), o);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) client.request("GET", "/x");
  // Two from the burst, then four at 20/s: at least 150 ms.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
}

// A throwaway CA and a server certificate for 127.0.0.1, made with the openssl command.
struct Pki {
  fs::path dir;
  std::string ca_pem;
  Pki() {
    dir = fs::temp_directory_path() / ("ktwin-pki-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string d = dir.string();
    const std::string cmd =
        "cd " + d +
        " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=ktwin-test-ca"
        " 2>/dev/null"
        " && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null"
        " && printf 'subjectAltName=IP:127.0.0.1,DNS:apiserver.test\\n' > ext.cnf"
        " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1"
        " -extfile ext.cnf 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) return;
    std::ifstream f(dir / "ca.pem");
    std::stringstream ss;
    ss << f.rdbuf();
    ca_pem = ss.str();
  }
  ~Pki() { fs::remove_all(dir); }
};

TEST(HttpClientTest, TlsIsVerifiedAgainstTheConfiguredCa) {
  Pki pki;
  ASSERT_FALSE(pki.ca_pem.empty()) << "openssl could not make test certificates";
  httplib::SSLServer s((pki.dir / "server.pem").c_str(), (pki.dir / "server.key").c_str());
  s.Get("/version", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"gitVersion":"v1.30.0"})", "application/json");
  });
  Running<httplib::SSLServer> run(s);
  RestConfig c;
  c.server = "https://127.0.0.1:" + std::to_string(run.port());
  HttpOptions o = fast();
  o.max_attempts = 1;

  // Without the CA the self-signed chain is refused: verification is on by default.
  EXPECT_EQ(HttpClient(c, o).request("GET", "/version").status, 0);
  c.ca_pem = pki.ca_pem;
  EXPECT_EQ(HttpClient(c, o).request("GET", "/version").status, 200);
  // tls-server-name: connect to 127.0.0.1 but verify the name the certificate carries.
  c.tls_server_name = "apiserver.test";
  EXPECT_EQ(HttpClient(c, o).request("GET", "/version").status, 200);
  c.tls_server_name = "wrong.test";
  EXPECT_EQ(HttpClient(c, o).request("GET", "/version").status, 0);
  // Only an explicit insecure-skip-tls-verify accepts an unknown chain.
  c.tls_server_name.clear();
  c.ca_pem.clear();
  c.insecure_skip_tls_verify = true;
  EXPECT_EQ(HttpClient(c, o).request("GET", "/version").status, 200);
}

TEST(RetryAfterTest, SecondsAndDates) {
  EXPECT_EQ(parse_retry_after("3"), std::chrono::milliseconds(3000));
  EXPECT_EQ(parse_retry_after(""), std::nullopt);
  EXPECT_EQ(parse_retry_after("soon"), std::nullopt);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), std::chrono::milliseconds(0));  // in the past
}

}  // namespace
}  // namespace ktwin::live
