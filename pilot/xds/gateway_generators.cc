#include "pilot/xds/proxy_generators.h"

namespace keel::pilot::xds {

// TODO(issue 4): gateway listeners, routes and SDS secrets.
std::vector<NamedResource> GenerateGatewayListeners(const model::Proxy&, const model::PushContext&,
                                                    const WatchedResource&) {
  return {};
}
std::vector<NamedResource> GenerateGatewayRoutes(const model::Proxy&, const model::PushContext&,
                                                 const WatchedResource&) {
  return {};
}
std::vector<NamedResource> GenerateSecrets(const model::Proxy&, const model::PushContext&, const WatchedResource&) {
  return {};
}

}  // namespace keel::pilot::xds
