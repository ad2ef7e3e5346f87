// CaService: istio.v1.auth.IstioCertificateService/CreateCertificate. The
// caller's identity comes only from its authenticated token; the CSR's subject
// and SANs are ignored. Synchronous gRPC service: TokenReview blocks, and the
// sync API gives it a thread pool instead of stalling the callback threads.
#pragma once

#include "citadel/ca/cert_signer.h"
#include "citadel/server/authenticator.h"
#include "istio/security/v1alpha1/ca.grpc.pb.h"

namespace keel::citadel::server {

class CaService final : public istio::v1::auth::IstioCertificateService::Service {
 public:
  // `signer` and `authenticator` must outlive the service.
  CaService(const ca::CertSigner* signer, Authenticator* authenticator, std::string trust_domain);

  grpc::Status CreateCertificate(grpc::ServerContext* context, const istio::v1::auth::IstioCertificateRequest* request,
                                 istio::v1::auth::IstioCertificateResponse* response) override;

 private:
  const ca::CertSigner* const signer_;
  Authenticator* const authenticator_;
  const std::string trust_domain_;
};

}  // namespace keel::citadel::server
