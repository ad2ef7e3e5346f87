// Builds outbound Envoy clusters and their ClusterLoadAssignments from services,
// endpoints and DestinationRules (Istio's cluster builder). Pure.
#pragma once

#include <optional>
#include <string>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "pilot/model/push_context.h"
#include "pilot/networking/core/cluster_name.h"

namespace keel::pilot::networking {

// The Cluster named `name` (outbound|PORT|SUBSET|HOST) as `proxy` sees it, or
// nullopt when the service, port or subset does not exist.
std::optional<envoy::config::cluster::v3::Cluster> BuildOutboundCluster(const ClusterName& name,
                                                                      const model::Proxy& proxy,
                                                                      const model::PushContext& push);

// Every outbound cluster name `proxy` can see: one per service port, plus one per
// DestinationRule subset. Sorted.
std::vector<std::string> AllOutboundClusterNames(const model::Proxy& proxy, const model::PushContext& push);

// The endpoints of cluster `name`, grouped by locality; subset labels filter them.
// Depends on the proxy only through its namespace (which DestinationRule defines
// the subset), so it is cached per push and namespace.
std::optional<envoy::config::endpoint::v3::ClusterLoadAssignment> BuildLoadAssignment(
    const ClusterName& name, const model::Proxy& proxy, const model::PushContext& push);

}  // namespace keel::pilot::networking
