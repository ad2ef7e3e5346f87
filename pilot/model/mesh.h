// MeshOptions: the mesh-wide settings one push is built with: Istio's MeshConfig
// (ConfigMap `istio`, key `mesh`, read by config/mesh_watcher.h) and the
// cluster's DNS domain. Immutable once a PushContext holds it; builders read it
// through PushContext::mesh().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mesh/v1alpha1/config.pb.h"
#include "pilot/model/jwks.h"

namespace keel::pilot::model {

using MeshConfig = ::istio::mesh::v1alpha1::MeshConfig;

enum class OutboundTrafficPolicy { kAllowAny, kRegistryOnly };

// istiod's DefaultMeshConfig for the fields Keel reads, with its two seeds: the
// root namespace (Keel: --system-namespace) and the trust domain (--trust-domain).
MeshConfig DefaultMeshConfig(const std::string& root_namespace = "istio-system",
                             const std::string& trust_domain = "cluster.local");

struct MeshOptions {
  std::string domain = "cluster.local";  // cluster DNS domain (--domain)
  std::shared_ptr<const MeshConfig> config = std::make_shared<const MeshConfig>(DefaultMeshConfig());
  // RequestAuthentication key sets named by URI or issuer; null: none is
  // fetched, such rules get kPublicOnlyJwks (they reject every token).
  std::shared_ptr<const JwksSource> jwks;

  // Where a Sidecar without selector is every namespace's default.
  const std::string& root_namespace() const { return config->root_namespace(); }
  // The SPIFFE trust domain of workload identities.
  const std::string& trust_domain() const { return config->trust_domain(); }
  // outboundTrafficPolicy for proxies whose Sidecar sets none (ALLOW_ANY_DYNAMIC_DNS
  // passes through like ALLOW_ANY).
  OutboundTrafficPolicy outbound_traffic_policy() const;
  // enableAutoMtls (istiod's default: true).
  bool auto_mtls() const { return !config->has_enable_auto_mtls() || config->enable_auto_mtls().value(); }
  // `spiffe_ids` and, for each, the same identity in every trustDomainAliases
  // domain (istiod's spiffe.ExpandWithTrustDomains): what a client accepts from a
  // server that may hold a certificate of an aliased domain. Sorted, each once;
  // ids that are not spiffe://TD/... are kept as they are.
  std::vector<std::string> WithTrustDomainAliases(const std::vector<std::string>& spiffe_ids) const;
};

}  // namespace keel::pilot::model
