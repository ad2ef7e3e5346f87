// SidecarScope: what an Istio Sidecar resource (networking.istio.io Sidecar)
// lets one sidecar proxy see, as istiod's SidecarScope (pilot/pkg/model/
// sidecar.go ConvertToSidecarScope / DefaultSidecarScopeForNamespace) answers it
// for the parts Keel implements: egress hosts and ports, outboundTrafficPolicy,
// ingress listeners (port, protocol, defaultEndpoint).
//
// A small immutable value held by the ProxyScope of (proxy namespace, Sidecar)
// (proxy_scope.h: ScopeKey names the Sidecar), so built once per push and shared
// by every proxy of that namespace the Sidecar selects. Pure: no locks, no I/O,
// records no dependencies (the ProxyScope does). Selection of the Sidecar for a
// proxy is SelectSidecar below.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "pilot/model/config.h"
#include "pilot/model/config_store.h"
#include "pilot/model/mesh.h"
#include "pilot/model/service.h"

namespace keel::pilot::model {

class PushContext;

class SidecarScope {
 public:
  // No Sidecar applies: every service is visible, ALLOW_ANY (Build gives the
  // mesh's outboundTrafficPolicy instead).
  SidecarScope() = default;

  // `sidecar` (a kSidecar Config, or null for none) as it applies to proxies in
  // `ns`; its outboundTrafficPolicy, else the mesh's (push.mesh()). "." in its
  // hosts means `ns` (so a root-namespace default means each proxy's own
  // namespace). `push` supplies the VirtualServices whose route destinations the
  // egress hosts import (istiod adds those services to the scope too).
  static SidecarScope Build(const ConfigPtr& sidecar, absl::string_view ns, const PushContext& push);

  // The Sidecar this came from; null for the default scope.
  const ConfigPtr& sidecar() const { return sidecar_; }

  // What the built resources depend on: "" for the default scope, else the
  // Sidecar's identity and resourceVersion (a spec hash for objects from files,
  // which have none) and the namespace "." means. Cache
  // scopes of per-proxy resources must include it.
  const std::string& cache_key() const { return cache_key_; }

  // Is `port` of `service` reachable through an egress listener (one whose port
  // is `port`, or a port-less one)? `port` 0: through any port.
  bool ServicePortVisible(const Service& service, int port) const;
  bool ServiceVisible(const Service& service) const { return ServicePortVisible(service, 0); }

  // Does a VirtualService in `vs_ns` with (resolved) `hosts` apply to this proxy:
  // does some egress host "NS/PATTERN" have NS "*" or `vs_ns` and a PATTERN
  // matching one of `hosts` (either way round, wildcards included)?
  bool VirtualServiceVisible(absl::string_view vs_ns, const std::vector<std::string>& hosts) const;

  // A DestinationRule for `hostname` applies when the service is visible at all
  // (istiod picks the rule for each service of the scope, from any namespace).
  bool DestinationRuleApplies(const Service& service) const { return ServiceVisible(service); }

  OutboundTrafficPolicy outbound_traffic_policy() const { return policy_; }

  // One `ingress` listener of the Sidecar. When there is any, they replace the
  // inbound chains and clusters the proxy's Services would give it (istiod
  // buildInboundChainConfigs / buildInboundClusters): one per `port`, cluster
  // inbound|PORT||.
  struct Ingress {
    int port = 0;
    std::string protocol;          // as the Sidecar spells it (HTTP, TCP, GRPC...)
    std::string default_endpoint;  // "", "127.0.0.1:P", "0.0.0.0:P", "[::1]:P", "[::]:P", "unix://PATH"
    std::string bind;              // the listener's `bind`, "" if unset
  };
  const std::vector<Ingress>& ingress() const { return ingress_; }
  // The one for `port`, or null.
  const Ingress* IngressFor(int port) const;
  // istiod's synthetic telemetry host of ingress chains: "<sidecar name>.<namespace>".
  std::string IngressHostname() const;

 private:
  // One "NS/PATTERN" of an egress listener; ns "*" is any namespace. "~/..."
  // imports nothing and is dropped when parsed.
  struct ImportedHost {
    std::string ns;
    std::string pattern;
  };
  struct Egress {
    int port = 0;  // 0: the catch-all listener (every port of its hosts)
    std::vector<ImportedHost> hosts;
  };
  static bool Imports(const Egress& egress, const Service& service);

  ConfigPtr sidecar_;
  std::string cache_key_;
  bool everything_ = true;  // the default scope
  std::vector<Egress> egress_;
  // Services imported because a visible VirtualService routes to them (all ports).
  std::set<std::string> destination_hosts_;
  OutboundTrafficPolicy policy_ = OutboundTrafficPolicy::kAllowAny;
  std::vector<Ingress> ingress_;
};

// The Sidecar's version for ScopeKey and cache_key(): its resourceVersion;
// objects from files have none, so a hash of the spec (deterministic
// serialization) stands in.
std::string SidecarVersion(const Config& config);

// The Sidecar that applies to a sidecar proxy in `ns` with pod `labels`, as
// istiod picks it: one in `ns` whose workloadSelector matches `labels` (oldest
// first, then by name), else one in `ns` without a selector, else one without a
// selector in `root_ns` (MeshConfig rootNamespace; Keel's --system-namespace).
// Null when none applies.
ConfigPtr SelectSidecar(const ConfigSnapshot& configs, absl::string_view ns,
                        const std::map<std::string, std::string>& labels, absl::string_view root_ns);

}  // namespace keel::pilot::model
