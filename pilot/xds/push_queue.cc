#include "pilot/xds/push_queue.h"

#include <algorithm>

#include "pilot/xds/monitoring.h"
#include "pilot/xds/push_worker.h"

namespace keel::pilot::xds {

PushQueue::PushQueue(int workers) {
  for (int i = 0; i < std::max(1, workers); ++i) workers_.emplace_back([this] { Work(); });
}

PushQueue::~PushQueue() { Shutdown(); }

void PushQueue::Enqueue(const std::shared_ptr<XdsConnection>& connection, ConnectionRequest request) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    Entry& entry = entries_[connection.get()];
    if (!entry.connection) entry.connection = connection;
    if (entry.waiting) {
      entry.waiting->Merge(request);
      return;
    }
    entry.waiting = std::move(request);
    if (entry.in_progress) return;  // queued again when its worker is done
    ready_.push_back(connection.get());
    monitoring::RecordPushQueueLength(ready_.size());
  }
  cv_.notify_one();
}

void PushQueue::Work() {
  ScopedPushWorker worker;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
    if (stopping_) return;
    XdsConnection* raw = ready_.front();
    ready_.pop_front();
    monitoring::RecordPushQueueLength(ready_.size());
    Entry& entry = entries_.at(raw);
    ConnectionRequest request = std::move(*entry.waiting);
    entry.waiting.reset();
    entry.in_progress = true;
    std::shared_ptr<XdsConnection> connection = entry.connection;
    lock.unlock();
    connection->Process(request);
    lock.lock();
    Entry& done = entries_.at(raw);  // entries_ is never erased while in progress
    done.in_progress = false;
    if (done.waiting && !stopping_) {
      ready_.push_back(raw);
      monitoring::RecordPushQueueLength(ready_.size());
      cv_.notify_one();
      continue;
    }
    std::shared_ptr<XdsConnection> last = std::move(done.connection);
    entries_.erase(raw);
    connection.reset();
    lock.unlock();
    last.reset();  // may destroy the stream: not under the queue's lock
    lock.lock();
  }
}

void PushQueue::Shutdown() {
  std::map<XdsConnection*, Entry> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    ready_.clear();
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.in_progress) {
        ++it;
      } else {
        dropped.insert(entries_.extract(it++));
      }
    }
  }
  cv_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

size_t PushQueue::Waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ready_.size();
}

}  // namespace keel::pilot::xds
