// Per proxy kind generation behind the per-type generators (lds_generator.cc,
// ...): proxyless gRPC clients (grpcgen), sidecars, and gateways (routers).
// Sidecars and gateways share the outbound clusters and endpoints. CDS, EDS and
// RDS go through `cache` (xds_cache.h; null: per-push only).
#pragma once

#include "pilot/xds/generator.h"

namespace keel::pilot::xds {

// Sidecars (Envoy in istio-proxy): sidecar_generators.cc.
std::vector<NamedResource> GenerateSidecarListeners(const model::Proxy& proxy, const model::PushContext& push,
                                                    const WatchedResource& watch);
std::vector<NamedResource> GenerateSidecarRoutes(const model::Proxy& proxy, const model::PushContext& push,
                                                 const WatchedResource& watch, XdsCache* cache);
// Clusters and endpoints for sidecars and gateways alike.
std::vector<NamedResource> GenerateEnvoyClusters(const model::Proxy& proxy, const model::PushContext& push,
                                                 const WatchedResource& watch, XdsCache* cache);
std::vector<NamedResource> GenerateEnvoyEndpoints(const model::Proxy& proxy, const model::PushContext& push,
                                                  const WatchedResource& watch, XdsCache* cache);

// Gateways (istio-ingressgateway): gateway_generators.cc.
std::vector<NamedResource> GenerateGatewayListeners(const model::Proxy& proxy, const model::PushContext& push,
                                                    const WatchedResource& watch);
std::vector<NamedResource> GenerateGatewayRoutes(const model::Proxy& proxy, const model::PushContext& push,
                                                 const WatchedResource& watch, XdsCache* cache);

}  // namespace keel::pilot::xds
