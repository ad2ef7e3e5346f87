// ServingCert: the TLS identity of Keel's secure port (15012), issued by Keel's
// own CA for istiod's DNS names, written to files that gRPC's file-watcher
// certificate provider reloads, and renewed at half of its lifetime.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/security/server_credentials.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "citadel/ca/cert_signer.h"

namespace keel::citadel::server {

struct ServingCertOptions {
  std::string dir;                        // where key.pem / cert-chain.pem / root-cert.pem are written
  std::vector<std::string> dns_names;     // istiod.istio-system.svc, ...
  absl::Duration ttl = absl::Hours(24);
  crypto::KeyType key_type = crypto::KeyType::kEcdsaP256;
  unsigned refresh_interval_s = 60;       // how often gRPC re-reads the files
};

class ServingCert {
 public:
  // Issues the first certificate (so the files exist before gRPC reads them).
  static absl::StatusOr<std::unique_ptr<ServingCert>> Create(const ca::CertSigner* signer, ServingCertOptions options);
  ~ServingCert();

  // TLS server credentials backed by the files (no client certificate requested).
  std::shared_ptr<grpc::ServerCredentials> Credentials() const;

  // Re-issues when at least half of the lifetime has passed at `now`. Returns
  // whether it did. Called by the renewal thread; public for tests.
  absl::StatusOr<bool> MaybeRenew(absl::Time now);

  const std::string& root_cert_path() const { return root_path_; }
  const std::string& cert_chain_path() const { return chain_path_; }
  const std::string& key_path() const { return key_path_; }

 private:
  ServingCert(const ca::CertSigner* signer, ServingCertOptions options);
  absl::Status Issue();
  void RenewLoop();

  const ca::CertSigner* const signer_;
  const ServingCertOptions options_;
  const std::string key_path_, chain_path_, root_path_;
  absl::Time issued_at_ = absl::InfinitePast();
  absl::Time expires_at_ = absl::InfinitePast();

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread renewer_;
};

}  // namespace keel::citadel::server
