// RequestAuthentication -> the envoy.filters.http.jwt_authn filter, as istiod's
// authn policy applier (pilot/pkg/security/authn convertToEnvoyJwtConfig) makes
// it for inbound sidecar chains and gateways:
//  - the rules of every selected policy, sorted by issuer, become providers
//    "origins-<i>" (issuer, audiences, token locations, forward, payload to a
//    header and to metadata "payload", claims to headers, the space-delimited
//    claims "permission" and "scope" plus the rule's own);
//  - keys: the rule's inline `jwks`, else the key set the JwksSource fetched
//    for its jwksUri (or issuer, by OpenID discovery), inlined; none yet:
//    model::kPublicOnlyJwks, which no token matches (fail closed, as istiod);
//  - one requirement on prefix "/": a token, if present, must verify with some
//    provider; no token passes (AuthorizationPolicy decides what it may do):
//    {P OR allow_missing} for one provider; for several, P1 OR P2 ... OR
//    AND{P1 OR allow_missing, P2 OR allow_missing, ...};
//  - CORS preflight bypassed; route cache cleared for routers (gateways).
#pragma once

#include <optional>
#include <vector>

#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "pilot/model/config_store.h"
#include "pilot/model/jwks.h"

namespace keel::pilot::networking {

// Null when no policy has a rule. `jwks` may be null (every URI rule then gets
// kPublicOnlyJwks).
std::optional<envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter> BuildJwtAuthnFilter(
    const std::vector<model::ConfigPtr>& request_authentications, const model::JwksSource* jwks,
    bool clear_route_cache);

}  // namespace keel::pilot::networking
