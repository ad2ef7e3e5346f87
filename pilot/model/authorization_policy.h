// AuthorizationPolicy (security.istio.io): which policies apply to a workload,
// as istiod selects them for a sidecar (AuthorizationPolicies.ListAuthorizationPolicies):
// those of the root namespace without selector (mesh-wide) or whose selector
// matches the workload's labels (in any namespace), then those of the workload's
// namespace without selector or with a matching one. Policies with targetRef(s)
// bind gateways and waypoints, not sidecars, and are left out. Grouped by
// action, each group in namespace then name order.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "pilot/model/config_store.h"

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
  std::string root_namespace_;
  std::map<std::string, std::vector<ConfigPtr>> by_namespace_;  // name order
};

}  // namespace keel::pilot::model
