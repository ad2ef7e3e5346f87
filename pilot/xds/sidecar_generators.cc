// Sidecar (Envoy in istio-proxy) generation, and the clusters and endpoints of
// every Envoy proxy (sidecars and routers). The builders live in
// pilot/networking/sidecar; this file picks the names a request covers and the
// cache scope each resource is shared under.
#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
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

std::string Labels(const model::Proxy& proxy) {
  std::string out;
  for (const auto& [k, v] : proxy.labels) absl::StrAppend(&out, "|", k, "=", v);
  return out;
}

// The selected Sidecar resource (identity, resourceVersion, the namespace "."
// means): what the outbound resources' service visibility and outbound policy
// depend on. Empty when no Sidecar applies (or for routers).
std::string SidecarKey(const model::Proxy& proxy, const model::PushContext& push) {
  return push.SidecarScopeFor(proxy)->cache_key();
}

// Scopes: everything a resource depends on besides its name and the push.
//  - outbound listeners: the namespace (VirtualService / DestinationRule
//    visibility), labels (sourceLabels matches), IP family (wildcard address),
//    the Sidecar;
std::string OutboundListenerScope(const model::Proxy& proxy, const model::PushContext& push) {
  return absl::StrCat("LDS|sidecar|", proxy.ns, "|", IpFamily(proxy), Labels(proxy), "|", SidecarKey(proxy, push));
}
//  - virtualOutbound: IP family, the outbound traffic policy;
std::string VirtualOutboundScope(const model::Proxy& proxy, model::OutboundTrafficPolicy policy) {
  return absl::StrCat("LDS|static|", IpFamily(proxy),
                      policy == model::OutboundTrafficPolicy::kRegistryOnly ? "|registry-only" : "");
}
//  - virtualInbound and inbound clusters: the proxy's own workload (its id names
//    pod and IP), the services that select it, the Sidecar (ingress listeners);
std::string InboundScope(const char* type, const model::Proxy& proxy, const model::PushContext& push,
                         const std::vector<sidecar::ProxyInstance>& instances) {
  return absl::StrCat(type, "|sidecar-inbound|", proxy.id, "|", proxy.ns, "|", sidecar::InstancesKey(instances), "|",
                      SidecarKey(proxy, push));
}
//  - routes: namespace, the DNS domain (short host names), labels, the Sidecar;
std::string RouteScope(const model::Proxy& proxy, const model::PushContext& push) {
  return absl::StrCat("RDS|sidecar|", proxy.ns, "|", proxy.dns_domain, Labels(proxy), "|", SidecarKey(proxy, push));
}
//  - outbound clusters: proxy kind (routers get EDS for passthrough services and
//    credentialName TLS), namespace (DestinationRule), IP family (DNS lookups).
//    A cluster's content does not depend on the Sidecar (only whether it is
//    listed does), so the Sidecar is not in this scope.
std::string ClusterScope(const model::Proxy& proxy) {
  return absl::StrCat("CDS|envoy|", proxy.type == model::ProxyType::kRouter ? "router" : "sidecar", "|", proxy.ns,
                      "|", IpFamily(proxy));
}
//  - endpoints: the namespace (which DestinationRule defines a subset).
std::string EndpointScope(const model::Proxy& proxy) { return absl::StrCat("EDS|envoy|", proxy.ns); }

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
        return it->second;
      });
  if (want_virtual_outbound) {
    const model::OutboundTrafficPolicy policy = push.SidecarScopeFor(proxy)->outbound_traffic_policy();
    auto r = GenerateNamed({networking::kVirtualOutboundListener}, VirtualOutboundScope(proxy, policy), push,
                           [&](const std::string&) {
                             return std::optional(sidecar::BuildVirtualOutboundListener(proxy, policy));
                           });
    out.insert(out.end(), r.begin(), r.end());
  }
  if (want_virtual_inbound) {
    const auto instances = sidecar::ProxyServiceInstances(proxy, push);
    auto r = GenerateNamed({networking::kVirtualInboundListener}, InboundScope("LDS", proxy, push, instances), push,
                           [&](const std::string&) {
                             return std::optional(sidecar::BuildVirtualInboundListener(proxy, push, instances));
                           });
    out.insert(out.end(), r.begin(), r.end());
  }
  SortByName(&out);
  return out;
}

std::vector<NamedResource> GenerateSidecarRoutes(const model::Proxy& proxy, const model::PushContext& push,
                                                 const WatchedResource& watch) {
  return GenerateNamed(Requested(watch), RouteScope(proxy, push), push, [&](const std::string& name) {
    return std::optional(sidecar::BuildSidecarRouteConfiguration(name, proxy, push));
  });
}

std::vector<NamedResource> GenerateEnvoyClusters(const model::Proxy& proxy, const model::PushContext& push,
                                                 const WatchedResource& watch) {
  const auto instances = proxy.type == model::ProxyType::kSidecar ? sidecar::ProxyServiceInstances(proxy, push)
                                                                  : std::vector<sidecar::ProxyInstance>{};
  std::vector<std::string> names =
      watch.wildcard ? sidecar::EnvoyClusterNames(proxy, push, instances) : Requested(watch);
  std::vector<std::string> outbound, inbound;
  for (auto& n : names) (sidecar::IsInboundClusterName(n) ? inbound : outbound).push_back(std::move(n));
  auto build = [&](const std::string& name) { return sidecar::BuildEnvoyCluster(name, proxy, push, instances); };
  std::vector<NamedResource> out = GenerateNamed(outbound, ClusterScope(proxy), push, build);
  if (!inbound.empty()) {
    auto r = GenerateNamed(inbound, InboundScope("CDS", proxy, push, instances), push, build);
    out.insert(out.end(), r.begin(), r.end());
  }
  SortByName(&out);
  return out;
}

std::vector<NamedResource> GenerateEnvoyEndpoints(const model::Proxy& proxy, const model::PushContext& push,
                                                  const WatchedResource& watch) {
  networking::LoadAssignmentOptions options;
  options.tls_mode_metadata = true;
  return GenerateNamed(
      Requested(watch), EndpointScope(proxy), push,
      [&](const std::string& name) -> std::optional<envoy::config::endpoint::v3::ClusterLoadAssignment> {
        networking::ClusterName parsed;
        if (!networking::ClusterName::Parse(name, &parsed) || parsed.direction != "outbound") return std::nullopt;
        return networking::BuildLoadAssignment(parsed, proxy, push, options);
      });
}

}  // namespace keel::pilot::xds
