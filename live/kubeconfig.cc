#include "live/kubeconfig.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "catalog/yaml_json.h"
#include "core/input_error.h"

extern char** environ;

namespace ktwin::live {
namespace {

namespace fs = std::filesystem;
using catalog::YamlDocument;
using nlohmann::json;

// One named entry (cluster, user or context) and the file it came from.
struct Entry {
  const YamlDocument* doc = nullptr;
  std::string pointer;  //!< of the entry's inner map (…/cluster, …/user, …/context)
  const json* value = nullptr;
};

std::string dir_of(const YamlDocument& doc) { return fs::path(doc.file).parent_path().string(); }

// A path written in a kubeconfig is relative to that file, as clientcmd resolves it.
std::string resolve_path(const YamlDocument& doc, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(dir_of(doc)) / path).lexically_normal().string();
}

std::string str_field(const Entry& e, const std::string& key) {
  if (!e.value->contains(key)) return "";
  const json& v = (*e.value)[key];
  if (!v.is_string()) throw e.doc->error(e.pointer + "/" + key, "must be a string");
  return v.get<std::string>();
}

bool bool_field(const Entry& e, const std::string& key) {
  if (!e.value->contains(key)) return false;
  const json& v = (*e.value)[key];
  if (!v.is_boolean()) throw e.doc->error(e.pointer + "/" + key, "must be true or false");
  return v.get<bool>();
}

std::string read_file_field(const Entry& e, const std::string& key, const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw e.doc->error(e.pointer + "/" + key, "cannot read \"" + path + "\"");
  return catalog::read_text_file(path);
}

// `key-data` (base64) or `key` (a file), at most one of them.
std::string data_or_file(const Entry& e, const std::string& key) {
  const std::string data = str_field(e, key + "-data"), file = str_field(e, key);
  if (!data.empty() && !file.empty())
    throw e.doc->error(e.pointer + "/" + key + "-data", "give " + key + " or " + key + "-data, not both");
  if (!data.empty()) {
    try {
      return base64_decode(data, key + "-data");
    } catch (const InputError& err) {
      throw e.doc->error(e.pointer + "/" + key + "-data", err.detail());
    }
  }
  return file.empty() ? "" : read_file_field(e, key, resolve_path(*e.doc, file));
}

// Named entries of every file, the first file to name one winning (clientcmd's merge rule).
class Merged {
 public:
  explicit Merged(const std::vector<YamlDocument>& docs) {
    for (const auto& doc : docs) {
      if (doc.value.is_null()) continue;
      if (!doc.value.is_object()) throw doc.error("", "a kubeconfig must be a map (kind: Config)");
      catalog::check_keys(
          doc, "",
          {"apiVersion", "kind", "clusters", "users", "contexts", "current-context", "preferences", "extensions"});
      collect(doc, "clusters", "cluster", clusters_);
      collect(doc, "users", "user", users_);
      collect(doc, "contexts", "context", contexts_);
      if (current_.empty() && doc.value.contains("current-context")) {
        const json& c = doc.value["current-context"];
        if (!c.is_string()) throw doc.error("/current-context", "must be a string");
        current_ = c.get<std::string>();
        current_doc_ = &doc;
      }
    }
  }

  const std::string& current() const { return current_; }
  const YamlDocument* current_doc() const { return current_doc_; }

  const Entry& find(const std::map<std::string, Entry>& in, const std::string& what, const std::string& name,
                    const YamlDocument& doc, const std::string& pointer) const {
    auto it = in.find(name);
    if (it != in.end()) return it->second;
    std::vector<std::string> names;
    for (const auto& [n, e] : in) names.push_back(n);
    const std::string near = catalog::closest_match(name, names);
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw doc.error(pointer, "no " + what + " \"" + name + "\" in the kubeconfig" +
                                 (near.empty() ? " (it has: " + (known.empty() ? "none" : known) + ")"
                                               : " (did you mean \"" + near + "\"?)"));
  }
  const std::map<std::string, Entry>& clusters() const { return clusters_; }
  const std::map<std::string, Entry>& users() const { return users_; }
  const std::map<std::string, Entry>& contexts() const { return contexts_; }

 private:
  static void collect(const YamlDocument& doc, const std::string& list, const std::string& inner,
                      std::map<std::string, Entry>& into) {
    if (!doc.value.contains(list) || doc.value[list].is_null()) return;
    const json& arr = doc.value[list];
    if (!arr.is_array()) throw doc.error("/" + list, "must be a list");
    for (size_t i = 0; i < arr.size(); ++i) {
      const std::string ptr = "/" + list + "/" + std::to_string(i);
      const json& item = arr[i];
      if (!item.is_object()) throw doc.error(ptr, "must be a map with name and " + inner);
      catalog::check_keys(doc, ptr, {"name", inner, "extensions"});
      if (!item.contains("name") || !item["name"].is_string() || item["name"].get<std::string>().empty())
        throw doc.error(ptr, "missing required field \"name\"");
      if (!item.contains(inner) || !item[inner].is_object())
        throw doc.error(ptr, "missing required field \"" + inner + "\"");
      into.emplace(item["name"].get<std::string>(), Entry{&doc, ptr + "/" + inner, &item[inner]});
    }
  }

