// The pod-side names injection reads and writes: Istio's annotations and labels
// (istio.io/api annotation/ and label/ packages), the injected containers and
// volumes, and the agent's ports. Envoy-config names live in
// networking/core/well_known_names.h; these are the Kubernetes-object side.
#pragma once

namespace keel::pilot::inject {

// Containers istiod injects (inject.ProxyContainerName, InitContainerName, ...).
inline constexpr char kProxyContainerName[] = "istio-proxy";
inline constexpr char kInitContainerName[] = "istio-init";

// The agent's ports: Envoy's Prometheus port, Envoy's readiness, the agent's status port.
inline constexpr int kEnvoyPrometheusPort = 15090;
inline constexpr int kEnvoyHealthPort = 15021;
inline constexpr int kDefaultProxyUid = 1337;

// Annotations.
inline constexpr char kSidecarInject[] = "sidecar.istio.io/inject";  // also a label (preferred)
inline constexpr char kSidecarStatus[] = "sidecar.istio.io/status";
inline constexpr char kProxyOverrides[] = "proxy.istio.io/overrides";
inline constexpr char kInjectTemplates[] = "inject.istio.io/templates";
inline constexpr char kProxyConfigAnnotation[] = "proxy.istio.io/config";
inline constexpr char kProxyImage[] = "sidecar.istio.io/proxyImage";
inline constexpr char kProxyCpu[] = "sidecar.istio.io/proxyCPU";
inline constexpr char kProxyMemory[] = "sidecar.istio.io/proxyMemory";
inline constexpr char kProxyCpuLimit[] = "sidecar.istio.io/proxyCPULimit";
inline constexpr char kProxyMemoryLimit[] = "sidecar.istio.io/proxyMemoryLimit";
inline constexpr char kInterceptionMode[] = "sidecar.istio.io/interceptionMode";
inline constexpr char kProxyLogLevel[] = "sidecar.istio.io/logLevel";
inline constexpr char kProxyComponentLogLevel[] = "sidecar.istio.io/componentLogLevel";
inline constexpr char kAgentLogLevel[] = "sidecar.istio.io/agentLogLevel";
inline constexpr char kStatusPort[] = "status.sidecar.istio.io/port";
inline constexpr char kReadinessInitialDelay[] = "readiness.status.sidecar.istio.io/initialDelaySeconds";
inline constexpr char kReadinessPeriod[] = "readiness.status.sidecar.istio.io/periodSeconds";
inline constexpr char kReadinessFailureThreshold[] = "readiness.status.sidecar.istio.io/failureThreshold";
inline constexpr char kRewriteAppHttpProbers[] = "sidecar.istio.io/rewriteAppHTTPProbers";
inline constexpr char kIncludeOutboundIpRanges[] = "traffic.sidecar.istio.io/includeOutboundIPRanges";
inline constexpr char kExcludeOutboundIpRanges[] = "traffic.sidecar.istio.io/excludeOutboundIPRanges";
inline constexpr char kIncludeInboundPorts[] = "traffic.sidecar.istio.io/includeInboundPorts";
inline constexpr char kExcludeInboundPorts[] = "traffic.sidecar.istio.io/excludeInboundPorts";
inline constexpr char kIncludeOutboundPorts[] = "traffic.sidecar.istio.io/includeOutboundPorts";
inline constexpr char kExcludeOutboundPorts[] = "traffic.sidecar.istio.io/excludeOutboundPorts";
inline constexpr char kKubevirtInterfaces[] = "traffic.sidecar.istio.io/kubevirtInterfaces";
inline constexpr char kRerouteVirtualInterfaces[] = "istio.io/reroute-virtual-interfaces";
inline constexpr char kExcludeInterfaces[] = "traffic.sidecar.istio.io/excludeInterfaces";
inline constexpr char kPrometheusMergeMetrics[] = "prometheus.istio.io/merge-metrics";
inline constexpr char kIstioRev[] = "istio.io/rev";
inline constexpr char kDefaultLogsContainer[] = "kubectl.kubernetes.io/default-logs-container";
inline constexpr char kDefaultContainer[] = "kubectl.kubernetes.io/default-container";

// Labels.
inline constexpr char kTlsModeLabel[] = "security.istio.io/tlsMode";
inline constexpr char kNetworkLabel[] = "topology.istio.io/network";
inline constexpr char kCanonicalNameLabel[] = "service.istio.io/canonical-name";
inline constexpr char kCanonicalRevisionLabel[] = "service.istio.io/canonical-revision";
inline constexpr char kWorkloadNameLabel[] = "service.istio.io/workload-name";

}  // namespace keel::pilot::inject
