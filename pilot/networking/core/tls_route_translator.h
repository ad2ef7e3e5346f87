// Translates a VirtualService's TLS routes (SNI-based, TLS not terminated) into
// Envoy filter chains, as Istio does for gateways' PASSTHROUGH servers
// (pilot/pkg/networking/core gateway.go buildGatewayNetworkFiltersFromTLSRoutes);
// the network filters themselves come from tcp_route_translator.h. Pure.
#pragma once

#include <string>
#include <vector>

#include "envoy/config/listener/v3/listener_components.pb.h"
#include "pilot/networking/core/http_route_translator.h"

namespace istio::networking::v1alpha3 {
class TLSMatchAttributes;
class L4MatchAttributes;
}  // namespace istio::networking::v1alpha3

namespace keel::pilot::networking {

// One filter chain from one TLS route match: connections whose SNI is one of
// `sni_hosts` (as written in the match) go through `filters`.
struct TlsRouteChain {
  std::vector<std::string> sni_hosts;
  std::vector<std::string> destination_subnets;
  std::vector<envoy::config::listener::v3::Filter> filters;  // tcp_proxy (TcpRouteFilters)
  std::string origin;  // "ns/name tls[i].match[j]", for diagnostics
};

// Whether an L4 match applies to `ctx`: its port (if set) is ctx.listener_port
// and its gateways (if any; short names are in `vs_ns`) include ctx.gateway. For
// sidecars (ctx.gateway "mesh") sourceLabels and sourceNamespace must match the
// proxy too; Istio ignores them on gateways.
bool L4MatchApplies(const istio::networking::v1alpha3::L4MatchAttributes& match, absl::string_view vs_ns,
                    const RouteContext& ctx);
bool TlsMatchApplies(const istio::networking::v1alpha3::TLSMatchAttributes& match, absl::string_view vs_ns,
                     const RouteContext& ctx);

// One chain per applicable match of every TLS route of `vs` that has
// destinations, in order. `protocol` is the listener port's ("TLS", "HTTPS").
std::vector<TlsRouteChain> TranslateTlsRoutes(const model::VirtualServiceEntry& vs, const RouteContext& ctx,
                                              absl::string_view protocol);

}  // namespace keel::pilot::networking
