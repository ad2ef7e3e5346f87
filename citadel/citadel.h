// Citadel: Keel's CA as one unit that keel-discovery wires in: the root of
// trust (CaManager), the CreateCertificate service, the serving certificate of
// the TLS port, root ConfigMap distribution, and root renewal.
#pragma once

#include <functional>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "citadel/ca/ca_manager.h"
#include "citadel/ca/root_cert_publisher.h"
#include "citadel/server/ca_service.h"
#include "citadel/server/serving_cert.h"
#include "pkg/kube/leader_election.h"

namespace keel::citadel {

struct CitadelOptions {
  ca::CaOptions ca;
  // The trust domain of the SPIFFE ids issued, asked per call (Keel: the mesh
  // config's trustDomain). Null: ca.trust_domain.
  std::function<std::string()> workload_trust_domain;
  // Whether namespace `ns` gets ConfigMap istio-ca-root-cert (Keel: meshConfig
  // discoverySelectors select it). Null: every namespace.
  std::function<bool(const std::string& ns)> publishes_to;
  std::string ca_dir;                   // file-mode store; empty: Secrets through `kube`
  std::string system_namespace = "istio-system";
  std::vector<std::string> audiences{"istio-ca"};
  server::ServingCertOptions serving;   // dir and DNS names of the TLS port's certificate
  absl::Duration rotation_check = absl::Hours(1);
  // Leader election (with a cluster): the leader alone creates and renews the
  // self-signed root and writes the root ConfigMaps.
  absl::Duration leader_lease_duration = absl::Seconds(30);
  std::string leader_identity;          // empty: kube::DefaultLeaderIdentity()
  // The token reviewer CreateCertificate uses, shared with whoever else reviews
  // the same tokens (xDS on TLS, /debug), so they share its cache; it must
  // outlive the Citadel. Null: the Citadel makes its own.
  server::Authenticator* authenticator = nullptr;
};

// The Lease of Keel's singleton work, in the system namespace: the name under
// which istiod elects its namespace controller (which writes the root
// ConfigMaps); istiod's lock of that name is a ConfigMap.
inline constexpr char kLeaderLease[] = "istio-namespace-controller-election";

class Citadel {
 public:
  // `kube` may be null (file mode): then the store must be a directory and
  // every CreateCertificate is Unauthenticated (no TokenReview possible).
  static absl::StatusOr<std::unique_ptr<Citadel>> Create(const CitadelOptions& options, kube::KubeClient* kube);
  ~Citadel();

  // Starts root distribution and renewal.
  void Start();
  // Re-checks istio-ca-root-cert in every namespace (after `publishes_to` changed).
  void RefreshRootCertConfigMaps();
  // Stops them; a leader releases its Lease.
  void Stop();

  grpc::Service* service() { return service_.get(); }
  std::shared_ptr<grpc::ServerCredentials> ServingCredentials() const { return serving_->Credentials(); }
  const ca::IstioCa& ca() const { return manager_->ca(); }
  // The TLS identity of Keel's ports (15012, the webhooks' 15017): its files on disk.
  const server::ServingCert& serving_cert() const { return *serving_; }
  // Null in file mode (no cluster).
  const kube::LeaderElector* elector() const { return elector_.get(); }
  // Calls `listener` (on the renewal thread) after each root rotation, once the
  // new roots are served. Only before Start().
  void OnRootsRotated(std::function<void()> listener) { rotation_listeners_.push_back(std::move(listener)); }

 private:
  Citadel() = default;
  void RenewLoop();
  void UpdateRootMetric();
  void OnLeadershipChange(bool leading);

  CitadelOptions options_;
  std::unique_ptr<ca::CaManager> manager_;
  server::AuthenticatorPtr own_authenticator_;  // when options.authenticator is null
  std::unique_ptr<server::CaService> service_;
  std::unique_ptr<server::ServingCert> serving_;
  std::unique_ptr<kube::LeaderElector> elector_;
  std::unique_ptr<ca::RootCertPublisher> publisher_;
  std::vector<std::function<void()>> rotation_listeners_;  // set before Start(), read by the renewer

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread renewer_;
};

}  // namespace keel::citadel
