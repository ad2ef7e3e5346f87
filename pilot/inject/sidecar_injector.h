// The sidecar injector: what istiod's webhook (pkg/kube/inject) does to a Pod,
// for Istio's `sidecar` and `gateway` templates with the proxyv2 image (templates.h;
// no CNI, REDIRECT interception, no native sidecars): the policy check, then the
// template's containers, volumes, labels and annotations merged into the pod, then istiod's
// post-processing (probe rewrite to the agent's status port, Prometheus merge,
// status annotation, container order). A pure function of (pod, config).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "pilot/inject/injection_config.h"
#include "pilot/inject/json_value.h"
#include "pkg/kube/deploy_meta.h"

namespace keel::pilot::inject {

struct InjectionOutcome {
  bool injected = false;
  std::string skip_reason;  // why not, when not injected ("hostNetwork", "sidecar.istio.io/inject=false", ...)
  JsonObject pod;           // the injected pod, when injected
};

// `request_namespace` is the AdmissionRequest's namespace (a pod created by a
// controller arrives without metadata.namespace and often without a name).
// Errors: InvalidArgument naming the pod and the field that is malformed (an
// annotation istiod validates, a spec that is not an object) or a template in
// inject.istio.io/templates other than sidecar and gateway.
absl::StatusOr<InjectionOutcome> InjectSidecar(const JsonObject& pod, const std::string& request_namespace,
                                               const InjectionConfig& config);

// The Deployment (or other controller) a pod belongs to, as istiod guesses it
// from the controller reference (kube.GetDeployMetaFromPod).
using kube::DeployMeta;
DeployMeta DeployMetaFromPod(const JsonObject& metadata);

}  // namespace keel::pilot::inject
