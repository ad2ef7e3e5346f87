// PushContext: an immutable snapshot of all config plus the indexes generators
// need, built once per push and shared (shared_ptr<const>) by every proxy's
// generation. Memoises one ProxyScope per ScopeKey (proxy_scope.h: what proxies
// of a namespace see, indexed), and owns the per-push resource cache for what the
// cross-push XdsCache does not hold (LDS, SDS, inbound clusters), so each is
// built and serialized once per push however many proxies receive it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include <google/protobuf/any.pb.h>

#include "absl/base/thread_annotations.h"
#include "pilot/model/config_store.h"
#include "pilot/model/discovery_namespaces.h"
#include "pilot/model/endpoint_index.h"
#include "pilot/model/proxy.h"
#include "pilot/model/proxy_scope.h"
#include "pilot/model/mesh.h"
#include "pilot/model/authorization_policy.h"
#include "pilot/model/peer_authentication.h"
#include "security/v1beta1/request_authentication.pb.h"
#include "pilot/model/service.h"
#include "pilot/model/sidecar_scope.h"

namespace istio::networking::v1alpha3 {
class VirtualService;
class DestinationRule;
class Subset;
}  // namespace istio::networking::v1alpha3

namespace keel::pilot::model {

// A VirtualService with its hosts resolved to FQDNs (relative to its namespace).
struct VirtualServiceEntry {
  ConfigPtr config;
  std::vector<std::string> hosts;     // resolved
  std::vector<std::string> gateways;  // resolved "ns/name"; "mesh" kept as is; empty = mesh
  const istio::networking::v1alpha3::VirtualService& spec() const;
};

struct DestinationRuleEntry {
  ConfigPtr config;
  std::string host;  // resolved
  const istio::networking::v1alpha3::DestinationRule& spec() const;
};

// The DestinationRules with one resolved host pattern: the oldest overall and the
// oldest in each namespace (entries point into PushContext's oldest-first vector).
struct DestinationRuleIndex {
  const DestinationRuleEntry* oldest = nullptr;
  std::map<std::string, const DestinationRuleEntry*, std::less<>> oldest_by_ns;
};

// A resource built once per push: packed (serialized) once, and a hash of its
// bytes so a connection can tell cheaply whether what it would send changed
// (`version`, the hash in hex, is the resource version delta xDS sends). It
// carries its xDS name, so what a connection holds is one pointer per resource.
struct BuiltResource {
  std::string name;
  google::protobuf::Any any;
  size_t hash = 0;
  std::string version;
};
using ResourcePtr = std::shared_ptr<const BuiltResource>;

// Packs `message`, the resource named `name`, into a BuiltResource.
ResourcePtr MakeResource(const std::string& name, const google::protobuf::Message& message);

class PushContext {
 public:
  // `configs`: the store's snapshot; the push sees the part meshConfig
  // discoverySelectors select (discovery_namespaces()).
  static std::shared_ptr<const PushContext> Build(ConfigSnapshot configs, const MeshOptions& mesh,
                                                  uint64_t version);

  // An endpoint-only change (Pods, EndpointSlices): `previous` with `configs`
  // as its snapshot and the endpoints of `hosts` recomputed from it; services,
  // VirtualServices, DestinationRules are taken from `previous` as they are (none
  // of them reads a Pod or an EndpointSlice), every other host's endpoints are
  // shared with it. The caller guarantees `configs` (the store's snapshot, selected
  // here by previous.discovery_namespaces()) differs from the previous one only in
  // Pods and EndpointSlices; `hosts` not served are ignored.
  static std::shared_ptr<const PushContext> UpdateEndpoints(const PushContext& previous, ConfigSnapshot configs,
                                                            const HostSet& hosts, uint64_t version);

  uint64_t version() const { return version_; }
  const MeshOptions& mesh() const { return mesh_; }
  // What this push is built from: the discovered part of the store's snapshot.
  const ConfigSnapshot& configs() const { return configs_; }
  // The namespaces meshConfig discoverySelectors select, at this push.
  const DiscoveryNamespaces& discovery_namespaces() const { return discovery_; }

  // Every service, in config key order, shadowed duplicates included (builders
  // iterate ProxyScope::services()). Both record a dependency (dependencies.h).
  const std::vector<Service>& services() const;
  const Service* ServiceForHost(absl::string_view hostname) const;

  // Endpoints of `hostname` at service port `port`; empty if none.
  const std::vector<Endpoint>& Endpoints(absl::string_view hostname, int port) const;
  const EndpointIndex& endpoint_index() const { return *endpoints_; }

  // Istio's short-name rule for hosts in config (VirtualService, DestinationRule,
  // destinations): a name without dots is relative to `ns` ("reviews" ->
  // reviews.NS.svc.DOMAIN); anything else, and wildcards, is taken as written.
  std::string ResolveHost(absl::string_view host, absl::string_view ns) const;

  // The service a client in `ns` reaches by dialling `host`, looked up as
  // Kubernetes DNS would through its search path: HOST, HOST.NS.svc.DOMAIN,
  // HOST.svc.DOMAIN, HOST.DOMAIN. So "reviews", "reviews.default",
  // "reviews.default.svc" and the FQDN all work. Null when none exists.
  const Service* ServiceForDnsName(absl::string_view host, absl::string_view ns) const;

