#include "pilot/networking/core/cluster_name.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace keel::pilot::networking {

std::string ClusterName::ToString() const { return absl::StrCat(direction, "|", port, "|", subset, "|", host); }

bool ClusterName::Parse(absl::string_view name, ClusterName* out) {
  std::vector<std::string> parts = absl::StrSplit(name, '|');
  if (parts.size() != 4 || (parts[0] != "outbound" && parts[0] != "inbound")) return false;
  if (!absl::SimpleAtoi(parts[1], &out->port) || out->port <= 0 || out->port > 65535) return false;
  out->direction = parts[0];
  out->subset = parts[2];
  out->host = parts[3];
  return !out->host.empty();
}

absl::string_view ClusterNameHost(absl::string_view name) {
  const size_t p1 = name.find('|');
  if (p1 == absl::string_view::npos) return {};
  const size_t p2 = name.find('|', p1 + 1);
  if (p2 == absl::string_view::npos) return {};
  const size_t p3 = name.find('|', p2 + 1);
  if (p3 == absl::string_view::npos) return {};
  const absl::string_view direction = name.substr(0, p1), host = name.substr(p3 + 1);
  if ((direction != "outbound" && direction != "inbound") || host.find('|') != absl::string_view::npos) return {};
  int port = 0;
  if (!absl::SimpleAtoi(name.substr(p1 + 1, p2 - p1 - 1), &port) || port <= 0 || port > 65535) return {};
  return host;
}

std::string OutboundClusterName(int port, absl::string_view subset, absl::string_view host) {
  return absl::StrCat("outbound|", port, "|", subset, "|", host);
}

}  // namespace keel::pilot::networking
