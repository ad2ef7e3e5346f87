// A Kubernetes metav1.LabelSelector (matchLabels and matchExpressions with In,
// NotIn, Exists, DoesNotExist): the injector's never/always selectors
// (inject/label_selector.h parses them from JSON) and meshConfig
// discoverySelectors (FromMeshSelector) match labels with it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mesh/v1alpha1/config.pb.h"

namespace keel::pilot::model {

struct LabelRequirement {
  std::string key;
  std::string op;  // In, NotIn, Exists, DoesNotExist
  std::vector<std::string> values;
};

struct LabelSelector {
  std::map<std::string, std::string> match_labels;
  std::vector<LabelRequirement> match_expressions;

  // No requirement. Matches() is then true; a caller that treats an empty
  // selector otherwise (Istio skips empty never/always selectors) checks this.
  bool empty() const { return match_labels.empty() && match_expressions.empty(); }
  // Every requirement holds (Kubernetes' labels.Selector.Matches).
  bool Matches(const std::map<std::string, std::string>& labels) const;
};

// Checks one requirement's operator and values. Errors: InvalidArgument with
// `where` (the requirement's field path) and the field at fault.
absl::Status ValidateLabelRequirement(const LabelRequirement& r, const std::string& where);

// A meshConfig LabelSelector (istio.mesh.v1alpha1, discoverySelectors' type).
// Errors as ValidateLabelRequirement's, paths relative to the selector
// ("matchExpressions[0].operator: ...").
absl::StatusOr<LabelSelector> FromMeshSelector(const ::istio::mesh::v1alpha1::LabelSelector& selector);

}  // namespace keel::pilot::model
