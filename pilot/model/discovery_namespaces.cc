#include "pilot/model/discovery_namespaces.h"

#include <vector>

#include "pilot/model/label_selector.h"

namespace keel::pilot::model {

DiscoveryNamespaces::DiscoveryNamespaces(const MeshConfig& mesh, const ConfigMap& configs) {
  if (mesh.discovery_selectors().empty()) return;
  std::vector<LabelSelector> selectors;
  for (const auto& s : mesh.discovery_selectors()) {
    if (auto selector = FromMeshSelector(s); selector.ok()) selectors.push_back(std::move(*selector));
  }
  auto selected = std::make_shared<std::set<std::string, std::less<>>>();
  // Namespaces sort first in the map (Kind::kNamespace is the first kind).
  for (auto it = configs.lower_bound(ConfigKey{Kind::kNamespace, "", ""});
       it != configs.end() && it->first.kind == Kind::kNamespace; ++it) {
    for (const auto& selector : selectors) {
      if (selector.Matches(it->second->meta.labels)) {
        selected->insert(it->first.name);
        break;
      }
    }
  }
  selected_ = std::move(selected);
}

bool DiscoveryNamespaces::Selects(absl::string_view ns) const {
  return !selected_ || ns.empty() || selected_->count(ns) > 0;
}

bool DiscoveryNamespaces::Selects(const ConfigKey& key) const {
  return Selects(key.kind == Kind::kNamespace ? absl::string_view(key.name) : absl::string_view(key.ns));
}

ConfigSnapshot DiscoveryNamespaces::Select(ConfigSnapshot configs) const {
  if (!selected_) return configs;
  auto out = std::make_shared<ConfigMap>();
  for (const auto& [key, config] : *configs) {
    if (Selects(key)) out->emplace_hint(out->end(), key, config);
  }
  return out;
}

const std::set<std::string, std::less<>>& DiscoveryNamespaces::selected() const {
  static const std::set<std::string, std::less<>> kNone;
  return selected_ ? *selected_ : kNone;
}

}  // namespace keel::pilot::model
