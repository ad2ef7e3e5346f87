// Gateway RDS (Istio's buildGatewayHTTPRouteConfig): the virtual hosts of the
// servers behind one route name, from the VirtualServices bound to their
// gateways. Pure.
#pragma once

#include <string>

#include "envoy/config/route/v3/route.pb.h"
#include "pilot/networking/gateway/merged_gateway.h"

namespace keel::pilot::networking::gateway {

// The RouteConfiguration `name` ("http.8080", "https.443.https.gw.ns"). Always
// one, as istiod: a name no server uses (a listener draining after its Gateway
// went away) gets no virtual hosts; servers no VirtualService matches get the
// "blackhole:<port>" virtual host, which answers 404.
//
// A virtual host per host shared by a server and a VirtualService (the more
// specific of the two), named "<host>:<server port>", with domains [host] (ports
// are ignored in host matching); the routes of every VirtualService for the same
// host are merged in VirtualService order, catch-all routes last. A server with
// tls.httpsRedirect makes its virtual hosts require TLS (301 to https), also for
// hosts no VirtualService routes.
envoy::config::route::v3::RouteConfiguration BuildGatewayRouteConfiguration(const std::string& name,
                                                                          const MergedGateway& merged,
                                                                          const model::Proxy& proxy,
                                                                          const model::PushContext& push);

}  // namespace keel::pilot::networking::gateway
