// KubeSource: config from a Kubernetes API server, one Informer per watched
// kind. Informer threads decode and validate; one consumer thread hands batches
// to the ConfigStore, in order.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
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
  // (objects skipped: they did not decode, or failed validation) and
  // keel_kube_applied_events_total (events handed to the ConfigStore).
  kube::InformerOptions informer;
};

// An object from the API server that is not served: it did not decode (too
// deep, too large) or failed validation. The last good version, if any, is.
struct SkippedConfig {
  model::ConfigKey key;
  std::string resource_version;
  std::string reason;  // without the key: "spec.http[0]...: ..."
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

  // The objects skipped now (an object leaves the list when a version of it is
  // applied or it is deleted), in key order, for /debug/push_status.
  std::vector<SkippedConfig> Skipped() const;

 private:
  struct Watched {
    model::Kind kind;
    kube::ResourceRef ref;
    std::unique_ptr<kube::Informer> informer;
  };
  void OnInformerEvents(const Watched& watched, std::vector<kube::InformerEvent> events);
  // Logs, counts and lists one skipped object. Informer threads.
  void RecordSkipped(model::ConfigKey key, const std::string& resource_version, const std::string& reason);
  void ClearSkipped(const model::ConfigKey& key);
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

  mutable std::mutex skipped_mu_;
  std::map<model::ConfigKey, SkippedConfig> skipped_ ABSL_GUARDED_BY(skipped_mu_);
};

}  // namespace keel::pilot::config
