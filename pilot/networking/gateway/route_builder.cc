#include "pilot/networking/gateway/route_builder.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "networking/v1alpha3/gateway.pb.h"
#include "pilot/networking/core/virtual_service_routes.h"
#include "pilot/networking/gateway/gateway_hosts.h"

namespace keel::pilot::networking::gateway {
namespace {

namespace route = ::envoy::config::route::v3;

// Istio's DefaultMaxDirectResponseBodySizeBytes.
constexpr uint32_t kMaxDirectResponseBodyBytes = 1024 * 1024;

// Istio's SortVHostRoutes: catch-all routes move to the end, the rest keep their order.
void SortRoutes(route::VirtualHost* vh) {
  auto* routes = vh->mutable_routes();
  std::stable_partition(routes->begin(), routes->end(), [](const route::Route& r) { return !IsCatchAllRoute(r); });
}

route::VirtualHost NewVirtualHost(const std::string& host, int port) {
  route::VirtualHost vh;
  vh.set_name(absl::StrCat(host, ":", port));
  vh.add_domains(host);
  vh.set_include_request_attempt_count(true);
  return vh;
}

}  // namespace

route::RouteConfiguration BuildGatewayRouteConfiguration(const std::string& name, const MergedGateway& merged,
                                                         const model::Proxy& proxy, const model::PushContext& push) {
  route::RouteConfiguration rc;
  rc.set_name(name);
  rc.mutable_validate_clusters()->set_value(false);
  auto servers = merged.servers_by_route.find(name);
  if (servers == merged.servers_by_route.end() || servers->second.empty()) return rc;

  std::map<std::string, route::VirtualHost> vhosts;  // by lower-cased host
  for (const GatewayServer* server : servers->second) {
    const bool redirect = server->spec->has_tls() && server->spec->tls().https_redirect();
    const RouteContext ctx{&push, &proxy, server->port(), server->gateway};
    for (const auto* vs : push.ScopeFor(proxy).VirtualServicesForGateway(server->gateway)) {
      const auto hosts = IntersectHosts(ServerHostsForNamespace(server->hosts, vs->config->key.ns), vs->hosts);
      if (hosts.empty()) continue;
      const std::vector<route::Route> routes = BuildVirtualServiceRoutes(*vs, ctx);
      if (routes.empty()) continue;  // istiod: "no routes matched", the VirtualService is left out
      for (const auto& h : hosts) {
        const std::string host = absl::AsciiStrToLower(h);
        auto it = vhosts.find(host);
        if (it == vhosts.end()) it = vhosts.emplace(host, NewVirtualHost(host, server->port())).first;
        for (const auto& r : routes) *it->second.add_routes() = r;
        if (redirect) it->second.set_require_tls(route::VirtualHost::ALL);
      }
    }
    if (!redirect) continue;
    for (const auto& h : StripNamespaces(server->hosts)) {
      // Hosts keep their namespace in istiod here; the namespace is dropped so the domain is a host name.
      const std::string host = absl::AsciiStrToLower(h);
      auto it = vhosts.find(host);
      if (it == vhosts.end()) it = vhosts.emplace(host, NewVirtualHost(host, server->port())).first;
      it->second.set_require_tls(route::VirtualHost::ALL);
    }
  }

  if (vhosts.empty()) {
    auto* vh = rc.add_virtual_hosts();
    vh->set_name(absl::StrCat("blackhole:", servers->second.front()->port()));
    vh->add_domains("*");  // no routes: Envoy answers 404 (NR)
  } else {
    std::vector<route::VirtualHost> sorted;
    for (auto& [host, vh] : vhosts) {
      SortRoutes(&vh);
      sorted.push_back(std::move(vh));
    }
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const route::VirtualHost& a, const route::VirtualHost& b) { return a.name() < b.name(); });
    for (auto& vh : sorted) *rc.add_virtual_hosts() = std::move(vh);
  }
  rc.set_ignore_port_in_host_matching(true);
  rc.mutable_max_direct_response_body_size_bytes()->set_value(kMaxDirectResponseBodyBytes);
  return rc;
}

}  // namespace keel::pilot::networking::gateway
