#include "pilot/model/mesh.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace keel::pilot::model {

MeshConfig DefaultMeshConfig(const std::string& root_namespace, const std::string& trust_domain) {
  // istio.io/istio pkg/config/mesh DefaultMeshConfig: the fields Keel uses, and the
  // ingress ones istioctl and the injector read from the same ConfigMap.
  MeshConfig mesh;
  mesh.set_root_namespace(root_namespace);
  mesh.set_trust_domain(trust_domain);
  mesh.mutable_enable_auto_mtls()->set_value(true);
  mesh.set_enable_tracing(true);
  mesh.mutable_outbound_traffic_policy()->set_mode(MeshConfig::OutboundTrafficPolicy::ALLOW_ANY);
  mesh.set_ingress_class("istio");
  mesh.set_ingress_service("istio-ingressgateway");
  mesh.set_ingress_controller_mode(MeshConfig::STRICT);
  mesh.mutable_default_config()->set_discovery_address(absl::StrCat("istiod.", root_namespace, ".svc:15012"));
  return mesh;
}

OutboundTrafficPolicy MeshOptions::outbound_traffic_policy() const {
  return config->outbound_traffic_policy().mode() == MeshConfig::OutboundTrafficPolicy::REGISTRY_ONLY
             ? OutboundTrafficPolicy::kRegistryOnly
             : OutboundTrafficPolicy::kAllowAny;
}

std::vector<std::string> MeshOptions::WithTrustDomainAliases(const std::vector<std::string>& spiffe_ids) const {
  std::set<std::string> out(spiffe_ids.begin(), spiffe_ids.end());
  constexpr absl::string_view kScheme = "spiffe://";
  for (const std::string& id : spiffe_ids) {
    if (!absl::StartsWith(id, kScheme)) continue;
    const size_t path = id.find('/', kScheme.size());
    if (path == std::string::npos) continue;
    for (const std::string& alias : config->trust_domain_aliases()) {
      out.insert(absl::StrCat(kScheme, alias, id.substr(path)));
    }
  }
  return {out.begin(), out.end()};
}

}  // namespace keel::pilot::model
