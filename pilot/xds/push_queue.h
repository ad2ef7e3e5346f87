// PushQueue: connections that owe their proxy a response, served by a fixed pool
// of worker threads (istiod's pushQueue, with PILOT_PUSH_THROTTLE as the pool
// size: --push-throttle). Contracts:
//  - bounded: at most one entry per connection; enqueueing a connection that
//    waits already merges the requests (ConnectionRequest::Merge);
//  - ordered per connection: a connection is never handled by two workers at
//    once; one enqueued while a worker handles it waits, merged, and is queued
//    again once that worker is done;
//  - FIFO across connections;
//  - the workers are the only threads that generate xDS (push_worker.h).
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "pilot/xds/xds_connection.h"

namespace keel::pilot::xds {

class PushQueue {
 public:
  // Starts `workers` (>= 1) threads; each calls XdsConnection::Process.
  explicit PushQueue(int workers);
  ~PushQueue();  // Shutdown()

  // Queues `request` for `connection` (merged into what it waits for already).
  // Never blocks on a push in progress. Ignored after Shutdown().
  void Enqueue(const std::shared_ptr<XdsConnection>& connection, ConnectionRequest request);

  // Drops what waits, lets each worker finish the connection in hand, joins
  // them. Idempotent.
  void Shutdown();

  // Connections waiting for a worker (not counting those in hand).
  size_t Waiting() const;

 private:
  struct Entry {
    std::shared_ptr<XdsConnection> connection;
    std::optional<ConnectionRequest> waiting;  // merged; none while only in progress
    bool in_progress = false;
  };
  void Work();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<XdsConnection*, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::deque<XdsConnection*> ready_ ABSL_GUARDED_BY(mu_);  // waiting and not in progress, oldest first
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace keel::pilot::xds
