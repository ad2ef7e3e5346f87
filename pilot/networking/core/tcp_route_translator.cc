#include "pilot/networking/core/tcp_route_translator.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "envoy/extensions/filters/network/mongo_proxy/v3/mongo_proxy.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "networking/v1alpha3/destination_rule.pb.h"
#include "networking/v1alpha3/virtual_service.pb.h"
#include "pilot/networking/core/cluster_name.h"
#include "pilot/networking/core/well_known_names.h"

namespace keel::pilot::networking {
namespace {

namespace networking = ::istio::networking::v1alpha3;
namespace tcp = ::envoy::extensions::filters::network::tcp_proxy::v3;
using envoy::config::listener::v3::Filter;


// Istio's short-name rule for gateway references in a VirtualService.
std::string GatewayRef(const std::string& gateway, absl::string_view vs_ns) {
  if (gateway == "mesh" || gateway.find('/') != std::string::npos) return gateway;
  return absl::StrCat(vs_ns, "/", gateway);
}

// Istio's matchTCP: static predicates decided at generation time.
bool MatchApplies(const networking::L4MatchAttributes& m, absl::string_view vs_ns, const RouteContext& ctx) {
  if (m.port() != 0 && static_cast<int>(m.port()) != ctx.listener_port) return false;
  if (!m.gateways().empty()) {
    bool found = false;
    for (const auto& g : m.gateways()) found = found || GatewayRef(g, vs_ns) == ctx.gateway;
    if (!found) return false;
  }
  if (!m.source_labels().empty()) {
    std::map<std::string, std::string> want(m.source_labels().begin(), m.source_labels().end());
    if (!model::LabelsMatch(want, ctx.proxy->labels)) return false;
  }
  return m.source_namespace().empty() || m.source_namespace() == ctx.proxy->ns;
}

int DestinationPort(const networking::Destination& d, const std::string& host, const RouteContext& ctx) {
  if (d.has_port() && d.port().number() != 0) return static_cast<int>(d.port().number());
  const model::Service* svc = ctx.push->ServiceForHost(host);
  if (svc && svc->ports.size() == 1) return svc->ports[0].port;
  return ctx.listener_port;
}

// idle_timeout, max_downstream_connection_duration and the source-IP hash policy
// from the DestinationRule of `host` (Istio maybeSetHashPolicy and friends).
void ApplyDestinationRule(const std::string& host, const std::string& subset, const RouteContext& ctx,
                          tcp::TcpProxy* proxy) {
  const model::DestinationRuleEntry* dr = ctx.push->ScopeFor(*ctx.proxy).DestinationRuleForHost(host);
  if (!dr) return;
  const auto& policy = dr->spec().traffic_policy();
  const auto& pool = policy.connection_pool().tcp();
  if (pool.has_idle_timeout()) *proxy->mutable_idle_timeout() = pool.idle_timeout();
  if (pool.has_max_connection_duration()) {
    *proxy->mutable_max_downstream_connection_duration() = pool.max_connection_duration();
  }
  bool use_source_ip = policy.load_balancer().consistent_hash().use_source_ip();
  for (const auto& s : dr->spec().subsets()) {
    if (s.name() != subset) continue;
    if (s.traffic_policy().has_load_balancer()) {
      use_source_ip = s.traffic_policy().load_balancer().has_consistent_hash() &&
                      s.traffic_policy().load_balancer().consistent_hash().use_source_ip();
    }
    break;
  }
  if (use_source_ip) proxy->add_hash_policy()->mutable_source_ip();
}

std::vector<Filter> FilterStack(const tcp::TcpProxy& proxy, absl::string_view protocol) {
  std::vector<Filter> out;
  if (absl::AsciiStrToUpper(protocol) == "MONGO") {
    envoy::extensions::filters::network::mongo_proxy::v3::MongoProxy mongo;
    mongo.set_stat_prefix(proxy.stat_prefix());
    Filter& f = out.emplace_back();
    f.set_name(kMongoProxy);
    f.mutable_typed_config()->PackFrom(mongo);
  }
  Filter& f = out.emplace_back();
  f.set_name(kTcpProxy);
  f.mutable_typed_config()->PackFrom(proxy);
  return out;
}

}  // namespace

std::vector<Filter> TcpRouteFilters(const google::protobuf::RepeatedPtrField<networking::RouteDestination>& routes,
                                    const model::VirtualServiceEntry& vs, const RouteContext& ctx,
                                    absl::string_view protocol) {
  const std::string& ns = vs.config->key.ns;
  auto cluster_of = [&](const networking::Destination& d) {
    const std::string host = ctx.push->ResolveHost(d.host(), ns);
    return OutboundClusterName(DestinationPort(d, host, ctx), d.subset(), host);
  };
  tcp::TcpProxy proxy;
  const std::string first_host = routes.empty() ? "" : ctx.push->ResolveHost(routes[0].destination().host(), ns);
  if (routes.size() == 1) {
    const std::string cluster = cluster_of(routes[0].destination());
    proxy.set_stat_prefix(cluster);
    proxy.set_cluster(cluster);
    ApplyDestinationRule(first_host, routes[0].destination().subset(), ctx, &proxy);
  } else {
    proxy.set_stat_prefix(absl::StrCat(vs.config->key.name, ".", ns));
    auto* weighted = proxy.mutable_weighted_clusters();
    for (const auto& r : routes) {
      if (r.weight() <= 0) continue;
      auto* c = weighted->add_clusters();
      c->set_name(cluster_of(r.destination()));
      c->set_weight(static_cast<uint32_t>(r.weight()));
    }
    ApplyDestinationRule(first_host, "", ctx, &proxy);
  }
  return FilterStack(proxy, protocol);
}

std::vector<Filter> DefaultTcpFilters(const std::string& host, const RouteContext& ctx, absl::string_view protocol) {
  int port = ctx.listener_port;
  if (const model::Service* svc = ctx.push->ServiceForHost(host); svc && svc->ports.size() == 1) {
    port = svc->ports[0].port;
  }
  tcp::TcpProxy proxy;
  const std::string cluster = OutboundClusterName(port, "", host);
  proxy.set_stat_prefix(cluster);
  proxy.set_cluster(cluster);
  ApplyDestinationRule(host, "", ctx, &proxy);
  return FilterStack(proxy, protocol);
}

std::vector<TcpRouteChain> TranslateTcpRoutes(const model::VirtualServiceEntry& vs, const RouteContext& ctx,
                                              absl::string_view protocol,
                                              const std::vector<std::string>& service_cidrs, bool* catch_all) {
  std::vector<TcpRouteChain> out;
  *catch_all = false;
  const std::string& ns = vs.config->key.ns;
  for (const auto& route : vs.spec().tcp()) {
    if (route.route().empty()) continue;
    if (route.match().empty()) {
      out.push_back({service_cidrs, TcpRouteFilters(route.route(), vs, ctx, protocol)});
      *catch_all = true;
      return out;
    }
    std::vector<std::string> subnets;
    for (const auto& m : route.match()) {
      if (!MatchApplies(m, ns, ctx)) continue;
      if (m.destination_subnets().empty()) {
        out.push_back({service_cidrs, TcpRouteFilters(route.route(), vs, ctx, protocol)});
        *catch_all = true;
        return out;
      }
      subnets.insert(subnets.end(), m.destination_subnets().begin(), m.destination_subnets().end());
    }
    if (subnets.empty()) continue;
    out.push_back({subnets, TcpRouteFilters(route.route(), vs, ctx, protocol)});
    // A chain matching exactly the service's own destinations shadows the default.
    std::vector<std::string> a = subnets, b = service_cidrs;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a == b) *catch_all = true;
  }
  return out;
}

}  // namespace keel::pilot::networking
