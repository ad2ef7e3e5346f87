// Debouncer: collects PushRequests and releases them merged, once no new one
// arrived for `quiet` or the first has waited `max_delay` (istiod's
// PILOT_DEBOUNCE_AFTER / PILOT_DEBOUNCE_MAX). Pushes run one at a time on the
// debouncer's own thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "pilot/xds/push_request.h"

namespace keel::pilot::xds {

struct DebounceOptions {
  std::chrono::milliseconds quiet{100};
  std::chrono::milliseconds max_delay{1000};
};

class Debouncer {
 public:
  using PushFn = std::function<void(const PushRequest&)>;

  Debouncer(DebounceOptions options, PushFn push);
  ~Debouncer();  // stops; a pending request is dropped

  // Thread-safe; never blocks on a push in progress.
  void Enqueue(PushRequest request);

  // Number of pushes released so far.
  uint64_t pushes() const;

 private:
  void Run();

  const DebounceOptions options_;
  const PushFn push_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<PushRequest> pending_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point first_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point last_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t pushes_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace keel::pilot::xds
