// The HttpConnectionManager istiod puts on sidecar listeners (Istio
// ListenerBuilder.buildHTTPConnectionManager): Istio's peer metadata exchange,
// jwt_authn and RBAC (inbound), gRPC stats, istio.alpn (outbound), fault, cors,
// router (router last).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "envoy/config/listener/v3/listener_components.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"

namespace keel::pilot::networking::sidecar {

struct HcmOptions {
  std::string stat_prefix;
  // Exactly one of: an RDS route name (outbound), or an inline route config (inbound).
  std::string rds;
  std::optional<envoy::config::route::v3::RouteConfiguration> route_config;
  bool inbound = false;  // server-side settings: XFCC, server name "istio-envoy"
  bool http2 = false;    // HTTP2/GRPC port: http2_protocol_options on inbound
  // jwt_authn and RBAC filters (security_filters.h), first in the chain; inbound only.
  std::vector<envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter> authz_filters;
};

// The envoy.filters.network.http_connection_manager filter.
envoy::config::listener::v3::Filter BuildHttpConnectionManager(const HcmOptions& options);

}  // namespace keel::pilot::networking::sidecar
