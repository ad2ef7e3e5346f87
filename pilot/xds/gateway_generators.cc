// Gateway (router) generation: istio-ingressgateway and friends. Listeners and
// routes come from the Gateways selecting the proxy, merged per port; clusters
// and endpoints are the shared outbound ones (sidecar_generators.cc); secrets
// (credentialName) are SdsGenerator's.
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "pilot/networking/core/telemetry.h"
#include "pilot/networking/gateway/listener_builder.h"
#include "pilot/networking/gateway/merged_gateway.h"
#include "pilot/networking/gateway/route_builder.h"
#include "pilot/xds/proxy_generators.h"

namespace keel::pilot::xds {
namespace {

namespace gateway = networking::gateway;

// Everything a gateway's listeners and routes depend on besides the push: the
// selected Gateways and port translation follow from the labels and namespace
// (and, for a named targetPort, the pod: folded into the translations), VS
// visibility and sourceNamespace from the namespace, and the wildcard address
// from the IP family. Replicas of one gateway Deployment share one scope.
XdsCacheKey GatewayKey(const char* type, const model::Proxy& proxy, const model::PushContext& push,
                       const gateway::MergedGateway& merged) {
  XdsCacheKey key{type, "gateway", push.ScopeFor(proxy).key(),
                  absl::StrCat(merged.port_translations, "|", proxy.ip.find(':') != std::string::npos ? "v6" : "v4"),
                  ""};
  for (const auto& [k, v] : proxy.labels) absl::StrAppend(&key.variant, "|", k, "=", v);
  return key;
}

}  // namespace

std::vector<NamedResource> GenerateGatewayListeners(const model::Proxy& proxy, const model::PushContext& push,
                                                    const WatchedResource& watch) {
  const gateway::MergedGateway merged = gateway::MergeGateways(proxy, push);
  for (const auto& why : merged.rejected) spdlog::warn("gateway {}: skipping {}", proxy.id, why);
  std::vector<std::string> names = watch.wildcard ? gateway::GatewayListenerNames(merged, proxy)
                                                  : std::vector<std::string>(watch.names.begin(), watch.names.end());
  return GenerateNamed(names, GatewayKey("LDS", proxy, push, merged).ToString(), push, [&](const std::string& name) {
    auto l = gateway::BuildGatewayListener(name, merged, proxy, push);
    if (l) l = networking::WithMeshTelemetry(*push.mesh().config, proxy, *std::move(l));
    return l;
  });
}

std::vector<NamedResource> GenerateGatewayRoutes(const model::Proxy& proxy, const model::PushContext& push,
                                                 const WatchedResource& watch, XdsCache* cache) {
  model::Dependencies merged_deps;  // the Gateways, Services and Pod the merge read: every route depends on them
  std::optional<gateway::MergedGateway> merged;
  {
    model::DependencyRecorder recorder(&merged_deps);
    merged = gateway::MergeGateways(proxy, push);
  }
  std::vector<std::string> names(watch.names.begin(), watch.names.end());
  return GenerateCached(cache, names, GatewayKey("RDS", proxy, push, *merged), merged_deps, push, [&](const std::string& name) {
    return std::optional(gateway::BuildGatewayRouteConfiguration(name, *merged, proxy, push));
  });
}

}  // namespace keel::pilot::xds
