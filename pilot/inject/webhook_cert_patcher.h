// WebhookCertPatcher: keeps the caBundle of Keel's webhooks equal to the roots
// of Keel's CA, as istiod's pkg/webhooks WebhookCertPatcher (injection) and
// validation controller do, so the API server trusts the certificate the webhook
// port serves (signed by that CA). It watches the configurations of one kind
// (WebhookConfigurationKind: Mutating for the injector, Validating for
// /validate) labelled istio.io/rev=<revision>; in each, every webhook whose name
// ends in the kind's suffix gets clientConfig.caBundle = the roots PEM.
// Validating webhooks start with failurePolicy Ignore (Istio's charts: fail open
// until the webhook serves); once their caBundle is current, the patcher checks
// that the API server really calls Keel (a dry-run create of an invalid
// VirtualService must be denied by the webhook, istiod's checkDryRunConfig) and
// then sets failurePolicy Fail; until then it retries like a failed write. It runs
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

// Which configurations a patcher keeps.
struct WebhookConfigurationKind {
  std::string resource;        // mutatingwebhookconfigurations | validatingwebhookconfigurations
  std::string kind;            // for logs
  std::string webhook_suffix;  // the webhooks patched, by name suffix
  // Validating: set failurePolicy Fail once the API server is seen calling Keel
  // (a dry-run create in `check_namespace` denied).
  bool fail_closed_once_serving = false;
  std::string check_namespace;

  static WebhookConfigurationKind Injector();
  static WebhookConfigurationKind Validator(const std::string& system_namespace);
};

class WebhookCertPatcher {
 public:
  // `revision`: the istio.io/rev label value of the configurations to patch
  // ("default" for the default revision). `roots` returns the CA roots (PEM).
  // `client` must outlive this.
  WebhookCertPatcher(kube::KubeClient* client, std::string revision, std::function<std::string()> roots,
                     kube::InformerOptions informer_options = {},
                     WebhookConfigurationKind kind = WebhookConfigurationKind::Injector());
  ~WebhookCertPatcher();

  void Start();
  void Stop();
  void RefreshAll();
  uint64_t patches() const;  // successful writes, for tests

 private:
  absl::Status Reconcile(const std::string& name);
  // OK when a dry-run create of an invalid VirtualService is denied by a webhook.
  absl::Status CheckWebhookServes() const;

  kube::KubeClient* const client_;
  const WebhookConfigurationKind kind_;
  const std::string revision_;
  const std::function<std::string()> roots_;
  std::unique_ptr<kube::Informer> configs_;
  kube::ReconcileQueue queue_;  // keyed by configuration name

  mutable absl::Mutex mu_;
  uint64_t patches_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace keel::pilot::inject
