// DiscoveryServer: wires one keel-discovery process together, explicitly:
// config source -> ConfigStore -> Debouncer -> PushContext -> AdsServer, plus
// the gRPC server and the monitoring HTTP server.
#pragma once

#include <atomic>
#include <memory>
#include <set>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "citadel/citadel.h"
#include "citadel/server/authenticator.h"
#include "pilot/debug/debug_auth.h"
#include "pilot/bootstrap/options.h"
#include "pilot/config/injector_watcher.h"
#include "pilot/config/jwks_resolver.h"
#include "pilot/config/mesh_watcher.h"
#include "pilot/inject/webhook_cert_patcher.h"
#include "pilot/model/config_source.h"
#include "pilot/model/config_store.h"
#include "pilot/xds/ads_server.h"
#include "pilot/xds/debouncer.h"
#include "pkg/grpc/guarded_listener.h"
#include "pkg/http/http_server.h"
#include "pkg/kube/access_review.h"
#include "pkg/kube/kube_client.h"

namespace keel::pilot::config {
class FileSource;
class KubeSource;
}

namespace keel::pilot::bootstrap {

class DiscoveryServer {
 public:
  // Validates options and builds every part; listens on nothing yet.
  // Errors: InvalidArgument for bad options (unreadable --config-dir, ...).
  static absl::StatusOr<std::unique_ptr<DiscoveryServer>> Create(const Options& options);
  ~DiscoveryServer();

  // Loads config, makes the first push, starts listening. Errors: Unavailable
  // when a port cannot be bound.
  absl::Status Start();
  void Stop();

  int grpc_port() const { return grpc_port_; }
  int secure_grpc_port() const { return secure_grpc_port_; }
  // The admission webhooks' HTTPS port after Start(); 0 when not served.
  int webhook_port() const { return webhook_server_ ? webhook_server_->port() : 0; }
  // PushContexts made so far (full and endpoint-only); thread-safe.
  uint64_t pushes() const { return push_version_.load(); }
  // Empty when ready; else what is missing (config not synced, no push yet, a
  // gRPC listener not accepting connections: out of file descriptors).
  std::string NotReadyReason() const;

 private:
  explicit DiscoveryServer(Options options) : options_(std::move(options)) {}
  // Builds the PushContext `request` needs and hands it to the ADS server. An
  // endpoint-only request (!full: Pods and EndpointSlices alone changed) reuses
  // the current PushContext with the touched hosts' endpoints recomputed
  // (PushContext::UpdateEndpoints) and becomes an EDS push, unless NeedsFullPush.
  void PushNow(const xds::PushRequest& request);
  // Whether endpoint changes of `hosts` alter more than EDS: a headless service
  // (its listeners are per endpoint) or the endpoints' service accounts (the
  // clusters' SANs).
  static bool NeedsFullPush(const model::PushContext& before, const model::PushContext& after,
                            const model::HostSet& hosts);
  // Registers /metrics and the /debug/* handlers (the latter behind debug_auth_).
  void RegisterMonitoringHandlers();

  const Options options_;
  kube::KubeClientPtr kube_client_;  // when watching a cluster
  std::unique_ptr<kube::AccessReviewer> access_reviewer_;  // SDS: who may read Secrets; with a cluster
  model::ConfigStore store_;
  std::unique_ptr<config::MeshWatcher> mesh_;  // the mesh config; updated by full pushes (PushNow)
  std::shared_ptr<config::JwksResolver> jwks_;  // RequestAuthentication key sets; handed to every push (MeshOptions)
  std::unique_ptr<config::InjectorWatcher> injector_;  // ConfigMap istio-sidecar-injector; read per /inject
  model::ConfigSourcePtr source_;
  config::FileSource* file_source_ = nullptr;  // source_, when it is a directory (for /debug/push_status)
  config::KubeSource* kube_source_ = nullptr;  // source_, when it is a cluster (for /debug/push_status)
  citadel::server::AuthenticatorPtr token_authenticator_;  // the CA, TLS xDS and /debug; null without a cluster
  std::unique_ptr<xds::AdsServer> ads_;
  std::unique_ptr<xds::Debouncer> debouncer_;
  std::unique_ptr<grpc::Server> grpc_server_;
  // The gRPC ports (plaintext xDS; TLS xDS + CA, when on): Keel accepts for gRPC.
  std::unique_ptr<grpcutil::GuardedListener> plain_listener_;
  std::unique_ptr<grpcutil::GuardedListener> secure_listener_;
  http::HttpServerPtr http_server_;
  http::HttpServerPtr webhook_server_;  // with the CA (its serving certificate) and --webhook-addr not off
  // With the webhook server, a cluster and --injection-webhook-config-name set.
  std::unique_ptr<inject::WebhookCertPatcher> webhook_patcher_;
  // With the webhook server and a cluster: the ValidatingWebhookConfigurations of /validate.
  std::unique_ptr<inject::WebhookCertPatcher> validation_patcher_;
  std::unique_ptr<debug::DebugAuth> debug_auth_;
  std::unique_ptr<citadel::Citadel> citadel_;  // null with --disable-ca
  std::atomic<uint64_t> push_version_{0};
  int grpc_port_ = 0;
  int secure_grpc_port_ = 0;
};

}  // namespace keel::pilot::bootstrap
