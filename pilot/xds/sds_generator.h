// SdsGenerator: SDS, TLS credentials (a Gateway's or DestinationRule's
// credentialName) from Kubernetes Secrets, as istiod's SecretGen
// (pilot/pkg/xds/sds.go) serves them: only to a proxy whose stream
// authenticated (Proxy::verified_identity), only Secrets of its own namespace,
// and a private key only when its service account may list the Secrets there
// (a SubjectAccessReview; `authorizer`). "<name>-cacert" resources (a CA
// certificate, public) need no review. What is refused is left out of the
// response, logged (rate-limited) and counted in
// pilot_sds_certificate_errors_total; the rest is served.
#pragma once

#include "pilot/xds/generator.h"

namespace keel::pilot::xds {

class SdsGenerator final : public XdsGenerator {
 public:
  // `authorizer` (generator.h) runs on push workers and may block (an API call),
  // so it should remember answers. Null: no private key is ever served.
  explicit SdsGenerator(SecretAuthorizer authorizer) : authorizer_(std::move(authorizer)) {}
  std::vector<NamedResource> Generate(const model::Proxy& proxy, const model::PushContext& push,
                                      const WatchedResource& watch) const override;

 private:
  const SecretAuthorizer authorizer_;
};

}  // namespace keel::pilot::xds
