// KubeSource: config from a Kubernetes API server, one Informer per watched
// kind. Informer threads decode and validate; one consumer thread hands batches
// to the ConfigStore, in order.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "pilot/model/config_source.h"
#include "pkg/kube/informer.h"
#include "pkg/kube/kube_client.h"

namespace keel::metrics {
class Counter;
}  // namespace keel::metrics

namespace keel::pilot::config {

struct KubeSourceOptions {
  std::string system_namespace = "istio-system";  // where Keel's own ConfigMaps live
  // informer.metrics, if set, also gets keel_kube_invalid_objects_total{kind}
  // and keel_kube_applied_events_total (events handed to the ConfigStore).
  kube::InformerOptions informer;
};

class KubeSource final : public model::ConfigSource {
 public:
  // `client` must outlive the source.
  KubeSource(kube::KubeClient* client, KubeSourceOptions options);
  ~KubeSource() override;

  absl::Status Start(EventHandler handler) override;
  // True once every kind was listed (or found not installed) and what the lists
  // delivered has been handed to the handler; stays true from then on (events
  // queued later do not make a synced source unsynced).
  bool HasSynced() const override;
  void Stop() override;

  // Per-informer counters, for tests and /debug.
  std::vector<std::pair<std::string, kube::InformerStats>> Stats() const;

 private:
  struct Watched {
    model::Kind kind;
    kube::ResourceRef ref;
    std::unique_ptr<kube::Informer> informer;
  };
  void OnInformerEvents(const Watched& watched, std::vector<kube::InformerEvent> events);
  void ConsumeLoop();

  kube::KubeClient* const client_;
  const KubeSourceOptions options_;
  EventHandler handler_;
  std::vector<Watched> watched_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<model::ConfigEvent>> queue_ ABSL_GUARDED_BY(mu_);
  int applying_ ABSL_GUARDED_BY(mu_) = 0;  // batches taken off the queue, not yet applied
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  mutable std::atomic<bool> synced_{false};
  std::thread consumer_;
  metrics::Counter* applied_ = nullptr;  // null without options_.informer.metrics
};

}  // namespace keel::pilot::config
