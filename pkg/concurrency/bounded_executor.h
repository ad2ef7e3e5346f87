// BoundedExecutor: a fixed set of worker threads for blocking work (token
// reviews) that must not run on an event loop's threads (cpprest's pool, gRPC's
// reactor callbacks). At most `max_queued` tasks wait; beyond that Submit()
// refuses at once, so a burst costs neither threads nor memory. Shutdown() gives
// every queued task its `cancel` (never its `run`), lets running tasks finish,
// and joins the workers.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace keel::concurrency {

class BoundedExecutor {
 public:
  BoundedExecutor(int workers, size_t max_queued);
  ~BoundedExecutor();  // Shutdown()

  // Queues `run` for a worker. False (nothing is called) when `max_queued`
  // tasks wait already or after Shutdown(). `cancel` is called instead of `run`
  // if Shutdown() finds the task still queued.
  bool Submit(std::function<void()> run, std::function<void()> cancel = {});

  // Idempotent.
  void Shutdown();

 private:
  struct Task {
    std::function<void()> run;
    std::function<void()> cancel;
  };
  void Work();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace keel::concurrency
