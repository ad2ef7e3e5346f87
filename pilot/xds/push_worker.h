// Where xDS generation may run: only on a PushQueue worker (push_queue.h), never
// on a gRPC callback thread, the auth executor or the debouncer. The queue marks
// its worker threads; GenerateOnPushWorker is the one call site streams use, and
// it counts (keel_xds_generation_off_worker_total) and logs any call made
// elsewhere, so a regression shows in /metrics and in tests.
#pragma once

#include <string>
#include <vector>

#include "pilot/xds/generator.h"

namespace keel::pilot::xds {

// True on a thread running PushQueue work.
bool OnPushWorker();

// Marks the current thread as a push worker for its lifetime (PushQueue's
// workers; tests that stand in for one).
class ScopedPushWorker {
 public:
  ScopedPushWorker();
  ~ScopedPushWorker();
  ScopedPushWorker(const ScopedPushWorker&) = delete;
  ScopedPushWorker& operator=(const ScopedPushWorker&) = delete;

 private:
  const bool was_;
};

// generator.Generate(...) for `type_url`, after checking it runs on a push
// worker: off one, it still generates (the proxy is served) but records a
// violation. Counts generations by type (keel_xds_generations_total{type}).
std::vector<NamedResource> GenerateOnPushWorker(const std::string& type_url, const XdsGenerator& generator,
                                                const model::Proxy& proxy, const model::PushContext& push,
                                                const WatchedResource& watch);

// Calls made off a worker so far (the counter behind the metric).
uint64_t GenerationsOffWorker();

}  // namespace keel::pilot::xds
