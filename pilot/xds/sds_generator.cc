#include "pilot/xds/sds_generator.h"

#include "pilot/xds/proxy_generators.h"

namespace keel::pilot::xds {

std::vector<NamedResource> SdsGenerator::Generate(const model::Proxy& proxy, const model::PushContext& push,
                                                  const WatchedResource& watch) const {
  if (proxy.proxyless_grpc) return {};
  return GenerateSecrets(proxy, push, watch);
}

}  // namespace keel::pilot::xds
