#include "pilot/networking/gateway/listener_builder.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "networking/v1alpha3/gateway.pb.h"
#include "networking/v1alpha3/virtual_service.pb.h"
#include "pilot/networking/core/security_filters.h"
#include "pilot/networking/core/http_route_translator.h"
#include "pilot/networking/core/istio_filters.h"
#include "pilot/networking/core/tcp_route_translator.h"
#include "pilot/networking/core/tls_route_translator.h"
#include "pilot/networking/gateway/gateway_hosts.h"
#include "pilot/networking/gateway/tls_context.h"
#include "pilot/networking/sidecar/common.h"

namespace keel::pilot::networking::gateway {
namespace {

namespace hcm = ::envoy::extensions::filters::network::http_connection_manager::v3;
namespace listener = ::envoy::config::listener::v3;
namespace tls = ::envoy::extensions::transport_sockets::tls::v3;
namespace networking = ::istio::networking::v1alpha3;
using google::protobuf::util::TimeUtil;

// One filter chain being built (Istio's filterChainOpts).
struct ChainOpts {
  std::vector<std::string> sni_hosts;
  std::optional<tls::DownstreamTlsContext> tls;
  std::vector<listener::Filter> filters;
};

// The HCM of a gateway HTTP filter chain (Istio's buildGatewayConnectionManager
// + buildHTTPConnectionManager, without telemetry and tracing; AddAuthz adds RBAC).
listener::Filter HttpConnectionManager(const std::string& stat_prefix, const std::string& route_name) {
  hcm::HttpConnectionManager m;
  m.set_stat_prefix(stat_prefix);
  auto* rds = m.mutable_rds();
  rds->set_route_config_name(route_name);
  auto* source = rds->mutable_config_source();
  source->mutable_ads();
  *source->mutable_initial_fetch_timeout() = TimeUtil::SecondsToDuration(0);
  source->set_resource_api_version(envoy::config::core::v3::V3);

  // As on sidecars (the gateway is outbound for Istio's filters); AddAuthz puts
  // authorization after the peer metadata exchange.
  const IstioHttpFilters& istio = IstioHttpFiltersFor(HttpListenerClass::kGateway);
  for (const auto& f : istio.first) *m.add_http_filters() = f;
  for (const auto& f : istio.after_authz) *m.add_http_filters() = f;
  auto* fault = m.add_http_filters();
  fault->set_name(kFaultFilter);
  fault->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::fault::v3::HTTPFault());
  auto* cors = m.add_http_filters();
  cors->set_name(kCorsFilter);
  cors->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::cors::v3::Cors());
  auto* router = m.add_http_filters();
  router->set_name(kRouterFilter);
  router->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::router::v3::Router());

  m.mutable_use_remote_address()->set_value(true);
  m.mutable_normalize_path()->set_value(true);
  m.set_path_with_escaped_slashes_action(hcm::HttpConnectionManager::KEEP_UNCHANGED);
  m.add_upgrade_configs()->set_upgrade_type("websocket");
  *m.mutable_stream_idle_timeout() = TimeUtil::SecondsToDuration(0);
  m.set_forward_client_cert_details(hcm::HttpConnectionManager::SANITIZE_SET);
  auto* details = m.mutable_set_current_client_cert_details();
  details->mutable_subject()->set_value(true);
  details->set_cert(true);
  details->set_dns(true);
  details->set_uri(true);
  m.set_server_name("istio-envoy");
  m.mutable_http_protocol_options();
  m.set_proxy_100_continue(true);  // ENABLE_100_CONTINUE_HEADERS, on by default

  listener::Filter filter;
  filter.set_name(kHttpConnectionManager);
  filter.mutable_typed_config()->PackFrom(m);
  return filter;
}

RouteContext L4Context(const GatewayServer& server, const model::Proxy& proxy, const model::PushContext& push) {
  return RouteContext{&push, &proxy, server.port(), server.gateway};
}

