#include "pilot/networking/core/security_filters.h"

#include "pilot/networking/core/jwt_authn_builder.h"
#include "pkg/log/log_limiter.h"

namespace keel::pilot::networking {

AuthzFilters BuildSecurityFilters(const model::Proxy& proxy, const model::PushContext& push) {
  // istiod clears the route cache after verification on routers only (a gateway's
  // routes may match the claims jwt_authn writes to headers).
  const auto jwt = BuildJwtAuthnFilter(push.RequestAuthenticationsFor(proxy), push.mesh().jwks.get(),
                                       /*clear_route_cache=*/proxy.type == model::ProxyType::kRouter);
  AuthzFilters out = BuildAuthzFilters(push.AuthorizationPoliciesFor(proxy), jwt);
  for (const auto& note : out.notes) KEEL_WARN_LIMITED("AuthorizationPolicy {} (for {})", note, proxy.id);
  return out;
}

}  // namespace keel::pilot::networking
