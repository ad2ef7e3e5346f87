// Gateway TLS credentials over SDS (Istio's SecretGen, pilot/pkg/xds/sds.go):
// "kubernetes://[<namespace>/]<name>" resources from Kubernetes Secrets. Pure.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "pilot/model/push_context.h"

namespace keel::pilot::networking::gateway {

// A parsed SDS resource name.
struct SecretResource {
  std::string resource_name;  // as requested
  std::string ns;             // the Secret's namespace (the proxy's when not given)
  std::string name;           // the Secret's name, with any "-cacert" suffix
  bool ca_only = false;       // name ends in "-cacert": the CA that validates clients
};

// Parses "kubernetes://name" or "kubernetes://namespace/name". Errors:
// InvalidArgument for other types (kubernetes-gateway://, configmap://, ...)
// or a malformed name.
absl::StatusOr<SecretResource> ParseSecretResource(const std::string& resource_name, const std::string& proxy_ns);

// The Secret resource `resource_name` for `proxy`, or an error saying why there
// is none; the error never contains key material.
//  - Only Secrets in the proxy's own namespace are served (istiod's rule for
//    kubernetes:// credentials); others are PermissionDenied.
//  - "<name>": tls_certificate from keys cert/key (generic Secret), else
//    tls.crt/tls.key (kubernetes.io/tls), plus tls.ocsp-staple if present.
//  - "<name>-cacert": validation_context.trusted_ca from the Secret "<name>-cacert"
//    if it exists, else from "<name>": key cacert, else ca.crt; the CRL (crl or
//    ca.crl) when present.
// `data` values are base64 (as the API server stores them); `stringData` values
// are taken as written and win over `data`, as the API server merges them.
absl::StatusOr<envoy::extensions::transport_sockets::tls::v3::Secret> BuildSecret(
    const std::string& resource_name, const model::Proxy& proxy, const model::PushContext& push);

}  // namespace keel::pilot::networking::gateway
