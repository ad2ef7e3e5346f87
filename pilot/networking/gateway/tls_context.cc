#include "pilot/networking/gateway/tls_context.h"

#include <google/protobuf/util/time_util.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "networking/v1alpha3/gateway.pb.h"

namespace keel::pilot::networking::gateway {
namespace {

namespace networking = ::istio::networking::v1alpha3;
namespace tls = ::envoy::extensions::transport_sockets::tls::v3;
using networking::ServerTLSSettings;

constexpr char kAgentSdsCluster[] = "sds-grpc";  // the istio-agent SDS server in every gateway pod
constexpr char kWorkloadCert[] = "default";      // istio-agent's names for the workload cert and root
constexpr char kRootCa[] = "ROOTCA";

// A secret istiod serves over ADS (credentialName). No initial_fetch_timeout:
// a missing Secret must not hold the whole listener back.
tls::SdsSecretConfig AdsSecret(const std::string& name) {
  tls::SdsSecretConfig out;
  out.set_name(name);
  out.mutable_sds_config()->mutable_ads();
  out.mutable_sds_config()->set_resource_api_version(envoy::config::core::v3::V3);
  return out;
}

// A secret the gateway's istio-agent serves (file-mounted certificates, mesh certs).
tls::SdsSecretConfig AgentSecret(const std::string& name) {
  tls::SdsSecretConfig out;
  out.set_name(name);
  auto* source = out.mutable_sds_config();
  auto* api = source->mutable_api_config_source();
  api->set_api_type(envoy::config::core::v3::ApiConfigSource::GRPC);
  api->set_set_node_on_first_message_only(true);
  api->set_transport_api_version(envoy::config::core::v3::V3);
  api->add_grpc_services()->mutable_envoy_grpc()->set_cluster_name(kAgentSdsCluster);
  *source->mutable_initial_fetch_timeout() = google::protobuf::util::TimeUtil::SecondsToDuration(0);
  source->set_resource_api_version(envoy::config::core::v3::V3);
  return out;
}

tls::SdsSecretConfig CredentialSecret(const std::string& credential_name) {
  const std::string name = CredentialResourceName(credential_name);
  return name == kWorkloadCert ? AgentSecret(kWorkloadCert) : AdsSecret(name);
}

void AddExactSans(const ServerTLSSettings& t, tls::CertificateValidationContext* v) {
  for (const auto& san : t.subject_alt_names()) v->add_match_subject_alt_names()->set_exact(san);
}

tls::TlsParameters::TlsProtocol TlsVersion(ServerTLSSettings::TLSProtocol p) {
  // The two enums are numbered alike (TLS_AUTO, 1.0, 1.1, 1.2, 1.3).
  return static_cast<tls::TlsParameters::TlsProtocol>(p);
}

}  // namespace

std::string CredentialResourceName(absl::string_view credential_name) {
  if (absl::StartsWith(credential_name, "builtin://")) return kWorkloadCert;
  for (const char* typed : {"kubernetes://", "kubernetes-gateway://", "configmap://"}) {
    if (absl::StartsWith(credential_name, typed)) return std::string(credential_name);
  }
  return absl::StrCat("kubernetes://", credential_name);
}

tls::DownstreamTlsContext BuildServerTlsContext(const GatewayServer& server) {
  const ServerTLSSettings& t = server.spec->tls();
  tls::DownstreamTlsContext out;
  auto* common = out.mutable_common_tls_context();

  // ALPN: HTTP/2 and HTTP/1.1; a TCP server terminating Istio mTLS also offers
  // Istio's peer metadata exchange.
  if (t.mode() == ServerTLSSettings::ISTIO_MUTUAL && !server.IsHttpServer()) {
    common->add_alpn_protocols("istio-peer-exchange");
  }
  common->add_alpn_protocols("h2");
  common->add_alpn_protocols("http/1.1");

  const bool require_client = t.mode() == ServerTLSSettings::MUTUAL || t.mode() == ServerTLSSettings::ISTIO_MUTUAL;
  out.mutable_require_client_certificate()->set_value(require_client);
  const bool validate_client = require_client || t.mode() == ServerTLSSettings::OPTIONAL_MUTUAL;

  if (t.mode() == ServerTLSSettings::ISTIO_MUTUAL) {
    *common->add_tls_certificate_sds_secret_configs() = AgentSecret(kWorkloadCert);
    auto* combined = common->mutable_combined_validation_context();
    AddExactSans(t, combined->mutable_default_validation_context());
    *combined->mutable_validation_context_sds_secret_config() = AgentSecret(kRootCa);
  } else if (!t.credential_name().empty() || !t.credential_names().empty()) {
    std::string ca_of = t.credential_name();
    if (!t.credential_names().empty()) {
      for (const auto& name : t.credential_names()) {
        *common->add_tls_certificate_sds_secret_configs() = CredentialSecret(name);
      }
      ca_of = t.credential_names(0);  // one CA for all certificates, as istiod
    } else {
      *common->add_tls_certificate_sds_secret_configs() = CredentialSecret(t.credential_name());
    }
    if (validate_client) {
      auto* combined = common->mutable_combined_validation_context();
      auto* v = combined->mutable_default_validation_context();
      AddExactSans(t, v);
      for (const auto& spki : t.verify_certificate_spki()) v->add_verify_certificate_spki(spki);
      for (const auto& hash : t.verify_certificate_hash()) v->add_verify_certificate_hash(hash);
      *combined->mutable_validation_context_sds_secret_config() =
          absl::StartsWith(ca_of, "builtin://") ? AgentSecret(kRootCa)
                                                : CredentialSecret(absl::StrCat(ca_of, kSdsCaSuffix));
    } else if (!t.subject_alt_names().empty()) {
      AddExactSans(t, common->mutable_validation_context());
    }
  } else {
    // Files mounted into the gateway pod, served by its istio-agent.
    auto file_cert = [](const std::string& cert, const std::string& key) {
      return cert.empty() || key.empty() ? std::string(kWorkloadCert) : absl::StrCat("file-cert:", cert, "~", key);
    };
    if (!t.tls_certificates().empty()) {
      for (const auto& c : t.tls_certificates()) {
        *common->add_tls_certificate_sds_secret_configs() =
            AgentSecret(file_cert(c.server_certificate(), c.private_key()));
      }
    } else {
      *common->add_tls_certificate_sds_secret_configs() =
          AgentSecret(file_cert(t.server_certificate(), t.private_key()));
    }
    if (validate_client) {
      auto* combined = common->mutable_combined_validation_context();
      auto* v = combined->mutable_default_validation_context();
      AddExactSans(t, v);
      if (!t.ca_crl().empty()) v->mutable_crl()->set_filename(t.ca_crl());
      *combined->mutable_validation_context_sds_secret_config() = AgentSecret(
          t.ca_certificates().empty() ? std::string(kRootCa) : absl::StrCat("file-root:", t.ca_certificates()));
    }
  }

  if (t.mode() != ServerTLSSettings::ISTIO_MUTUAL) {
    if (t.min_protocol_version() != ServerTLSSettings::TLS_AUTO) {
      common->mutable_tls_params()->set_tls_minimum_protocol_version(TlsVersion(t.min_protocol_version()));
    }
    if (t.max_protocol_version() != ServerTLSSettings::TLS_AUTO) {
      common->mutable_tls_params()->set_tls_maximum_protocol_version(TlsVersion(t.max_protocol_version()));
    }
    std::set<std::string> seen;
    for (const auto& c : t.cipher_suites()) {
      if (!c.empty() && seen.insert(c).second) common->mutable_tls_params()->add_cipher_suites(c);
    }
  }
  return out;
}

}  // namespace keel::pilot::networking::gateway
