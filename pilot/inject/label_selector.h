// The injector's never/always selectors: Kubernetes LabelSelectors in JSON
// (model/label_selector.h matches them).
#pragma once

#include "absl/status/statusor.h"
#include "pilot/inject/json_value.h"
#include "pilot/model/label_selector.h"

namespace keel::pilot::inject {

using model::LabelRequirement;
using model::LabelSelector;

// Errors: InvalidArgument naming the field (an unknown operator, In without values).
absl::StatusOr<LabelSelector> ParseLabelSelector(const JsonObject& selector);

}  // namespace keel::pilot::inject
