// AuthorizationPolicy -> Envoy RBAC filters, as istiod's authz builder
// (pilot/pkg/security/authz/builder and model) makes them for a sidecar's
// inbound chains: one RBAC filter per action present, in istiod's order CUSTOM,
// AUDIT, DENY, ALLOW; each policy rule a named RBAC policy
// "ns[NS]-policy[NAME]-rule[I]" whose permissions are its `to` operations (any
// if none) and principals its `from` sources (any if none), each an AND of its
// fields (OR of a field's values, NOT of its not-values), `when` conditions
// ANDed into every one; a policy without rules matches nothing. Dry-run
// policies (annotation istio.io/dry-run) go to shadow_rules.
//
// requestPrincipals and the `when` keys request.auth.principal, .audiences,
// .presenter and .claims[...] match the payload RequestAuthentication's
// jwt_authn filter verified (its dynamic metadata, key "payload"), as istiod's.
//
// Failing closed, as istiod: a field that cannot apply (HTTP-only fields on a
// TCP chain, and what Keel does not translate: serviceAccounts, trustDomains
// and other unknown `when` keys) drops the whole
// rule of an ALLOW policy (it admits less) and only that field of a DENY or AUDIT
// one (it matches more). CUSTOM has no ext_authz provider in Keel: its rules
// deny, as istiod does when a policy's provider is not found.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "envoy/config/listener/v3/listener_components.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "pilot/model/authorization_policy.h"

namespace keel::pilot::networking {

struct AuthzFilters {
  std::vector<envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter> http;
  std::vector<envoy::config::listener::v3::Filter> tcp;  // network filters, before tcp_proxy
  // Why rules or fields were left out or widened, per policy ("ns/name: ..."), for logs.
  std::vector<std::string> notes;
};

// `jwt_authn` (jwt_authn_builder.h), when set, joins the HTTP filters where istiod
// puts authentication: after CUSTOM's filter, before AUDIT, DENY and ALLOW.
AuthzFilters BuildAuthzFilters(
    const model::WorkloadAuthorizationPolicies& policies,
    const std::optional<envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter>& jwt_authn =
        std::nullopt);

}  // namespace keel::pilot::networking