  std::map<std::string, Entry> clusters_, users_, contexts_;
  std::string current_;
  const YamlDocument* current_doc_ = nullptr;
};

ExecPlugin parse_exec(const Entry& user) {
  const Entry e{user.doc, user.pointer + "/exec", &(*user.value)["exec"]};
  if (!e.value->is_object()) throw e.doc->error(e.pointer, "must be a map with apiVersion and command");
  catalog::check_keys(*e.doc, e.pointer,
                      {"apiVersion", "command", "args", "env", "installHint", "provideClusterInfo", "interactiveMode"});
  ExecPlugin p;
  p.api_version = str_field(e, "apiVersion");
  if (p.api_version != "client.authentication.k8s.io/v1" && p.api_version != "client.authentication.k8s.io/v1beta1")
    throw e.doc->error(e.pointer + "/apiVersion",
                       "must be client.authentication.k8s.io/v1 or v1beta1, got \"" + p.api_version + "\"");
  p.command = str_field(e, "command");
  if (p.command.empty()) throw e.doc->error(e.pointer, "missing required field \"command\"");
  // A relative command with a directory part is relative to the kubeconfig, as client-go resolves it.
  if (p.command.find('/') != std::string::npos) p.command = resolve_path(*e.doc, p.command);
  if (e.value->contains("args")) {
    const json& a = (*e.value)["args"];
    if (!a.is_array()) throw e.doc->error(e.pointer + "/args", "must be a list of strings");
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_string()) throw e.doc->error(e.pointer + "/args/" + std::to_string(i), "must be a string");
      p.args.push_back(a[i].get<std::string>());
    }
  }
  if (e.value->contains("env") && !(*e.value)["env"].is_null()) {
    const json& env = (*e.value)["env"];
    if (!env.is_array()) throw e.doc->error(e.pointer + "/env", "must be a list of {name, value}");
    for (size_t i = 0; i < env.size(); ++i) {
      const std::string ptr = e.pointer + "/env/" + std::to_string(i);
      if (!env[i].is_object() || !env[i].contains("name") || !env[i]["name"].is_string() || !env[i].contains("value") ||
          !env[i]["value"].is_string())
        throw e.doc->error(ptr, "must be {name: NAME, value: VALUE} with string values");
      p.env.emplace_back(env[i]["name"].get<std::string>(), env[i]["value"].get<std::string>());
    }
  }
  p.install_hint = str_field(e, "installHint");
  p.provide_cluster_info = bool_field(e, "provideClusterInfo");
  return p;
}

}  // namespace

std::string base64_decode(const std::string& text, const std::string& field) {
  std::string clean;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) clean += c;
  const bool valid = clean.size() % 4 == 0 && clean.find_first_not_of(
                                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                                                  "vwxyz0123456789+/=") == std::string::npos;
  const size_t pad = clean.size() - std::min(clean.size(), clean.find_last_not_of('=') + 1);
  if (!valid || pad > 2 || clean.find('=') < clean.size() - pad)
    throw InputError("", 0, 0, field, "is not valid base64");
  std::string out(clean.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
  if (n < 0) throw InputError("", 0, 0, field, "is not valid base64");
  out.resize(static_cast<size_t>(n) - pad);  // EVP_DecodeBlock counts the padding as zero bytes
  return out;
}

std::string RestConfig::describe() const {
  std::string auth = "no credentials";
  if (exec)
    auth = "exec plugin " + fs::path(exec->command).filename().string();
  else if (!token_file.empty())
    auth = "token file " + token_file;
  else if (!bearer_token.empty())
    auth = "bearer token";
  else if (!username.empty())
    auth = "basic auth as " + username;
  if (!client_cert_pem.empty()) auth += (auth == "no credentials" ? "" : " + ") + std::string("client certificate");
  if (auth.starts_with("no credentials +")) auth = "client certificate";
  const std::string tls = server.starts_with("http://") ? "plain HTTP"
                          : insecure_skip_tls_verify    ? "TLS NOT verified (insecure-skip-tls-verify)"
                          : ca_pem.empty()              ? "TLS verified against the system roots"
                                                        : "TLS verified against the configured CA";
  return server + " (" + source + "; " + auth + "; " + tls + ")";
}

