// WebhookCertPatcher: keeps the caBundle of the sidecar injector's webhooks
// equal to the roots of Keel's CA, as istiod's pkg/webhooks WebhookCertPatcher
// does, so the API server trusts the certificate the webhook port serves
// (signed by that CA). It watches MutatingWebhookConfigurations labelled
// istio.io/rev=<revision>; in each, every webhook whose name ends in
// `sidecar-injector.istio.io` gets clientConfig.caBundle = the roots PEM. It runs
// on every replica (no leader election, as in istiod): replicas share the
// roots, so their writes agree. A write is a JSON patch that first tests the
// resourceVersion and each webhook's name it read, so an edit in between fails
// it instead of being overwritten; a failure is retried for that configuration
// alone, 1 s doubling to 30 s, forever. RefreshAll() re-checks them all (after a
// root rotation). Metrics as istiod's: webhook_patch_attempts_total{name},
// webhook_patch_retries_total{name}.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "pkg/kube/informer.h"
#include "pkg/kube/kube_client.h"
#include "pkg/kube/reconcile_queue.h"

namespace keel::pilot::inject {

// The suffix of the injector webhooks' names in istiod's chart (rev.namespace.sidecar-injector.istio.io, ...).
inline constexpr char kInjectorWebhookSuffix[] = "sidecar-injector.istio.io";

class WebhookCertPatcher {
 public:
  // `revision`: the istio.io/rev label value of the configurations to patch
  // ("default" for the default revision). `roots` returns the CA roots (PEM).
  // `client` must outlive this.
  WebhookCertPatcher(kube::KubeClient* client, std::string revision, std::function<std::string()> roots,
                     kube::InformerOptions informer_options = {});
  ~WebhookCertPatcher();

  void Start();
  void Stop();
  void RefreshAll();
  uint64_t patches() const;  // successful writes, for tests

 private:
  absl::Status Reconcile(const std::string& name);

  kube::KubeClient* const client_;
  const std::string revision_;
  const std::function<std::string()> roots_;
  std::unique_ptr<kube::Informer> configs_;
  kube::ReconcileQueue queue_;  // keyed by configuration name

  mutable absl::Mutex mu_;
  uint64_t patches_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace keel::pilot::inject
