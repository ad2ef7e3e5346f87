// XdsCache: built resources that outlive a push (Istio's XdsCacheImpl), owned
// by the AdsServer, so a push after a small change rebuilds only what the change
// can affect.
//
// What is cached: CDS (outbound clusters), EDS and RDS, for sidecars, gateways
// and proxyless gRPC clients. LDS, SDS and the per-workload inbound clusters stay
// in the per-push cache (PushContext::CachedResource): listeners depend on every
// service, route and port at once, secrets are few, and inbound resources are per
// proxy.
//
// Contract (how an entry stays equal to a fresh build):
//  - An entry is keyed by an XdsCacheKey: the type, the resource name, and every
//    proxy-side fact the resource depends on (the ScopeKey: namespace and the
//    selected Sidecar's identity and version, so proxies with different Sidecars
//    never share an entry and a changed Sidecar gets new ones; and the variant:
//    IP family, labels, DNS domain, gateway port translations where they matter).
//  - Its dependencies (model::Dependencies) are recorded while it is built: every
//    lookup through PushContext and ProxyScope. Entries are invalidated by
//    kind and host, so a *new* config invalidates what it could affect even
//    though no entry used it yet:
//      * a changed ConfigKey drops entries that read that object, entries that
//        listed its kind, and — from the config as the new push has it — entries
//        that selected a config of its class for a host its host patterns match
//        (HostMatches; Services and ServiceEntries: the exact hostname), and,
//        for a VirtualService, entries that listed any gateway it binds to;
//      * a deleted config can only change entries that read it (selection picks
//        the best of what exists, lists hold what they read), so its ConfigKey
//        suffices;
//      * endpoints: PushRequest::endpoints_updated drops the entries that read
//        those hosts' endpoints (EDS, and CDS clusters that embed endpoints or
//        SANs); on a full push whose configs_updated has a Pod, EndpointSlice,
//        Service or ServiceEntry, every endpoint-reading entry is dropped (Keel
//        cannot tell which hosts a Pod change moves).
//  - Cleared entirely on a forced push, a full push with no configs_updated, and
//    a push whose version does not increase.
//  - Only generation against the current push (the one last given to BeginPush)
//    reads or fills the cache; generation against an older push (a request
//    racing a push) builds without it. Resources built from the previous push are
//    never served for the next one.
//  - Bounded: at most `max_entries`, least recently used evicted first.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "pilot/model/dependencies.h"
#include "pilot/model/push_context.h"
#include "pilot/xds/push_request.h"

namespace keel::pilot::xds {

struct XdsCacheKey {
  std::string type;       // "CDS", "EDS", "RDS"
  std::string generator;  // "envoy", "sidecar", "gateway", "grpc": who builds it, with the proxy kind
  model::ScopeKey scope;  // the proxy's ProxyScope (PushContext::ScopeFor(proxy).key())
  std::string variant;    // further proxy-side inputs ("v4", labels, ...), as the generator defines them
  std::string name;       // the resource name

  friend bool operator<(const XdsCacheKey& a, const XdsCacheKey& b) {
    return std::tie(a.type, a.generator, a.scope, a.variant, a.name) <
           std::tie(b.type, b.generator, b.scope, b.variant, b.name);
  }
  std::string ToString() const;  // "CDS|envoy|default|router|v4|outbound|80||x"
};

struct XdsCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
};

class XdsCache {
 public:
  static constexpr size_t kDefaultMaxEntries = 60000;  // istiod's PILOT_XDS_CACHE_SIZE
  explicit XdsCache(size_t max_entries = kDefaultMaxEntries) : max_entries_(max_entries) {}

  // Makes `push` current and drops what `request` may have changed (see above).
  // Call before any generation against `push`.
  void BeginPush(const model::PushContext& push, const PushRequest& request);

  // The resource under `key`, or `build()`'s result recorded with what it read
  // plus `extra` dependencies (facts read before `build`, such as a gateway's
  // merged servers). `build` runs without the cache's lock. A null result ("no
  // such resource") is not kept: a proxy naming made-up resources must not fill
  // the cache and evict what others use (it costs a lookup to find it again).
  template <typename Fn>
  model::ResourcePtr GetOrBuild(const XdsCacheKey& key, const model::PushContext& push,
                                const model::Dependencies& extra, Fn&& build) {
    model::ResourcePtr found;
    if (Lookup(key, push.version(), &found)) return found;
    model::Dependencies deps = extra;
    model::ResourcePtr built;
    {
      model::DependencyRecorder recorder(&deps);
      built = build();
    }
    Insert(key, push.version(), std::move(deps), built);
    return built;
  }

  void Clear();
  size_t size() const;
  // Hits and misses by type since construction (generation against a stale push counts as neither).
  std::map<std::string, XdsCacheStats> Stats() const;

 private:
  struct Entry {
    XdsCacheKey key;
    model::ResourcePtr resource;
    model::Dependencies deps;
    std::list<uint64_t>::iterator lru;
  };

  bool Lookup(const XdsCacheKey& key, uint64_t version, model::ResourcePtr* out);
  void Insert(const XdsCacheKey& key, uint64_t version, model::Dependencies deps, model::ResourcePtr resource);
  void ClearLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseLocked(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  template <typename Index, typename Token>
  void EraseIndexedLocked(const Index& index, const Token& token) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void InvalidateLocked(const model::PushContext& push, const PushRequest& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void InvalidateHostsLocked(model::Kind kind, const std::string& pattern) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishSizeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_entries_;
  mutable std::mutex mu_;
  bool has_version_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;  // the current push's
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<XdsCacheKey, uint64_t> ids_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<uint64_t> lru_ ABSL_GUARDED_BY(mu_);  // least recently used first
  // Dependency token -> entries that carry it.
  std::map<model::ConfigKey, std::set<uint64_t>> by_config_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<model::Kind, std::string>, std::set<uint64_t>> by_host_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<uint64_t>> by_gateway_ ABSL_GUARDED_BY(mu_);
  std::map<model::Kind, std::set<uint64_t>> by_kind_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<uint64_t>> by_endpoints_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, XdsCacheStats> stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keel::pilot::xds
