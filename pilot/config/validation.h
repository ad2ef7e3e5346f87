// Validation of Istio networking and security objects, following istiod's validating webhook
// (pkg/config/validation in Istio). Kubernetes objects are accepted as the API
// server stored them.
#pragma once

#include "absl/status/status.h"
#include "pilot/model/config.h"

namespace keel::pilot::config {

// InvalidArgument whose message names the field, e.g.
// "spec.http[0].route: total destination weight = 0".
absl::Status Validate(const model::Config& config);

// Checks an RE2 pattern the way Envoy and gRPC compile it.
absl::Status ValidateRegex(const std::string& pattern);

}  // namespace keel::pilot::config
