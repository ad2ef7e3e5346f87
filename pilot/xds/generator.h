// XdsGenerator: builds the resources of one xDS type for one proxy from a
// PushContext (Istio's model.XdsResourceGenerator). Implementations are pure
// apart from the caches (the PushContext's per-push one, the XdsCache).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "envoy/config/core/v3/base.pb.h"
#include "pilot/model/push_context.h"
#include "pilot/xds/subscribed_names.h"
#include "pilot/xds/xds_cache.h"

namespace keel::pilot::xds {

// What a proxy subscribed to for one type.
struct WatchedResource {
  SubscribedNames names;  // interned: shared by every stream subscribed to the same names
  bool wildcard = false;  // LDS/CDS request with no names: everything
};

struct NamedResource {
  std::string name;
  model::ResourcePtr resource;
};

class XdsGenerator {
 public:
  virtual ~XdsGenerator() = default;
  // Resources for `watch`, in name order. Names that do not exist are left out.
  virtual std::vector<NamedResource> Generate(const model::Proxy& proxy, const model::PushContext& push,
                                              const WatchedResource& watch) const = 0;
  // Set: the control_plane every response of this type carries (istiod sends
  // its identifier on istio.io/debug/syncz only).
  virtual std::optional<envoy::config::core::v3::ControlPlane> ControlPlane() const { return std::nullopt; }
  // True: only a stream with a verified identity may subscribe; any other is
  // closed with UNAUTHENTICATED (istiod's debug types with ENABLE_DEBUG_ENDPOINT_AUTH).
  virtual bool RequiresVerifiedIdentity() const { return false; }
};

using XdsGeneratorPtr = std::unique_ptr<XdsGenerator>;

// Builds each of `names` through the push's cache under key "SCOPE|NAME", so
// proxies with the same scope share one built resource per push. `build(name)`
// returns the message, or nullopt when the name does not exist.
template <typename Build>
std::vector<NamedResource> GenerateNamed(const std::vector<std::string>& names, const std::string& scope,
                                         const model::PushContext& push, Build&& build) {
  std::vector<NamedResource> out;
  for (const auto& name : names) {
    model::ResourcePtr r = push.CachedResource(scope + "|" + name, [&]() -> model::ResourcePtr {
      auto message = build(name);
      return message ? model::MakeResource(name, *message) : nullptr;
    });
    if (r) out.push_back({name, std::move(r)});
  }
  return out;
}

// Builds each of `names` through the cross-push `cache` under `key_of(name)`
// (an XdsCacheKey with the name filled in; xds_cache.h), or, when `cache` is
// null, through the push's own cache under the key's string form. `extra`:
// dependencies read before building.
template <typename KeyOf, typename Build>
std::vector<NamedResource> GenerateCachedEach(XdsCache* cache, const std::vector<std::string>& names, KeyOf&& key_of,
                                              const model::Dependencies& extra, const model::PushContext& push,
                                              Build&& build) {
  std::vector<NamedResource> out;
  for (const auto& name : names) {
    auto make = [&]() -> model::ResourcePtr {
      auto message = build(name);
      return message ? model::MakeResource(name, *message) : nullptr;
    };
    const XdsCacheKey key = key_of(name);
    model::ResourcePtr r = cache ? cache->GetOrBuild(key, push, extra, make) : push.CachedResource(key.ToString(), make);
    if (r) out.push_back({name, std::move(r)});
  }
  return out;
}

// GenerateCachedEach with one key for every name (`key`, the name filled in).
template <typename Build>
std::vector<NamedResource> GenerateCached(XdsCache* cache, const std::vector<std::string>& names, XdsCacheKey key,
                                          const model::Dependencies& extra, const model::PushContext& push,
                                          Build&& build) {
  auto key_of = [&key](const std::string& name) {
    key.name = name;
    return key;
  };
  return GenerateCachedEach(cache, names, key_of, extra, push, build);
}

// The cache key of what a proxyless gRPC client is sent: everything a resource
// depends on besides its name (the scope for host expansion and rule visibility,
// labels for sourceLabels matches).
XdsCacheKey GrpcCacheKey(const std::string& type, const model::Proxy& proxy, const model::PushContext& push);

// Type URL -> generator.
using GeneratorMap = std::map<std::string, XdsGeneratorPtr>;

// OK when a proxy's verified identity may read the Secrets of its namespace
// (sds_generator.h).
using SecretAuthorizer = std::function<absl::Status(const model::ProxyIdentity& identity)>;

// The generators for every type Keel serves, sharing `cache` across pushes (null:
// each push builds afresh, sharing only within the push). `secret_authorizer`
// decides who gets private keys over SDS (null: nobody).
GeneratorMap MakeGenerators(XdsCache* cache = nullptr, SecretAuthorizer secret_authorizer = nullptr);

}  // namespace keel::pilot::xds
