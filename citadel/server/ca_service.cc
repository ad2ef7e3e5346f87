#include "citadel/server/ca_service.h"

#include <spdlog/spdlog.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pkg/grpc/server_context.h"
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
  // Keel's own: calls refused because the TokenReview queue was full (RESOURCE_EXHAUSTED).
  metrics::Counter& busy = metrics::DefaultRegistry().GetCounter(
      "keel_ca_busy_refusals_total", "CreateCertificate calls refused at once because the TokenReview queue was full.");
};

CaMetrics& Metrics() {
  static CaMetrics* m = new CaMetrics();
  return *m;
}

}  // namespace

CaService::CaService(const ca::CertSigner* signer, Authenticator* authenticator,
                     std::function<std::string()> trust_domain,
                     CaServiceOptions options)
    : signer_(signer),
      authenticator_(authenticator),
      trust_domain_(std::move(trust_domain)),
      options_(options),
      executor_(options.workers, options.max_queued) {
  Metrics();  // register the families so /metrics shows them from the start
}

CaService::~CaService() { Shutdown(); }

void CaService::Shutdown() {
  stopping_ = true;
  executor_.Shutdown();
}

grpc::ServerUnaryReactor* CaService::CreateCertificate(grpc::CallbackServerContext* context,
                                                       const istio::v1::auth::IstioCertificateRequest* request,
                                                       istio::v1::auth::IstioCertificateResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!grpcutil::ArrivedOverTls(*context)) {
    // Not counted as a CSR: the service is not there (istiod has none on 15010).
    reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                 "IstioCertificateService is served on the TLS port only (istiod's 15012)"));
    return reactor;
  }
  Metrics().csr.Inc();
  if (stopping_) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the CA is shutting down"));
    return reactor;
  }
  auto metadata = std::make_shared<std::multimap<std::string, std::string>>(grpcutil::ClientMetadata(*context));
  if (auto cached = authenticator_->Cached(*metadata)) {
    reactor->Finish(Issue(*cached, context->peer(), *request, response));
    return reactor;
  }
  auto run = [this, context, request, response, reactor, metadata] {
    if (context->IsCancelled()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the caller left while the call was queued"));
      return;
    }
    reactor->Finish(Issue(authenticator_->Authenticate(*metadata), context->peer(), *request, response));
  };
  auto cancel = [reactor] {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the CA is shutting down"));
  };
  if (!executor_.Submit(std::move(run), std::move(cancel))) {
    if (stopping_) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the CA is shutting down"));
      return reactor;
    }
    Metrics().busy.Inc();
    spdlog::debug("CA: busy, refused a call from {}: {} calls wait for a TokenReview", context->peer(),
                  options_.max_queued);
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 absl::StrCat("the CA is busy: ", options_.max_queued,
                                              " calls wait for a TokenReview; retry")));
  }
  return reactor;
}

grpc::Status CaService::Issue(const absl::StatusOr<Caller>& caller, const std::string& peer,
                              const istio::v1::auth::IstioCertificateRequest& request,
                              istio::v1::auth::IstioCertificateResponse* response) {
  if (!caller.ok()) {
    Metrics().auth_failure.Inc();
    spdlog::warn("CA: authentication failed for {}: {}", peer, std::string(caller.status().message()));
    if (absl::IsUnavailable(caller.status())) return grpcutil::ToGrpcStatus(caller.status());
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(caller.status().message()));
  }
  ca::SignRequest sign;
  sign.csr_pem = request.csr();
  sign.uri_sans = {caller->SpiffeId(trust_domain_())};
  sign.ttl = absl::Seconds(request.validity_duration());
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
  spdlog::info("CA: issued a certificate for {} ({} s)", sign.uri_sans[0], request.validity_duration());
  return grpc::Status::OK;
}

}  // namespace keel::citadel::server
