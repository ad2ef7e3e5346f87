// Sidecar listeners, as Istio's listener builder (pilot/pkg/networking/core
// listener.go, listener_builder.go, listener_inbound.go) makes them for a proxy
// whose traffic iptables redirects:
//  - outbound: "0.0.0.0_PORT" per HTTP service port (HCM, RDS "PORT", behind
//    http_inspector) and "VIP_PORT" per TCP/TLS service port (tcp_proxy, or the
//    VirtualService's tcp/tls routes); unmatched traffic falls to
//    PassthroughFilterChain. None binds a port: virtualOutbound hands them the
//    connections by original destination.
//  - virtualOutbound (15001): original-destination dispatch, catch-all
//    tcp_proxy to PassthroughCluster (mesh default outboundTrafficPolicy ALLOW_ANY),
//    or BlackHoleCluster when the proxy's Sidecar says REGISTRY_ONLY (as the
//    outbound listeners' PassthroughFilterChain).
// Only the services and ports the proxy's Sidecar (push.ScopeFor(proxy).sidecar()) makes
// visible get outbound listeners.
//  - virtualInbound (15006): one set of filter chains per workload port of the
//    proxy's own Services (mTLS and plaintext, PERMISSIVE) into inbound|PORT||,
//    and passthrough chains into InboundPassthroughCluster.
// Pure.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "envoy/config/listener/v3/listener.pb.h"
#include "pilot/model/push_context.h"
#include "pilot/networking/sidecar/proxy_instances.h"

namespace keel::pilot::networking::sidecar {

// Names of the outbound listeners of `proxy`, sorted. Cheap: no filters built.
std::vector<std::string> OutboundListenerNames(const model::Proxy& proxy, const model::PushContext& push);

// Every outbound listener of `proxy`, by name. Unlike the names, this includes
// listeners for headless endpoints at the proxy's own IP, so that a listener's
// content never depends on the proxy's IP (it is cached per namespace).
std::map<std::string, envoy::config::listener::v3::Listener> BuildOutboundListeners(const model::Proxy& proxy,
                                                                                   const model::PushContext& push);

// The catch-all chain goes to PassthroughCluster (ALLOW_ANY, Istio's mesh
// default) or BlackHoleCluster (REGISTRY_ONLY, from the proxy's Sidecar).
envoy::config::listener::v3::Listener BuildVirtualOutboundListener(
    const model::Proxy& proxy, model::OutboundTrafficPolicy policy = model::OutboundTrafficPolicy::kAllowAny);

// One chain set per inbound port: the ports of the Services selecting the proxy
// (`instances`), or the ingress listeners of the proxy's Sidecar when it has any.
envoy::config::listener::v3::Listener BuildVirtualInboundListener(const model::Proxy& proxy,
                                                                  const model::PushContext& push,
                                                                  const std::vector<ProxyInstance>& instances);

}  // namespace keel::pilot::networking::sidecar
