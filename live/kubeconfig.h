// Where and how to reach a Kubernetes API server: a kubeconfig (merged from $KUBECONFIG's list, one
// context chosen) or the in-cluster service account, resolved the way client-go's clientcmd does.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/time.h"

namespace ktwin::live {

//! users[].user.exec: a credential plugin such as AKS's kubelogin, run to obtain a token or client cert.
struct ExecPlugin {
  std::string api_version;  //!< client.authentication.k8s.io/v1 or v1beta1
  std::string command;      //!< looked up on PATH; relative paths with a slash are against the kubeconfig
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string install_hint;
  bool provide_cluster_info = false;
};

struct RestConfig {
  std::string server;   //!< "https://host:port", no trailing slash
  std::string source;   //!< "kubeconfig F, context C" or "in-cluster service account"
  std::string context;  //!< empty for in-cluster
  std::string namespace_ = "default";

  // TLS: verification is on unless the kubeconfig itself says insecure-skip-tls-verify.
  std::string ca_pem;  //!< CA bundle (PEM); empty = the system's roots
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string client_cert_pem, client_key_pem;

  // Credentials, at most one kind besides a client certificate. Never printed.
  std::string bearer_token;
  std::string token_file;  //!< re-read before use: projected service-account tokens rotate
  std::optional<ExecPlugin> exec;
  std::string username, password;

  //! Server, source and the kind of credential, without any secret: safe for logs.
  std::string describe() const;
};

//! A kubeconfig file, or several merged as client-go does for $KUBECONFIG (the first file to set a
//! cluster, user, context or current-context wins). `context` overrides current-context. Paths in a
//! file (certificate-authority, client-certificate, client-key, tokenFile) are relative to that
//! file. Throws InputError naming the file, line and field.
RestConfig load_kubeconfig(const std::vector<std::string>& paths, const std::string& context = "");

//! The pod's service account: $KUBERNETES_SERVICE_HOST/PORT and `dir`'s token, ca.crt and namespace.
//! Throws InputError when not running in a pod.
RestConfig in_cluster_config(const std::string& dir = "/var/run/secrets/kubernetes.io/serviceaccount");

//! --kubeconfig FLAG, else $KUBECONFIG (a ':'-separated list), else ~/.kube/config when it exists,
//! else the in-cluster config.
RestConfig resolve_rest_config(const std::string& kubeconfig_flag, const std::string& context = "");

//! What a credential plugin returned (ExecCredential status).
struct ExecCredential {
  std::string token;
  std::string client_cert_pem, client_key_pem;
  std::optional<Time> expires;  //!< none: valid until the server says 401
};

//! Runs the plugin with KUBERNETES_EXEC_INFO set, as kubectl does, and parses its ExecCredential.
//! Throws InputError (naming the command, its exit status and stderr) on failure.
ExecCredential run_exec_plugin(const ExecPlugin& plugin, const std::string& server);

//! Standard base64 ("*-data" fields); throws InputError naming `field` when the text is not base64.
std::string base64_decode(const std::string& text, const std::string& field);

}  // namespace ktwin::live
