#include "pilot/networking/gateway/gateway_hosts.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace keel::pilot::networking::gateway {

bool HostSubsetOf(absl::string_view name, absl::string_view pattern) {
  if (name == pattern) return true;
  const bool name_wild = absl::StartsWith(name, "*");
  const bool pattern_wild = absl::StartsWith(pattern, "*");
  if (!pattern_wild) return false;  // an exact pattern only contains itself
  if (pattern.size() == 1) return true;
  // "*.foo.com" covers "a.foo.com" and "*.b.foo.com" (Istio: suffix after the '*').
  if (name_wild) return absl::EndsWith(name.substr(1), pattern.substr(1));
  return absl::EndsWith(name, pattern.substr(1));
}

std::vector<std::string> IntersectHosts(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> out;
  auto add = [&](const std::string& h) {
    if (std::find(out.begin(), out.end(), h) == out.end()) out.push_back(h);
  };
  for (const auto& x : a) {
    for (const auto& y : b) {
      if (HostSubsetOf(x, y)) {
        add(x);
      } else if (HostSubsetOf(y, x)) {
        add(y);
      }
    }
  }
  return out;
}

std::vector<std::string> SanitizeServerHosts(const std::vector<std::string>& hosts, absl::string_view gateway_ns) {
  std::vector<std::string> out;
  for (const auto& h : hosts) {
    const size_t slash = h.find('/');
    if (slash == std::string::npos) {
      out.push_back(h);
      continue;
    }
    const absl::string_view ns = absl::string_view(h).substr(0, slash);
    const absl::string_view host = absl::string_view(h).substr(slash + 1);
    if (ns == ".") {
      out.push_back(absl::StrCat(gateway_ns, "/", host));
    } else if (ns == "*") {
      if (host == "*") return {"*"};
      out.emplace_back(host);
    } else {
      out.push_back(h);
    }
  }
  return out;
}

std::vector<std::string> ServerHostsForNamespace(const std::vector<std::string>& server_hosts,
                                                 absl::string_view vs_ns) {
  std::vector<std::string> out;
  for (const auto& h : server_hosts) {
    const size_t slash = h.find('/');
    if (slash == std::string::npos) {
      out.push_back(h);
      continue;
    }
    const absl::string_view ns = absl::string_view(h).substr(0, slash);
    if (ns != vs_ns && ns != "*") continue;
    out.emplace_back(absl::string_view(h).substr(slash + 1));
  }
  return out;
}

std::vector<std::string> StripNamespaces(const std::vector<std::string>& server_hosts) {
  std::vector<std::string> out;
  for (const auto& h : server_hosts) {
    const size_t slash = h.find('/');
    out.push_back(slash == std::string::npos ? h : h.substr(slash + 1));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace keel::pilot::networking::gateway
