// ReconcileQueue: the keyed work queue of a Kubernetes controller (client-go's
// rate-limited workqueue, as Istio's controllers.Queue uses it). A key added
// while already queued is queued once; one worker thread calls `reconcile` for
// each key in turn; a key whose reconcile fails is retried on its own after a
// per-key backoff (min doubling to max), never holding up the other keys, and
// its backoff resets on success. Forget() drops a key's pending retry (its
// object is gone); a reconcile of a gone object should return OK, since one in
// flight when Forget() is called may still fail and be retried. Reconcile runs
// without the queue's lock, so it may Add().
//
// The queue also keeps the set of keys whose objects exist (Observe), for the
// common controller shape: an informer reports objects appearing and going, the
// reconcile skips keys no longer known, and a resync re-queues every known key.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace keel::kube {

class ReconcileQueue {
 public:
  using Reconcile = std::function<absl::Status(const std::string& key)>;
  struct Backoff {
    std::chrono::milliseconds min{1000};
    std::chrono::milliseconds max{30000};
  };

  // `name` labels the log line of a failed reconcile ("webhook patcher").
  ReconcileQueue(std::string name, Reconcile reconcile, Backoff backoff);
  ReconcileQueue(std::string name, Reconcile reconcile) : ReconcileQueue(std::move(name), std::move(reconcile), Backoff{}) {}
  ~ReconcileQueue();  // Stop()

  void Start();
  // Waits for a reconcile in progress; keys still queued are dropped.
  void Stop();
  void Add(const std::string& key);  // empty keys are ignored
  void Forget(const std::string& key);

  // The object of `key` exists (known, and queued) or is gone (unknown, forgotten).
  void Observe(const std::string& key, bool exists);
  bool Known(const std::string& key) const;
  void AddAllKnown();

 private:
  using Clock = std::chrono::steady_clock;

  void AddLocked(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WorkLoop();

  const std::string name_;
  const Reconcile reconcile_;
  const Backoff backoff_limits_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::set<std::string> known_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> queued_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Clock::time_point> retry_at_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::chrono::milliseconds> backoff_ ABSL_GUARDED_BY(mu_);  // next delay of a failing key
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace keel::kube