// Whether `vs` declares a host some host of `server` lets it bind (Istio's
// pickMatchingGatewayHosts).
bool VirtualServiceMatchesServer(const model::VirtualServiceEntry& vs, const GatewayServer& server) {
  for (const auto& h : ServerHostsForNamespace(server.hosts, vs.config->key.ns)) {
    for (const auto& vh : vs.hosts) {
      if (HostsMatch(h, vh)) return true;
    }
  }
  return false;
}

// The tcp_proxy of the first TCP route, of the first VirtualService bound to the
// server's gateway and host, whose match applies (Istio's
// buildGatewayNetworkFiltersFromTCPRoutes). Empty when none does.
std::vector<listener::Filter> GatewayTcpFilters(const GatewayServer& server, const model::Proxy& proxy,
                                              const model::PushContext& push) {
  const RouteContext ctx = L4Context(server, proxy, push);
  for (const auto* vs : push.ScopeFor(proxy).VirtualServicesForGateway(server.gateway)) {
    if (!VirtualServiceMatchesServer(*vs, server)) continue;
    for (const auto& tcp : vs->spec().tcp()) {
      bool applies = tcp.match().empty();
      for (const auto& m : tcp.match()) applies = applies || L4MatchApplies(m, vs->config->key.ns, ctx);
      if (applies && !tcp.route().empty()) {
        return TcpRouteFilters(tcp.route(), *vs, ctx, server.spec->port().protocol());
      }
    }
  }
  return {};
}

// SNI-routed chains of a PASSTHROUGH server (Istio's
// buildGatewayNetworkFiltersFromTLSRoutes). `taken` holds the SNI names already
// routed on this listener: a match repeating one is skipped, as Envoy would
// reject two chains with the same match.
void TlsPassthroughChains(const GatewayServer& server, const model::Proxy& proxy, const model::PushContext& push,
                          std::set<std::string>* taken, std::vector<ChainOpts>* out) {
  const RouteContext ctx = L4Context(server, proxy, push);
  for (const auto* vs : push.ScopeFor(proxy).VirtualServicesForGateway(server.gateway)) {
    if (!VirtualServiceMatchesServer(*vs, server)) continue;
    for (auto& chain : TranslateTlsRoutes(*vs, ctx, server.spec->port().protocol())) {
      bool duplicate = false;
      for (const auto& sni : chain.sni_hosts) duplicate = duplicate || taken->count(sni);
      if (duplicate) continue;
      taken->insert(chain.sni_hosts.begin(), chain.sni_hosts.end());
      out->push_back(ChainOpts{std::move(chain.sni_hosts), std::nullopt, std::move(chain.filters)});
    }
  }
}

// Puts `authz` in a chain: its HTTP filters first in the HttpConnectionManager,
// or its network filters before a TCP chain's filters.
void AddAuthz(const AuthzFilters& authz, std::vector<listener::Filter>* filters) {
  if (filters->empty()) return;
  listener::Filter& last = filters->back();
  if (last.name() != kHttpConnectionManager) {
    filters->insert(filters->begin(), authz.tcp.begin(), authz.tcp.end());
    return;
  }
  if (authz.http.empty()) return;
  hcm::HttpConnectionManager m;
  if (!last.typed_config().UnpackTo(&m)) return;
  google::protobuf::RepeatedPtrField<hcm::HttpFilter> rest;
  rest.Swap(m.mutable_http_filters());
  auto after_mx = rest.begin();
  while (after_mx != rest.end() && after_mx->name() == kMetadataExchangeFilter) ++after_mx;
  for (auto it = rest.begin(); it != after_mx; ++it) *m.add_http_filters() = std::move(*it);
  for (const auto& f : authz.http) *m.add_http_filters() = f;
  for (auto it = after_mx; it != rest.end(); ++it) *m.add_http_filters() = std::move(*it);
  last.mutable_typed_config()->PackFrom(m);
}

