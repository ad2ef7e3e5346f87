#include "pkg/kube/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace keel::kube {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string Str(const YAML::Node& node, const char* key) {
  const YAML::Node v = node[key];
  return v && v.IsScalar() ? v.as<std::string>() : std::string();
}

// "x-data" (base64) wins over "x" (a path, relative to `base`). Empty if neither.
absl::StatusOr<std::string> DataOrFile(const YAML::Node& node, const std::string& key, const fs::path& base,
                                       const std::string& where) {
  std::string data = Str(node, (key + "-data").c_str());
  if (!data.empty()) {
    std::string decoded;
    if (!absl::Base64Unescape(data, &decoded)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", key, "-data: bad base64"));
    }
    return decoded;
  }
  std::string file = Str(node, key.c_str());
  if (file.empty()) return std::string();
  fs::path p(file);
  if (p.is_relative()) p = base / p;
  auto content = ReadFile(p.string());
  if (!content.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", key, ": ", content.status().message()));
  return content;
}

YAML::Node FindNamed(const YAML::Node& list, const std::string& name) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const auto& item : list) {
    if (Str(item, "name") == name) return item;
  }
  return YAML::Node();
}

absl::StatusOr<ClusterConfig> Parse(const YAML::Node& root, const std::string& context_name, const fs::path& base) {
  std::string ctx_name = context_name.empty() ? Str(root, "current-context") : context_name;
  if (ctx_name.empty()) return absl::InvalidArgumentError("no context given and no current-context set");
  YAML::Node ctx = FindNamed(root["contexts"], ctx_name);
  if (!ctx) return absl::InvalidArgumentError(absl::StrCat("context \"", ctx_name, "\" not found"));
  const std::string cluster_name = Str(ctx["context"], "cluster");
  const std::string user_name = Str(ctx["context"], "user");
  YAML::Node cluster = FindNamed(root["clusters"], cluster_name)["cluster"];
  if (!cluster) return absl::InvalidArgumentError(absl::StrCat("cluster \"", cluster_name, "\" not found"));

  ClusterConfig out;
  out.server = Str(cluster, "server");
  if (out.server.empty()) return absl::InvalidArgumentError(absl::StrCat("cluster \"", cluster_name, "\": server is empty"));
  out.insecure_skip_tls_verify = Str(cluster, "insecure-skip-tls-verify") == "true";
  out.tls_server_name = Str(cluster, "tls-server-name");
  auto ca = DataOrFile(cluster, "certificate-authority", base, absl::StrCat("cluster \"", cluster_name, "\""));
  if (!ca.ok()) return ca.status();
  out.ca_pem = *ca;

  if (user_name.empty()) return out;
  YAML::Node user = FindNamed(root["users"], user_name)["user"];
  if (!user) return absl::InvalidArgumentError(absl::StrCat("user \"", user_name, "\" not found"));
  const std::string where = absl::StrCat("user \"", user_name, "\"");
  auto cert = DataOrFile(user, "client-certificate", base, where);
  if (!cert.ok()) return cert.status();
  auto key = DataOrFile(user, "client-key", base, where);
  if (!key.ok()) return key.status();
  out.client_cert_pem = *cert;
  out.client_key_pem = *key;
  out.token = Str(user, "token");
  std::string token_file = Str(user, "tokenFile");
  if (!token_file.empty()) out.token_file = fs::path(token_file).is_relative() ? (base / token_file).string() : token_file;
  if (YAML::Node exec = user["exec"]; exec && exec.IsMap()) {
    ExecConfig e;
    e.api_version = Str(exec, "apiVersion");
    e.command = Str(exec, "command");
    if (e.command.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": exec.command is empty"));
    if (e.api_version != "client.authentication.k8s.io/v1" && e.api_version != "client.authentication.k8s.io/v1beta1") {
      return absl::InvalidArgumentError(absl::StrCat(where, ": exec.apiVersion \"", e.api_version,
                                                     "\" is not client.authentication.k8s.io/v1 or v1beta1"));
    }
    if (e.command.find('/') != std::string::npos && fs::path(e.command).is_relative()) {
      e.command = (base / e.command).string();
    }
    for (const auto& a : exec["args"]) e.args.push_back(a.as<std::string>());
    for (const auto& kv : exec["env"]) e.env[Str(kv, "name")] = Str(kv, "value");
    e.provide_cluster_info = Str(exec, "provideClusterInfo") == "true";
    out.exec = std::move(e);
  }
  return out;
}

}  // namespace

absl::StatusOr<ClusterConfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  auto content = ReadFile(path);
  if (!content.ok()) return content.status();
  try {
    YAML::Node root = YAML::Load(*content);
    auto parsed = Parse(root, context, fs::absolute(path).parent_path());
    if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", path, ": ", parsed.status().message()));
    return parsed;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", path, ": ", e.what()));
  }
}

absl::StatusOr<ClusterConfig> LoadInCluster(const std::string& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !port || !*host || !*port) {
    return absl::FailedPreconditionError("not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set");
  }
  ClusterConfig out;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = absl::StrCat("[", h, "]");  // IPv6
  out.server = absl::StrCat("https://", h, ":", port);
  auto ca = ReadFile(sa_dir + "/ca.crt");
  if (!ca.ok()) return absl::FailedPreconditionError(absl::StrCat("in-cluster CA: ", ca.status().message()));
  out.ca_pem = *ca;
  out.token_file = sa_dir + "/token";
  return out;
}

}  // namespace keel::kube
