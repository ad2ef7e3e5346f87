#include "pilot/networking/core/domains.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace keel::pilot::networking {

std::vector<std::string> DomainAliases(const model::Service& service, int port, const std::string& domain) {
  std::vector<std::string> names{service.hostname};
  const std::string suffix = absl::StrCat(".svc.", domain);
  if (absl::EndsWith(service.hostname, suffix)) {
    names.push_back(service.name);
    names.push_back(absl::StrCat(service.name, ".", service.ns));
    names.push_back(absl::StrCat(service.name, ".", service.ns, ".svc"));
  }
  if (!service.vip.empty()) names.push_back(service.vip);
  std::vector<std::string> out;
  for (const auto& n : names) {
    out.push_back(n);
    out.push_back(absl::StrCat(n, ":", port));
  }
  return out;
}

}  // namespace keel::pilot::networking
