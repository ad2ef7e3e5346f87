// Translates a VirtualService's HTTP routes into Envoy routes, as Istio's
// route translation does (pilot/pkg/networking/core/route in Istio). Pure: no
// I/O, no clock; the same inputs give the same protos.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "envoy/config/route/v3/route_components.pb.h"
#include "pilot/model/push_context.h"
#include "pilot/networking/core/well_known_names.h"

namespace keel::pilot::networking {

// Who the routes are for: decides which matches apply and how actions are shaped.
struct RouteContext {
  const model::PushContext* push = nullptr;
  const model::Proxy* proxy = nullptr;
  int listener_port = 0;          // the port the routes serve (for match.port and default ports)
  std::string gateway = "mesh";   // "mesh" or "ns/name" of the gateway being served
};

// Envoy routes for every applicable HTTPRoute of `vs`, in order.
std::vector<envoy::config::route::v3::Route> TranslateHttpRoutes(const model::VirtualServiceEntry& vs,
                                                                 const RouteContext& ctx);

// A gateway reference from a VirtualService in `ns`, as Istio resolves it:
// "mesh" and "ns/name" as written, a bare name relative to `ns`.
std::string ResolveGatewayName(absl::string_view gateway, absl::string_view ns);

// Istio's HTTP filter names, used as keys of typed_per_filter_config.

}  // namespace keel::pilot::networking