RestConfig load_kubeconfig(const std::vector<std::string>& paths, const std::string& context) {
  if (paths.empty()) throw InputError("", 0, 0, "--kubeconfig", "no kubeconfig file given");
  std::vector<YamlDocument> docs;
  for (const auto& p : paths) {
    auto parsed = catalog::load_yaml_file(p);
    if (parsed.size() > 1) throw parsed[1].error("", "a kubeconfig holds one YAML document");
    if (!parsed.empty()) docs.push_back(std::move(parsed.front()));
  }
  const Merged m(docs);
  std::string name = context;
  if (name.empty()) {
    if (m.current().empty())
      throw InputError(paths.front(), 0, 0, "current-context",
                       "is not set and no --context was given (kubectl config use-context NAME)");
    name = m.current();
  }
  const YamlDocument& ref_doc = m.current_doc() && context.empty() ? *m.current_doc() : docs.front();
  const Entry& ctx = m.find(m.contexts(), "context", name, ref_doc, context.empty() ? "/current-context" : "/contexts");
  catalog::check_keys(*ctx.doc, ctx.pointer, {"cluster", "user", "namespace", "extensions"});
  const std::string cluster_name = str_field(ctx, "cluster");
  if (cluster_name.empty()) throw ctx.doc->error(ctx.pointer, "missing required field \"cluster\"");
  const Entry& cl = m.find(m.clusters(), "cluster", cluster_name, *ctx.doc, ctx.pointer + "/cluster");

  RestConfig c;
  c.context = name;
  c.source = "kubeconfig " + ctx.doc->file + ", context " + name;
  const std::string ns = str_field(ctx, "namespace");
  if (!ns.empty()) c.namespace_ = ns;

  catalog::check_keys(*cl.doc, cl.pointer,
                      {"server", "certificate-authority", "certificate-authority-data", "insecure-skip-tls-verify",
                       "tls-server-name", "proxy-url", "disable-compression", "extensions"});
  c.server = str_field(cl, "server");
  while (c.server.ends_with('/')) c.server.pop_back();
  if (!c.server.starts_with("https://") && !c.server.starts_with("http://"))
    throw cl.doc->error(cl.pointer + (cl.value->contains("server") ? "/server" : ""),
                        c.server.empty() ? "missing required field \"server\""
                                         : "must be an http:// or https:// URL, got \"" + c.server + "\"");
  c.insecure_skip_tls_verify = bool_field(cl, "insecure-skip-tls-verify");
  c.ca_pem = data_or_file(cl, "certificate-authority");
  if (c.insecure_skip_tls_verify && !c.ca_pem.empty())
    throw cl.doc->error(cl.pointer + "/insecure-skip-tls-verify",
                        "a certificate authority together with insecure-skip-tls-verify is not allowed");
  c.tls_server_name = str_field(cl, "tls-server-name");

  const std::string user_name = str_field(ctx, "user");
  if (user_name.empty()) return c;  // anonymous: allowed, the server decides
  const Entry& u = m.find(m.users(), "user", user_name, *ctx.doc, ctx.pointer + "/user");
  catalog::check_keys(
      *u.doc, u.pointer,
      {"token", "tokenFile", "client-certificate", "client-certificate-data", "client-key", "client-key-data",
       "username", "password", "exec", "auth-provider", "as", "as-groups", "as-uid", "as-user-extra", "extensions"});
  if (u.value->contains("auth-provider"))
    throw u.doc->error(u.pointer + "/auth-provider",
                       "auth-provider plugins were removed from Kubernetes clients; use an exec plugin (e.g. "
                       "kubelogin convert-kubeconfig)");
  c.client_cert_pem = data_or_file(u, "client-certificate");
  c.client_key_pem = data_or_file(u, "client-key");
  if (c.client_cert_pem.empty() != c.client_key_pem.empty())
    throw u.doc->error(u.pointer,
                       "a client certificate needs its key (client-key or client-key-data) and the "
                       "other way round");
  c.bearer_token = str_field(u, "token");
  const std::string token_file = str_field(u, "tokenFile");
  if (!token_file.empty()) {
    c.token_file = resolve_path(*u.doc, token_file);
    read_file_field(u, "tokenFile", c.token_file);  // fail now, not at the first request
  }
  c.username = str_field(u, "username");
  c.password = str_field(u, "password");
  if (u.value->contains("exec")) c.exec = parse_exec(u);
  const int kinds = !c.bearer_token.empty() + !c.token_file.empty() + c.exec.has_value() + !c.username.empty();
  if (kinds > 1)
    throw u.doc->error(u.pointer, "more than one kind of credential (token, tokenFile, exec, username): keep one");
  return c;
}

