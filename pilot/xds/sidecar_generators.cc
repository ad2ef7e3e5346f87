// Sidecar (Envoy in istio-proxy) generation, and the clusters and endpoints of
// every Envoy proxy (sidecars and routers). The builders live in
// pilot/networking/sidecar; this file picks the names a request covers and the
// cache scope each resource is shared under.
#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "pilot/networking/core/telemetry.h"
#include "pilot/networking/core/cluster_builder.h"
#include "pilot/networking/sidecar/common.h"
#include "pilot/networking/sidecar/envoy_cluster_builder.h"
#include "pilot/networking/sidecar/listener_builder.h"
#include "pilot/networking/sidecar/proxy_instances.h"
#include "pilot/networking/sidecar/route_builder.h"
#include "pilot/xds/proxy_generators.h"

namespace keel::pilot::xds {
namespace {

namespace sidecar = networking::sidecar;

std::string IpFamily(const model::Proxy& proxy) { return proxy.ip.find(':') != std::string::npos ? "v6" : "v4"; }

// The proxy's labels, for the keys of what its labels can change.
std::string AllLabels(const model::Proxy& proxy) {
  std::string out;
  for (const auto& [k, v] : proxy.labels) absl::StrAppend(&out, "|", k, "=", v);
  return out;
}
// Routes and outbound listeners: only where a visible VirtualService matches on sourceLabels.
std::string Labels(const model::Proxy& proxy, const model::PushContext& push) {
  return push.ScopeFor(proxy).matches_source_labels() ? AllLabels(proxy) : "";
}

// The proxy's ScopeKey: its namespace and the Sidecar selecting it (identity
// and version), so proxies with different Sidecars never share a resource.
model::ScopeKey ScopeOf(const model::Proxy& proxy, const model::PushContext& push) {
  return push.ScopeFor(proxy).key();
}

// Cache keys and scopes: everything a resource depends on besides its name and
// the configs it reads (which the XdsCache records as it is built).
//  - outbound listeners: the scope (VirtualService / DestinationRule
//    visibility, the Sidecar's services and policy), labels (only where
//    sourceLabels matches make them matter), IP family (wildcard address);
std::string OutboundListenerScope(const model::Proxy& proxy, const model::PushContext& push) {
  return absl::StrCat("LDS|sidecar|", ScopeOf(proxy, push).ToString(), "|", IpFamily(proxy), Labels(proxy, push));
}
//  - virtualOutbound: IP family, the outbound traffic policy;
std::string VirtualOutboundScope(const model::Proxy& proxy, model::OutboundTrafficPolicy policy) {
  return absl::StrCat("LDS|static|", IpFamily(proxy),
                      policy == model::OutboundTrafficPolicy::kRegistryOnly ? "|registry-only" : "");
}
//  - virtualInbound and inbound clusters: the proxy's own workload (its id names
//    pod and IP; its labels select PeerAuthentications and AuthorizationPolicies),
//    the services that select it, the scope (the Sidecar's ingress listeners);
std::string InboundScope(const char* type, const model::Proxy& proxy, const model::PushContext& push,
                         const std::vector<sidecar::ProxyInstance>& instances) {
  return absl::StrCat(type, "|sidecar-inbound|", proxy.id, "|", ScopeOf(proxy, push).ToString(), "|",
                      sidecar::InstancesKey(instances), AllLabels(proxy));
}
//  - routes: the scope, the DNS domain (short host names), labels (as listeners);
XdsCacheKey RouteKey(const model::Proxy& proxy, const model::PushContext& push) {
  return {"RDS", "sidecar", ScopeOf(proxy, push), absl::StrCat(proxy.dns_domain, Labels(proxy, push)), ""};
}
//  - outbound clusters and endpoints read the proxy's scope only through the
//    DestinationRule it selects for the cluster's host (cluster_builder.h; a
//    cluster's content does not depend on the Sidecar, only whether it is listed
//    does), so their keys name that rule, not the scope: proxies of every
//    namespace that select the same rule (most often none) share one resource.
//    Which rule is selected is decided again for every key, so a new or deleted
//    rule changes the key; a changed one invalidates what read it.
std::string SelectedDestinationRule(const std::string& cluster_name, const model::Proxy& proxy,
                                    const model::PushContext& push) {
  const absl::string_view host = networking::ClusterNameHost(cluster_name);
  if (host.empty()) return "dr=";
  const model::DestinationRuleEntry* dr = push.ScopeFor(proxy).DestinationRuleForHost(host);
  return dr ? absl::StrCat("dr=", dr->config->key.ns, "/", dr->config->key.name) : "dr=";
}
//  - outbound clusters: proxy kind (routers get EDS for passthrough services and
//    credentialName TLS), the DestinationRule, IP family (DNS lookups);
XdsCacheKey ClusterKey(const std::string& name, const model::Proxy& proxy, const model::PushContext& push) {
  return {"CDS", "envoy", model::ScopeKey{},
          absl::StrCat(proxy.type == model::ProxyType::kRouter ? "router" : "sidecar", "|", IpFamily(proxy), "|",
                       SelectedDestinationRule(name, proxy, push)),
          name};
}
//  - endpoints: nothing but the name, unless the cluster is a subset's: then the
//    DestinationRule that defines it.
XdsCacheKey EndpointKey(const std::string& name, const model::Proxy& proxy, const model::PushContext& push) {
  networking::ClusterName parsed;
  const bool subset = networking::ClusterName::Parse(name, &parsed) && !parsed.subset.empty();
  return {"EDS", "envoy", model::ScopeKey{}, subset ? SelectedDestinationRule(name, proxy, push) : "", name};
}

std::vector<std::string> Requested(const WatchedResource& watch) {
  return std::vector<std::string>(watch.names.begin(), watch.names.end());
}

void SortByName(std::vector<NamedResource>* out) {
  std::sort(out->begin(), out->end(), [](const NamedResource& a, const NamedResource& b) { return a.name < b.name; });
}

}  // namespace

std::vector<NamedResource> GenerateSidecarListeners(const model::Proxy& proxy, const model::PushContext& push,
                                                    const WatchedResource& watch) {
  std::vector<std::string> names;
  if (watch.wildcard) {
    names = sidecar::OutboundListenerNames(proxy, push);
    names.push_back(networking::kVirtualOutboundListener);
    names.push_back(networking::kVirtualInboundListener);
  } else {
    names = Requested(watch);
  }
  std::vector<std::string> outbound;
  bool want_virtual_outbound = false, want_virtual_inbound = false;
  for (auto& n : names) {
    if (n == networking::kVirtualOutboundListener) {
      want_virtual_outbound = true;
    } else if (n == networking::kVirtualInboundListener) {
      want_virtual_inbound = true;
    } else {
      outbound.push_back(std::move(n));
    }
  }

  // Outbound listeners are built together (ports merge services); only on a miss.
  std::optional<std::map<std::string, envoy::config::listener::v3::Listener>> all;
  std::vector<NamedResource> out = GenerateNamed(
      outbound, OutboundListenerScope(proxy, push), push,
      [&](const std::string& name) -> std::optional<envoy::config::listener::v3::Listener> {
        if (!all) all = sidecar::BuildOutboundListeners(proxy, push);
        auto it = all->find(name);
        if (it == all->end()) return std::nullopt;
        return networking::WithMeshTelemetry(*push.mesh().config, proxy, it->second);
      });
  if (want_virtual_outbound) {
    const model::OutboundTrafficPolicy policy = push.ScopeFor(proxy).outbound_traffic_policy();
    auto r = GenerateNamed({networking::kVirtualOutboundListener}, VirtualOutboundScope(proxy, policy), push,
                           [&](const std::string&) {
                             return std::optional(networking::WithMeshTelemetry(
                                 *push.mesh().config, proxy, sidecar::BuildVirtualOutboundListener(proxy, policy)));
                           });
    out.insert(out.end(), r.begin(), r.end());
  }
  if (want_virtual_inbound) {
    const auto instances = sidecar::ProxyServiceInstances(proxy, push);
    auto r = GenerateNamed({networking::kVirtualInboundListener}, InboundScope("LDS", proxy, push, instances), push,
                           [&](const std::string&) {
                             return std::optional(networking::WithMeshTelemetry(
                                 *push.mesh().config, proxy, sidecar::BuildVirtualInboundListener(proxy, push, instances)));
                           });
    out.insert(out.end(), r.begin(), r.end());
  }
  SortByName(&out);
  return out;
}

std::vector<NamedResource> GenerateSidecarRoutes(const model::Proxy& proxy, const model::PushContext& push,
                                                 const WatchedResource& watch, XdsCache* cache) {
  return GenerateCached(cache, Requested(watch), RouteKey(proxy, push), {}, push, [&](const std::string& name) {
    return std::optional(sidecar::BuildSidecarRouteConfiguration(name, proxy, push));
  });
}

std::vector<NamedResource> GenerateEnvoyClusters(const model::Proxy& proxy, const model::PushContext& push,
                                                 const WatchedResource& watch, XdsCache* cache) {
  const auto instances = proxy.type == model::ProxyType::kSidecar ? sidecar::ProxyServiceInstances(proxy, push)
                                                                  : std::vector<sidecar::ProxyInstance>{};
  std::vector<std::string> names =
      watch.wildcard ? sidecar::EnvoyClusterNames(proxy, push, instances) : Requested(watch);
  std::vector<std::string> outbound, inbound;
  for (auto& n : names) (sidecar::IsInboundClusterName(n) ? inbound : outbound).push_back(std::move(n));
  auto build = [&](const std::string& name) { return sidecar::BuildEnvoyCluster(name, proxy, push, instances); };
  std::vector<NamedResource> out =
      GenerateCachedEach(
          cache, outbound, [&](const std::string& name) { return ClusterKey(name, proxy, push); }, {}, push,
          [&](const std::string& name) {
        networking::ClusterName parsed;
        if (networking::ClusterName::Parse(name, &parsed)) {
          model::DependencyRecorder::EndpointsOf(parsed.host);  // DNS clusters inline endpoints; SANs
        }
        return build(name);
      });
  // Inbound clusters depend on the proxy's own workload: per push only.
  if (!inbound.empty()) {
    auto r = GenerateNamed(inbound, InboundScope("CDS", proxy, push, instances), push, build);
    out.insert(out.end(), r.begin(), r.end());
  }
  SortByName(&out);
  return out;
}

std::vector<NamedResource> GenerateEnvoyEndpoints(const model::Proxy& proxy, const model::PushContext& push,
                                                  const WatchedResource& watch, XdsCache* cache) {
  return GenerateCachedEach(
      cache, Requested(watch), [&](const std::string& name) { return EndpointKey(name, proxy, push); }, {}, push,
      [&](const std::string& name) -> std::optional<envoy::config::endpoint::v3::ClusterLoadAssignment> {
        networking::ClusterName parsed;
        if (!networking::ClusterName::Parse(name, &parsed) || parsed.direction != "outbound") return std::nullopt;
        model::DependencyRecorder::EndpointsOf(parsed.host);
        return networking::BuildLoadAssignment(parsed, proxy, push);
      });
}

}  // namespace keel::pilot::xds
