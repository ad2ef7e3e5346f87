// Istio's and Envoy's well-known names, as istiod writes them into Envoy config:
// one table for every generator (sidecar, router, proxyless gRPC). A name Envoy
// or the istio-agent looks up must be spelt exactly so; add it here, not in a
// builder.
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace keel::pilot::networking {

// Istio's constants.StatPrefixDelimiter: ends every cluster's alt_stat_name and every
// HttpConnectionManager's stat_prefix, so the stats tag regexes of Istio's bootstrap
// (ENABLE_DELIMITED_STATS_TAG_REGEX, on by default) find where the name ends.
inline constexpr char kStatPrefixDelimiter[] = ";";
inline std::string DelimitedStatPrefix(absl::string_view prefix) { return absl::StrCat(prefix, kStatPrefixDelimiter); }

// Values istiod writes beside those names (its defaults; Keel has no setting for them).
// GATEWAY_TRANSPORT_SOCKET_CONNECT_TIMEOUT: a chain's TLS handshake is cut off after this.
inline constexpr int kTransportSocketConnectTimeoutSeconds = 15;
// MAX_CONNECTIONS_PER_SOCKET_EVENT_LOOP, on every listener bound to a port.
inline constexpr int kMaxConnectionsToAcceptPerSocketEvent = 1;

// Clusters every sidecar has (Istio util.BlackHoleCluster, ...).
inline constexpr char kBlackHoleCluster[] = "BlackHoleCluster";
inline constexpr char kPassthroughCluster[] = "PassthroughCluster";
inline constexpr char kInboundPassthroughCluster[] = "InboundPassthroughCluster";

// Listeners and filter chains (Istio model.VirtualOutboundListenerName, ...).
inline constexpr char kVirtualOutboundListener[] = "virtualOutbound";
inline constexpr char kVirtualInboundListener[] = "virtualInbound";
inline constexpr char kVirtualOutboundCatchAllChain[] = "virtualOutbound-catchall-tcp";
inline constexpr char kVirtualOutboundBlackholeChain[] = "virtualOutbound-blackhole";
inline constexpr char kVirtualInboundBlackholeChain[] = "virtualInbound-blackhole";
inline constexpr char kVirtualInboundCatchAllHttpChain[] = "virtualInbound-catchall-http";
inline constexpr char kPassthroughFilterChain[] = "PassthroughFilterChain";
inline constexpr int kVirtualOutboundPort = 15001;  // mesh proxyListenPort
inline constexpr int kVirtualInboundPort = 15006;   // mesh proxyInboundListenPort

// Envoy extension names.
inline constexpr char kHttpConnectionManager[] = "envoy.filters.network.http_connection_manager";
inline constexpr char kTcpProxy[] = "envoy.filters.network.tcp_proxy";
inline constexpr char kMongoProxy[] = "envoy.filters.network.mongo_proxy";
inline constexpr char kNetworkRbacFilter[] = "envoy.filters.network.rbac";
inline constexpr char kHttpRbacFilter[] = "envoy.filters.http.rbac";
inline constexpr char kJwtAuthnFilter[] = "envoy.filters.http.jwt_authn";
inline constexpr char kFileAccessLog[] = "envoy.access_loggers.file";
// The dynamic metadata key of jwt_authn's verified payload (istiod: EnvoyJwtFilterPayload);
// AuthorizationPolicy's request.auth.* match under it.
inline constexpr char kJwtPayloadMetadataKey[] = "payload";
inline constexpr char kTlsInspector[] = "envoy.filters.listener.tls_inspector";
inline constexpr char kHttpInspector[] = "envoy.filters.listener.http_inspector";
inline constexpr char kOriginalDst[] = "envoy.filters.listener.original_dst";
inline constexpr char kFaultFilter[] = "envoy.filters.http.fault";
inline constexpr char kCorsFilter[] = "envoy.filters.http.cors";
inline constexpr char kRouterFilter[] = "envoy.filters.http.router";
inline constexpr char kGrpcStatsFilter[] = "envoy.filters.http.grpc_stats";
// Istio's own filters (Istio's Envoy build; pilot/pkg/xds/filters MxFilterName, AlpnFilterName).
inline constexpr char kMetadataExchangeFilter[] = "istio.metadata_exchange";
inline constexpr char kAlpnFilter[] = "istio.alpn";
inline constexpr char kStatsFilter[] = "istio.stats";  // HTTP and network (xds.StatsFilterName)
inline constexpr char kTlsTransportSocket[] = "envoy.transport_sockets.tls";
inline constexpr char kRawBufferTransportSocket[] = "envoy.transport_sockets.raw_buffer";
inline constexpr char kHttpProtocolOptionsKey[] = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
inline constexpr char kPreviousHostsRetryPredicate[] = "envoy.retry_host_predicates.previous_hosts";
// Endpoint metadata key that transport_socket_matches match on (auto mTLS).
inline constexpr char kTransportSocketMatch[] = "envoy.transport_socket_match";
// The security.istio.io/tlsMode value of a workload without a sidecar (model.DisabledTLSModeLabel).
inline constexpr char kTlsModeDisabled[] = "disabled";
inline constexpr char kTlsModeIstio[] = "istio";
// Filter metadata key of Istio's own metadata on clusters, chains and endpoints (util.IstioMetadataKey).
inline constexpr char kIstioMetadataKey[] = "istio";

// SDS resource names the istio-agent serves over the bootstrap cluster
// "sds-grpc": the workload certificate and the mesh root (Istio
// SDSDefaultResourceName / SDSRootResourceName / SDSClusterName).
inline constexpr char kSdsDefault[] = "default";
inline constexpr char kSdsRoot[] = "ROOTCA";
inline constexpr char kSdsCluster[] = "sds-grpc";

// ALPN values (Istio util.ALPN*).
inline constexpr char kAlpnIstio[] = "istio";
inline constexpr char kAlpnPeerExchange[] = "istio-peer-exchange";

}  // namespace keel::pilot::networking
