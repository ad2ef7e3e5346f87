// meshConfig accessLogFile -> Envoy's file access log, as istiod builds it
// without a Telemetry resource (pilot/pkg/model/telemetry_logging.go
// FileAccessLogFromMeshConfig, and the access log builder's setHTTPAccessLog /
// setTCPAccessLog): `envoy.access_loggers.file` writing to the path, in
// accessLogEncoding TEXT (accessLogFormat, a newline added; empty: istiod's
// default format) or JSON (accessLogFormat as a JSON object of labels; empty or
// unparsable: istiod's default labels), on every HttpConnectionManager and
// tcp_proxy of a sidecar's or gateway's listeners. Not emitted: istiod's
// listener-level log of connections matching no filter chain (NR), and the
// formatters extensions (%REQ_WITHOUT_QUERY%, %CEL%) a custom format may need.
#pragma once

#include <optional>

#include "envoy/config/accesslog/v3/accesslog.pb.h"
#include "pilot/model/mesh.h"

namespace keel::pilot::networking {

// Null when the mesh sets no accessLogFile.
std::optional<envoy::config::accesslog::v3::AccessLog> MeshAccessLog(const model::MeshConfig& mesh);

}  // namespace keel::pilot::networking
