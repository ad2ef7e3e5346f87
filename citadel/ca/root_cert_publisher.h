// RootCertPublisher: keeps ConfigMap `istio-ca-root-cert` (key root-cert.pem)
// in every namespace equal to the CA's roots, as istiod does: created when a
// namespace appears, repaired when edited or deleted, updated on rotation.
// Only the leader writes (`may_write`; istiod's namespace controller runs on the
// leader of istio-namespace-controller-election): the others keep their
// informers warm and drop their work; a new leader calls RefreshAll(). Writes
// are idempotent besides, so two replicas racing on one repair converge.
// A namespace being deleted is skipped (the API server forbids new objects in
// it). A failed write is retried for that namespace alone, with backoff
// (1 s doubling to 30 s), never holding up the others.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "pkg/kube/informer.h"
#include "pkg/kube/kube_client.h"
#include "pkg/kube/reconcile_queue.h"

namespace keel::citadel::ca {

inline constexpr char kRootCertConfigMap[] = "istio-ca-root-cert";

class RootCertPublisher {
 public:
  // `roots` returns the current root bundle (PEM); `may_write` whether this
  // replica writes now (null: always). `client` must outlive this.
  // `publishes_to(ns)` whether namespace `ns` gets one (null: every namespace
  // but the Kubernetes system ones); a namespace it turns down keeps what it has.
  RootCertPublisher(kube::KubeClient* client, std::function<std::string()> roots,
                    std::function<bool()> may_write = {},
                    std::function<bool(const std::string& ns)> publishes_to = {},
                    kube::InformerOptions informer_options = {});
  ~RootCertPublisher();

  void Start();
  void Stop();
  // Re-checks every namespace (after a root rotation, or on becoming leader).
  void RefreshAll();
  // Number of ConfigMap writes made (create or update), for tests and /debug.
  uint64_t writes() const;

 private:
  absl::Status Reconcile(const std::string& ns);

  kube::KubeClient* const client_;
  const std::function<std::string()> roots_;
  const std::function<bool()> may_write_;
  const std::function<bool(const std::string&)> publishes_to_;
  std::unique_ptr<kube::Informer> namespaces_;
  std::unique_ptr<kube::Informer> configmaps_;
  kube::ReconcileQueue queue_;  // keyed by namespace

  mutable absl::Mutex mu_;
  uint64_t writes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace keel::citadel::ca
