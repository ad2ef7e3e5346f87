#include "pilot/model/config.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"

namespace keel::pilot::model {
namespace {

constexpr std::array<std::pair<Kind, absl::string_view>, 11> kKindNames = {{
    {Kind::kNamespace, "Namespace"},
    {Kind::kService, "Service"},
    {Kind::kPod, "Pod"},
    {Kind::kEndpointSlice, "EndpointSlice"},
    {Kind::kSecret, "Secret"},
    {Kind::kConfigMap, "ConfigMap"},
    {Kind::kGateway, "Gateway"},
    {Kind::kVirtualService, "VirtualService"},
    {Kind::kDestinationRule, "DestinationRule"},
    {Kind::kServiceEntry, "ServiceEntry"},
    {Kind::kSidecar, "Sidecar"},
}};

}  // namespace

absl::string_view KindName(Kind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) return name;
  }
  return "Unknown";
}

bool KindIsIstio(Kind kind) { return kind >= Kind::kGateway; }

bool KindFromName(absl::string_view name, Kind* kind) {
  for (const auto& [k, n] : kKindNames) {
    if (n == name) return *kind = k, true;
  }
  return false;
}

std::string ConfigKey::ToString() const {
  if (ns.empty()) return absl::StrCat(KindName(kind), " ", name);
  return absl::StrCat(KindName(kind), " ", ns, "/", name);
}

}  // namespace keel::pilot::model
