// Proxy: a connected xDS client, identified as Istio identifies it.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace envoy::config::core::v3 {
class Node;
}

namespace keel::pilot::model {

enum class ProxyType { kSidecar, kRouter };

// Who a proxy is by the credential on its stream (the Kubernetes service account
// its token was issued to): istiod's Proxy.VerifiedIdentity.
struct ProxyIdentity {
  std::string ns;
  std::string service_account;
};

struct Proxy {
  ProxyType type = ProxyType::kSidecar;
  std::string id;              // the full node id
  std::string ip;              // first IP from the node id
  std::string pod_name;        // "productpage-v1-abc"
  std::string ns;              // namespace
  std::string dns_domain;      // "default.svc.cluster.local"
  bool proxyless_grpc = false; // metadata GENERATOR=grpc
  std::map<std::string, std::string> labels;  // metadata LABELS
  std::string cluster_id;      // metadata CLUSTER_ID
  std::string mesh_id;         // metadata MESH_ID
  std::string istio_version;   // metadata ISTIO_VERSION
  std::string region, zone, sub_zone;
  // Set on streams that authenticated (the TLS port, or every port with
  // --xds-auth-plaintext), always of namespace `ns`; unset: the node id is all
  // Keel knows, and no credential is served to it.
  std::optional<ProxyIdentity> verified_identity;
};

// Parses node id `TYPE~IP~POD.NS~NS.svc.DOMAIN` (TYPE sidecar or router) and
// the node metadata. Errors: InvalidArgument naming what is wrong with the id.
absl::StatusOr<Proxy> ParseProxy(const envoy::config::core::v3::Node& node);

}  // namespace keel::pilot::model
