// AuthorizationPolicy (security.istio.io): the policies that apply to a
// workload (selected as workload_policies.h says), grouped by action, each
// group in the selection's order.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "pilot/model/config_store.h"
#include "pilot/model/workload_policies.h"
#include "security/v1beta1/authorization_policy.pb.h"

namespace keel::pilot::model {

struct WorkloadAuthorizationPolicies {
  std::vector<ConfigPtr> custom, deny, allow, audit;
  bool empty() const { return custom.empty() && deny.empty() && allow.empty() && audit.empty(); }
};

class AuthorizationPolicyIndex {
 public:
  AuthorizationPolicyIndex() = default;
  AuthorizationPolicyIndex(const ConfigSnapshot& configs, std::string root_namespace);

  WorkloadAuthorizationPolicies ForWorkload(const std::string& ns,
                                            const std::map<std::string, std::string>& labels) const;

 private:
  WorkloadPolicyIndex<istio::security::v1beta1::AuthorizationPolicy> policies_;
};

}  // namespace keel::pilot::model
