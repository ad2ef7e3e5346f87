// The injected agent's ProxyConfig, as istiod's template reads and writes it.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keel::pilot::inject {

// The mesh's defaultConfig (JSON) with the pod's proxy.istio.io/config (YAML or
// JSON; "" when absent) applied over it as istiod's mesh.MergeProxyConfig does (the
// fields it sets replace, proxyMetadata entries merge), `discovery_address` when
// neither sets one; then istiod's cleanProxyConfig (fields at Istio's built-in
// defaults dropped), as protobuf JSON in field order. Errors: InvalidArgument
// naming "meshConfig.defaultConfig" or the annotation (a syntax error, a field
// ProxyConfig does not have, a value of the wrong type).
struct MergedProxyConfig {
  std::string json;                                     // PROXY_CONFIG's value
  std::map<std::string, std::string> proxy_metadata;    // env of istio-proxy and istio-init, in key order
  bool hold_application_until_proxy_starts = false;     // holdApplicationUntilProxyStarts
};
absl::StatusOr<MergedProxyConfig> MergeProxyConfig(absl::string_view mesh_default_json, absl::string_view annotation,
                                                   const std::string& discovery_address);

}  // namespace keel::pilot::inject
