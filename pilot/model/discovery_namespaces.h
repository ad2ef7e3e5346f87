// DiscoveryNamespaces: which namespaces' objects the mesh sees, from meshConfig
// discoverySelectors, as istiod's discovery namespace filter
// (pkg/kube/namespace/filter.go): no selectors, every namespace; otherwise the
// namespaces whose labels match at least one selector (an empty selector `{}`
// matches every namespace). Objects of other namespaces, Istio configs as much as
// Services, EndpointSlices, Pods and Secrets, are left out of the push; a
// Namespace object counts as in its own namespace; other cluster-scoped objects
// are always in. Immutable; computed once per full push (PushContext::Build) and
// kept for the endpoint-only pushes after it, which cannot change it.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "absl/strings/string_view.h"
#include "pilot/model/config_store.h"
#include "pilot/model/mesh.h"

namespace keel::pilot::model {

class DiscoveryNamespaces {
 public:
  // Every namespace.
  DiscoveryNamespaces() = default;
  // The Namespace objects of `configs` that `mesh.discovery_selectors` select.
  // Selectors are validated with the mesh (config/mesh_watcher.h); one that is
  // still invalid here selects nothing.
  DiscoveryNamespaces(const MeshConfig& mesh, const ConfigMap& configs);

  // True when there are no discoverySelectors.
  bool all() const { return selected_ == nullptr; }
  // Whether objects of namespace `ns` are discovered ("": cluster-scoped, always).
  bool Selects(absl::string_view ns) const;
  // Whether a stored object is discovered (a Namespace by its own name).
  bool Selects(const ConfigKey& key) const;
  // `configs` without what is not discovered; the same snapshot when all() is.
  ConfigSnapshot Select(ConfigSnapshot configs) const;
  // The selected namespaces (empty when all()), sorted.
  const std::set<std::string, std::less<>>& selected() const;

  // The same selection (what a change of it must re-check).
  friend bool operator==(const DiscoveryNamespaces& a, const DiscoveryNamespaces& b) {
    return a.all() == b.all() && a.selected() == b.selected();
  }
  friend bool operator!=(const DiscoveryNamespaces& a, const DiscoveryNamespaces& b) { return !(a == b); }

 private:
  std::shared_ptr<const std::set<std::string, std::less<>>> selected_;  // null: all
};

}  // namespace keel::pilot::model
