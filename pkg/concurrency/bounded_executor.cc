#include "pkg/concurrency/bounded_executor.h"

namespace keel::concurrency {

BoundedExecutor::BoundedExecutor(int workers, size_t max_queued) : max_queued_(max_queued) {
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { Work(); });
}

BoundedExecutor::~BoundedExecutor() { Shutdown(); }

bool BoundedExecutor::Submit(std::function<void()> run, std::function<void()> cancel) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back({std::move(run), std::move(cancel)});
  }
  cv_.notify_one();
  return true;
}

void BoundedExecutor::Shutdown() {
  std::deque<Task> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (auto& t : dropped) {
    if (t.cancel) t.cancel();
  }
  for (auto& w : workers_) w.join();
}

void BoundedExecutor::Work() {
  while (true) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task.run();
  }
}

}  // namespace keel::concurrency
