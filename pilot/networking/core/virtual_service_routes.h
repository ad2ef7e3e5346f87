// The routes of a VirtualService for an Envoy proxy (sidecar or gateway), as
// Istio's BuildHTTPRoutesForVirtualService makes them: the shared translation
// (http_route_translator.h) completed with what istiod adds for Envoy only:
// decorator, the mesh's default retry policy, max_grpc_timeout, consistent-hash
// policies from DestinationRules, CORS defaults and the "istio" config metadata.
// Proxyless gRPC clients get the shared translation alone. Pure.
#pragma once

#include <optional>
#include <vector>

#include "envoy/config/route/v3/route_components.pb.h"
#include "pilot/model/push_context.h"
#include "pilot/networking/core/http_route_translator.h"

namespace keel::pilot::networking {

// Envoy routes for every applicable HTTPRoute of `vs`, in order, each HTTPRoute
// completed from its own fields; stops after the first catch-all route (routes
// after it could never match).
std::vector<envoy::config::route::v3::Route> BuildVirtualServiceRoutes(const model::VirtualServiceEntry& vs,
                                                                       const RouteContext& ctx);

// Istio's isCatchAllRoute: prefix "/" (or path-separated "/", or regex "*")
// with no header, query or metadata match.
bool IsCatchAllRoute(const envoy::config::route::v3::Route& route);

// Istio retry.DefaultPolicy with the previous_hosts predicate: 2 retries on
// connect failures, refused streams, unavailable, cancelled and 503.
envoy::config::route::v3::RetryPolicy DefaultRetryPolicy();

// The hash policy of a route to `service`:`port` with no VirtualService, from
// the DestinationRule the proxy sees for it (Istio hashForService), if any.
std::optional<envoy::config::route::v3::RouteAction::HashPolicy> ServiceHashPolicy(const model::Service& service,
                                                                                   int port,
                                                                                   const model::Proxy& proxy,
                                                                                   const model::PushContext& push);

}  // namespace keel::pilot::networking
