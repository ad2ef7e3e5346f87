// What istiod's telemetry puts on a sidecar's or gateway's listeners from the
// mesh config alone (no Telemetry resources): the access log (access_log.h),
// tracing and the request id (tracing.h), and Istio's standard metrics: the
// istio.stats filters (istio_filters.h) when meshConfig defaultProviders.metrics
// names a Prometheus provider (Istio's chart sets `prometheus`, istiod's built-in
// provider of that name; DefaultMeshConfig names none). The Telemetry API is not
// read.
#pragma once

#include "envoy/config/listener/v3/listener.pb.h"
#include "pilot/model/mesh.h"
#include "pilot/model/proxy.h"

namespace keel::pilot::networking {

// True when defaultProviders.metrics names a Prometheus provider: one of
// extensionProviders by that name, or istiod's built-in "prometheus".
bool MeshPrometheusMetrics(const model::MeshConfig& mesh);

// `listener` with, in one pass over its chains: on each HttpConnectionManager the
// access log, tracing, the request id and (metrics) istio.stats before the router;
// on each TCP chain the access log on tcp_proxy and (metrics) istio.stats before
// the chain's proxy filters. The listener's class (sidecar inbound, outbound,
// gateway) is the proxy's type and the listener's traffic direction.
envoy::config::listener::v3::Listener WithMeshTelemetry(const model::MeshConfig& mesh, const model::Proxy& proxy,
                                                        envoy::config::listener::v3::Listener listener);

}  // namespace keel::pilot::networking
