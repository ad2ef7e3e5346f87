// The TLS a gateway server terminates with (Istio's BuildListenerTLSContext for
// gateways): certificates by SDS, from istiod over ADS for credentialName, from
// the gateway's own istio-agent (cluster "sds-grpc") for file paths and
// ISTIO_MUTUAL.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "pilot/networking/gateway/merged_gateway.h"

namespace keel::pilot::networking::gateway {

// The SDS resource name of a credentialName (Istio's credentials.ToResourceName):
// "kubernetes://<credentialName>" unless it already names its type
// ("kubernetes://", "kubernetes-gateway://", "configmap://"); "builtin://..." is
// the proxy's own workload certificate, "default".
std::string CredentialResourceName(absl::string_view credential_name);

// Suffix of the SDS resource holding the CA that validates client certificates.
inline constexpr char kSdsCaSuffix[] = "-cacert";

// The DownstreamTlsContext of `server`, whose tls mode terminates TLS (SIMPLE,
// MUTUAL, OPTIONAL_MUTUAL or ISTIO_MUTUAL).
envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext BuildServerTlsContext(
    const GatewayServer& server);

}  // namespace keel::pilot::networking::gateway
