// The `istio` filter metadata istiod puts on clusters and endpoints for Istio's
// telemetry (istio.stats reads it for the destination labels of
// istio_requests_total; Kiali and the dashboards read those): which services a
// cluster serves, which config made it, which workload an endpoint is.
// Routing and security read none of it.
#pragma once

#include <string>
#include <vector>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "pilot/model/config.h"
#include "pilot/model/service.h"

namespace keel::pilot::networking {

// The path istiod names a config by (util.AddConfigInfoMetadata):
// /apis/<group>/<version>/namespaces/<ns>/<kebab-case kind>/<name>, at the kind's
// preferred version.
std::string ConfigPath(const model::ConfigKey& key);

// istio.config: the config that made a filter chain (util.BuildConfigInfoMetadata:
// a Sidecar's ingress listener, a VirtualService's TCP or TLS route).
void SetIstioConfigMetadata(const model::ConfigKey& key, envoy::config::core::v3::Metadata* metadata);

// What an outbound cluster's metadata says (addTelemetryMetadata and the
// DestinationRule parts of buildCluster / buildSubsetCluster).
struct OutboundClusterMetadata {
  const model::Service* service = nullptr;  // required
  const model::Config* destination_rule = nullptr;
  std::string subset;           // with destination_rule only
  bool tls_originated = false;  // the rule's TLS is SIMPLE or MUTUAL: alpn_override "false"
};
void SetIstioMetadata(const OutboundClusterMetadata& m, envoy::config::cluster::v3::Cluster* c);

// An inbound cluster's: the services of the proxy at that port, each host once,
// and the DestinationRule whose traffic policy applies server-side (null: none).
// Nothing when there are no services (an ingress listener without a service) or
// the first is outside the mesh.
void SetInboundIstioMetadata(const std::vector<const model::Service*>& services,
                             const model::Config* destination_rule, envoy::config::cluster::v3::Cluster* c);

// An endpoint's compressed workload label (util.AppendLbEndpointMetadata):
// "<workload>;<namespace>;<canonical name>;<canonical revision>;<cluster>", the
// canonical name and revision from the workload's labels as Istio derives them
// (the revision empty for the default "latest").
std::string WorkloadMetadata(const model::Endpoint& ep);

}  // namespace keel::pilot::networking
