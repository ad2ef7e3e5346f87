// PushQueue's contracts, with connections that record what they are asked to
// do (the queue's seam: XdsConnection). Real streams behind the queue are
// exercised by delta_connection_test, push_worker_test and the e2e tests.
#include "pilot/xds/push_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "pilot/xds/push_worker.h"

namespace keel::pilot::xds {
namespace {

using namespace std::chrono_literals;

// Records each Process call; can hold a worker inside Process until released.
class RecordingConnection final : public XdsConnection {
 public:
  void Process(const ConnectionRequest& request) override {
    const int now = ++inside_;
    max_inside_ = std::max(max_inside_.load(), now);
    std::unique_lock<std::mutex> lock(mu_);
    requests_.push_back(request);
    on_worker_.push_back(OnPushWorker());
    cv_.notify_all();
    cv_.wait_for(lock, 10s, [this] { return !hold_; });
    --inside_;
  }
  std::optional<model::Proxy> IdentifiedProxy() const override { return std::nullopt; }
  ConnectionSnapshot Snapshot() const override { return {}; }

  void Hold(bool hold) {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = hold;
    cv_.notify_all();
  }
  // Waits (bounded) until Process has been entered `n` times.
  bool WaitForCalls(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return requests_.size() >= n; });
  }
  std::vector<ConnectionRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::vector<bool> on_worker() {
    std::lock_guard<std::mutex> lock(mu_);
    return on_worker_;
  }
  int max_inside() const { return max_inside_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  std::vector<ConnectionRequest> requests_;
  std::vector<bool> on_worker_;
  std::atomic<int> inside_{0};
  std::atomic<int> max_inside_{0};
};

ConnectionRequest Push(const std::string& host, bool full, std::chrono::steady_clock::time_point start) {
  ConnectionRequest r;
  r.push.emplace();
  r.push->full = full;
  r.push->endpoints_updated = {host};
  r.push->start = start;
  return r;
}

ConnectionRequest Answer(const std::string& type, const std::string& name) {
  ConnectionRequest r;
  r.answers[type].subscribed = {name};
  return r;
}

TEST(PushQueueTest, ProcessesOnAWorkerThread) {
  auto c = std::make_shared<RecordingConnection>();
  PushQueue queue(2);
  queue.Enqueue(c, Push("a", true, std::chrono::steady_clock::now()));
  ASSERT_TRUE(c->WaitForCalls(1));
  EXPECT_EQ(c->on_worker(), std::vector<bool>{true});
  EXPECT_FALSE(OnPushWorker());  // the test's own thread is not a worker
}

TEST(PushQueueTest, RequestsEnqueuedWhileWaitingMergeIntoOne) {
  auto busy = std::make_shared<RecordingConnection>();
  auto c = std::make_shared<RecordingConnection>();
  PushQueue queue(1);
  busy->Hold(true);
  queue.Enqueue(busy, Push("x", true, std::chrono::steady_clock::now()));
  ASSERT_TRUE(busy->WaitForCalls(1));  // the only worker is held: c waits
  const auto early = std::chrono::steady_clock::now();
  queue.Enqueue(c, Push("a", false, early + 1s));
  queue.Enqueue(c, Push("b", false, early));
  queue.Enqueue(c, Answer("T", "n1"));
  queue.Enqueue(c, Answer("T", "n2"));
  EXPECT_EQ(queue.Waiting(), 1u);  // bounded: one entry per connection
  busy->Hold(false);
  ASSERT_TRUE(c->WaitForCalls(1));
  std::this_thread::sleep_for(50ms);  // nothing further arrives
  auto got = c->requests();
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].push);
  EXPECT_FALSE(got[0].push->full);
  EXPECT_EQ(got[0].push->endpoints_updated, (model::HostSet{"a", "b"}));
  EXPECT_EQ(got[0].push->start, early);  // the earliest start wins
  EXPECT_EQ(got[0].answers.at("T").subscribed, (std::set<std::string>{"n1", "n2"}));
  queue.Enqueue(c, Push("c", true, early));
  ASSERT_TRUE(c->WaitForCalls(2));
  EXPECT_TRUE(c->requests()[1].push->full);
}

TEST(PushQueueTest, AConnectionInProgressIsRequeuedAfterwardsNotHandledTwiceAtOnce) {
  auto c = std::make_shared<RecordingConnection>();
  PushQueue queue(4);  // idle workers that could take it concurrently
  c->Hold(true);
  queue.Enqueue(c, Push("a", false, std::chrono::steady_clock::now()));
  ASSERT_TRUE(c->WaitForCalls(1));
  queue.Enqueue(c, Push("b", false, std::chrono::steady_clock::now()));
  queue.Enqueue(c, Push("c", true, std::chrono::steady_clock::now()));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(c->requests().size(), 1u);  // not started while the first is in progress
  c->Hold(false);
  ASSERT_TRUE(c->WaitForCalls(2));
  std::this_thread::sleep_for(50ms);
  auto got = c->requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].push->endpoints_updated, (model::HostSet{"b", "c"}));
  EXPECT_TRUE(got[1].push->full);  // full wins
  EXPECT_EQ(c->max_inside(), 1);
}

TEST(PushQueueTest, ManyConnectionsUseEveryWorker) {
  PushQueue queue(3);
  std::vector<std::shared_ptr<RecordingConnection>> cs;
  for (int i = 0; i < 3; ++i) {
    cs.push_back(std::make_shared<RecordingConnection>());
    cs.back()->Hold(true);
    queue.Enqueue(cs.back(), Push("a", true, std::chrono::steady_clock::now()));
  }
  for (auto& c : cs) EXPECT_TRUE(c->WaitForCalls(1));  // all three in progress at once
  for (auto& c : cs) c->Hold(false);
}

TEST(PushQueueTest, ShutdownDropsWaitingWorkAndJoins) {
  auto busy = std::make_shared<RecordingConnection>();
  auto waiting = std::make_shared<RecordingConnection>();
  auto queue = std::make_unique<PushQueue>(1);
  busy->Hold(true);
  queue->Enqueue(busy, Push("a", true, std::chrono::steady_clock::now()));
  ASSERT_TRUE(busy->WaitForCalls(1));
  queue->Enqueue(waiting, Push("a", true, std::chrono::steady_clock::now()));
  std::thread release([&] {
    std::this_thread::sleep_for(100ms);
    busy->Hold(false);
  });
  queue->Shutdown();  // returns once the worker finished `busy`
  release.join();
  EXPECT_TRUE(waiting->requests().empty());
  queue->Enqueue(waiting, Push("a", true, std::chrono::steady_clock::now()));  // ignored
  queue->Shutdown();                                                            // idempotent
  queue.reset();
  EXPECT_TRUE(waiting->requests().empty());
  EXPECT_EQ(waiting.use_count(), 1);  // the queue kept no reference
}

}  // namespace
}  // namespace keel::pilot::xds
