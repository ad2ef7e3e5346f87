#include "pilot/xds/proxy_generators.h"

namespace keel::pilot::xds {

// TODO(issue 4): sidecar listeners, routes; Envoy clusters and endpoints.
std::vector<NamedResource> GenerateSidecarListeners(const model::Proxy&, const model::PushContext&,
                                                    const WatchedResource&) {
  return {};
}
std::vector<NamedResource> GenerateSidecarRoutes(const model::Proxy&, const model::PushContext&,
                                                 const WatchedResource&) {
  return {};
}
std::vector<NamedResource> GenerateEnvoyClusters(const model::Proxy&, const model::PushContext&,
                                                 const WatchedResource&) {
  return {};
}
std::vector<NamedResource> GenerateEnvoyEndpoints(const model::Proxy&, const model::PushContext&,
                                                  const WatchedResource&) {
  return {};
}

}  // namespace keel::pilot::xds
