// XdsGenerator: builds the resources of one xDS type for one proxy from a
// PushContext (Istio's model.XdsResourceGenerator). Implementations are pure
// apart from the PushContext's per-push cache.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "pilot/model/push_context.h"

namespace keel::pilot::xds {

// What a proxy subscribed to for one type.
struct WatchedResource {
  std::set<std::string> names;
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
      return message ? model::MakeResource(*message) : nullptr;
    });
    if (r) out.push_back({name, std::move(r)});
  }
  return out;
}

// The cache scope of what a proxyless gRPC client is sent: everything a resource
// depends on besides its name (namespace for host expansion and rule visibility,
// labels for sourceLabels matches).
std::string GrpcScope(const std::string& type, const model::Proxy& proxy);

// Type URL -> generator.
using GeneratorMap = std::map<std::string, XdsGeneratorPtr>;

// The generators for every type Keel serves.
GeneratorMap MakeGenerators();

}  // namespace keel::pilot::xds
