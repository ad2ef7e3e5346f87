// Small builders shared by the Envoy (sidecar and router) generators: the
// protocol classes of a service port, and the SDS / transport-socket shapes
// istiod emits. The names they use are in core/well_known_names.h.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/config/listener/v3/listener_components.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/common.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "pilot/model/mesh.h"
#include "pilot/model/proxy.h"
#include "pilot/networking/core/well_known_names.h"

namespace keel::pilot::networking::sidecar {

// A service port's protocol as Istio's listener code classifies it
// (istionetworking.ModelProtocolToListenerProtocol): HTTP, TCP (TLS, Mongo,
// Redis, MySQL too), auto for a port whose protocol is not declared (Istio's
// UNSUPPORTED: the proxy sniffs it, HTTP and TCP chains behind the HTTP
// inspector), and unsupported (UDP, SCTP: no listener at all).
enum class PortClass { kHttp, kTcp, kAuto, kUnsupported };
PortClass ClassOf(absl::string_view protocol);
// Istio IsHTTPOrSniffed: the port may carry HTTP (its services get virtual hosts).
bool IsHttpOrSniffed(absl::string_view protocol);
bool IsHttp2(absl::string_view protocol);  // HTTP2, GRPC
bool IsTls(absl::string_view protocol);    // HTTPS, TLS
bool IsMongo(absl::string_view protocol);

// The wildcard address of the proxy's IP family: "0.0.0.0" or "::".
std::string WildcardAddress(const model::Proxy& proxy);

// Istio's listener name: "<address>_<port>".
std::string ListenerName(absl::string_view address, int port);

// "host:port/*", the decorator operation of a default route (telemetry.TraceOperation).
std::string TraceOperation(absl::string_view host, int port);

// SdsSecretConfig for `name` fetched from the agent ("sds-grpc" cluster), as
// Istio's ConstructSdsSecretConfig; the workload and root certificates get an
// initial_fetch_timeout of 0 (wait forever).
envoy::extensions::transport_sockets::tls::v3::SdsSecretConfig AgentSdsSecret(const std::string& name);

// SdsSecretConfig for a credentialName fetched from istiod over ADS
// ("kubernetes://NAME"), as Istio's ConstructSdsSecretConfigForCredential.
envoy::extensions::transport_sockets::tls::v3::SdsSecretConfig CredentialSdsSecret(const std::string& name);

// Listener filters as istiod's xds/filters writes them: `name` with `config`, and
// its TLS inspector (initial_read_buffer_size 512, where Envoy's default is 64 KiB).
envoy::config::listener::v3::ListenerFilter ListenerFilterOf(const char* name, const google::protobuf::Message& config);
envoy::config::listener::v3::ListenerFilter TlsInspectorFilter();

// Transport sockets.
envoy::config::core::v3::TransportSocket UpstreamTlsSocket(
    const envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext& context);
envoy::config::core::v3::TransportSocket DownstreamTlsSocket(
    const envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext& context);
envoy::config::core::v3::TransportSocket RawBufferSocket();

// The server-side mTLS context of an inbound filter chain (Istio
// BuildInboundTLS): the workload certificate, peers validated against ROOTCA,
// client certificate required and its SAN under spiffe://TD/ for the mesh trust
// domain and each alias; ALPN h2/http1.1, plus istio-peer-exchange for TCP.
envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext InboundMtlsContext(bool tcp,
                                                                       const model::MeshOptions& mesh);

}  // namespace keel::pilot::networking::sidecar
