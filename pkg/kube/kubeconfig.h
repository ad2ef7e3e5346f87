// Where the API server is and how to authenticate to it: from a kubeconfig file
// (kubectl's format) or from the in-cluster service-account environment.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace keel::kube {

// An exec credential plugin (client.authentication.k8s.io v1 / v1beta1), the way
// EKS users authenticate with aws-iam-authenticator or `aws eks get-token`.
struct ExecConfig {
  std::string api_version;  // client.authentication.k8s.io/v1 or /v1beta1
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  bool provide_cluster_info = false;
};

struct ClusterConfig {
  std::string server;               // https://host:port
  std::string ca_pem;               // empty: system roots
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;

  // Authentication, in kubectl's order of use: client certificate, then token,
  // token file (re-read when it changes), exec plugin.
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string token;
  std::string token_file;
  std::optional<ExecConfig> exec;
};

// Loads `path`, using `context` or the current-context. Relative file paths in
// it resolve against the kubeconfig's directory.
// Errors: NotFound (no file), InvalidArgument naming the bad entry
// ("context \"x\" not found", "user \"u\": client-key-data: bad base64").
absl::StatusOr<ClusterConfig> LoadKubeconfig(const std::string& path, const std::string& context = "");

// The in-cluster configuration: KUBERNETES_SERVICE_HOST/PORT, the mounted
// service-account token (as a token_file, so rotation is picked up) and CA.
// Errors: FailedPrecondition when not running in a cluster.
absl::StatusOr<ClusterConfig> LoadInCluster(const std::string& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace keel::kube
