// Names and small builders shared by the Envoy (sidecar and router) generators:
// Istio's well-known cluster, listener and filter names, the protocol classes of
// a service port, and the SDS / transport-socket shapes istiod emits.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/common.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "pilot/model/proxy.h"

namespace keel::pilot::networking::sidecar {

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

// Envoy extension names as istiod writes them.
inline constexpr char kHttpConnectionManager[] = "envoy.filters.network.http_connection_manager";
inline constexpr char kTcpProxy[] = "envoy.filters.network.tcp_proxy";
inline constexpr char kMongoProxy[] = "envoy.filters.network.mongo_proxy";
inline constexpr char kTlsInspector[] = "envoy.filters.listener.tls_inspector";
inline constexpr char kHttpInspector[] = "envoy.filters.listener.http_inspector";
inline constexpr char kOriginalDst[] = "envoy.filters.listener.original_dst";
inline constexpr char kTlsTransportSocket[] = "envoy.transport_sockets.tls";
inline constexpr char kRawBufferTransportSocket[] = "envoy.transport_sockets.raw_buffer";
inline constexpr char kHttpProtocolOptionsKey[] = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

// SDS resource names the istio-agent serves over the bootstrap cluster
// "sds-grpc": the workload certificate and the mesh root (Istio
// SDSDefaultResourceName / SDSRootResourceName / SDSClusterName).
inline constexpr char kSdsDefault[] = "default";
inline constexpr char kSdsRoot[] = "ROOTCA";
inline constexpr char kSdsCluster[] = "sds-grpc";

// ALPN values (Istio util.ALPN*).
inline constexpr char kAlpnIstio[] = "istio";
inline constexpr char kAlpnPeerExchange[] = "istio-peer-exchange";

// Istio's default trust domain (MeshConfig.trustDomain); SPIFFE identities of
// workloads are spiffe://<trust domain>/ns/<ns>/sa/<service account>.
inline constexpr char kTrustDomain[] = "cluster.local";

// A service port's protocol as Istio's listener code classifies it
// (protocol.Instance.IsHTTP / IsTLS / IsTCP). Keel names unknown ports TCP, so
// there is no "auto" (sniffed) class.
enum class PortClass { kHttp, kTcp, kUnsupported };
PortClass ClassOf(absl::string_view protocol);
bool IsHttp2(absl::string_view protocol);  // HTTP2, GRPC
bool IsTls(absl::string_view protocol);    // HTTPS, TLS
bool IsMongo(absl::string_view protocol);

// The wildcard address of the proxy's IP family: "0.0.0.0" or "::".
std::string WildcardAddress(const model::Proxy& proxy);

// Istio's listener name: "<address>_<port>".
std::string ListenerName(absl::string_view address, int port);

// "host:port/*", the decorator operation of a default route (telemetry.TraceOperation).
std::string TraceOperation(absl::string_view host, int port);

// SdsSecretConfig for `name` fetched from the agent ("sds-grpc" cluster), as
// Istio's ConstructSdsSecretConfig; the workload and root certificates get an
// initial_fetch_timeout of 0 (wait forever).
envoy::extensions::transport_sockets::tls::v3::SdsSecretConfig AgentSdsSecret(const std::string& name);

// SdsSecretConfig for a credentialName fetched from istiod over ADS
// ("kubernetes://NAME"), as Istio's ConstructSdsSecretConfigForCredential.
envoy::extensions::transport_sockets::tls::v3::SdsSecretConfig CredentialSdsSecret(const std::string& name);

// Transport sockets.
envoy::config::core::v3::TransportSocket UpstreamTlsSocket(
    const envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext& context);
envoy::config::core::v3::TransportSocket DownstreamTlsSocket(
    const envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext& context);
envoy::config::core::v3::TransportSocket RawBufferSocket();

// The server-side mTLS context of an inbound filter chain (Istio
// BuildInboundTLS): the workload certificate, peers validated against ROOTCA,
// client certificate required; ALPN h2/http1.1, plus istio-peer-exchange for TCP.
envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext InboundMtlsContext(bool tcp);

}  // namespace keel::pilot::networking::sidecar
