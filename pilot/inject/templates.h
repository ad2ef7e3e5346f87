// Istio's injection templates (the istio-discovery chart's files/*.yaml), rendered
// in C++: what one template adds to a pod before istiod's merge and post-processing
// (sidecar_injector.cc). Two are known:
//   sidecar  injection-template.yaml: istio-init + istio-proxy `proxy sidecar`
//   gateway  gateway-injection-template.yaml: istio-proxy `proxy router` only, for a
//            gateway Deployment (Istio's gateway chart: inject.istio.io/templates:
//            gateway, a container istio-proxy with image "auto")
//   grpc-agent  grpc-agent.yaml: for proxyless gRPC pods, istio-proxy running the agent
//            without Envoy (DISABLE_ENVOY, ISTIO_META_GENERATOR=grpc), which writes the
//            gRPC bootstrap each app container is pointed at
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pilot/inject/injection_config.h"
#include "pilot/inject/json_value.h"
#include "pilot/inject/proxy_config.h"
#include "pilot/inject/sidecar_injector.h"

namespace keel::pilot::inject {

using Strings = std::map<std::string, std::string>;

// The template language's functions Keel's templates use.
// `annotation .ObjectMeta NAME DEFAULT`
std::string Annotation(const Strings& annotations, const std::string& name, const std::string& fallback);
// `index MAP KEY | default ...`: the first non-empty
std::string FirstNonEmpty(std::initializer_list<std::string> candidates);
// `index MAP KEY`: "" when absent
std::string Get(const Strings& map, const std::string& key);
// An env entry {name, value}; an empty value is left out, as Go's omitempty does.
JsonValue Env(const std::string& name, const std::string& value);

// What a template reads of the pod and of istiod's parameters, already validated.
struct TemplateInput {
  std::string ns;
  Strings labels, annotations;
  const JsonObject* spec = nullptr;          // the pod's spec, before injection
  DeployMeta deploy;                         // the pod's controller, as istiod guesses it
  std::vector<std::string> app_containers;   // every container but istio-proxy, in order
  std::string istiod;                        // istiod[-rev].<ns>.svc:15012
  MergedProxyConfig proxy_config;
  std::string interception;                  // REDIRECT
  int agent_status_port = 15020;
  int readiness_initial_delay = 0, readiness_period = 15, readiness_failure = 4;  // the annotations' or values'
};

// What a template renders: the pod fragment istiod merges into the pod.
struct RenderedTemplate {
  std::optional<JsonObject> init_container;  // istio-init (sidecar)
  JsonObject proxy;                          // istio-proxy, without its env
  JsonList env;                              // istio-proxy's env
  JsonList volumes;
  std::optional<JsonValue> pod_sysctls;      // spec.securityContext.sysctls (gateway)
  bool tls_mode_label = false;               // security.istio.io/tlsMode: istio (sidecar)
  // Merged into the app containers of the same names (grpc-agent: env and mounts).
  std::vector<JsonObject> app_container_patches;
  Strings annotations;                       // set over the pod's (grpc-agent: no probe rewrite)
};

RenderedTemplate RenderSidecarTemplate(const TemplateInput& in, const InjectionConfig& config);
RenderedTemplate RenderGatewayTemplate(const TemplateInput& in, const InjectionConfig& config);
RenderedTemplate RenderGrpcAgentTemplate(const TemplateInput& in, const InjectionConfig& config);

}  // namespace keel::pilot::inject
