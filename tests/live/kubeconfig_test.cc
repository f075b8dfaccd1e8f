// Kubeconfig and in-cluster config resolution: contexts, merged files, relative paths, every kind of
// credential, exec plugins, and errors that name the file, line and field.
#include "live/kubeconfig.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/input_error.h"

namespace ktwin::live {
namespace {

namespace fs = std::filesystem;

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ktwin-kubeconfig-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& rel, const std::string& text, bool executable = false) {
    const fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    if (executable) ::chmod(p.c_str(), 0755);
    return p.string();
  }
  std::string error_of(const std::vector<std::string>& paths, const std::string& context = "") {
    try {
      load_kubeconfig(paths, context);
    } catch (const InputError& e) {
      return e.what();
    }
    ADD_FAILURE() << "expected an InputError";
    return "";
  }
  fs::path dir_;
};

// "hello" and "-----BEGIN CERTIFICATE-----\n" in base64.
constexpr const char* kHelloB64 = "aGVsbG8=";

const char* kTwoContexts = R"(apiVersion: v1
kind: Config
current-context: aks
clusters:
- name: aks
  cluster:
    server: https://aks.example.com:443/
    certificate-authority: certs/ca.pem
- name: dev
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
contexts:
- name: aks
  context: {cluster: aks, user: token-user, namespace: kaito}
- name: dev
  context: {cluster: dev, user: cert-user}
users:
- name: token-user
  user: {token: s3cr3t-t0ken}
- name: cert-user
  user:
    client-certificate-data: aGVsbG8=
    client-key: keys/client.key
)";

TEST_F(KubeconfigTest, CurrentContextWithTokenAndCaFileRelativeToTheFile) {
  write("kube/certs/ca.pem", "CA PEM");
  const std::string path = write("kube/config", kTwoContexts);
  const RestConfig c = load_kubeconfig({path});
  EXPECT_EQ(c.server, "https://aks.example.com:443");  // trailing slash dropped
  EXPECT_EQ(c.context, "aks");
  EXPECT_EQ(c.namespace_, "kaito");
  EXPECT_EQ(c.ca_pem, "CA PEM");
  EXPECT_FALSE(c.insecure_skip_tls_verify);
  EXPECT_EQ(c.bearer_token, "s3cr3t-t0ken");
  // Safe for logs: the token never appears.
  EXPECT_EQ(c.describe().find("s3cr3t"), std::string::npos);
  EXPECT_NE(c.describe().find("bearer token"), std::string::npos);
  EXPECT_NE(c.describe().find("TLS verified against the configured CA"), std::string::npos) << c.describe();
}

TEST_F(KubeconfigTest, ContextOverrideWithClientCertificate) {
  write("kube/certs/ca.pem", "CA PEM");
  write("kube/keys/client.key", "KEY PEM");
  const std::string path = write("kube/config", kTwoContexts);
  const RestConfig c = load_kubeconfig({path}, "dev");
  EXPECT_EQ(c.server, "https://127.0.0.1:6443");
  EXPECT_TRUE(c.insecure_skip_tls_verify);
  EXPECT_EQ(c.namespace_, "default");
  EXPECT_EQ(c.client_cert_pem, "hello");
  EXPECT_EQ(c.client_key_pem, "KEY PEM");
  EXPECT_TRUE(c.bearer_token.empty());
  EXPECT_NE(c.describe().find("client certificate"), std::string::npos);
  EXPECT_NE(c.describe().find("NOT verified"), std::string::npos);
}

TEST_F(KubeconfigTest, MergedFilesFirstOneWins) {
  // As $KUBECONFIG=a:b: a's current-context and its user win; b adds the cluster a lacks.
  const std::string a = write("a", R"(current-context: ctx
contexts: [{name: ctx, context: {cluster: shared, user: u}}]
users: [{name: u, user: {token: from-a}}]
)");
  const std::string b = write("b", R"(current-context: other
clusters: [{name: shared, cluster: {server: "http://127.0.0.1:8080"}}]
contexts: [{name: other, context: {cluster: shared}}]
users: [{name: u, user: {token: from-b}}]
)");
  const RestConfig c = load_kubeconfig({a, b});
  EXPECT_EQ(c.context, "ctx");
  EXPECT_EQ(c.server, "http://127.0.0.1:8080");
  EXPECT_EQ(c.bearer_token, "from-a");
  EXPECT_EQ(load_kubeconfig({a, b}, "other").bearer_token, "");  // no user: anonymous
}