void AddServerPortChains(const ServerPort& sp, const MergedServers& ms, const std::string& listener_name,
                         const model::Proxy& proxy, const model::PushContext& push, std::set<std::string>* taken_sni,
                         std::vector<ChainOpts>* out) {
  // A server's name is the stat prefix as it is; else istiod's delimited default.
  const std::string default_stat_prefix = DelimitedStatPrefix(absl::StrCat("outbound_", listener_name));
  if (IsHttp(ParseProtocol(sp.protocol))) {
    out->push_back(ChainOpts{{}, std::nullopt, {HttpConnectionManager(default_stat_prefix, ms.route_name)}});
    return;
  }
  for (const GatewayServer* s : ms.servers) {
    if (s->protocol == Protocol::kHttps && s->has_tls() && !s->IsPassthrough()) {
      const std::string& name = s->spec->name();
      out->push_back(ChainOpts{s->sni_hosts, BuildServerTlsContext(*s),
                               {HttpConnectionManager(name.empty() ? default_stat_prefix : name, s->route_name)}});
    } else if (!s->has_tls()) {
      auto filters = GatewayTcpFilters(*s, proxy, push);
      if (!filters.empty()) out->push_back(ChainOpts{{}, std::nullopt, std::move(filters)});
    } else if (!s->IsPassthrough()) {
      auto filters = GatewayTcpFilters(*s, proxy, push);
      if (!filters.empty()) out->push_back(ChainOpts{s->sni_hosts, BuildServerTlsContext(*s), std::move(filters)});
    } else if (s->spec->tls().mode() == networking::ServerTLSSettings::PASSTHROUGH) {
      TlsPassthroughChains(*s, proxy, push, taken_sni, out);
    }
    // AUTO_PASSTHROUGH (multi-network east-west gateways) is not generated.
  }
}

}  // namespace

std::vector<std::string> GatewayListenerNames(const MergedGateway& merged, const model::Proxy& proxy) {
  std::set<std::string> names;
  for (const auto& sp : merged.server_ports) names.insert(ListenerName(sp, proxy));
  return {names.begin(), names.end()};
}

std::optional<listener::Listener> BuildGatewayListener(const std::string& name, const MergedGateway& merged,
                                                       const model::Proxy& proxy, const model::PushContext& push) {
  std::vector<ChainOpts> chains;
  std::set<std::string> taken_sni;
  const ServerPort* first = nullptr;
  for (const auto& sp : merged.server_ports) {
    if (ListenerName(sp, proxy) != name) continue;
    if (!first) first = &sp;
    AddServerPortChains(sp, merged.servers.at(sp), name, proxy, push, &taken_sni, &chains);
  }
  if (!first || chains.empty()) return std::nullopt;

  listener::Listener l;
  l.set_name(name);
  auto* address = l.mutable_address()->mutable_socket_address();
  address->set_address(ListenerAddress(*first, proxy));
  address->set_port_value(first->number);
  l.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
  l.mutable_max_connections_to_accept_per_socket_event()->set_value(kMaxConnectionsToAcceptPerSocketEvent);

  // RequestAuthentications and AuthorizationPolicies selecting the gateway's pods:
  // their filters first on every chain.
  const AuthzFilters authz = BuildSecurityFilters(proxy, push);
  bool inspect_tls = false;
  for (auto& c : chains) {
    AddAuthz(authz, &c.filters);
    auto* fc = l.add_filter_chains();
    const bool wildcard = std::find(c.sni_hosts.begin(), c.sni_hosts.end(), "*") != c.sni_hosts.end();
    if (!c.sni_hosts.empty() && !wildcard) {
      std::sort(c.sni_hosts.begin(), c.sni_hosts.end());
      for (const auto& h : c.sni_hosts) fc->mutable_filter_chain_match()->add_server_names(h);
    }
    inspect_tls = inspect_tls || !c.sni_hosts.empty() ||
                  (c.tls && c.tls->common_tls_context().alpn_protocols_size() > 0);
    if (c.tls) {
      auto* ts = fc->mutable_transport_socket();
      ts->set_name(kTlsTransportSocket);
      ts->mutable_typed_config()->PackFrom(*c.tls);
    }
    *fc->mutable_transport_socket_connect_timeout() =
        TimeUtil::SecondsToDuration(kTransportSocketConnectTimeoutSeconds);
    for (auto& f : c.filters) *fc->add_filters() = std::move(f);
  }
  if (inspect_tls) *l.add_listener_filters() = sidecar::TlsInspectorFilter();
  return l;
}

}  // namespace keel::pilot::networking::gateway
