#include "pilot/xds/eds_generator.h"

#include "pilot/xds/proxy_generators.h"
#include "pilot/networking/core/cluster_builder.h"

namespace keel::pilot::xds {

std::vector<NamedResource> EdsGenerator::Generate(const model::Proxy& proxy, const model::PushContext& push,
                                                  const WatchedResource& watch) const {
  if (!proxy.proxyless_grpc) return GenerateEnvoyEndpoints(proxy, push, watch, cache_);
  std::vector<std::string> names(watch.names.begin(), watch.names.end());
  return GenerateCached(
      cache_, names, GrpcCacheKey("EDS", proxy, push), {}, push,
      [&](const std::string& name) -> std::optional<envoy::config::endpoint::v3::ClusterLoadAssignment> {
        networking::ClusterName parsed;
        if (!networking::ClusterName::Parse(name, &parsed)) return std::nullopt;
        model::DependencyRecorder::EndpointsOf(parsed.host);
        return networking::BuildLoadAssignment(parsed, proxy, push);
      });
}

}  // namespace keel::pilot::xds
