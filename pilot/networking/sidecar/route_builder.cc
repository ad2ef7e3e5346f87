#include "pilot/networking/sidecar/route_builder.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "pilot/networking/core/cluster_name.h"
#include "pilot/networking/core/http_route_translator.h"
#include "pilot/networking/core/virtual_service_routes.h"
#include "pilot/networking/sidecar/common.h"

namespace keel::pilot::networking::sidecar {
namespace {

namespace route = ::envoy::config::route::v3;
using google::protobuf::util::TimeUtil;

constexpr char kAllowAny[] = "allow_any";  // Istio util.Passthrough
constexpr char kBlockAll[] = "block_all";  // Istio util.BlackHole
constexpr uint32_t kMaxDirectResponseBodyBytes = 1024 * 1024;

// Istio GenerateAltVirtualHosts (port omitted: sidecars ignore the port).
std::vector<std::string> AltHosts(const std::string& hostname, const std::string& proxy_domain) {
  const size_t id = proxy_domain.find(".svc.");
  if (id != std::string::npos) {
    if (!absl::EndsWith(hostname, proxy_domain.substr(id))) return {};
    const size_t ih = hostname.find(".svc.");
    if (ih == std::string::npos || ih == 0) return {};
    const size_t ns = hostname.find('.');
    if (ns + 1 >= hostname.size() || ns + 1 > ih) return {};
    if (hostname.substr(ns + 1, ih - ns - 1) == proxy_domain.substr(0, id)) {
      return {hostname.substr(0, ns), hostname.substr(0, ih) + ".svc", hostname.substr(0, ih)};
    }
    return {hostname.substr(0, ih), hostname.substr(0, ih) + ".svc"};
  }
  // Non-Kubernetes proxy domains: the part of the name not shared with the domain.
  std::vector<std::string> host_parts = absl::StrSplit(hostname, '.');
  std::vector<std::string> domain_parts = absl::StrSplit(proxy_domain, '.');
  size_t shared = 0;
  while (shared < host_parts.size() && shared < domain_parts.size() &&
         host_parts[host_parts.size() - 1 - shared] == domain_parts[domain_parts.size() - 1 - shared]) {
    ++shared;
  }
  if (shared == 0 || proxy_domain.empty()) return {};
  std::vector<std::string> unique(host_parts.begin(), host_parts.end() - shared);
  std::vector<std::string> out{absl::StrJoin(unique, ".")};
  if (unique.size() == 2) out.push_back(absl::StrCat(out[0], ".", domain_parts[domain_parts.size() - shared]));
  return out;
}

// Istio BuildDefaultHTTPOutboundRoute.
route::Route DefaultOutboundRoute(const model::Service& svc, int port, const model::Proxy& proxy,
                                  const model::PushContext& push) {
  route::Route r;
  r.set_name("default");
  r.mutable_match()->set_prefix("/");
  r.mutable_decorator()->set_operation(TraceOperation(svc.hostname, port));
  auto* action = r.mutable_route();
  action->set_cluster(OutboundClusterName(port, "", svc.hostname));
  *action->mutable_timeout() = TimeUtil::SecondsToDuration(0);
  *action->mutable_max_grpc_timeout() = TimeUtil::SecondsToDuration(0);
  *action->mutable_retry_policy() = DefaultRetryPolicy();
  if (auto hash = ServiceHashPolicy(svc, port, proxy, push)) *action->add_hash_policy() = *hash;
  return r;
}

// Makes `vh` the catch-all virtual host `name` ("*"); returns its one route (of
// the same name, on "/"), whose action the caller sets.
route::Route* MakeCatchAll(const char* name, route::VirtualHost* vh) {
  vh->set_name(name);
  vh->add_domains("*");
  vh->set_include_request_attempt_count(true);
  route::Route* r = vh->add_routes();
  r->set_name(name);
  r->mutable_match()->set_prefix("/");
  return r;
}

// Istio's catch-all virtual host under REGISTRY_ONLY: 502 for unknown hosts.
route::VirtualHost BlockAllVirtualHost() {
  route::VirtualHost vh;
  MakeCatchAll(kBlockAll, &vh)->mutable_direct_response()->set_status(502);
  return vh;
}

route::VirtualHost AllowAnyVirtualHost() {
  route::VirtualHost vh;
  route::Route* r = MakeCatchAll(kAllowAny, &vh);
  auto* action = r->mutable_route();
  action->set_cluster(kPassthroughCluster);
  *action->mutable_timeout() = TimeUtil::SecondsToDuration(0);
  *action->mutable_max_grpc_timeout() = TimeUtil::SecondsToDuration(0);
  return vh;
}

// Istio separateVSHostsAndServices: the hosts of a VirtualService that name no
// service on `port` - an external name such as "bookinfo.com", or a service
// without that port - get a virtual host "HOST:PORT" of their own with the
// VirtualService's routes for the port. On port 80 every mesh VirtualService
// counts (istiod's "hack to keep consistent with previous behavior"); on other
// ports only those routing one of the port's services.
std::vector<route::VirtualHost> NonServiceVirtualHosts(const std::vector<const model::Service*>& port_services, int port,
                                                       const model::Proxy& proxy, const model::PushContext& push,
                                                       std::set<std::string>* seen_domains) {
  const model::ProxyScope& scope = push.ScopeFor(proxy);
  std::vector<const model::VirtualServiceEntry*> candidates;
  if (port == 80) {
    candidates = scope.MeshVirtualServices();
  } else {
    for (const model::Service* svc : port_services) {
      if (!IsHttpOrSniffed(svc->FindPort(port)->protocol)) continue;
      const model::VirtualServiceEntry* vs = scope.VirtualServiceForHost(svc->hostname, "mesh");
      if (vs && std::find(candidates.begin(), candidates.end(), vs) == candidates.end()) candidates.push_back(vs);
    }
  }
  std::vector<route::VirtualHost> out;
  RouteContext ctx{&push, &proxy, port, "mesh"};
  for (const model::VirtualServiceEntry* vs : candidates) {
    std::vector<std::string> external;
    for (const std::string& host : vs->hosts) {
      const bool names_a_service = std::any_of(port_services.begin(), port_services.end(), [&](const model::Service* s) {
        return model::HostMatches(host, s->hostname);
      });
      if (!names_a_service) external.push_back(host);
    }
    if (external.empty()) continue;
    const std::vector<route::Route> routes = BuildVirtualServiceRoutes(*vs, ctx);
    if (routes.empty()) continue;  // no route for this port
    for (const std::string& host : external) {
      if (!seen_domains->insert(absl::AsciiStrToLower(host)).second) continue;
      route::VirtualHost vh;
      vh.set_name(absl::StrCat(host, ":", port));
      vh.add_domains(host);
      vh.set_include_request_attempt_count(true);
      for (const auto& r : routes) *vh.add_routes() = r;
      out.push_back(std::move(vh));
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> SidecarVirtualHostDomains(const model::Service& service, const model::Proxy& proxy) {
  std::vector<std::string> out{service.hostname};
  // The absolute FQDN too (istiod's PILOT_ENABLE_ABSOLUTE_FQDN_VHOST_DOMAIN, on by
  // default): a Host header "reviews.default.svc.cluster.local." matches.
  const bool ip = service.hostname.find_first_not_of("0123456789.:") == std::string::npos;
  if (!ip) out.push_back(service.hostname + ".");
  for (auto& alt : AltHosts(service.hostname, proxy.dns_domain)) out.push_back(std::move(alt));
  if (service.resolution == model::Resolution::kPassthrough && service.source.kind == model::Kind::kService) {
    const size_t n = out.size();
    for (size_t i = 0; i < n; ++i) out.push_back("*." + out[i]);
  }
  if (!service.vip.empty() && service.vip != "0.0.0.0" && service.vip.find('/') == std::string::npos) {
    out.push_back(service.vip.find(':') != std::string::npos ? absl::StrCat("[", service.vip, "]") : service.vip);
  }
  return out;
}

std::optional<route::VirtualHost> BuildSidecarVirtualHost(const model::Service& svc, int port, const model::Proxy& proxy,
                                                          const model::PushContext& push,
                                                          std::set<std::string>* seen_domains) {
  RouteContext ctx{&push, &proxy, port, "mesh"};
  std::vector<route::Route> routes;
  if (const auto* vs = push.ScopeFor(proxy).VirtualServiceForHost(svc.hostname, "mesh")) {
    routes = BuildVirtualServiceRoutes(*vs, ctx);
  }
  if (routes.empty()) routes.push_back(DefaultOutboundRoute(svc, port, proxy, push));
  route::VirtualHost vh;
  vh.set_name(absl::StrCat(svc.hostname, ":", port));
  for (const auto& d : SidecarVirtualHostDomains(svc, proxy)) {
    if (!seen_domains->insert(absl::AsciiStrToLower(d)).second) continue;
    vh.add_domains(d);
    // gRPC matches the Host with its port (istiod appends it where the route
    // configuration does not ignore ports: proxyless clients).
    if (proxy.proxyless_grpc) vh.add_domains(absl::StrCat(d, ":", port));
  }
  if (vh.domains().empty()) return std::nullopt;
  vh.set_include_request_attempt_count(true);
  for (auto& r : routes) *vh.add_routes() = std::move(r);
  return vh;
}

route::RouteConfiguration BuildSidecarRouteConfiguration(const std::string& name, const model::Proxy& proxy,
                                                         const model::PushContext& push) {
  route::RouteConfiguration rc;
  rc.set_name(name);
  rc.mutable_validate_clusters()->set_value(false);
  // "PORT", or "HOST:PORT" for a sniffed service's own listener (istiod extractListenerPort).
  const size_t colon = name.rfind(':');
  const std::string sniffed_host = colon == std::string::npos ? "" : name.substr(0, colon);
  int port = 0;
  if (!absl::SimpleAtoi(name.substr(colon == std::string::npos ? 0 : colon + 1), &port) || port <= 0 ||
      port > 65535) {
    return rc;
  }
  rc.mutable_max_direct_response_body_size_bytes()->set_value(kMaxDirectResponseBodyBytes);
  rc.set_ignore_port_in_host_matching(true);

  std::vector<route::VirtualHost> hosts;
  std::set<std::string> seen_domains;
  const model::ProxyScope& scope = push.ScopeFor(proxy);
  std::vector<const model::Service*> port_services;  // visible on `port`, any protocol
  for (const model::Service* service : scope.services()) {
    // A sniffed service's own route holds its virtual host alone (istiod
    // getVirtualHostsForSniffedServicePort picks it out of the port's).
    if (!sniffed_host.empty() && service->hostname != sniffed_host) continue;
    const model::ServicePort* sp = service->FindPort(port);
    if (!sp || !scope.ServicePortVisible(*service, port)) continue;
    port_services.push_back(service);
    if (!IsHttpOrSniffed(sp->protocol)) continue;
    if (auto vh = BuildSidecarVirtualHost(*service, port, proxy, push, &seen_domains)) hosts.push_back(std::move(*vh));
  }
  if (!sniffed_host.empty()) {
    // For any Host (the listener is the service's own), and no catch-all.
    for (auto& vh : hosts) {
      vh.clear_domains();
      vh.add_domains("*");
      *rc.add_virtual_hosts() = std::move(vh);
    }
    return rc;
  }
  for (auto& vh : NonServiceVirtualHosts(port_services, port, proxy, push, &seen_domains)) hosts.push_back(std::move(vh));
  std::stable_sort(hosts.begin(), hosts.end(),
                   [](const route::VirtualHost& a, const route::VirtualHost& b) { return a.name() < b.name(); });
  for (auto& vh : hosts) *rc.add_virtual_hosts() = std::move(vh);
  *rc.add_virtual_hosts() = scope.outbound_traffic_policy() == model::OutboundTrafficPolicy::kRegistryOnly
                                 ? BlockAllVirtualHost()
                                 : AllowAnyVirtualHost();
  return rc;
}

route::RouteConfiguration BuildInboundRouteConfiguration(const std::string& cluster, const std::string& hostname,
                                                         int service_port, bool grpc) {
  route::RouteConfiguration rc;
  rc.set_name(cluster);
  rc.mutable_validate_clusters()->set_value(false);
  auto* vh = rc.add_virtual_hosts();
  vh->set_name(absl::StrCat("inbound|http|", service_port));
  vh->add_domains("*");
  auto* r = vh->add_routes();
  r->set_name("default");
  r->mutable_match()->set_prefix("/");
  r->mutable_decorator()->set_operation(TraceOperation(hostname, service_port));
  auto* action = r->mutable_route();
  action->set_cluster(cluster);
  *action->mutable_timeout() = TimeUtil::SecondsToDuration(0);
  auto* msd = action->mutable_max_stream_duration();
  *msd->mutable_max_stream_duration() = TimeUtil::SecondsToDuration(0);
  *msd->mutable_grpc_timeout_header_max() = TimeUtil::SecondsToDuration(0);
  // istiod's BuildDefaultHTTPInboundRoute: retry a request the local app reset
  // before reading it (not for gRPC, whose streams it breaks).
  if (!grpc) {
    action->mutable_retry_policy()->set_retry_on("reset-before-request");
    action->mutable_retry_policy()->mutable_num_retries()->set_value(2);
  }
  return rc;
}

}  // namespace keel::pilot::networking::sidecar
