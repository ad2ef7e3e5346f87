// Translates a VirtualService's TCP routes into the filter chains of an Envoy
// TCP listener, as Istio does for sidecars (pilot/pkg/networking/core tls.go
// buildSidecarOutboundTCPFilterChainOpts, networkfilter.go
// buildOutboundNetworkFilters): each applicable route becomes a tcp_proxy to one
// cluster or to weighted clusters, guarded by its destination subnets.
// Pure: no I/O, no clock.
#pragma once

#include <string>
#include <vector>

#include <google/protobuf/repeated_field.h>

#include "absl/strings/string_view.h"
#include "envoy/config/listener/v3/listener_components.pb.h"
#include "pilot/networking/core/http_route_translator.h"

namespace istio::networking::v1alpha3 {
class RouteDestination;
}  // namespace istio::networking::v1alpha3

namespace keel::pilot::networking {

// One filter chain of a TCP listener.
struct TcpRouteChain {
  // filter_chain_match.prefix_ranges (CIDRs or IPs); empty matches any destination.
  std::vector<std::string> destination_cidrs;
  // The network filters, the terminal tcp_proxy last (preceded by
  // envoy.filters.network.mongo_proxy on MONGO ports, as istiod does).
  std::vector<envoy::config::listener::v3::Filter> filters;
};

// The chains for the TCP routes of `vs` on a listener for a service whose own
// destinations are `service_cidrs` (empty for a service with a plain VIP, whose
// listener already binds it). Routes are taken in order; a match applies when its
// port (if set) is ctx.listener_port, its gateways (if any) include ctx.gateway,
// and its sourceLabels / sourceNamespace match the proxy. A route without matches
// or with an applicable match without destinationSubnets is a catch-all: it ends
// the list and sets `*catch_all`. Matches that only name destinationSubnets are
// collected into one chain for that route.
std::vector<TcpRouteChain> TranslateTcpRoutes(const model::VirtualServiceEntry& vs, const RouteContext& ctx,
                                              absl::string_view protocol,
                                              const std::vector<std::string>& service_cidrs, bool* catch_all);

// The network filters sending to `routes` (Istio buildOutboundNetworkFilters):
// one destination: tcp_proxy to its cluster, stat prefix the cluster name;
// several: weighted_clusters (zero weights dropped), stat prefix
// "<vs name>.<vs namespace>". A destination without a port uses the service's
// only port, else ctx.listener_port. idle_timeout, max connection duration and
// a source-IP hash policy come from the DestinationRule of the first destination.
std::vector<envoy::config::listener::v3::Filter> TcpRouteFilters(
    const google::protobuf::RepeatedPtrField<istio::networking::v1alpha3::RouteDestination>& routes,
    const model::VirtualServiceEntry& vs, const RouteContext& ctx, absl::string_view protocol);

// The network filters for traffic to `host` on ctx.listener_port without a
// VirtualService: tcp_proxy to outbound|PORT||HOST (PORT: the service's only
// port, else the listener port).
std::vector<envoy::config::listener::v3::Filter> DefaultTcpFilters(const std::string& host, const RouteContext& ctx,
                                                                   absl::string_view protocol);

}  // namespace keel::pilot::networking
