// Informer: keeps a local view of one Kubernetes resource in step with the API
// server (client-go's reflector): paginated list, then watch from the list's
// resourceVersion with bookmarks; on 410 Gone a relist whose difference is
// delivered as add/update/delete; on a broken connection a resumed watch from
// the last seen resourceVersion, with backoff and jitter. Each object change is
// delivered exactly once (duplicates across reconnects are dropped by
// resourceVersion). Objects are decoded one at a time (object_decoder.h): one
// that does not decode is skipped and reported to the SkipHandler, never failing
// its list or replaying its watch event.
#pragma once

#include <google/protobuf/struct.pb.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "pkg/kube/kube_client.h"
#include "pkg/kube/object_decoder.h"

namespace keel::metrics {
class Counter;
class Registry;
}  // namespace keel::metrics

namespace keel::kube {

// What to watch. `versions` are tried in order (the first the server serves is
// used), so a CRD served at v1 or only at v1alpha3 both work.
struct ResourceRef {
  std::string group;                  // "" for the core group
  std::vector<std::string> versions;  // {"v1"}; {"v1", "v1beta1", "v1alpha3"}
  std::string resource;               // plural: "pods"
  std::string ns;                     // "" = all namespaces
  std::string field_selector;
  std::string label_selector;
  bool keep_status = false;  // DecodeOptions::keep_status: `status` is dropped unread unless set

  // "/api/v1/pods", "/apis/networking.istio.io/v1/namespaces/x/virtualservices".
  std::string Path(const std::string& version) const;
};

enum class EventType { kAdded, kModified, kDeleted };

struct InformerEvent {
  EventType type;
  std::string ns;
  std::string name;
  google::protobuf::Struct object;  // the object (for kDeleted: its last state as the server sent it)
};

struct InformerOptions {
  int page_size = 500;
  int watch_timeout_seconds = 300;
  std::chrono::milliseconds min_backoff{200};
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::milliseconds not_installed_poll{5000};  // retry interval while the resource is not served
  size_t max_object_bytes = DecodeOptions{}.max_object_bytes;  // larger objects are skipped
  // If set, the InformerStats are also counted there, labelled resource="pods",
  // "virtualservices.networking.istio.io": keel_kube_{lists,watches,gone,
  // duplicate_events}_total and keel_kube_events_total{type=ADDED|MODIFIED|DELETED}.
  metrics::Registry* metrics = nullptr;
};

// An object of a list or watch event that did not decode, so was not delivered.
struct SkippedObject {
  std::string ns;
  std::string name;
  std::string resource_version;
  std::string reason;  // "nested 111 levels deep, more than the limit of 32"
};

struct InformerStats {
  uint64_t lists = 0;          // complete lists (1 + relists)
  uint64_t watches = 0;        // watch requests opened
  uint64_t gone = 0;           // 410s seen (each leads to a relist)
  uint64_t events = 0;         // events delivered
  uint64_t duplicates = 0;     // events dropped as already seen
  uint64_t skipped = 0;        // objects that did not decode (SkippedObject)
};

class Informer {
 public:
  // Called on the informer's thread, one batch at a time. A relist delivers its
  // whole difference as one batch.
  using Handler = std::function<void(std::vector<InformerEvent>)>;
  // Called on the informer's thread for each object that did not decode, once
  // per resourceVersion of it, before the batch it would have been in. Nothing
  // is delivered for it: the handler keeps whatever version it had (a later
  // version that decodes is delivered as usual, a delete too). Without one, the
  // informer logs a warning.
  using SkipHandler = std::function<void(const SkippedObject&)>;

  Informer(KubeClient* client, ResourceRef ref, Handler handler, InformerOptions options = {},
           SkipHandler on_skip = nullptr);
  ~Informer();

  void Start();
  void Stop();  // prompt: cancels a blocked watch

  // True once the first complete list was delivered.
  bool HasSynced() const { return synced_.load(); }
  // True while none of the versions is served (CRD not installed).
  bool NotInstalled() const { return not_installed_.load(); }
  InformerStats stats() const;
  const ResourceRef& ref() const { return ref_; }
  // The version in use ("v1"); read it only from inside the handler (the
  // informer's own thread), where it names the version of the delivered objects.
  const std::string& served_version() const { return version_; }

 private:
  void Run();
  // Lists everything; on success delivers the difference and sets resource_version_.
  absl::Status ListAndDiff();
  // Watches from resource_version_ until the stream ends or fails. Returns
  // OutOfRange when a relist is needed.
  absl::Status WatchOnce();
  bool SleepFor(std::chrono::milliseconds d);  // false when stopping
  void CountEvent(EventType type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);  // stats_ + metrics
  void Skip(const DecodedObject& object);  // counts and reports one object that did not decode

  struct Counters {  // all null without InformerOptions::metrics
    metrics::Counter* lists = nullptr;
    metrics::Counter* watches = nullptr;
    metrics::Counter* gone = nullptr;
    metrics::Counter* duplicates = nullptr;
    metrics::Counter* events[3] = {nullptr, nullptr, nullptr};  // by EventType
  };

  KubeClient* const client_;
  const ResourceRef ref_;
  const Handler handler_;
  const InformerOptions options_;
  const SkipHandler on_skip_;
  const DecodeOptions decode_;
  Counters counters_;

  std::string version_;                            // the served version in use
  std::string resource_version_;                   // where the next watch starts
  std::map<std::string, std::string> known_;       // "ns/name" -> resourceVersion delivered

  std::atomic<bool> synced_{false};
  std::atomic<bool> not_installed_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  WatchStream* active_watch_ ABSL_GUARDED_BY(mu_) = nullptr;
  InformerStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace keel::kube
