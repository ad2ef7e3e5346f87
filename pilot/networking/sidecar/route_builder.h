// Sidecar route configurations, as Istio's httproute.go and route/route.go build
// them: RDS "PORT" for the outbound 0.0.0.0_PORT listener (one virtual host per
// HTTP or sniffed service on that port the proxy's Sidecar makes visible, plus the
// "allow_any" passthrough, or "block_all" (502) under REGISTRY_ONLY), and the inline
// inbound route configuration of the virtualInbound HTTP chains. Pure.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "envoy/config/route/v3/route.pb.h"
#include "pilot/model/push_context.h"

namespace keel::pilot::networking::sidecar {

// RouteConfiguration `name` for a sidecar. `name` is an outbound listener port
// ("9080": every HTTP or sniffed service on it), or "HOST:PORT", the route of a
// sniffed service's own listener (its virtual host alone, for any Host); any
// other name gets an empty configuration (as istiod answers unknown route
// names), so the proxy does not wait for it.
envoy::config::route::v3::RouteConfiguration BuildSidecarRouteConfiguration(const std::string& name,
                                                                           const model::Proxy& proxy,
                                                                           const model::PushContext& push);

// The virtual host "HOST:PORT" of `service` on `port` (Istio
// BuildSidecarOutboundVirtualHosts for one service): the mesh-bound VirtualService's
// routes, or the default route; domains from SidecarVirtualHostDomains, each with
// ":PORT" too for a proxyless client, skipping those already in `seen_domains`
// (lower-cased; added to it). nullopt if every domain was taken.
std::optional<envoy::config::route::v3::VirtualHost> BuildSidecarVirtualHost(const model::Service& service, int port,
                                                                            const model::Proxy& proxy,
                                                                            const model::PushContext& push,
                                                                            std::set<std::string>* seen_domains);

// The domains of a service's virtual host for a sidecar (Istio
// generateVirtualHostDomains with ignore_port_in_host_matching): the FQDN, the
// short names Kubernetes DNS resolves from the proxy's namespace, the VIP; for a
// headless Kubernetes service also "*." of each.
std::vector<std::string> SidecarVirtualHostDomains(const model::Service& service, const model::Proxy& proxy);

// The inline route configuration of an inbound HTTP chain: "inbound|PORT||" (or
// InboundPassthroughCluster for the passthrough chains), one "*" virtual host
// "inbound|http|SERVICE_PORT" with a default route to `cluster`, retried twice on
// reset-before-request unless `grpc`.
envoy::config::route::v3::RouteConfiguration BuildInboundRouteConfiguration(const std::string& cluster,
                                                                           const std::string& hostname,
                                                                           int service_port, bool grpc);

}  // namespace keel::pilot::networking::sidecar
