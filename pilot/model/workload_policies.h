// Which security policies of one kind apply to a workload, as istiod selects
// AuthorizationPolicies and RequestAuthentications for a sidecar or a gateway's
// pods (AuthorizationPolicies.ListAuthorizationPolicies, getConfigsForWorkload
// with ShouldAttachPolicy): those of the root namespace without selector
// (mesh-wide) or whose selector matches the workload's labels (in any
// namespace), then those of the workload's namespace without selector or with a
// matching one; each namespace's in name order. Policies with targetRef(s) bind
// Kubernetes Gateways and waypoints, not sidecars, and are left out.
//
// `Spec` is the policy's proto (AuthorizationPolicy, RequestAuthentication):
// anything with selector(), has_targetref() and targetrefs_size().
#pragma once

#include <map>
#include <string>
#include <vector>

#include "pilot/model/config_store.h"

namespace keel::pilot::model {

// True if every label of `selector` is in `labels` (defined in push_context.cc; also
// what Sidecar and Gateway selection use).
bool LabelsMatch(const std::map<std::string, std::string>& selector, const std::map<std::string, std::string>& labels);

template <typename Spec>
class WorkloadPolicyIndex {
 public:
  WorkloadPolicyIndex() = default;
  WorkloadPolicyIndex(const ConfigSnapshot& configs, Kind kind, std::string root_namespace)
      : root_namespace_(std::move(root_namespace)) {
    for (auto it = configs->lower_bound(ConfigKey{kind, "", ""}); it != configs->end() && it->first.kind == kind; ++it) {
      by_namespace_[it->first.ns].push_back(it->second);  // key order: by name within a namespace
    }
  }

  std::vector<ConfigPtr> ForWorkload(const std::string& ns, const std::map<std::string, std::string>& labels) const {
    std::vector<ConfigPtr> out;
    auto add_from = [&](const std::string& from) {
      auto it = by_namespace_.find(from);
      if (it == by_namespace_.end()) return;
      for (const auto& c : it->second) {
        if (Selects(c->As<Spec>(), labels)) out.push_back(c);
      }
    };
    add_from(root_namespace_);
    if (ns != root_namespace_) add_from(ns);
    return out;
  }

 private:
  // Whether `policy` applies to a workload with `labels` (in a namespace the
  // caller already matched).
  static bool Selects(const Spec& policy, const std::map<std::string, std::string>& labels) {
    if (policy.has_targetref() || policy.targetrefs_size() > 0) return false;
    if (!policy.has_selector() || policy.selector().match_labels().empty()) return true;
    const auto& sel = policy.selector().match_labels();
    return LabelsMatch(std::map<std::string, std::string>(sel.begin(), sel.end()), labels);
  }

  std::string root_namespace_;
  std::map<std::string, std::vector<ConfigPtr>> by_namespace_;  // name order
};

}  // namespace keel::pilot::model