TEST_F(KubeconfigTest, ErrorsNameTheFileLineAndField) {
  const std::string no_ctx = write("no-ctx", "clusters: []\n");
  EXPECT_NE(error_of({no_ctx}).find("current-context: is not set and no --context was given"), std::string::npos);

  const std::string typo = write("typo", R"(current-context: aks
clusters: [{name: aks, cluster: {server: "https://x"}}]
contexts: [{name: aks, context: {cluster: aks, user: me}}]
users:
- name: me
  user: {tokn: abc}
)");
  EXPECT_EQ(error_of({typo}), typo + ":6:10: users[0].user.tokn: unknown field \"tokn\" (did you mean \"token\"?)");

  const std::string missing_cluster = write("mc", R"(current-context: aks
contexts: [{name: aks, context: {cluster: akz}}]
clusters: [{name: aks, cluster: {server: "https://x"}}]
)");
  EXPECT_EQ(error_of({missing_cluster}),
            missing_cluster +
                ":2:43: contexts[0].context.cluster: no cluster \"akz\" in the kubeconfig (did you mean "
                "\"aks\"?)");
  EXPECT_NE(error_of({missing_cluster}, "prod").find("no context \"prod\" in the kubeconfig (it has: aks)"),
            std::string::npos);

  const std::string bad_server = write("bs", R"(current-context: c
contexts: [{name: c, context: {cluster: c}}]
clusters: [{name: c, cluster: {server: "aks.example.com"}}]
)");
  EXPECT_EQ(
      error_of({bad_server}),
      bad_server + ":3:40: clusters[0].cluster.server: must be an http:// or https:// URL, got \"aks.example.com\"");

  const std::string insecure_with_ca = write("ic", R"(current-context: c
contexts: [{name: c, context: {cluster: c}}]
clusters:
- name: c
  cluster: {server: "https://x", certificate-authority-data: aGVsbG8=, insecure-skip-tls-verify: true}
)");
  EXPECT_NE(error_of({insecure_with_ca}).find("insecure-skip-tls-verify: a certificate authority together with"),
            std::string::npos);

  const std::string bad_b64 = write("b64", R"(current-context: c
contexts: [{name: c, context: {cluster: c}}]
clusters: [{name: c, cluster: {server: "https://x", certificate-authority-data: "not base64!"}}]
)");
  EXPECT_NE(error_of({bad_b64}).find("clusters[0].cluster.certificate-authority-data: is not valid base64"),
            std::string::npos)
      << error_of({bad_b64});

  const std::string two_creds = write("two", R"(current-context: c
contexts: [{name: c, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://x"}}]
users: [{name: u, user: {token: a, username: b, password: c}}]
)");
  EXPECT_NE(error_of({two_creds}).find("more than one kind of credential"), std::string::npos);

  const std::string missing_file = write("mf", R"(current-context: c
contexts: [{name: c, context: {cluster: c}}]
clusters: [{name: c, cluster: {server: "https://x", certificate-authority: nowhere/ca.pem}}]
)");
  EXPECT_NE(error_of({missing_file}).find("certificate-authority: cannot read \"" + (dir_ / "nowhere/ca.pem").string()),
            std::string::npos)
      << error_of({missing_file});

  const std::string provider = write("ap", R"(current-context: c
contexts: [{name: c, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://x"}}]
users: [{name: u, user: {auth-provider: {name: azure}}}]
)");
  EXPECT_NE(error_of({provider}).find("use an exec plugin"), std::string::npos);
}

TEST_F(KubeconfigTest, ExecPluginRunsWithExecInfoAndItsEnvironment) {
  // A stand-in for kubelogin: checks what kubectl passes, prints an ExecCredential.
  write("bin/fake-login",
        "#!/bin/sh\n"
        "case \"$KUBERNETES_EXEC_INFO\" in *'\"interactive\":false'*) ;; *) echo no exec info >&2; exit 3;; esac\n"
        "echo \"args: $1 $2\" >&2\n"
        "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",'\n"
        "printf '\"status\":{\"token\":\"%s\",\"expirationTimestamp\":\"2026-12-04T12:00:00Z\"}}' \"$FAKE_TOKEN\"\n",
        true);
  const std::string path = write("config", R"(current-context: c
contexts: [{name: c, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://x"}}]
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/fake-login
      args: [get-token, --server-id]
      env: [{name: FAKE_TOKEN, value: tok-123}]
      installHint: install fake-login
      provideClusterInfo: true
)");
  const RestConfig c = load_kubeconfig({path});
  ASSERT_TRUE(c.exec);
  EXPECT_EQ(c.exec->command, (dir_ / "bin/fake-login").string());
  EXPECT_NE(c.describe().find("exec plugin fake-login"), std::string::npos);
  const ExecCredential cred = run_exec_plugin(*c.exec, c.server);
  EXPECT_EQ(cred.token, "tok-123");
  ASSERT_TRUE(cred.expires);
  EXPECT_EQ(format_rfc3339(*cred.expires), "2026-12-04T12:00:00Z");

  ExecPlugin failing = *c.exec;
  failing.env.clear();
  failing.command = write("bin/fail", "#!/bin/sh\necho 'AADSTS50076: MFA required' >&2\nexit 1\n", true);
  try {
    run_exec_plugin(failing, c.server);
    ADD_FAILURE() << "expected a failure";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("exited with status 1: AADSTS50076: MFA required"), std::string::npos)
        << e.what();
  }
  failing.command = (dir_ / "bin/absent").string();
  try {
    run_exec_plugin(failing, c.server);
    ADD_FAILURE() << "expected a failure";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("install fake-login"), std::string::npos) << e.what();
  }
}

TEST_F(KubeconfigTest, InClusterServiceAccount) {
  write("sa/token", "sa-token");
  write("sa/ca.crt", "SA CA");
  write("sa/namespace", "kaito-system\n");
  ::setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  RestConfig c = in_cluster_config((dir_ / "sa").string());
  EXPECT_EQ(c.server, "https://10.0.0.1:443");
  EXPECT_EQ(c.token_file, (dir_ / "sa/token").string());
  EXPECT_EQ(c.ca_pem, "SA CA");
  EXPECT_EQ(c.namespace_, "kaito-system");
  ::setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  EXPECT_EQ(in_cluster_config((dir_ / "sa").string()).server, "https://[fd00::1]:443");
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  EXPECT_THROW(in_cluster_config((dir_ / "sa").string()), InputError);
}

TEST_F(KubeconfigTest, ResolveOrderFlagThenEnvThenHome) {
  const std::string flag = write("flag", R"(current-context: c
contexts: [{name: c, context: {cluster: c}}]
clusters: [{name: c, cluster: {server: "https://flag"}}]
)");
  const std::string env = write("env", R"(current-context: c
contexts: [{name: c, context: {cluster: c}}]
clusters: [{name: c, cluster: {server: "https://env"}}]
)");
  ::setenv("KUBECONFIG", ((dir_ / "missing").string() + ":" + env).c_str(), 1);
  EXPECT_EQ(resolve_rest_config(flag).server, "https://flag");
  EXPECT_EQ(resolve_rest_config("").server, "https://env");  // missing files in the list are skipped
  ::setenv("KUBECONFIG", (dir_ / "missing").c_str(), 1);
  EXPECT_THROW(resolve_rest_config(""), InputError);
  ::unsetenv("KUBECONFIG");
}

TEST(Base64Test, DecodesPaddingAndRejectsGarbage) {
  EXPECT_EQ(base64_decode(kHelloB64, "f"), "hello");
  EXPECT_EQ(base64_decode("aGVsbG8h", "f"), "hello!");
  EXPECT_EQ(base64_decode("aGV\nsbG8h\n", "f"), "hello!");
  EXPECT_EQ(base64_decode("aGk=", "f"), "hi");
  EXPECT_EQ(base64_decode("aA==", "f"), "h");
  EXPECT_THROW(base64_decode("aGk", "f"), InputError);
  EXPECT_THROW(base64_decode("a=Gk", "f"), InputError);
  EXPECT_THROW(base64_decode("aGk*", "f"), InputError);
}

}  // namespace
}  // namespace ktwin::live
