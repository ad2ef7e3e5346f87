// istiod's app probe rewrite (pkg/kube/inject/app_probe.go): each application
// container's HTTP, TCP and gRPC probes are pointed at the agent's status port
// (/app-health/<container>/readyz|livez|startupz), and what they probed goes to
// the agent in ISTIO_KUBE_APP_PROBERS, named ports resolved to numbers.
#pragma once

#include <string>

#include "pilot/inject/json_value.h"

namespace keel::pilot::inject {

// Rewrites the probes of every container but istio-proxy in `spec` (containers and
// initContainers) and returns the ISTIO_KUBE_APP_PROBERS value ("" when no probe
// was rewritten). Probes already on `status_port` are left alone.
std::string RewriteAppProbes(JsonObject& spec, int status_port);

}  // namespace keel::pilot::inject
