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

// Shorthand for ClusterName{"outbound", port, subset, host}.ToString().
std::string OutboundClusterName(int port, absl::string_view subset, absl::string_view host);

}  // namespace keel::pilot::networking
