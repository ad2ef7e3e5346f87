// The security filters of a proxy's server side: RequestAuthentication's
// jwt_authn (jwt_authn_builder.h) and AuthorizationPolicy's RBAC
// (authz_builder.h), in istiod's order, for a sidecar's inbound chains and a
// gateway's server chains (istiod: authn and authz builders of the listener
// builder; outbound chains get neither). Notes on rules left out are logged
// (rate-limited) here.
#pragma once

#include "pilot/model/proxy.h"
#include "pilot/model/push_context.h"
#include "pilot/networking/core/authz_builder.h"

namespace keel::pilot::networking {

AuthzFilters BuildSecurityFilters(const model::Proxy& proxy, const model::PushContext& push);

}  // namespace keel::pilot::networking
