// Clusters for Envoy proxies (sidecars and routers), as Istio's cluster builder
// (pilot/pkg/networking/core cluster.go, cluster_builder.go, cluster_tls.go,
// cluster_traffic_policy.go) makes them: outbound clusters per service port and
// DestinationRule subset with Istio's defaults (LEAST_REQUEST, unlimited circuit
// breakers, 10s connect timeout), DestinationRule traffic policies, auto mTLS
// and user TLS; the sidecar's BlackHole / Passthrough / InboundPassthrough
// clusters and its inbound|PORT|| clusters. Pure.
//
// Proxyless gRPC clients keep core/cluster_builder's BuildOutboundCluster.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "pilot/model/push_context.h"
#include "pilot/networking/core/cluster_name.h"
#include "pilot/networking/sidecar/proxy_instances.h"

namespace keel::pilot::networking::sidecar {

// Every cluster a wildcard CDS request of `proxy` gets, sorted: outbound
// clusters (service ports and subsets, UDP skipped, only those the proxy's
// Sidecar makes visible: ProxyScope::ServicePortVisible) and BlackHoleCluster; for
// sidecars also PassthroughCluster, InboundPassthroughCluster and one
// inbound|PORT|| per target port of `instances` (per ingress listener port
// instead when the proxy's Sidecar has ingress listeners).
std::vector<std::string> EnvoyClusterNames(const model::Proxy& proxy, const model::PushContext& push,
                                           const std::vector<ProxyInstance>& instances);

// True for the names whose cluster depends on the proxy's own workload
// (inbound|PORT||, InboundPassthroughCluster).
bool IsInboundClusterName(const std::string& name);

// The outbound cluster `name` (outbound|PORT|SUBSET|HOST) as `proxy` sees it, or
// nullopt when the service, port or subset does not exist, or a DNS/STATIC
// cluster would have no endpoints (Istio drops those).
std::optional<envoy::config::cluster::v3::Cluster> BuildEnvoyOutboundCluster(const ClusterName& name,
                                                                           const model::Proxy& proxy,
                                                                           const model::PushContext& push);

// inbound|PORT|| for the proxy's own workload port `target_port`: ORIGINAL_DST
// back to the application, bound to 127.0.0.6 so iptables lets it through.
// nullopt if no instance targets that port. When the proxy's Sidecar has ingress
// listeners they decide instead: the one on `target_port` (else nullopt), its
// defaultEndpoint making the cluster STATIC (no 127.0.0.6 bind to the loopback).
std::optional<envoy::config::cluster::v3::Cluster> BuildInboundCluster(int target_port, const model::Proxy& proxy,
                                                                     const model::PushContext& push,
                                                                     const std::vector<ProxyInstance>& instances);

envoy::config::cluster::v3::Cluster BuildBlackHoleCluster();
envoy::config::cluster::v3::Cluster BuildPassthroughCluster();
envoy::config::cluster::v3::Cluster BuildInboundPassthroughCluster(const model::Proxy& proxy);

// Any cluster of EnvoyClusterNames by name, or nullopt.
std::optional<envoy::config::cluster::v3::Cluster> BuildEnvoyCluster(const std::string& name,
                                                                   const model::Proxy& proxy,
                                                                   const model::PushContext& push,
                                                                   const std::vector<ProxyInstance>& instances);

// Istio's SNI for in-mesh mTLS to a cluster: "outbound_.9080_.v1_.reviews.default.svc.cluster.local".
std::string IstioMtlsSni(const ClusterName& name);

}  // namespace keel::pilot::networking::sidecar
