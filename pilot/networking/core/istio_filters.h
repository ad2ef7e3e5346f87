// Istio's proxy extensions, as istiod configures them (pilot/pkg/xds/filters):
// the filters only Istio's own Envoy build (the proxyv2 image) implements, which
// its telemetry (istio_requests_total, Kiali, the dashboards) and the istio-http/*
// ALPN of mTLS between sidecars rely on. An upstream Envoy rejects them; Keel
// serves Istio's proxies, which have them.
#pragma once

#include <vector>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/listener/v3/listener_components.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"

namespace keel::pilot::networking {

// istio.metadata_exchange on an outbound cluster (xdsfilters.TCPClusterMx): the
// istio-peer-exchange handshake with the peer sidecar over mTLS.
const envoy::config::cluster::v3::Filter& ClusterMetadataExchangeFilter();

// istio.metadata_exchange, the same handshake on a sidecar's inbound TCP chain
// (xdsfilters.TCPListenerMx); first of the chain's network filters.
const envoy::config::listener::v3::Filter& NetworkMetadataExchangeFilter();

// Where an HTTP connection manager sits: a sidecar's inbound or outbound
// listener, or a gateway's (which istiod treats as outbound for these filters).
enum class HttpListenerClass { kSidecarInbound, kSidecarOutbound, kGateway };

// istio.metadata_exchange for HTTP (io.istio.http.peer_metadata, istiod's
// SidecarInbound/OutboundMetadataFilter): peer metadata from and to the
// x-envoy-peer-metadata headers; first of the HTTP filters.
envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter PeerMetadataFilter(
    HttpListenerClass where);

// envoy.filters.http.grpc_stats emitting filter state (no per-method stats),
// which istio.stats reads for gRPC message counts.
envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter GrpcStatsFilter();

// istio.alpn: upstream TLS advertises istio-http/1.0, istio-http/1.1 or istio-h2
// first, so the peer sidecar knows the protocol; not on inbound listeners.
envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter AlpnFilter();

// istiod's HTTP filters before authorization and between it and fault/cors:
// {peer metadata} ... {grpc_stats, alpn unless inbound}.
struct IstioHttpFilters {
  std::vector<envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter> first;
  std::vector<envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter> after_authz;
};
// Built once per class; the reference lives as long as the process.
const IstioHttpFilters& IstioHttpFiltersFor(HttpListenerClass where);

// istio.stats (stats.PluginConfig, istiod's generateStatsConfig with no
// Telemetry overrides): Istio's standard metrics, istio_requests_total and the
// rest, for the Prometheus provider. The host header is not a fallback for the
// destination service on inbound and gateway listeners. The HTTP filter goes
// right before the router, the network one right before a TCP chain's proxy.
const envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter& StatsHttpFilter(
    HttpListenerClass where);
const envoy::config::listener::v3::Filter& StatsNetworkFilter(HttpListenerClass where);

}  // namespace keel::pilot::networking
