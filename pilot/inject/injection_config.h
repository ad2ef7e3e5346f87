// What the sidecar injector is configured with: the subset of Istio's injection
// `values` (ConfigMap istio-sidecar-injector, key `values`; the istiod chart's
// values.yaml names in the comments) and `config` (policy, selectors) that Keel's
// templates read, with istiod's defaults. One struct, so the webhook, the chart's
// ConfigMap and istioctl kube-inject agree on the same inputs.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "pilot/inject/json_value.h"
#include "pilot/inject/label_selector.h"

namespace keel::pilot::inject {

// global.proxy.resources of Istio's values.yaml (requests 100m/128Mi, limits
// 2000m/1024Mi), in the canonical form Kubernetes' resource.Quantity gives them in
// istiod's patch.
inline JsonObject DefaultProxyResources() {
  return Obj({{"requests", Obj({{"cpu", Str("100m")}, {"memory", Str("128Mi")}})},
              {"limits", Obj({{"cpu", Str("2")}, {"memory", Str("1Gi")}})}})
      .struct_value();
}

struct InjectionConfig {
  // config: policy (enabled: inject unless a pod says no; disabled: only pods that
  // say yes), neverInjectSelector, alwaysInjectSelector, injectedAnnotations.
  bool policy_enabled = true;
  std::vector<LabelSelector> never_inject_selector;
  std::vector<LabelSelector> always_inject_selector;
  std::map<std::string, std::string> injected_annotations;

  // values
  std::string hub = "docker.io/istio";        // global.hub
  std::string tag = "1.31.0";                 // global.tag (the pinned istio.io/istio module's 1.31)
  std::string proxy_image = "proxyv2";        // global.proxy.image (a "/" makes it a full reference)
  std::string proxy_init_image = "proxyv2";   // global.proxy_init.image
  std::string image_pull_policy;              // global.imagePullPolicy ("" leaves Kubernetes' default)
  std::string istio_namespace = "istio-system";  // global.istioNamespace
  std::string revision;                       // revision ("" is "default")
  std::string ca_address;                     // global.caAddress ("": istiod[-rev].<ns>.svc:15012)
  std::string cluster_domain = "cluster.local";  // global.proxy.clusterDomain
  std::string cluster_name = "Kubernetes";    // global.multiCluster.clusterName
  std::string network;                        // global.network
  std::string mesh_id;                        // global.meshID ("": the trust domain)
  std::string trust_domain = "cluster.local"; // meshConfig.trustDomain
  std::string token_audience = "istio-ca";    // global.sds.token.aud
  std::string log_level = "warning";          // global.proxy.logLevel
  std::string component_log_level = "misc:error";  // global.proxy.componentLogLevel
  std::string agent_log_level = "default:info";    // global.logging.level
  int status_port = 15020;                    // global.proxy.statusPort (0: no readiness probe)
  int readiness_initial_delay_seconds = 0;    // global.proxy.readinessInitialDelaySeconds
  int readiness_period_seconds = 15;          // global.proxy.readinessPeriodSeconds
  int readiness_failure_threshold = 4;        // global.proxy.readinessFailureThreshold
  bool startup_probe_enabled = true;          // global.proxy.startupProbe.enabled
  int startup_probe_failure_threshold = 600;  // global.proxy.startupProbe.failureThreshold
  std::string include_ip_ranges = "*";        // global.proxy.includeIPRanges
  std::string exclude_ip_ranges;              // global.proxy.excludeIPRanges
  std::string include_inbound_ports = "*";    // global.proxy.includeInboundPorts
  std::string exclude_inbound_ports;          // global.proxy.excludeInboundPorts
  std::string include_outbound_ports;         // global.proxy.includeOutboundPorts
  std::string exclude_outbound_ports;         // global.proxy.excludeOutboundPorts
  bool privileged = false;                    // global.proxy.privileged
  bool hold_application_until_proxy_starts = false;  // global.proxy.holdApplicationUntilProxyStarts
  bool rewrite_app_http_probe = true;         // sidecarInjectorWebhook.rewriteAppHTTPProbe
  bool prometheus_merge = true;               // meshConfig.enablePrometheusMerge
  JsonObject proxy_resources = DefaultProxyResources();  // global.proxy.resources (ResourceRequirements)
  // meshConfig.defaultConfig as JSON (ProxyConfig); discoveryAddress defaults to
  // istiod[-rev].<istio_namespace>.svc:15012 when it has none.
  std::string default_proxy_config_json = "{}";

  // Per request: the env the webhook URL's path sets (/inject/cluster/C/net/N,
  // InjectionPathEnvs; istiod's proxyEnvs). They replace the template's entries of the
  // same names and come last in istio-proxy's env, sorted.
  std::map<std::string, std::string> path_envs;
};

}  // namespace keel::pilot::inject
