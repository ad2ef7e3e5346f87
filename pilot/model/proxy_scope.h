// ProxyScope: what proxies of one scope may see in one push, indexed for the
// lookups generation makes (Istio's SidecarScope plus PushContext's per-namespace
// indexes). Built once per push per ScopeKey, lazily, and memoised by the
// PushContext (PushContext::Scope / ScopeFor); immutable once built.
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
// Lookups are map lookups over the hostname's candidate patterns (the name
// itself, "*.<each dot suffix>", "*"), never scans over all configs. Each lookup
// records what it depended on (dependencies.h).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "pilot/model/proxy.h"
#include "pilot/model/service.h"

namespace keel::pilot::model {

class PushContext;
struct VirtualServiceEntry;
struct DestinationRuleEntry;

// What a ProxyScope is built for: every proxy-side fact that changes which
// configs a proxy sees. Today the namespace; the Sidecar resource selecting the
// proxy joins it (compared by its ConfigKey and resourceVersion) when Keel reads
// Sidecars.
struct ScopeKey {
  std::string ns;

  friend bool operator<(const ScopeKey& a, const ScopeKey& b) { return a.ns < b.ns; }
  friend bool operator==(const ScopeKey& a, const ScopeKey& b) { return a.ns == b.ns; }
  std::string ToString() const { return ns; }
};

ScopeKey ScopeKeyFor(const Proxy& proxy);

// The patterns that can match `hostname` under HostMatches: the name itself,
// "*" + each suffix starting at a dot, and "*".
std::vector<std::string> CandidatePatterns(absl::string_view hostname);

class ProxyScope {
 public:
  ProxyScope(const PushContext& push, ScopeKey key);

  const ScopeKey& key() const { return key_; }
  const std::string& ns() const { return key_.ns; }

  // The services the scope sees (every service today: Keel does not read
  // exportTo of Services or ServiceEntries), one per hostname (a Kubernetes
  // Service shadows a ServiceEntry for the same host), in PushContext order.
  const std::vector<const Service*>& services() const;

  const VirtualServiceEntry* VirtualServiceForHost(absl::string_view hostname, absl::string_view gateway) const;
  const std::vector<const VirtualServiceEntry*>& VirtualServicesForGateway(absl::string_view gateway) const;
  const DestinationRuleEntry* DestinationRuleForHost(absl::string_view hostname) const;

 private:
  const PushContext& push_;
  ScopeKey key_;
  std::vector<const Service*> services_;
  // binding ("mesh" or "ns/name") -> host pattern -> the oldest visible VirtualService with it.
  std::map<std::string, std::map<std::string, const VirtualServiceEntry*, std::less<>>, std::less<>> vs_by_binding_;
  // gateway "ns/name" -> VirtualServicesForGateway's answer.
  std::map<std::string, std::vector<const VirtualServiceEntry*>, std::less<>> vs_for_gateway_;
};

}  // namespace keel::pilot::model
