#include "citadel/server/ca_service.h"

#include <spdlog/spdlog.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pkg/grpc/status.h"
#include "pkg/metrics/registry.h"

namespace keel::citadel::server {
namespace {

// istiod's citadel metric names.
struct CaMetrics {
  metrics::Counter& csr = metrics::DefaultRegistry().GetCounter(
      "citadel_server_csr_count", "The number of CSRs received by Citadel server.");
  metrics::Counter& auth_failure = metrics::DefaultRegistry().GetCounter(
      "citadel_server_authentication_failure_count", "The number of authentication failures.");
  metrics::Counter& parse_error = metrics::DefaultRegistry().GetCounter(
      "citadel_server_csr_parsing_err_count", "The number of errors occurred when parsing the CSR.");
  metrics::Counter& sign_error = metrics::DefaultRegistry().GetCounter(
      "citadel_server_csr_sign_err_count", "The number of errors occurred when signing the CSR.");
  metrics::Counter& success = metrics::DefaultRegistry().GetCounter(
      "citadel_server_success_cert_issuance_count", "The number of certificates issuances that have succeeded.");
};

CaMetrics& Metrics() {
  static CaMetrics* m = new CaMetrics();
  return *m;
}

}  // namespace

CaService::CaService(const ca::CertSigner* signer, Authenticator* authenticator, std::string trust_domain)
    : signer_(signer), authenticator_(authenticator), trust_domain_(std::move(trust_domain)) {
  Metrics();  // register the families so /metrics shows them from the start
}

grpc::Status CaService::CreateCertificate(grpc::ServerContext* context,
                                          const istio::v1::auth::IstioCertificateRequest* request,
                                          istio::v1::auth::IstioCertificateResponse* response) {
  Metrics().csr.Inc();
  std::multimap<std::string, std::string> metadata;
  for (const auto& [k, v] : context->client_metadata()) metadata.emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
  auto caller = authenticator_->Authenticate(metadata);
  if (!caller.ok()) {
    Metrics().auth_failure.Inc();
    spdlog::warn("CA: authentication failed for {}: {}", context->peer(), std::string(caller.status().message()));
    if (absl::IsUnavailable(caller.status())) return grpcutil::ToGrpcStatus(caller.status());
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(caller.status().message()));
  }
  ca::SignRequest sign;
  sign.csr_pem = request->csr();
  sign.uri_sans = {caller->SpiffeId(trust_domain_)};
  sign.ttl = absl::Seconds(request->validity_duration());
  auto chain = signer_->Sign(sign);
  if (!chain.ok()) {
    if (absl::StartsWith(chain.status().message(), "CSR")) {
      Metrics().parse_error.Inc();
    } else {
      Metrics().sign_error.Inc();
    }
    spdlog::warn("CA: cannot sign for {}: {}", sign.uri_sans[0], std::string(chain.status().message()));
    return grpcutil::ToGrpcStatus(chain.status());
  }
  for (auto& pem : *chain) response->add_cert_chain(std::move(pem));
  Metrics().success.Inc();
  spdlog::info("CA: issued a certificate for {} ({} s)", sign.uri_sans[0], request->validity_duration());
  return grpc::Status::OK;
}

}  // namespace keel::citadel::server
