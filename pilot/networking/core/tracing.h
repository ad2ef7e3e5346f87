// Tracing and the request id on every HttpConnectionManager of a sidecar's or
// gateway's listeners, as istiod sets them without a Telemetry resource
// (pilot/pkg/networking/core/tracing.go, the meshConfig fallback of
// configureTracingFromTelemetry): when meshConfig enableTracing (istiod's
// default: true), client and overall sampling 100%, random sampling
// defaultConfig.tracing.sampling (else PILOT_TRACE_SAMPLING's 1%), and Istio's
// span tags (the proxy's canonical service and revision, mesh, cluster and
// namespace, the dry-run authorization results) unless
// defaultConfig.tracing.enableIstioTags is false; and always the UUID request
// id used for trace sampling. Not read: a proxy's own ProxyConfig (PROXY_CONFIG
// metadata, proxy.istio.io/config), defaultConfig.tracing.customTags and the
// tracer itself (the bootstrap's, which pilot-agent renders).
#pragma once

#include <optional>

#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "pilot/model/mesh.h"
#include "pilot/model/proxy.h"

namespace keel::pilot::networking {

// Null when the mesh disables tracing.
std::optional<envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager::Tracing>
MeshTracing(const model::MeshConfig& mesh, const model::Proxy& proxy);

// The UUID request id every HttpConnectionManager gets, also used for trace
// sampling; built once.
const envoy::extensions::filters::network::http_connection_manager::v3::RequestIDExtension& UuidRequestId();

}  // namespace keel::pilot::networking
