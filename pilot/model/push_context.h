// PushContext: an immutable snapshot of all config plus the indexes generators
// need, built once per push and shared (shared_ptr<const>) by every proxy's
// generation. Also owns the per-push resource cache, so each resource is built
// and serialized once per push however many proxies receive it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include <google/protobuf/any.pb.h>

#include "absl/base/thread_annotations.h"
#include "pilot/model/config_store.h"
#include "pilot/model/proxy.h"
#include "pilot/model/service.h"
#include "pilot/model/sidecar_scope.h"

namespace istio::networking::v1alpha3 {
class VirtualService;
class DestinationRule;
class Subset;
}  // namespace istio::networking::v1alpha3

namespace keel::pilot::model {

struct MeshOptions {
  std::string domain = "cluster.local";  // cluster DNS domain
  // MeshConfig rootNamespace: where a Sidecar without selector is every
  // namespace's default (Keel: --system-namespace).
  std::string root_namespace = "istio-system";
};

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

// A resource built once per push: packed (serialized) once, and a hash of its
// bytes so a connection can tell cheaply whether what it would send changed
// (`version`, the hash in hex, is the resource version delta xDS sends).
struct BuiltResource {
  google::protobuf::Any any;
  size_t hash = 0;
  std::string version;
};
using ResourcePtr = std::shared_ptr<const BuiltResource>;

// Packs `message` into a BuiltResource.
ResourcePtr MakeResource(const google::protobuf::Message& message);

class PushContext {
 public:
  static std::shared_ptr<const PushContext> Build(ConfigSnapshot configs, const MeshOptions& mesh,
                                                  uint64_t version);

  uint64_t version() const { return version_; }
  const MeshOptions& mesh() const { return mesh_; }
  const ConfigSnapshot& configs() const { return configs_; }

  const std::vector<Service>& services() const { return services_; }
  const Service* ServiceForHost(absl::string_view hostname) const;

  // Endpoints of `hostname` at service port `port`; empty if none.
  const std::vector<Endpoint>& Endpoints(absl::string_view hostname, int port) const;

  // Istio's short-name rule for hosts in config (VirtualService, DestinationRule,
  // destinations): a name without dots is relative to `ns` ("reviews" ->
  // reviews.NS.svc.DOMAIN); anything else, and wildcards, is taken as written.
  std::string ResolveHost(absl::string_view host, absl::string_view ns) const;

  // The service a client in `ns` reaches by dialling `host`, looked up as
  // Kubernetes DNS would through its search path: HOST, HOST.NS.svc.DOMAIN,
  // HOST.svc.DOMAIN, HOST.DOMAIN. So "reviews", "reviews.default",
  // "reviews.default.svc" and the FQDN all work. Null when none exists.
  const Service* ServiceForDnsName(absl::string_view host, absl::string_view ns) const;

  // The VirtualService that routes `hostname` for a proxy in `proxy_ns` bound to
  // `gateway` ("mesh" for sidecars and proxyless clients), or null. Exact hosts
  // beat wildcards; among equals the oldest (creationTimestamp, then name) wins.
  // With `scope`, only VirtualServices its egress hosts import are candidates.
  const VirtualServiceEntry* VirtualServiceForHost(absl::string_view hostname, absl::string_view gateway,
                                                   absl::string_view proxy_ns,
                                                   const SidecarScope* scope = nullptr) const;

  // Every VirtualService bound to `gateway` ("ns/name") that a proxy in `proxy_ns`
  // sees, in Istio's order (PushContext.VirtualServicesForGateway): those private to
  // `proxy_ns` (exportTo "." or its own name), then those exported to it by name,
  // then public ones; oldest first within each group.
  std::vector<const VirtualServiceEntry*> VirtualServicesForGateway(absl::string_view gateway,
                                                                    absl::string_view proxy_ns) const;

  // The DestinationRule for `hostname` as seen from `proxy_ns`: one in the proxy's
  // namespace first, then the service's, then any other; exact before wildcard.
  const DestinationRuleEntry* DestinationRuleForHost(absl::string_view hostname,
                                                     absl::string_view proxy_ns) const;

  // What the Sidecar resource selected for `proxy` lets it see (SelectSidecar
  // with the mesh's root namespace); the default (everything) for routers and
  // when no Sidecar applies. Built once per (namespace, Sidecar) per push and
  // shared. This is the one place sidecar builders learn their visibility.
  std::shared_ptr<const SidecarScope> SidecarScopeFor(const Proxy& proxy) const;

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

  uint64_t version_ = 0;
  MeshOptions mesh_;
  ConfigSnapshot configs_;
  std::vector<Service> services_;
  std::map<std::string, size_t, std::less<>> service_by_host_;
  std::map<std::pair<std::string, int>, std::vector<Endpoint>, std::less<>> endpoints_;
  std::vector<VirtualServiceEntry> virtual_services_;      // sorted oldest first
  std::vector<DestinationRuleEntry> destination_rules_;    // sorted oldest first

  mutable std::mutex scope_mu_;
  mutable std::map<std::pair<std::string, ConfigKey>, std::shared_ptr<const SidecarScope>> scopes_
      ABSL_GUARDED_BY(scope_mu_);

  mutable std::mutex cache_mu_;
  mutable std::map<std::string, ResourcePtr> cache_ ABSL_GUARDED_BY(cache_mu_);
};

using PushContextPtr = std::shared_ptr<const PushContext>;

// True if `host` (a resolved VirtualService/DestinationRule host, maybe
// "*.example.com" or "*") matches the service hostname `name`.
bool HostMatches(absl::string_view pattern, absl::string_view name);

// True if every label of `selector` is in `labels`.
bool LabelsMatch(const std::map<std::string, std::string>& selector,
                 const std::map<std::string, std::string>& labels);

}  // namespace keel::pilot::model
