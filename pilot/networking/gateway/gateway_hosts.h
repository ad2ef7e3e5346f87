// Istio's host-name algebra for gateway servers and the VirtualServices bound to
// them (istio.io/istio/pkg/config/host): wildcards on either side, and server
// hosts qualified with the namespaces whose VirtualServices may bind them.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace keel::pilot::networking::gateway {

// True if every name `name` stands for is also matched by `pattern`:
// "a.foo.com" and "*.foo.com" are subsets of "*.foo.com"; everything is a subset of "*".
bool HostSubsetOf(absl::string_view name, absl::string_view pattern);

// True if one of the two is a subset of the other.
inline bool HostsMatch(absl::string_view a, absl::string_view b) {
  return HostSubsetOf(a, b) || HostSubsetOf(b, a);
}

// Istio's Names.Intersection: for every pair where one contains the other, the
// more specific of the two; each name once, in the order found (`a` outer).
std::vector<std::string> IntersectHosts(const std::vector<std::string>& a, const std::vector<std::string>& b);

// Istio's sanitizeServerHostNamespace, applied when gateways are merged:
// "./h" becomes "<gateway_ns>/h", "*/h" becomes "h", and "*/*" makes the whole
// list ["*"].
std::vector<std::string> SanitizeServerHosts(const std::vector<std::string>& hosts, absl::string_view gateway_ns);

// The server hosts a VirtualService in `vs_ns` may bind (Istio's
// NamesForNamespace): "ns/h" is kept, stripped to "h", when ns is `vs_ns`;
// unqualified hosts are kept as they are.
std::vector<std::string> ServerHostsForNamespace(const std::vector<std::string>& server_hosts,
                                                 absl::string_view vs_ns);

// The server hosts with any "ns/" qualifier stripped, sorted and unique (for a
// TLS server, its SNI names: Istio's GetSNIHostsForServer).
std::vector<std::string> StripNamespaces(const std::vector<std::string>& server_hosts);

}  // namespace keel::pilot::networking::gateway
