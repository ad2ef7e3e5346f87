#include "pilot/xds/rds_generator.h"

#include "pilot/xds/proxy_generators.h"
#include "pilot/networking/grpcgen/grpc_listener_builder.h"

namespace keel::pilot::xds {

std::vector<NamedResource> RdsGenerator::Generate(const model::Proxy& proxy, const model::PushContext& push,
                                                  const WatchedResource& watch) const {
  if (!proxy.proxyless_grpc) {
    return proxy.type == model::ProxyType::kRouter ? GenerateGatewayRoutes(proxy, push, watch, cache_)
                                                   : GenerateSidecarRoutes(proxy, push, watch, cache_);
  }
  std::vector<std::string> names(watch.names.begin(), watch.names.end());
  return GenerateCached(cache_, names, GrpcCacheKey("RDS", proxy, push), {}, push, [&](const std::string& name) {
    return networking::grpcgen::BuildGrpcRouteConfiguration(name, proxy, push);
  });
}

}  // namespace keel::pilot::xds
