// EdsGenerator: EDS for proxyless gRPC clients (sidecars and gateways: issue 4).
#pragma once

#include "pilot/xds/generator.h"

namespace keel::pilot::xds {

class EdsGenerator final : public XdsGenerator {
 public:
  explicit EdsGenerator(XdsCache* cache = nullptr) : cache_(cache) {}
  std::vector<NamedResource> Generate(const model::Proxy& proxy, const model::PushContext& push,
                                      const WatchedResource& watch) const override;

 private:
  XdsCache* const cache_;  // shared across pushes; null: per-push only
};

}  // namespace keel::pilot::xds
