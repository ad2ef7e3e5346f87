// The admission webhook port (istiod's 15017): HTTPS with the serving certificate
// of Keel's CA (the API server calls it with the caBundle of the webhook
// configuration), serving POST /inject, the sidecar injector.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "pilot/bootstrap/options.h"
#include "pilot/inject/injection_config.h"
#include "pilot/model/mesh.h"
#include "pkg/http/http_server.h"

namespace keel::pilot::bootstrap {

struct WebhookServerOptions {
  std::string addr;             // HOST:PORT
  std::string cert_chain_path;  // PEM; replaced on disk on renewal (reloaded by pkg/http)
  std::string key_path;
  // The injector's inputs for one request (the mesh config may change between requests).
  std::function<inject::InjectionConfig()> config;
};

// Creates the server with its handlers; the caller starts and stops it.
// Errors: InvalidArgument for a bad address.
absl::StatusOr<http::HttpServerPtr> CreateWebhookServer(const WebhookServerOptions& options);

// The injector's inputs from keel-discovery's flags and the current mesh config
// (trustDomain, defaultConfig, enablePrometheusMerge), as istiod fills its
// injection values from its own environment and MeshConfig.
inject::InjectionConfig InjectionConfigFor(const Options& options, const model::MeshConfig& mesh);

}  // namespace keel::pilot::bootstrap
