// Outbound listeners and virtualOutbound (listener_builder.h).
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "envoy/extensions/filters/listener/http_inspector/v3/http_inspector.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "networking/v1alpha3/service_entry.pb.h"
#include "networking/v1alpha3/virtual_service.pb.h"
#include "pilot/networking/core/istio_metadata.h"
#include "pilot/networking/core/tcp_route_translator.h"
#include "pilot/networking/sidecar/common.h"
#include "pilot/networking/sidecar/http_connection_manager.h"
#include "pilot/networking/sidecar/listener_builder.h"

namespace keel::pilot::networking::sidecar {
namespace {

namespace networking = ::istio::networking::v1alpha3;
namespace listener = ::envoy::config::listener::v3;
using google::protobuf::util::TimeUtil;

// Where one service port's outbound traffic is captured (Istio's listener
// binding for a service port): the VIP, or the wildcard (HTTP ports, services
// without a VIP, CIDR addresses), or for headless TCP ports each endpoint's IP.
struct Placement {
  const model::Service* service = nullptr;
  const model::ServicePort* port = nullptr;
  std::string bind;
  std::vector<std::string> cidrs;  // service addresses that are CIDRs
};

bool IsIpAddress(const std::string& s) {
  if (s.empty()) return false;
  if (s.find(':') != std::string::npos) return s.find_first_not_of("0123456789abcdefABCDEF:.") == std::string::npos;
  int dots = 0;
  for (char c : s) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots == 3;
}

bool HasWorkloadSelector(const model::Service& svc, const model::PushContext& push) {
  if (svc.source.kind != model::Kind::kServiceEntry) return false;
  model::ConfigPtr config = push.FindConfig(svc.source);
  return config && config->As<networking::ServiceEntry>().has_workload_selector();
}

// Istio buildSidecarOutboundListeners' catch-all egress listener loop. With
// `exclude_self`, headless endpoints at the proxy's own IP get no listener (its
// inbound side serves them); without, placements do not depend on the proxy's IP.
std::vector<Placement> OutboundPlacements(const model::Proxy& proxy, const model::PushContext& push,
                                          bool exclude_self) {
  std::vector<Placement> out;
  const std::string wildcard = WildcardAddress(proxy);
  const model::ProxyScope& scope = push.ScopeFor(proxy);
  for (const model::Service* service : scope.services()) {
    const model::Service& svc = *service;
    for (const auto& port : svc.ports) {
      if (!scope.ServicePortVisible(svc, port.port)) continue;
      const PortClass cls = ClassOf(port.protocol);
      if (cls == PortClass::kUnsupported) continue;
      if (cls == PortClass::kHttp) {
        out.push_back({&svc, &port, wildcard, {}});
        continue;
      }
      if (svc.vip.find('/') != std::string::npos) {
        out.push_back({&svc, &port, wildcard, {svc.vip}});
        continue;
      }
      if (!svc.vip.empty()) {
        out.push_back({&svc, &port, svc.vip, {}});
        continue;
      }
      if (svc.resolution != model::Resolution::kPassthrough) {
        out.push_back({&svc, &port, wildcard, {}});
        continue;
      }
      // Headless / NONE-resolution TCP: one listener per endpoint, except the
      // proxy itself; a plain ServiceEntry without endpoints gets the wildcard.
      const auto& endpoints = push.Endpoints(svc.hostname, port.port);
      if (svc.source.kind != model::Kind::kService && endpoints.empty() && !HasWorkloadSelector(svc, push)) {
        out.push_back({&svc, &port, wildcard, {}});
        continue;
      }
      std::set<std::string> seen;
      for (const auto& ep : endpoints) {
        if (!IsIpAddress(ep.address) || (exclude_self && ep.address == proxy.ip) || !seen.insert(ep.address).second) {
          continue;
        }
        out.push_back({&svc, &port, ep.address, {}});
      }
    }
  }
  return out;
}

// One filter chain of an outbound listener (Istio filterChainOpts).
struct Chain {
  std::vector<std::string> sni_hosts;
  std::vector<std::string> cidrs;
  std::vector<std::string> application_protocols;
  std::string transport_protocol;
  std::string rds;  // set: an HTTP chain (HCM with RDS)
  std::vector<listener::Filter> filters;
  const model::Config* virtual_service = nullptr;  // the one whose TCP/TLS route made it (istio metadata)

