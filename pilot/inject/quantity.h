// Kubernetes resource quantities ("100m", "1024Mi", "2e3") in the canonical form
// the API machinery prints after parsing (k8s.io/apimachinery resource.Quantity):
// istiod's patch is a diff of the pod it parsed and re-serialised, so every
// quantity it touches comes back canonical ("2000m" -> "2", "1024Mi" -> "1Gi").
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace keel::pilot::inject {

// The canonical form of `quantity`, or nullopt when it does not parse (then the
// caller keeps the text; the API server refuses it anyway). Binary suffixes keep
// binary form for whole values of at least 1024, else decimal; decimal SI picks the
// largest exponent (a multiple of 3) that keeps the mantissa whole; "e" exponents
// stay exponents. Values are exact to 10^-9, as Kubernetes rounds up to nano.
std::optional<std::string> CanonicalQuantity(absl::string_view quantity);

}  // namespace keel::pilot::inject
