// Istio's cluster names: "outbound|9080|v1|reviews.default.svc.cluster.local".
#pragma once

#include <string>
#include "absl/strings/string_view.h"

namespace keel::pilot::networking {

struct ClusterName {
  std::string direction = "outbound";
  int port = 0;
  std::string subset;
  std::string host;

  std::string ToString() const;
  // False unless `name` has the four |-separated parts and a numeric port.
  static bool Parse(absl::string_view name, ClusterName* out);
};

// The host of `name` when ClusterName::Parse accepts it, else empty; a view
// into `name`, allocating nothing (for scans over many watched names).
absl::string_view ClusterNameHost(absl::string_view name);

// Shorthand for ClusterName{"outbound", port, subset, host}.ToString().
std::string OutboundClusterName(int port, absl::string_view subset, absl::string_view host);

}  // namespace keel::pilot::networking