  bool MatchAll() const {
    return sni_hosts.empty() && cidrs.empty() && application_protocols.empty() && transport_protocol.empty();
  }
  bool SameMatch(const Chain& o) const {
    return sni_hosts == o.sni_hosts && cidrs == o.cidrs && application_protocols == o.application_protocols &&
           transport_protocol == o.transport_protocol;
  }
};

// One outbound listener being assembled (Istio outboundListenerEntry): its
// chains, and the class its ports made it - TCP, or auto once an HTTP chain is
// there (sniffed behind the HTTP inspector).
struct Entry {
  std::string bind;
  int port = 0;
  std::optional<PortClass> protocol;  // unset until a service port lands here
  std::vector<Chain> chains;

  // Istio mergeTCPFilterChains: keep the first chain for each distinct match.
  void Merge(std::vector<Chain> incoming) {
    for (auto& c : incoming) {
      bool conflict = false;
      for (const auto& e : chains) conflict = conflict || e.SameMatch(c);
      if (!conflict) chains.push_back(std::move(c));
    }
  }
};

template <typename Match>
bool StaticMatch(const Match& m, const std::string& vs_ns, const model::Proxy& proxy, int port) {
  if (m.port() != 0 && static_cast<int>(m.port()) != port) return false;
  if (!m.gateways().empty()) {
    bool found = false;
    for (const auto& g : m.gateways()) found = found || g == "mesh";
    if (!found) return false;
  }
  if (!m.source_labels().empty() &&
      !model::LabelsMatch(std::map<std::string, std::string>(m.source_labels().begin(), m.source_labels().end()),
                          proxy.labels)) {
    return false;
  }
  (void)vs_ns;
  return m.source_namespace().empty() || m.source_namespace() == proxy.ns;
}

// Istio buildSidecarOutboundTLSFilterChainOpts.
std::vector<Chain> TlsChains(const Placement& p, const model::VirtualServiceEntry* vs, const RouteContext& ctx,
                             const std::string& wildcard) {
  std::vector<Chain> out;
  std::set<std::string> handled;
  if (vs) {
    for (const auto& tls : vs->spec().tls()) {
      if (tls.route().empty()) continue;
      for (const auto& m : tls.match()) {
        if (!StaticMatch(m, vs->config->key.ns, *ctx.proxy, p.port->port)) continue;
        std::vector<std::string> cidrs = p.cidrs;
        if (!m.destination_subnets().empty()) {
          cidrs.assign(m.destination_subnets().begin(), m.destination_subnets().end());
        }
        const std::string key =
            absl::StrCat(absl::StrJoin(m.sni_hosts(), ","), "|", absl::StrJoin(m.destination_subnets(), ","));
        if (!handled.insert(key).second) continue;
        Chain c;
        c.sni_hosts.assign(m.sni_hosts().begin(), m.sni_hosts().end());
        c.cidrs = cidrs;
        c.filters = TcpRouteFilters(tls.route(), *vs, ctx, p.port->protocol);
        c.virtual_service = vs->config.get();
        out.push_back(std::move(c));
      }
    }
  }
  if (!out.empty()) return out;
  Chain c;
  // Without a VIP of its own only the SNI tells this service's traffic apart.
  if (!p.cidrs.empty() || p.bind == wildcard) c.sni_hosts = {p.service->hostname};
  c.cidrs = p.cidrs;
  c.filters = DefaultTcpFilters(p.service->hostname, ctx, p.port->protocol);
  out.push_back(std::move(c));
  return out;
}

// Istio buildSidecarOutboundTCPFilterChainOpts.
std::vector<Chain> TcpChains(const Placement& p, const model::VirtualServiceEntry* vs, const RouteContext& ctx) {
  std::vector<Chain> out;
  bool catch_all = false;
  if (vs) {
    for (auto& rc : TranslateTcpRoutes(*vs, ctx, p.port->protocol, p.cidrs, &catch_all)) {
      Chain c;
      c.cidrs = std::move(rc.destination_cidrs);
      c.filters = std::move(rc.filters);
      c.virtual_service = vs->config.get();
      out.push_back(std::move(c));
    }
  }
  if (!catch_all) {
    Chain c;
    c.cidrs = p.cidrs;
    c.filters = DefaultTcpFilters(p.service->hostname, ctx, p.port->protocol);
    out.push_back(std::move(c));
  }
  return out;
}

listener::Filter TcpProxyFilter(const std::string& cluster) {
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy proxy;
  proxy.set_stat_prefix(cluster);
  proxy.set_cluster(cluster);
  listener::Filter f;
  f.set_name(kTcpProxy);
  f.mutable_typed_config()->PackFrom(proxy);
  return f;
}

void SetAddress(const std::string& address, int port, envoy::config::core::v3::Address* out) {
  auto* socket = out->mutable_socket_address();
  socket->set_address(address);
  socket->set_port_value(port);
}

void AddCidr(const std::string& cidr, listener::FilterChainMatch* match) {
  auto* range = match->add_prefix_ranges();
  const size_t slash = cidr.find('/');
  const std::string ip = cidr.substr(0, slash);
  range->set_address_prefix(ip);
  uint32_t len = ip.find(':') != std::string::npos ? 128 : 32;
  if (slash != std::string::npos) len = static_cast<uint32_t>(std::atoi(cidr.c_str() + slash + 1));
  range->mutable_prefix_len()->set_value(len);
}


// The catch-all of outbound traffic nothing else matched (Istio
// buildOutboundCatchAllNetworkFiltersOnly): PassthroughCluster under ALLOW_ANY,
// BlackHoleCluster under REGISTRY_ONLY.
const char* CatchAllCluster(model::OutboundTrafficPolicy policy) {
  return policy == model::OutboundTrafficPolicy::kRegistryOnly ? kBlackHoleCluster : kPassthroughCluster;
}

// Istio buildListenerFromEntry.
listener::Listener ToListener(const Entry& e, model::OutboundTrafficPolicy policy) {
  listener::Listener l;
  l.set_name(ListenerName(e.bind, e.port));
  SetAddress(e.bind, e.port, l.mutable_address());
  l.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
  l.set_continue_on_listener_filters_timeout(true);
  l.mutable_bind_to_port()->set_value(false);
  bool tls_inspector = false, http_inspector = false;
  for (const auto& c : e.chains) {
    tls_inspector = tls_inspector || !c.sni_hosts.empty();
    http_inspector = http_inspector || !c.application_protocols.empty();
  }
  if (tls_inspector) *l.add_listener_filters() = TlsInspectorFilter();
  if (http_inspector) {
    *l.add_listener_filters() = ListenerFilterOf(
        kHttpInspector, envoy::extensions::filters::listener::http_inspector::v3::HttpInspector());
  }
  *l.mutable_listener_filters_timeout() = TimeUtil::SecondsToDuration(0);  // mesh protocolDetectionTimeout

  bool has_default = false;
  for (const auto& c : e.chains) {
    listener::FilterChain fc;
    // Bounds a slow TLS handshake (istiod sets it on every outbound chain).
    *fc.mutable_transport_socket_connect_timeout() = TimeUtil::SecondsToDuration(kTransportSocketConnectTimeoutSeconds);
    if (c.virtual_service) SetIstioConfigMetadata(c.virtual_service->key, fc.mutable_metadata());
    if (c.rds.empty()) {
      for (const auto& f : c.filters) *fc.add_filters() = f;
    } else {
      HcmOptions options;
      options.stat_prefix = absl::StrCat("outbound_", l.name());
      options.rds = c.rds;
      *fc.add_filters() = BuildHttpConnectionManager(options);
    }
    if (c.MatchAll()) {
      // Traffic that starts to match a chain and then fails a later criterion
      // would be dropped: the match-all chain is the default (istio/istio#26079).
      if (!has_default) *l.mutable_default_filter_chain() = std::move(fc);
      has_default = true;
      continue;
    }
    auto* match = fc.mutable_filter_chain_match();
    for (const auto& p : c.application_protocols) match->add_application_protocols(p);
    match->set_transport_protocol(c.transport_protocol);
    for (const auto& cidr : c.cidrs) AddCidr(cidr, match);
    if (std::find(c.sni_hosts.begin(), c.sni_hosts.end(), "*") == c.sni_hosts.end()) {
      for (const auto& h : c.sni_hosts) match->add_server_names(h);
    }
    *l.add_filter_chains() = std::move(fc);
  }
  if (has_default && l.filter_chains().empty()) {
    *l.add_filter_chains() = l.default_filter_chain();
    l.clear_default_filter_chain();
  } else if (!has_default) {
    auto* fc = l.mutable_default_filter_chain();
    fc->mutable_filter_chain_match();
    fc->set_name(kPassthroughFilterChain);
    *fc->add_filters() = TcpProxyFilter(CatchAllCluster(policy));
  }
  return l;
}

// The HTTP chain of a port (Istio buildSidecarOutboundHTTPListenerOpts): RDS
// "PORT", shared by every HTTP service of the port, or "HOST:PORT" for a sniffed
// service with a listener of its own; matched on the HTTP inspector's plaintext
// ALPNs, so other traffic reaches the TCP chains.
Chain HttpChain(const Placement& p, bool sniffed, const std::string& wildcard) {
  Chain c;
  const int port = p.port->port;
  c.rds = sniffed && p.bind != wildcard ? absl::StrCat(p.service->hostname, ":", port) : std::to_string(port);
  c.application_protocols = {"http/1.1", "h2c"};
  c.transport_protocol = "raw_buffer";
  return c;
}

// Istio buildSidecarOutboundListener for one placement. An HTTP port's
// listener is on the wildcard and its chain behind the HTTP inspector, so istiod
// counts it sniffed already: TCP ports meeting it add their chains, a second HTTP
// or sniffed port adds nothing (virtual hosts come through RDS). A sniffed port
// brings its TCP chains and its own HTTP chain, after any TCP ones there.
void AddToEntry(const Placement& p, const model::VirtualServiceEntry* vs, const RouteContext& ctx,
                const std::string& wildcard, Entry* e) {
  const PortClass cls = ClassOf(p.port->protocol);
  if (cls == PortClass::kHttp) {
    if (e->protocol && *e->protocol != PortClass::kTcp) return;
    e->Merge({HttpChain(p, /*sniffed=*/false, wildcard)});
    e->protocol = PortClass::kAuto;
    return;
  }
  std::vector<Chain> tcp = IsTls(p.port->protocol) ? TlsChains(p, vs, ctx, wildcard) : TcpChains(p, vs, ctx);
  if (cls == PortClass::kTcp) {
    e->Merge(std::move(tcp));
    if (!e->protocol) e->protocol = PortClass::kTcp;
    return;
  }
  if (e->protocol && *e->protocol == PortClass::kAuto) return;
  tcp.push_back(HttpChain(p, /*sniffed=*/true, wildcard));
  e->Merge(std::move(tcp));
  e->protocol = PortClass::kAuto;
}

}  // namespace

std::vector<std::string> OutboundListenerNames(const model::Proxy& proxy, const model::PushContext& push) {
  std::set<std::string> names;
  for (const auto& p : OutboundPlacements(proxy, push, /*exclude_self=*/true)) {
    names.insert(ListenerName(p.bind, p.port->port));
  }
  return std::vector<std::string>(names.begin(), names.end());
}

std::map<std::string, listener::Listener> BuildOutboundListeners(const model::Proxy& proxy,
                                                                const model::PushContext& push) {
  const std::string wildcard = WildcardAddress(proxy);
  const model::ProxyScope& scope = push.ScopeFor(proxy);
  std::map<std::pair<std::string, int>, Entry> entries;
  for (const auto& p : OutboundPlacements(proxy, push, /*exclude_self=*/false)) {
    const int port = p.port->port;
    Entry& e = entries[{p.bind, port}];
    e.bind = p.bind;
    e.port = port;
    RouteContext ctx{&push, &proxy, port, "mesh"};
    AddToEntry(p, scope.VirtualServiceForHost(p.service->hostname, "mesh"), ctx, wildcard, &e);
  }
  std::map<std::string, listener::Listener> out;
  for (const auto& [key, e] : entries) {
    listener::Listener l = ToListener(e, scope.outbound_traffic_policy());
    out.emplace(l.name(), std::move(l));
  }
  return out;
}

listener::Listener BuildVirtualOutboundListener(const model::Proxy& proxy, model::OutboundTrafficPolicy policy) {
  listener::Listener l;
  l.set_name(kVirtualOutboundListener);
  SetAddress(WildcardAddress(proxy), kVirtualOutboundPort, l.mutable_address());
  l.mutable_use_original_dst()->set_value(true);
  l.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
  l.mutable_max_connections_to_accept_per_socket_event()->set_value(kMaxConnectionsToAcceptPerSocketEvent);
  // Connections sent to 15001 itself would loop: blackhole them.
  auto* blackhole = l.add_filter_chains();
  blackhole->set_name(kVirtualOutboundBlackholeChain);
  blackhole->mutable_filter_chain_match()->mutable_destination_port()->set_value(kVirtualOutboundPort);
  *blackhole->add_filters() = TcpProxyFilter(kBlackHoleCluster);
  auto* passthrough = l.add_filter_chains();
  passthrough->set_name(kVirtualOutboundCatchAllChain);
  *passthrough->add_filters() = TcpProxyFilter(CatchAllCluster(policy));
  return l;
}

}  // namespace keel::pilot::networking::sidecar
