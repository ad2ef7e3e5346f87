#include "pilot/xds/debouncer.h"

#include <algorithm>

#include "pilot/xds/monitoring.h"

namespace keel::pilot::xds {

Debouncer::Debouncer(DebounceOptions options, PushFn push)
    : options_(options), push_(std::move(push)), thread_([this] { Run(); }) {}

Debouncer::~Debouncer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Debouncer::Enqueue(PushRequest request) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_) {
      pending_->Merge(request);
    } else {
      pending_ = std::move(request);
      first_ = now;
    }
    last_ = now;
  }
  cv_.notify_all();
}

uint64_t Debouncer::pushes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pushes_;
}

void Debouncer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || pending_.has_value(); });
    if (stopping_) return;
    auto deadline = std::min(last_ + options_.quiet, first_ + options_.max_delay);
    if (std::chrono::steady_clock::now() < deadline) {
      cv_.wait_until(lock, deadline, [this] { return stopping_; });
      continue;  // re-evaluate: more may have arrived, moving the quiet deadline
    }
    PushRequest request = std::move(*pending_);
    pending_.reset();
    ++pushes_;
    monitoring::RecordDebounce(std::chrono::duration<double>(std::chrono::steady_clock::now() - first_).count());
    lock.unlock();
    push_(request);
    lock.lock();
  }
}

}  // namespace keel::pilot::xds
