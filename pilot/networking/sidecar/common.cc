#include "pilot/networking/sidecar/common.h"

#include <algorithm>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "pilot/model/protocol.h"
#include "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.pb.h"
#include "envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.pb.h"

namespace keel::pilot::networking::sidecar {
namespace {

namespace tls = ::envoy::extensions::transport_sockets::tls::v3;
using google::protobuf::util::TimeUtil;

// Istio's SupportedCiphers for server-side mTLS.
constexpr const char* kInboundCiphers[] = {
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",   "AES256-GCM-SHA384",           "AES128-GCM-SHA256"};

std::string Upper(absl::string_view protocol) { return absl::AsciiStrToUpper(protocol); }

}  // namespace


PortClass ClassOf(absl::string_view protocol) {
  const std::string p = Upper(protocol);
  if (p == "UDP" || p == "SCTP") return PortClass::kUnsupported;
  if (model::ParseProtocol(p) == model::kUnsupportedProtocol) return PortClass::kAuto;
  if (p == "HTTP" || p == "HTTP2" || p == "GRPC" || p == "GRPC-WEB" || p == "HTTP_PROXY") return PortClass::kHttp;
  return PortClass::kTcp;  // TCP, HTTPS, TLS, MONGO, REDIS, MYSQL
}

bool IsHttpOrSniffed(absl::string_view protocol) {
  const PortClass cls = ClassOf(protocol);
  return cls == PortClass::kHttp || cls == PortClass::kAuto;
}

bool IsHttp2(absl::string_view protocol) {
  const std::string p = Upper(protocol);
  return p == "HTTP2" || p == "GRPC";
}

bool IsTls(absl::string_view protocol) {
  const std::string p = Upper(protocol);
  return p == "HTTPS" || p == "TLS";
}

bool IsMongo(absl::string_view protocol) { return Upper(protocol) == "MONGO"; }

std::string WildcardAddress(const model::Proxy& proxy) {
  return proxy.ip.find(':') != std::string::npos ? "::" : "0.0.0.0";
}

std::string ListenerName(absl::string_view address, int port) { return absl::StrCat(address, "_", port); }

envoy::config::listener::v3::ListenerFilter ListenerFilterOf(const char* name,
                                                             const google::protobuf::Message& config) {
  envoy::config::listener::v3::ListenerFilter f;
  f.set_name(name);
  f.mutable_typed_config()->PackFrom(config);
  return f;
}

envoy::config::listener::v3::ListenerFilter TlsInspectorFilter() {
  envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector config;
  config.mutable_initial_read_buffer_size()->set_value(512);
  return ListenerFilterOf(kTlsInspector, config);
}

std::string TraceOperation(absl::string_view host, int port) { return absl::StrCat(host, ":", port, "/*"); }

tls::SdsSecretConfig AgentSdsSecret(const std::string& name) {
  tls::SdsSecretConfig out;
  out.set_name(name);
  auto* source = out.mutable_sds_config();
  auto* api = source->mutable_api_config_source();
  api->set_api_type(envoy::config::core::v3::ApiConfigSource::GRPC);
  api->set_set_node_on_first_message_only(true);
  api->set_transport_api_version(envoy::config::core::v3::V3);
  api->add_grpc_services()->mutable_envoy_grpc()->set_cluster_name(kSdsCluster);
  source->set_resource_api_version(envoy::config::core::v3::V3);
  if (name == kSdsDefault || name == kSdsRoot) {
    *source->mutable_initial_fetch_timeout() = TimeUtil::SecondsToDuration(0);
  }
  return out;
}

tls::SdsSecretConfig CredentialSdsSecret(const std::string& name) {
  tls::SdsSecretConfig out;
  out.set_name(name.rfind("kubernetes://", 0) == 0 ? name : absl::StrCat("kubernetes://", name));
  out.mutable_sds_config()->mutable_ads();
  out.mutable_sds_config()->set_resource_api_version(envoy::config::core::v3::V3);
  return out;
}

envoy::config::core::v3::TransportSocket UpstreamTlsSocket(const tls::UpstreamTlsContext& context) {
  envoy::config::core::v3::TransportSocket socket;
  socket.set_name(kTlsTransportSocket);
  socket.mutable_typed_config()->PackFrom(context);
  return socket;
}

envoy::config::core::v3::TransportSocket DownstreamTlsSocket(const tls::DownstreamTlsContext& context) {
  envoy::config::core::v3::TransportSocket socket;
  socket.set_name(kTlsTransportSocket);
  socket.mutable_typed_config()->PackFrom(context);
  return socket;
}

envoy::config::core::v3::TransportSocket RawBufferSocket() {
  envoy::config::core::v3::TransportSocket socket;
  socket.set_name(kRawBufferTransportSocket);
  socket.mutable_typed_config()->PackFrom(envoy::extensions::transport_sockets::raw_buffer::v3::RawBuffer());
  return socket;
}

tls::DownstreamTlsContext InboundMtlsContext(bool tcp, const model::MeshOptions& mesh) {
  tls::DownstreamTlsContext out;
  out.mutable_require_client_certificate()->set_value(true);
  auto* common = out.mutable_common_tls_context();
  if (tcp) common->add_alpn_protocols(kAlpnPeerExchange);
  common->add_alpn_protocols("h2");
  common->add_alpn_protocols("http/1.1");
  auto* params = common->mutable_tls_params();
  for (const char* c : kInboundCiphers) params->add_cipher_suites(c);
  params->set_tls_minimum_protocol_version(tls::TlsParameters::TLSv1_2);
  params->set_tls_maximum_protocol_version(tls::TlsParameters::TLSv1_3);
  *common->add_tls_certificate_sds_secret_configs() = AgentSdsSecret(kSdsDefault);
  auto* combined = common->mutable_combined_validation_context();
  // Peers of the mesh's trust domain and its aliases only (istiod's
  // TrustDomainsForValidation): a certificate from the same root for another
  // domain is refused.
  auto* validation = combined->mutable_default_validation_context();
  std::vector<std::string> domains = {mesh.trust_domain()};
  for (const auto& alias : mesh.config->trust_domain_aliases()) {
    if (std::find(domains.begin(), domains.end(), alias) == domains.end()) domains.push_back(alias);
  }
  for (const auto& td : domains) validation->add_match_subject_alt_names()->set_prefix("spiffe://" + td + "/");
  *combined->mutable_validation_context_sds_secret_config() = AgentSdsSecret(kSdsRoot);
  return out;
}

}  // namespace keel::pilot::networking::sidecar