RestConfig in_cluster_config(const std::string& dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    throw InputError("", 0, 0, "in-cluster config",
                     "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not running in a pod): give "
                     "--kubeconfig or set $KUBECONFIG");
  RestConfig c;
  const std::string h = host;
  c.server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  c.source = "in-cluster service account";
  c.token_file = (fs::path(dir) / "token").string();
  std::error_code ec;
  if (!fs::is_regular_file(c.token_file, ec))
    throw InputError(c.token_file, 0, 0, "in-cluster config", "the service-account token is missing");
  const std::string ca = (fs::path(dir) / "ca.crt").string();
  if (!fs::is_regular_file(ca, ec))
    throw InputError(ca, 0, 0, "in-cluster config", "the service-account CA certificate is missing");
  c.ca_pem = catalog::read_text_file(ca);
  const std::string ns_file = (fs::path(dir) / "namespace").string();
  if (fs::is_regular_file(ns_file, ec)) {
    std::string ns = catalog::read_text_file(ns_file);
    while (!ns.empty() && std::isspace(static_cast<unsigned char>(ns.back()))) ns.pop_back();
    if (!ns.empty()) c.namespace_ = ns;
  }
  return c;
}

RestConfig resolve_rest_config(const std::string& kubeconfig_flag, const std::string& context) {
  if (!kubeconfig_flag.empty()) return load_kubeconfig({kubeconfig_flag}, context);
  std::error_code ec;
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    // Files of the list that do not exist are skipped, as kubectl does.
    std::vector<std::string> paths;
    std::string list = env;
    for (size_t start = 0; start <= list.size();) {
      const size_t colon = std::min(list.find(':', start), list.size());
      const std::string p = list.substr(start, colon - start);
      if (!p.empty() && fs::exists(p, ec)) paths.push_back(p);
      start = colon + 1;
    }
    if (paths.empty()) throw InputError("", 0, 0, "$KUBECONFIG", "none of the files in \"" + list + "\" exists");
    return load_kubeconfig(paths, context);
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    const std::string p = (fs::path(home) / ".kube" / "config").string();
    if (fs::exists(p, ec)) return load_kubeconfig({p}, context);
  }
  return in_cluster_config();
}

ExecCredential run_exec_plugin(const ExecPlugin& plugin, const std::string& server) {
  json info = {{"apiVersion", plugin.api_version}, {"kind", "ExecCredential"}, {"spec", {{"interactive", false}}}};
  if (plugin.provide_cluster_info) info["spec"]["cluster"] = {{"server", server}};
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  for (const auto& [k, v] : plugin.env) env_strings.push_back(k + "=" + v);
  env_strings.push_back("KUBERNETES_EXEC_INFO=" + info.dump());
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string command = plugin.command;
  std::vector<std::string> args = plugin.args;
  argv.push_back(command.data());
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const std::string what = "exec plugin " + plugin.command;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
    throw InputError("", 0, 0, what, std::string("cannot create pipes: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, command.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    throw InputError("", 0, 0, what,
                     std::string("cannot run it: ") + std::strerror(rc) +
                         (plugin.install_hint.empty() ? "" : "\n" + plugin.install_hint));
  }
  // Read both streams until they close, so a chatty stderr cannot block the plugin.
  std::string out, err;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (auto& f : fds) {
      if (f.fd < 0 || !(f.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      const ssize_t n = read(f.fd, buf, sizeof buf);
      if (n > 0) {
        (&f == &fds[0] ? out : err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(f.fd);
        f.fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                              : "was killed by signal " + std::to_string(WTERMSIG(status));
    throw InputError("", 0, 0, what, how + (err.empty() ? "" : ": " + err));
  }
  json cred;
  try {
    cred = json::parse(out);
  } catch (const json::exception&) {
    throw InputError("", 0, 0, what, "did not print an ExecCredential as JSON");
  }
  if (!cred.is_object() || cred.value("kind", "") != "ExecCredential")
    throw InputError("", 0, 0, what, "printed JSON that is not an ExecCredential");
  if (cred.value("apiVersion", "") != plugin.api_version)
    throw InputError(
        "", 0, 0, what,
        "answered with apiVersion \"" + cred.value("apiVersion", "") + "\", expected \"" + plugin.api_version + "\"");
  const json status_obj = cred.contains("status") && cred["status"].is_object() ? cred["status"] : json::object();
  ExecCredential c;
  c.token = status_obj.value("token", "");
  c.client_cert_pem = status_obj.value("clientCertificateData", "");
  c.client_key_pem = status_obj.value("clientKeyData", "");
  if (c.token.empty() && (c.client_cert_pem.empty() || c.client_key_pem.empty()))
    throw InputError("", 0, 0, what, "returned neither status.token nor clientCertificateData with clientKeyData");
  if (const std::string exp = status_obj.value("expirationTimestamp", ""); !exp.empty()) {
    c.expires = parse_rfc3339(exp);
    if (!c.expires) throw InputError("", 0, 0, what, "status.expirationTimestamp \"" + exp + "\" is not RFC 3339");
  }
  return c;
}

}  // namespace ktwin::live