  // The object `key` names, or null; records the lookup (dependencies.h).
  ConfigPtr FindConfig(const ConfigKey& key) const;

  // What proxies of one scope see in this push: built on first use, then shared
  // (thread-safe). See proxy_scope.h.
  const ProxyScope& Scope(const ScopeKey& key) const;
  // The scope of `proxy`: its namespace and, for sidecars, the Sidecar resource
  // SelectSidecar picks (mesh().root_namespace() holds the mesh-wide defaults);
  // routers and proxyless gRPC clients get none.
  const ProxyScope& ScopeFor(const Proxy& proxy) const;

  // Indexes ProxyScope is built from. VirtualServices oldest first.
  const std::vector<VirtualServiceEntry>& virtual_services() const { return virtual_services_; }
  // The DestinationRules whose resolved host is exactly `pattern`, or null.
  const DestinationRuleIndex* DestinationRulesWithHost(absl::string_view pattern) const;
  // PeerAuthentication (peer_authentication.h), both recording a dependency on
  // every PeerAuthentication: the composed policy of `proxy`'s workload (its
  // namespace and labels), and the mode a client assumes of namespace `ns`'s servers.
  WorkloadMtls PeerAuthenticationFor(const Proxy& proxy) const;
  // The AuthorizationPolicies that apply to `proxy`'s workload
  // (authorization_policy.h); records a dependency on every AuthorizationPolicy.
  WorkloadAuthorizationPolicies AuthorizationPoliciesFor(const Proxy& proxy) const;
  // The RequestAuthentications that apply to `proxy`'s workload
  // (workload_policies.h); records a dependency on every RequestAuthentication.
  std::vector<ConfigPtr> RequestAuthenticationsFor(const Proxy& proxy) const;
  MtlsMode NamespaceMtlsMode(const std::string& ns) const;

  // services() and ServiceForHost without recording a dependency (for indexes).
  const std::vector<Service>& services_unrecorded() const { return services_; }
  const Service* ServiceForHostUnrecorded(absl::string_view hostname) const;

  // Looks up a resource built earlier in this push under `key`, or builds it with
  // `build` (which may return null for "no such resource") and remembers it.
  // Thread-safe; `build` runs without the cache lock held.
  template <typename Fn>
  ResourcePtr CachedResource(const std::string& key, Fn&& build) const {
    {
      std::lock_guard<std::mutex> lock(cache_mu_);
      auto it = cache_.find(key);
      if (it != cache_.end()) return it->second;
    }
    ResourcePtr built = build();
    std::lock_guard<std::mutex> lock(cache_mu_);
    return cache_.emplace(key, std::move(built)).first->second;
  }

 private:
  PushContext() = default;
  void BuildServices();
  void BuildEndpoints();
  void BuildVirtualServices();
  void BuildDestinationRules();
  void IndexDestinationRules();  // destination_rules_by_host_ from destination_rules_
  void BuildSidecarVersions();

  // Every member below but endpoints_ and the cache is copied by UpdateEndpoints:
  // a new member derived from config must be copied there too.
  uint64_t version_ = 0;
  MeshOptions mesh_;
  DiscoveryNamespaces discovery_;
  ConfigSnapshot configs_;
  std::vector<Service> services_;
  std::map<std::string, size_t, std::less<>> service_by_host_;
  EndpointIndexPtr endpoints_;  // shared with the PushContexts UpdateEndpoints makes from this one
  std::vector<VirtualServiceEntry> virtual_services_;      // sorted oldest first
  std::vector<DestinationRuleEntry> destination_rules_;    // sorted oldest first
  std::map<std::string, DestinationRuleIndex, std::less<>> destination_rules_by_host_;
  PeerAuthenticationIndex peer_authentications_;
  AuthorizationPolicyIndex authorization_policies_;
  WorkloadPolicyIndex<istio::security::v1beta1::RequestAuthentication> request_authentications_;
  std::map<ConfigKey, std::string> sidecar_versions_;  // every Sidecar's SidecarVersion, for ScopeKeys

  mutable std::mutex scopes_mu_;
  mutable std::map<ScopeKey, std::unique_ptr<const ProxyScope>> scopes_ ABSL_GUARDED_BY(scopes_mu_);


  mutable std::mutex cache_mu_;
  mutable std::map<std::string, ResourcePtr> cache_ ABSL_GUARDED_BY(cache_mu_);
};

using PushContextPtr = std::shared_ptr<const PushContext>;

// True if `host` (a resolved VirtualService/DestinationRule host, maybe
// "*.example.com" or "*") matches the service hostname `name`.
bool HostMatches(absl::string_view pattern, absl::string_view name);

// Istio's conflict resolution order: oldest first, then namespace/name.
bool OlderThan(const ConfigPtr& a, const ConfigPtr& b);

// LabelsMatch (every label of a selector in a workload's labels): workload_policies.h.

}  // namespace keel::pilot::model
