// The domains a virtual host for a service answers to, as Istio generates them.
#pragma once

#include <string>
#include <vector>

#include "pilot/model/service.h"

namespace keel::pilot::networking {

// For reviews.default.svc.cluster.local:9080 (VIP 10.0.0.1), in this order:
// the FQDN, "reviews", "reviews.default", "reviews.default.svc", the VIP, each
// followed by the same with ":9080". Hosts outside the cluster domain (ServiceEntry)
// get only the host and host:port (and the VIP if any).
std::vector<std::string> DomainAliases(const model::Service& service, int port, const std::string& domain);

}  // namespace keel::pilot::networking
