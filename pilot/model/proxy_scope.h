// ProxyScope: what proxies of one scope may see in one push, indexed for the
// lookups generation makes (Istio's SidecarScope plus PushContext's per-namespace
// indexes). Built once per push per ScopeKey, lazily, and memoised by the
// PushContext (PushContext::Scope / ScopeFor); immutable once built. It holds
// the SidecarScope of the Sidecar resource its key names (sidecar_scope.h), and
// its services and VirtualService index are filtered by it: builders ask the
// ProxyScope only.
//
// Semantics are Istio's (and were PushContext's linear scans):
//  - VirtualServiceForHost: among VirtualServices bound to the gateway ("mesh"
//    for sidecars and proxyless clients: no gateways listed means "mesh") and
//    exported to the scope's namespace, the one with the most specific host
//    matching: exact beats a longer wildcard beats a shorter one; among equals the
//    oldest (creationTimestamp, then namespace/name) wins.
//  - VirtualServicesForGateway: Istio's three visibility groups, oldest first.
//  - DestinationRuleForHost: one in the scope's namespace first, then in the
//    service's namespace, then any other; exact before wildcard within a rank.
//  - With a Sidecar: services() holds the services some egress listener (or a
//    visible VirtualService's destination) imports, at any port
//    (ServicePortVisible narrows to a port); only VirtualServices its egress
//    hosts import are indexed.
// Lookups are map lookups over the hostname's candidate patterns (the name
// itself, "*.<each dot suffix>", "*"), never scans over all configs. Each lookup
// records what it depended on (dependencies.h).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/string_view.h"
#include "pilot/model/config.h"
#include "pilot/model/proxy.h"
#include "pilot/model/service.h"
#include "pilot/model/sidecar_scope.h"

namespace keel::pilot::model {

class PushContext;
struct VirtualServiceEntry;
struct DestinationRuleEntry;

// What a ProxyScope is built for: every proxy-side fact that changes which
// configs a proxy sees: the namespace and the Sidecar resource selecting the
// proxy (PushContext::ScopeFor picks it; routers and proxyless gRPC clients get
// none), by identity and version (resourceVersion, or a spec hash for objects
// from files: SidecarVersion). A changed Sidecar is a different key, so nothing
// built for the old spec is served for the new one (XdsCacheKey holds a ScopeKey).
struct ScopeKey {
  std::string ns;
  ConfigKey sidecar;             // name empty: no Sidecar applies
  std::string sidecar_version;   // "" when none

  bool has_sidecar() const { return !sidecar.name.empty(); }
  friend bool operator<(const ScopeKey& a, const ScopeKey& b) {
    return std::tie(a.ns, a.sidecar, a.sidecar_version) < std::tie(b.ns, b.sidecar, b.sidecar_version);
  }
  friend bool operator==(const ScopeKey& a, const ScopeKey& b) {
    return a.ns == b.ns && a.sidecar == b.sidecar && a.sidecar_version == b.sidecar_version;
  }
  // "NS" without a Sidecar, "NS|sidecar=SNS/SNAME@VERSION" with one.
  std::string ToString() const;
};

// The patterns that can match `hostname` under HostMatches: the name itself,
// "*" + each suffix starting at a dot, and "*".
std::vector<std::string> CandidatePatterns(absl::string_view hostname);

class ProxyScope {
 public:
  // `sidecar`: the Sidecar `key` names (null when it names none).
  ProxyScope(const PushContext& push, ScopeKey key, const ConfigPtr& sidecar);

  const ScopeKey& key() const { return key_; }
  const std::string& ns() const { return key_.ns; }

  // The selected Sidecar's view (the default, everything and ALLOW_ANY, without one).
  const SidecarScope& sidecar() const { return sidecar_; }
  OutboundTrafficPolicy outbound_traffic_policy() const { return sidecar_.outbound_traffic_policy(); }

  // The services the scope sees (Keel does not read exportTo of Services or
  // ServiceEntries; a Sidecar narrows them), one per hostname (a Kubernetes
  // Service shadows a ServiceEntry for the same host), in PushContext order.
  const std::vector<const Service*>& services() const;
  // Is `port` of `service` (one of services()) visible: a Sidecar's egress
  // listener for that port, or a port-less one, imports it. Always true without
  // a Sidecar.
  bool ServicePortVisible(const Service& service, int port) const;

  const VirtualServiceEntry* VirtualServiceForHost(absl::string_view hostname, absl::string_view gateway) const;
  const std::vector<const VirtualServiceEntry*>& VirtualServicesForGateway(absl::string_view gateway) const;
  // Every VirtualService bound to "mesh" the scope sees, oldest first (Istio's
  // egress listener VirtualServices()); depends on all of them.
  const std::vector<const VirtualServiceEntry*>& MeshVirtualServices() const;
  const DestinationRuleEntry* DestinationRuleForHost(absl::string_view hostname) const;

  // Whether a VirtualService this scope routes by for "mesh" has a match on
  // sourceLabels (http, tls or tcp): only then do a sidecar's routes and
  // outbound listeners depend on its own labels (Istio's route cache is
  // likewise off for such VirtualServices), so only then do their cache keys
  // hold the labels.
  bool matches_source_labels() const { return matches_source_labels_; }

 private:
  // With a Sidecar, what it imports depends on every VirtualService (their
  // destinations are imported) and on the Sidecar: recorded by each lookup.
  void RecordSidecar() const;

  const PushContext& push_;
  ScopeKey key_;
  SidecarScope sidecar_;
  std::vector<const Service*> services_;
  // binding ("mesh" or "ns/name") -> host pattern -> the oldest visible VirtualService with it.
  std::map<std::string, std::map<std::string, const VirtualServiceEntry*, std::less<>>, std::less<>> vs_by_binding_;
  std::vector<const VirtualServiceEntry*> mesh_virtual_services_;
  // gateway "ns/name" -> VirtualServicesForGateway's answer.
  std::map<std::string, std::vector<const VirtualServiceEntry*>, std::less<>> vs_for_gateway_;
  bool matches_source_labels_ = false;
};

}  // namespace keel::pilot::model
