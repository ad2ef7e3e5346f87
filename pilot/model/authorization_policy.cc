#include "pilot/model/authorization_policy.h"

#include "pilot/model/push_context.h"
#include "security/v1beta1/authorization_policy.pb.h"

namespace keel::pilot::model {
namespace {

using AuthorizationPolicy = istio::security::v1beta1::AuthorizationPolicy;

// Whether `policy` applies to a workload with `labels` (in a namespace the
// caller already matched).
bool Selects(const AuthorizationPolicy& policy, const std::map<std::string, std::string>& labels) {
  if (policy.has_targetref() || policy.targetrefs_size() > 0) return false;
  if (!policy.has_selector() || policy.selector().match_labels().empty()) return true;
  const auto& sel = policy.selector().match_labels();
  return LabelsMatch(std::map<std::string, std::string>(sel.begin(), sel.end()), labels);
}

}  // namespace

AuthorizationPolicyIndex::AuthorizationPolicyIndex(const ConfigSnapshot& configs, std::string root_namespace)
    : root_namespace_(std::move(root_namespace)) {
  for (auto it = configs->lower_bound(ConfigKey{Kind::kAuthorizationPolicy, "", ""});
       it != configs->end() && it->first.kind == Kind::kAuthorizationPolicy; ++it) {
    by_namespace_[it->first.ns].push_back(it->second);  // key order: by name within a namespace
  }
}

WorkloadAuthorizationPolicies AuthorizationPolicyIndex::ForWorkload(
    const std::string& ns, const std::map<std::string, std::string>& labels) const {
  WorkloadAuthorizationPolicies out;
  auto add_from = [&](const std::string& from) {
    auto it = by_namespace_.find(from);
    if (it == by_namespace_.end()) return;
    for (const auto& c : it->second) {
      const auto& spec = c->As<AuthorizationPolicy>();
      if (!Selects(spec, labels)) continue;
      switch (spec.action()) {
        case AuthorizationPolicy::DENY: out.deny.push_back(c); break;
        case AuthorizationPolicy::AUDIT: out.audit.push_back(c); break;
        case AuthorizationPolicy::CUSTOM: out.custom.push_back(c); break;
        default: out.allow.push_back(c); break;
      }
    }
  };
  add_from(root_namespace_);
  if (ns != root_namespace_) add_from(ns);
  return out;
}

}  // namespace keel::pilot::model
