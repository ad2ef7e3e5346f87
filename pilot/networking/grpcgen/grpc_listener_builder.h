// Listeners and route configurations for proxyless gRPC clients, as Istio's grpc
// generator (pilot/pkg/networking/grpcgen) builds them. Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "pilot/model/push_context.h"

namespace keel::pilot::networking::grpcgen {

// The service and port a dialled target "HOST:PORT" names, with HOST expanded as
// Kubernetes DNS would from the proxy's namespace. nullopt if no such service port.
struct GrpcTarget {
  const model::Service* service = nullptr;
  int port = 0;
  std::string RouteName() const;  // "outbound|PORT||FQDN", as istiod names it
};
std::optional<GrpcTarget> ResolveTarget(const std::string& listener_name, const model::Proxy& proxy,
                                        const model::PushContext& push);

// Listener `name` (the dialled target) at the service's VIP and port, with an
// api_listener HttpConnectionManager: RDS over ADS for route "outbound|PORT||FQDN",
// fault filter, router filter last.
std::optional<envoy::config::listener::v3::Listener> BuildGrpcListener(const std::string& name,
                                                                     const model::Proxy& proxy,
                                                                     const model::PushContext& push);

// Every listener name a wildcard LDS request gets: "FQDN:PORT" per service port.
std::vector<std::string> AllGrpcListenerNames(const model::PushContext& push);

// RouteConfiguration `name` ("outbound|PORT||FQDN"): the one virtual host a sidecar
// has for that service and port (sidecar::BuildSidecarVirtualHost, with ":PORT"
// domains), as istiod's grpcgen filters it. nullopt for any other name.
std::optional<envoy::config::route::v3::RouteConfiguration> BuildGrpcRouteConfiguration(
    const std::string& name, const model::Proxy& proxy, const model::PushContext& push);

}  // namespace keel::pilot::networking::grpcgen
