// LeaderElector: leader election on a coordination.k8s.io/v1 Lease, as
// client-go's leaderelection package does it (and so istiod): the leader renews
// the Lease every `retry_period`; the others try as often, and take it over only
// once they have seen the same record unchanged for its leaseDurationSeconds
// (their own clock: no trust in the holder's renewTime), or when it is released.
// Writes carry the resourceVersion read, so of two candidates racing one wins
// and the other gets 409. A leader that cannot renew for `renew_deadline` steps
// down. Stop() releases the Lease (empty holder), so a successor need not wait.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pkg/kube/kube_client.h"

namespace keel::kube {

struct LeaderElectionOptions {
  std::string ns;        // the Lease's namespace
  std::string name;      // the Lease's name
  std::string identity;  // this candidate's holderIdentity; unique per process
  absl::Duration lease_duration = absl::Seconds(30);
  absl::Duration renew_deadline = absl::Seconds(15);
  absl::Duration retry_period = absl::Seconds(5);
};

// "POD_NAME" (or the host name) plus a random suffix: unique per process.
std::string DefaultLeaderIdentity();

class LeaderElector {
 public:
  // `on_change(true)` when this candidate becomes leader, `on_change(false)` when
  // it stops being leader; called on the elector's thread, never concurrently.
  LeaderElector(KubeClient* client, LeaderElectionOptions options, std::function<void(bool leading)> on_change = {});
  ~LeaderElector();

  // Starts trying (the first attempt at once). Once.
  void Start();
  // Stops; a leader releases the Lease first. Idempotent.
  void Stop();

  bool IsLeader() const;
  // The holderIdentity last seen on the Lease ("" if none yet).
  std::string ObservedHolder() const;
  const LeaderElectionOptions& options() const { return options_; }

  // One attempt to acquire or renew; true if this candidate holds the Lease
  // afterwards. Used by the loop; public for tests that step it by hand.
  absl::StatusOr<bool> TryAcquireOrRenew();

 private:
  using Clock = std::chrono::steady_clock;
  void Loop();
  void SetLeading(bool leading);
  absl::Status Release();

  KubeClient* const client_;
  const LeaderElectionOptions options_;
  const std::function<void(bool)> on_change_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  std::string observed_holder_ ABSL_GUARDED_BY(mu_);
  std::string observed_record_ ABSL_GUARDED_BY(mu_);  // holder, renewTime, duration, as last read
  Clock::time_point observed_at_ ABSL_GUARDED_BY(mu_);
  Clock::time_point last_renewed_ ABSL_GUARDED_BY(mu_);
  std::string resource_version_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace keel::kube
