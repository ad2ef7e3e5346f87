// A Kubernetes metav1.LabelSelector (matchLabels and matchExpressions with In,
// NotIn, Exists, DoesNotExist), as the injector's never/always selectors use it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pilot/inject/json_value.h"

namespace keel::pilot::inject {

struct LabelRequirement {
  std::string key;
  std::string op;  // In, NotIn, Exists, DoesNotExist
  std::vector<std::string> values;
};

struct LabelSelector {
  std::map<std::string, std::string> match_labels;
  std::vector<LabelRequirement> match_expressions;

  // An empty selector matches nothing here (Istio skips empty never/always selectors).
  bool empty() const { return match_labels.empty() && match_expressions.empty(); }
  bool Matches(const std::map<std::string, std::string>& labels) const;
};

// Errors: InvalidArgument naming the field (an unknown operator, In without values).
absl::StatusOr<LabelSelector> ParseLabelSelector(const JsonObject& selector);

}  // namespace keel::pilot::inject
