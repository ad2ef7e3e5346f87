#include "pilot/model/authorization_policy.h"

namespace keel::pilot::model {

using AuthorizationPolicy = istio::security::v1beta1::AuthorizationPolicy;

AuthorizationPolicyIndex::AuthorizationPolicyIndex(const ConfigSnapshot& configs, std::string root_namespace)
    : policies_(configs, Kind::kAuthorizationPolicy, std::move(root_namespace)) {}

WorkloadAuthorizationPolicies AuthorizationPolicyIndex::ForWorkload(
    const std::string& ns, const std::map<std::string, std::string>& labels) const {
  WorkloadAuthorizationPolicies out;
  for (const auto& c : policies_.ForWorkload(ns, labels)) {
    switch (c->As<AuthorizationPolicy>().action()) {
      case AuthorizationPolicy::DENY: out.deny.push_back(c); break;
      case AuthorizationPolicy::AUDIT: out.audit.push_back(c); break;
      case AuthorizationPolicy::CUSTOM: out.custom.push_back(c); break;
      default: out.allow.push_back(c); break;
    }
  }
  return out;
}

}  // namespace keel::pilot::model
