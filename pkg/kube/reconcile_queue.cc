#include "pkg/kube/reconcile_queue.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/time/time.h"

namespace keel::kube {

ReconcileQueue::ReconcileQueue(std::string name, Reconcile reconcile, Backoff backoff)
    : name_(std::move(name)), reconcile_(std::move(reconcile)), backoff_limits_(backoff) {}

ReconcileQueue::~ReconcileQueue() { Stop(); }

void ReconcileQueue::Start() {
  if (!worker_.joinable()) worker_ = std::thread([this] { WorkLoop(); });
}

void ReconcileQueue::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  if (worker_.joinable()) worker_.join();
}

void ReconcileQueue::Add(const std::string& key) {
  absl::MutexLock lock(&mu_);
  AddLocked(key);
}

void ReconcileQueue::AddLocked(const std::string& key) {
  if (key.empty() || !queued_.insert(key).second) return;
  queue_.push_back(key);
  cv_.SignalAll();
}

void ReconcileQueue::Forget(const std::string& key) {
  absl::MutexLock lock(&mu_);
  retry_at_.erase(key);
  backoff_.erase(key);
}

void ReconcileQueue::Observe(const std::string& key, bool exists) {
  absl::MutexLock lock(&mu_);
  if (exists) {
    known_.insert(key);
    AddLocked(key);
  } else {
    known_.erase(key);
    retry_at_.erase(key);
    backoff_.erase(key);
  }
}

bool ReconcileQueue::Known(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  return known_.count(key) > 0;
}

void ReconcileQueue::AddAllKnown() {
  absl::MutexLock lock(&mu_);
  for (const auto& key : known_) AddLocked(key);
}

void ReconcileQueue::WorkLoop() {
  absl::MutexLock lock(&mu_);
  while (true) {
    // Move due retries to the queue; sleep until there is work or the next retry is due.
    const auto now = Clock::now();
    auto next_retry = Clock::time_point::max();
    for (auto it = retry_at_.begin(); it != retry_at_.end();) {
      if (it->second <= now) {
        AddLocked(it->first);
        it = retry_at_.erase(it);
      } else {
        next_retry = std::min(next_retry, it->second);
        ++it;
      }
    }
    if (stopping_) return;
    if (queue_.empty()) {
      if (next_retry == Clock::time_point::max()) {
        cv_.Wait(&mu_);
      } else {
        cv_.WaitWithTimeout(&mu_, absl::FromChrono(next_retry - now));
      }
      continue;
    }
    std::string key = queue_.front();
    queue_.pop_front();
    queued_.erase(key);
    mu_.Unlock();
    absl::Status st = reconcile_(key);
    mu_.Lock();
    if (st.ok()) {
      backoff_.erase(key);
      continue;
    }
    auto& backoff = backoff_.try_emplace(key, backoff_limits_.min).first->second;
    spdlog::warn("{}: {}: {}; retrying in {} ms", name_, key, std::string(st.message()), backoff.count());
    retry_at_[key] = Clock::now() + backoff;
    backoff = std::min(backoff * 2, backoff_limits_.max);
  }
}

}  // namespace keel::kube
