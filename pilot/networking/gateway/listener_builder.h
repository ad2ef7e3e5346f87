// Gateway listeners (Istio's buildGatewayListeners): one listener per address
// and port the merged servers listen on, one filter chain per server (or one
// for all plain-text HTTP servers of a port). Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "envoy/config/listener/v3/listener.pb.h"
#include "pilot/networking/gateway/merged_gateway.h"
#include "pilot/networking/core/well_known_names.h"

namespace keel::pilot::networking::gateway {

// The names of the listeners `merged` may yield, sorted ("0.0.0.0_8080", ...).
// A name builds to nothing when none of its servers has a filter chain (a TCP
// or TLS passthrough server no VirtualService routes).
std::vector<std::string> GatewayListenerNames(const MergedGateway& merged, const model::Proxy& proxy);

// The listener named `name`, or nullopt when there is none (or it would have no
// filter chain, which Envoy rejects).
std::optional<envoy::config::listener::v3::Listener> BuildGatewayListener(const std::string& name,
                                                                        const MergedGateway& merged,
                                                                        const model::Proxy& proxy,
                                                                        const model::PushContext& push);

}  // namespace keel::pilot::networking::gateway
