// xDS type URLs Keel serves.
#pragma once

#include <string>

namespace keel::pilot::xds {

inline constexpr char kListenerType[] = "type.googleapis.com/envoy.config.listener.v3.Listener";
inline constexpr char kRouteType[] = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
inline constexpr char kClusterType[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
inline constexpr char kEndpointType[] = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
inline constexpr char kSecretType[] = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

// Short names for logs and metrics, as istiod prints them: LDS, RDS, CDS, EDS, SDS.
const char* ShortTypeName(const std::string& type_url);

}  // namespace keel::pilot::xds
