// The proxy's own service instances (Istio's Proxy.ServiceTargets): which
// Services select the proxy's workload, and on which workload port each service
// port lands. They drive the inbound listener chains and inbound clusters.
#pragma once

#include <string>
#include <vector>

#include "pilot/model/push_context.h"

namespace keel::pilot::networking::sidecar {

struct ProxyInstance {
  const model::Service* service = nullptr;
  model::ServicePort port;  // the service port
  int target_port = 0;      // the workload port it targets
};

// Kubernetes Services in the proxy's namespace whose (non-empty) selector matches
// the proxy's labels, one entry per service port whose target port resolves:
// the port of the service endpoint at the proxy's IP if there is one, else the
// Service's targetPort (a number, or a name looked up in the proxy's Pod), else
// the service port. Ordered by target port, then by service (push order).
std::vector<ProxyInstance> ProxyServiceInstances(const model::Proxy& proxy, const model::PushContext& push);

// A string that changes whenever ProxyServiceInstances would (for cache scopes).
std::string InstancesKey(const std::vector<ProxyInstance>& instances);

}  // namespace keel::pilot::networking::sidecar
