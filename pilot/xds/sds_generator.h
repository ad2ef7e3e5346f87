// SdsGenerator: SDS, gateway credentials (credentialName) from Kubernetes Secrets.
#pragma once

#include "pilot/xds/generator.h"

namespace keel::pilot::xds {

class SdsGenerator final : public XdsGenerator {
 public:
  std::vector<NamedResource> Generate(const model::Proxy& proxy, const model::PushContext& push,
                                      const WatchedResource& watch) const override;
};

}  // namespace keel::pilot::xds
