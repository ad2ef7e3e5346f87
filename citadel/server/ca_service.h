// CaService: istio.v1.auth.IstioCertificateService/CreateCertificate. The
// caller's identity comes only from its authenticated token; the CSR's subject
// and SANs are ignored.
//
// Served on TLS only: a call that arrived over a plaintext port (its bearer
// token in cleartext) is UNIMPLEMENTED, as istiod serves the CA on 15012 only.
//
// Callback API, bounded: the TokenReview (a blocking call to the API server)
// and the signing run on a BoundedExecutor of `workers` threads with at most
// `max_queued` calls waiting; beyond that a call is RESOURCE_EXHAUSTED at once,
// so a flood of calls costs neither threads nor time of the calls already
// queued. A token accepted a moment ago (Authenticator::Cached) skips the
// queue. A call whose client has gone (deadline, cancel) while queued is
// answered CANCELLED without a TokenReview.
#pragma once

#include <functional>
#include <atomic>
#include <memory>

#include "citadel/ca/cert_signer.h"
#include "citadel/server/authenticator.h"
#include "security/v1alpha1/ca.grpc.pb.h"
#include "pkg/concurrency/bounded_executor.h"

namespace keel::citadel::server {

struct CaServiceOptions {
  int workers = 4;
  size_t max_queued = 256;
};

class CaService final : public istio::v1::auth::IstioCertificateService::CallbackService {
 public:
  // `signer` and `authenticator` must outlive the service. `trust_domain` is asked
  // on every call (the mesh config may change it) and must be callable from any thread.
  CaService(const ca::CertSigner* signer, Authenticator* authenticator, std::function<std::string()> trust_domain,
            CaServiceOptions options = {});
  ~CaService() override;  // Shutdown()

  grpc::ServerUnaryReactor* CreateCertificate(grpc::CallbackServerContext* context,
                                              const istio::v1::auth::IstioCertificateRequest* request,
                                              istio::v1::auth::IstioCertificateResponse* response) override;

  // Answers queued calls UNAVAILABLE, waits for running ones; later calls are
  // UNAVAILABLE. Idempotent.
  void Shutdown();

 private:
  // Signs for `caller` (or answers its authentication error) and finishes the call.
  grpc::Status Issue(const absl::StatusOr<Caller>& caller, const std::string& peer,
                     const istio::v1::auth::IstioCertificateRequest& request,
                     istio::v1::auth::IstioCertificateResponse* response);

  const ca::CertSigner* const signer_;
  Authenticator* const authenticator_;
  const std::function<std::string()> trust_domain_;
  const CaServiceOptions options_;
  concurrency::BoundedExecutor executor_;
  std::atomic<bool> stopping_{false};
};

}  // namespace keel::citadel::server
