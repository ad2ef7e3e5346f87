#include "pilot/xds/lds_generator.h"

#include "pilot/xds/proxy_generators.h"
#include "pilot/networking/grpcgen/grpc_listener_builder.h"

namespace keel::pilot::xds {

std::vector<NamedResource> LdsGenerator::Generate(const model::Proxy& proxy, const model::PushContext& push,
                                                  const WatchedResource& watch) const {
  if (!proxy.proxyless_grpc) {
    return proxy.type == model::ProxyType::kRouter ? GenerateGatewayListeners(proxy, push, watch)
                                                   : GenerateSidecarListeners(proxy, push, watch);
  }
  std::vector<std::string> names = watch.wildcard ? networking::grpcgen::AllGrpcListenerNames(push)
                                                  : std::vector<std::string>(watch.names.begin(), watch.names.end());
  return GenerateNamed(names, GrpcCacheKey("LDS", proxy, push).ToString(), push, [&](const std::string& name) {
    return networking::grpcgen::BuildGrpcListener(name, proxy, push);
  });
}

}  // namespace keel::pilot::xds
