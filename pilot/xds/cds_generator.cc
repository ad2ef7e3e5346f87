#include "pilot/xds/cds_generator.h"

#include "pilot/xds/proxy_generators.h"
#include "pilot/networking/core/cluster_builder.h"

namespace keel::pilot::xds {

std::vector<NamedResource> CdsGenerator::Generate(const model::Proxy& proxy, const model::PushContext& push,
                                                  const WatchedResource& watch) const {
  if (!proxy.proxyless_grpc) return GenerateEnvoyClusters(proxy, push, watch, cache_);
  std::vector<std::string> names = watch.wildcard ? networking::AllOutboundClusterNames(proxy, push)
                                                  : std::vector<std::string>(watch.names.begin(), watch.names.end());
  return GenerateCached(cache_, names, GrpcCacheKey("CDS", proxy, push), {}, push,
                        [&](const std::string& name) -> std::optional<envoy::config::cluster::v3::Cluster> {
                          networking::ClusterName parsed;
                          if (!networking::ClusterName::Parse(name, &parsed)) return std::nullopt;
                          model::DependencyRecorder::EndpointsOf(parsed.host);  // inline endpoints, SANs
                          return networking::BuildOutboundCluster(parsed, proxy, push);
                        });
}

}  // namespace keel::pilot::xds
