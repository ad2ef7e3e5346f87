// xDS type URLs Keel serves.
#pragma once

#include <string>

namespace keel::pilot::xds {

inline constexpr char kListenerType[] = "type.googleapis.com/envoy.config.listener.v3.Listener";
inline constexpr char kRouteType[] = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
inline constexpr char kClusterType[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
inline constexpr char kEndpointType[] = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
inline constexpr char kSecretType[] = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";
// istioctl's debug types (pilot/debug/xds_debug_types.h serves them).
inline constexpr char kDebugSynczType[] = "istio.io/debug/syncz";
inline constexpr char kDebugConfigDumpType[] = "istio.io/debug/config_dump";

// Whether a request of `type_url` without names subscribes to everything
// (xDS's wildcard: LDS and CDS; istiod's syncz likewise lists every proxy).
bool IsWildcardType(const std::string& type_url);

// Short names for logs and metrics, as istiod prints them: LDS, RDS, CDS, EDS, SDS.
const char* ShortTypeName(const std::string& type_url);

}  // namespace keel::pilot::xds
