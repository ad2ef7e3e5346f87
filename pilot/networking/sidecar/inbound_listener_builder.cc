// virtualInbound (listener_builder.h).
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "envoy/extensions/filters/listener/http_inspector/v3/http_inspector.pb.h"
#include "envoy/extensions/filters/listener/original_dst/v3/original_dst.pb.h"
#include "envoy/extensions/filters/network/mongo_proxy/v3/mongo_proxy.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "pilot/networking/core/istio_filters.h"
#include "pilot/networking/core/istio_metadata.h"
#include "pilot/networking/core/security_filters.h"
#include "pilot/networking/core/cluster_name.h"
#include "pilot/networking/sidecar/common.h"
#include "pilot/networking/sidecar/http_connection_manager.h"
#include "pilot/networking/sidecar/listener_builder.h"
#include "pilot/networking/sidecar/route_builder.h"

namespace keel::pilot::networking::sidecar {
namespace {

namespace listener = ::envoy::config::listener::v3;
using google::protobuf::util::TimeUtil;

// ALPNs of in-mesh mTLS traffic (Istio allIstioMtlsALPNs / mtlsHTTPALPNs /
// mtlsTCPWithMxcALPNs) and of plaintext HTTP as http_inspector reports it.
const std::vector<std::string> kAllIstioMtlsAlpns = {"istio", "istio-peer-exchange", "istio-http/1.0",
                                                     "istio-http/1.1", "istio-h2"};
const std::vector<std::string> kMtlsHttpAlpns = {"istio-http/1.0", "istio-http/1.1", "istio-h2"};
const std::vector<std::string> kMtlsTcpAlpns = {"istio-peer-exchange", "istio"};
const std::vector<std::string> kPlaintextHttpAlpns = {"http/1.1", "h2c"};

// One inbound chain config (Istio inboundChainConfig).
struct ChainConfig {
  std::string cluster;   // inbound|PORT|| or InboundPassthroughCluster
  std::string hostname;  // the service (telemetry / decorators); "" for passthrough
  int service_port = 0;
  int target_port = 0;   // 0 for the passthrough chains (no destination_port match)
  std::string protocol;
  bool passthrough = false;
  model::MtlsMode mtls = model::MtlsMode::kPermissive;  // the workload's PeerAuthentication for the port
  // The address the chain is named for ("ADDRESS_PORT"); "" is the wildcard. A Sidecar
  // ingress listener's `bind`, else the proxy's IP (istiod getSidecarInboundBindIPs).
  std::string bind;
  const model::Config* sidecar = nullptr;  // the Sidecar whose ingress listener made it (istio metadata)
};

// One FilterChainMatch option of an inbound port (Istio FilterChainMatchOptions).
struct MatchOption {
  std::vector<std::string> alpns;
  std::string transport;
  bool http = false;
  bool tls = false;  // terminate mTLS
};

// Istio getFilterChainMatchOptions: the chains of a port by its mTLS mode
// (PeerAuthentication) and protocol. A sniffed port (and the passthrough
// chains) gets an HTTP and a TCP chain per transport, told apart by the HTTP
// inspector's or the mTLS ALPN. STRICT has no plaintext chain, DISABLE no TLS one.
std::vector<MatchOption> MatchOptions(model::MtlsMode mode, PortClass cls, bool passthrough) {
  const bool strict = mode == model::MtlsMode::kStrict;
  const bool permissive = mode == model::MtlsMode::kPermissive;
  if (passthrough || cls == PortClass::kAuto) {
    if (strict) return {{kMtlsHttpAlpns, "tls", true, true}, {{}, "tls", false, true}};
    if (permissive) {
      return {{kMtlsHttpAlpns, "tls", true, true},
              {kPlaintextHttpAlpns, "raw_buffer", true, false},
              {kMtlsTcpAlpns, "tls", false, true},
              {{}, "raw_buffer", false, false},
              {{}, "tls", false, false}};
    }
    return {{kPlaintextHttpAlpns, "raw_buffer", true, false}, {{}, "raw_buffer", false, false}};
  }
  const bool http = cls == PortClass::kHttp;
  if (strict) return {{{}, "tls", http, true}};
  if (!permissive) return {{{}, "raw_buffer", http, false}};
  if (http) return {{kAllIstioMtlsAlpns, "tls", true, true}, {{}, "raw_buffer", true, false}};
  return {{kAllIstioMtlsAlpns, "tls", false, true}, {{}, "tls", false, false}, {{}, "raw_buffer", false, false}};
}

// "ADDRESS_PORT" of a port's chains: their name, and "inbound_" + it their HTTP stat prefix.
std::string ChainListenerName(const ChainConfig& cc, const std::string& wildcard) {
  return ListenerName(cc.bind.empty() ? wildcard : cc.bind, cc.target_port);
}

std::string ChainName(const ChainConfig& cc, bool http, const std::string& wildcard) {
  if (cc.passthrough) return http ? kVirtualInboundCatchAllHttpChain : kVirtualInboundListener;
  return ChainListenerName(cc, wildcard);
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

std::vector<listener::FilterChain> ChainsFor(const ChainConfig& cc, const std::string& wildcard,
                                            const AuthzFilters& authz, const model::MeshOptions& mesh) {
  std::vector<listener::FilterChain> out;
  const PortClass cls = ClassOf(cc.protocol);
  for (const auto& opt : MatchOptions(cc.mtls, cls, cc.passthrough)) {
    listener::FilterChain fc;
    fc.set_name(ChainName(cc, opt.http, wildcard));
    auto* match = fc.mutable_filter_chain_match();
    if (cc.target_port > 0) match->mutable_destination_port()->set_value(cc.target_port);
    match->set_transport_protocol(opt.transport);
    for (const auto& a : opt.alpns) match->add_application_protocols(a);
    if (opt.tls) *fc.mutable_transport_socket() = DownstreamTlsSocket(InboundMtlsContext(!opt.http, mesh));
    if (cc.sidecar) SetIstioConfigMetadata(cc.sidecar->key, fc.mutable_metadata());
    *fc.add_filters() = NetworkMetadataExchangeFilter();  // istiod: first, so RBAC can read the peer
    if (opt.http) {
      HcmOptions options;
      options.stat_prefix = cc.passthrough ? cc.cluster : absl::StrCat("inbound_", ChainListenerName(cc, wildcard));
      options.route_config = BuildInboundRouteConfiguration(cc.cluster, cc.hostname, cc.service_port,
                                                            absl::AsciiStrToUpper(cc.protocol) == "GRPC");
      options.inbound = true;
      options.http2 = IsHttp2(cc.protocol);
      options.authz_filters = authz.http;
      *fc.add_filters() = BuildHttpConnectionManager(options);
    } else {
      for (const auto& f : authz.tcp) *fc.add_filters() = f;  // istiod: RBAC before the proxy filters
      if (IsMongo(cc.protocol)) {
        envoy::extensions::filters::network::mongo_proxy::v3::MongoProxy mongo;
        mongo.set_stat_prefix(cc.cluster);
        auto* f = fc.add_filters();
        f->set_name(kMongoProxy);
        f->mutable_typed_config()->PackFrom(mongo);
      }
      *fc.add_filters() = TcpProxyFilter(cc.cluster);
    }
    out.push_back(std::move(fc));
  }
  return out;
}

listener::ListenerFilterChainMatchPredicate PortsPredicate(const std::vector<int>& ports) {
  listener::ListenerFilterChainMatchPredicate out;
  auto range = [](int port, listener::ListenerFilterChainMatchPredicate* p) {
    p->mutable_destination_port_range()->set_start(port);
    p->mutable_destination_port_range()->set_end(port + 1);
  };
  if (ports.size() == 1) {
    range(ports[0], &out);
  } else {
    for (int p : ports) range(p, out.mutable_or_match()->add_rules());
  }
  return out;
}

// Istio populateListenerFilters: original_dst, then the TLS and HTTP inspectors
// only on the destination ports whose chains need them.
void AddListenerFilters(listener::Listener* l) {
  *l->add_listener_filters() =
      ListenerFilterOf(kOriginalDst, envoy::extensions::filters::listener::original_dst::v3::OriginalDst());
  struct Need {
    bool tls = false, http = false;
  };
  std::map<int, Need> needs;  // destination port (0: any) -> inspectors
  for (const auto& fc : l->filter_chains()) {
    const auto& m = fc.filter_chain_match();
    Need& n = needs[static_cast<int>(m.destination_port().value())];
    n.tls = n.tls || m.transport_protocol() == "tls";
    for (const auto& a : m.application_protocols()) n.http = n.http || a == "http/1.1" || a == "h2c";
  }
  bool any_tls = false, any_http = false;
  for (const auto& [port, n] : needs) {
    any_tls = any_tls || n.tls;
    any_http = any_http || n.http;
  }
  if (any_tls) {
    auto tls = TlsInspectorFilter();
    const bool default_enabled = needs.count(0) && needs[0].tls;
    std::vector<int> ports;
    for (const auto& [port, n] : needs) {
      if (port != 0 && n.tls != default_enabled) ports.push_back(port);
    }
    if (!ports.empty()) {
      if (default_enabled) {
        *tls.mutable_filter_disabled() = PortsPredicate(ports);
      } else {
        *tls.mutable_filter_disabled()->mutable_not_match() = PortsPredicate(ports);
      }
    }
    *l->add_listener_filters() = std::move(tls);
  }
  if (any_http) {
    auto http =
        ListenerFilterOf(kHttpInspector, envoy::extensions::filters::listener::http_inspector::v3::HttpInspector());
    std::vector<int> ports;
    for (const auto& [port, n] : needs) {
      if (!n.http) ports.push_back(port);
    }
    if (!ports.empty()) *http.mutable_filter_disabled() = PortsPredicate(ports);
    *l->add_listener_filters() = std::move(http);
  }
}

// Istio buildInboundChainConfigs: one chain config per inbound port, ordered by
// port. The selected Sidecar's ingress listeners, when it has any, replace the
// ports of the Services selecting the proxy (and carry istiod's synthetic
// telemetry host "<sidecar>.<namespace>"); otherwise one per workload port, the
// first Service (ProxyServiceInstances order) winning a shared port, as in Istio.
// Each is in the mTLS mode `mtls` gives its port.
std::vector<ChainConfig> InboundChainConfigs(const model::Proxy& proxy, const model::PushContext& push,
                                             const std::vector<ProxyInstance>& instances,
                                             const model::WorkloadMtls& mtls) {
  std::map<int, ChainConfig> by_port;
  auto add = [&](int port, const std::string& protocol, const std::string& hostname, int service_port,
                 const std::string& bind, const model::Config* sidecar) {
    if (port == kVirtualInboundPort || port == kVirtualOutboundPort) return;  // Istio skips static listener ports
    if (ClassOf(protocol) == PortClass::kUnsupported) return;
    ChainConfig cc;
    cc.cluster = ClusterName{"inbound", port, "", ""}.ToString();
    cc.hostname = hostname;
    cc.service_port = service_port;
    cc.target_port = port;
    cc.protocol = protocol;
    cc.bind = bind;
    cc.sidecar = sidecar;
    by_port.emplace(port, std::move(cc));
  };
  const model::SidecarScope& scope = push.ScopeFor(proxy).sidecar();
  if (!scope.ingress().empty()) {
    for (const auto& in : scope.ingress()) {
      add(in.port, in.protocol, scope.IngressHostname(), in.port, in.bind.empty() ? proxy.ip : in.bind,
          scope.sidecar().get());
    }
  } else {
    for (const auto& i : instances) {
      add(i.target_port, i.port.protocol, i.service->hostname, i.port.port, "", nullptr);
    }
  }
  std::vector<ChainConfig> out;
  for (auto& [port, cc] : by_port) {
    cc.mtls = mtls.ForPort(static_cast<uint32_t>(port));
    out.push_back(std::move(cc));
  }
  return out;
}

// Istio's ForPassthrough: the catch-all chains in the workload's mode, then, for
// each portLevelMtls port no inbound chain config covers, chains on that port in
// its own mode.
std::vector<ChainConfig> PassthroughChainConfigs(const model::WorkloadMtls& mtls,
                                                 const std::vector<ChainConfig>& inbound) {
  ChainConfig all;
  all.cluster = kInboundPassthroughCluster;
  all.passthrough = true;
  all.mtls = mtls.mode;
  std::vector<ChainConfig> out = {all};
  for (const auto& [port, mode] : mtls.per_port) {
    const bool covered = std::any_of(inbound.begin(), inbound.end(),
                                     [port = port](const ChainConfig& cc) { return cc.target_port == static_cast<int>(port); });
    if (covered) continue;
    ChainConfig one = all;
    one.target_port = static_cast<int>(port);
    one.mtls = mode;
    out.push_back(one);
  }
  return out;
}

}  // namespace

listener::Listener BuildVirtualInboundListener(const model::Proxy& proxy, const model::PushContext& push,
                                               const std::vector<ProxyInstance>& instances) {
  const std::string wildcard = WildcardAddress(proxy);
  listener::Listener l;
  l.set_name(kVirtualInboundListener);
  auto* socket = l.mutable_address()->mutable_socket_address();
  socket->set_address(wildcard);
  socket->set_port_value(kVirtualInboundPort);
  l.set_traffic_direction(envoy::config::core::v3::INBOUND);
  l.set_continue_on_listener_filters_timeout(true);
  l.mutable_max_connections_to_accept_per_socket_event()->set_value(kMaxConnectionsToAcceptPerSocketEvent);

  // Connections to 15006 itself would loop: blackhole them.
  auto* blackhole = l.add_filter_chains();
  blackhole->set_name(kVirtualInboundBlackholeChain);
  blackhole->mutable_filter_chain_match()->mutable_destination_port()->set_value(kVirtualInboundPort);
  *blackhole->add_filters() = NetworkMetadataExchangeFilter();
  *blackhole->add_filters() = TcpProxyFilter(kBlackHoleCluster);

  const model::WorkloadMtls mtls = push.PeerAuthenticationFor(proxy);
  const std::vector<ChainConfig> inbound = InboundChainConfigs(proxy, push, instances, mtls);
  const AuthzFilters authz = BuildSecurityFilters(proxy, push);
  for (const auto& cc : PassthroughChainConfigs(mtls, inbound)) {
    for (auto& fc : ChainsFor(cc, wildcard, authz, push.mesh())) *l.add_filter_chains() = std::move(fc);
  }
  for (const auto& cc : inbound) {
    for (auto& fc : ChainsFor(cc, wildcard, authz, push.mesh())) *l.add_filter_chains() = std::move(fc);
  }
  AddListenerFilters(&l);
  *l.mutable_listener_filters_timeout() = TimeUtil::SecondsToDuration(0);  // mesh protocolDetectionTimeout
  return l;
}

}  // namespace keel::pilot::networking::sidecar
