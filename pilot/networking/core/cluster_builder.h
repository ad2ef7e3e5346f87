// Builds outbound Envoy clusters and their ClusterLoadAssignments from services,
// endpoints and DestinationRules (Istio's cluster builder). Pure.
#pragma once

#include <optional>
#include <string>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "networking/v1alpha3/destination_rule.pb.h"
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
// Each carries istiod's endpoint metadata (AppendLbEndpointMetadata): the
// workload's tlsMode under envoy.transport_socket_match (what the cluster's
// transport_socket_matches select on for auto mTLS) unless "disabled", and
// istio.workload "<workload>;<namespace>;<canonical name>;<canonical revision>;<cluster>"
// for Istio's telemetry. Proxyless clients get the same (gRPC reads neither).
// Depends on the proxy only through its namespace (which DestinationRule defines
// the subset), so it is cached per push and namespace.
std::optional<envoy::config::endpoint::v3::ClusterLoadAssignment> BuildLoadAssignment(
    const ClusterName& name, const model::Proxy& proxy, const model::PushContext& push);

// The DestinationRule subset named `subset`, or null (also when `dr` is null).
// Istio's outlier detection for every proxy kind: each consecutive-error detector
// enforced exactly when its count is above 0, success-rate ejection off, interval,
// base ejection time and max ejection percent as given. Sidecars add the
// local-origin and panic-threshold settings on top (sidecar/envoy_cluster_builder.cc).
void ApplyOutlierDetection(const istio::networking::v1alpha3::OutlierDetection& od,
                           envoy::config::cluster::v3::Cluster* c);

const istio::networking::v1alpha3::Subset* FindSubset(const model::DestinationRuleEntry* dr,
                                                      const std::string& subset);

// The traffic policy for (port, subset), as Istio's MergeTrafficPolicy: a subset
// policy's fields override the top-level ones; within each, a matching
// port-level entry replaces the destination-level settings whole.
istio::networking::v1alpha3::TrafficPolicy EffectiveTrafficPolicy(const model::DestinationRuleEntry* dr,
                                                                  const istio::networking::v1alpha3::Subset* subset,
                                                                  int port);

}  // namespace keel::pilot::networking
