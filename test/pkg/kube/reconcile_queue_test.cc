#include "pkg/kube/reconcile_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace keel::kube {
namespace {

using namespace std::chrono_literals;

// Records each reconcile; fails a key while its budget of failures lasts.
class Recorder {
 public:
  absl::Status Reconcile(const std::string& key) {
    absl::MutexLock lock(&mu_);
    calls_[key].push_back(std::chrono::steady_clock::now());
    if (failures_left_[key] > 0) {
      --failures_left_[key];
      return absl::UnavailableError("injected");
    }
    return absl::OkStatus();
  }
  void FailTimes(const std::string& key, int n) {
    absl::MutexLock lock(&mu_);
    failures_left_[key] = n;
  }
  size_t Calls(const std::string& key) {
    absl::MutexLock lock(&mu_);
    return calls_[key].size();
  }
  std::vector<std::chrono::steady_clock::time_point> Times(const std::string& key) {
    absl::MutexLock lock(&mu_);
    return calls_[key];
  }
  // Waits (bounded) until `key` was reconciled `n` times.
  bool WaitCalls(const std::string& key, size_t n, std::chrono::milliseconds limit = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Calls(key) >= n) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> calls_;
  std::map<std::string, int> failures_left_;
};

TEST(ReconcileQueueTest, ObservedKeysAreKnownQueuedAndRequeuedByAddAllKnown) {
  Recorder r;
  ReconcileQueue q("test", [&](const std::string& k) { return r.Reconcile(k); });
  q.Start();
  q.Observe("a", true);
  q.Observe("b", true);
  ASSERT_TRUE(r.WaitCalls("a", 1));
  ASSERT_TRUE(r.WaitCalls("b", 1));
  EXPECT_TRUE(q.Known("a"));
  q.Observe("b", false);  // gone: unknown, and a resync leaves it out
  EXPECT_FALSE(q.Known("b"));
  EXPECT_FALSE(q.Known("never"));
  q.AddAllKnown();
  ASSERT_TRUE(r.WaitCalls("a", 2));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(r.Calls("b"), 1u);
  q.Stop();
}

TEST(ReconcileQueueTest, KeyAddedWhileQueuedIsReconciledOnce) {
  Recorder r;
  ReconcileQueue q("test", [&](const std::string& k) { return r.Reconcile(k); });
  for (int i = 0; i < 5; ++i) q.Add("a");  // before Start: all five land in the queue at once
  q.Add("b");
  q.Add("");
  q.Start();
  ASSERT_TRUE(r.WaitCalls("b", 1));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(r.Calls("a"), 1u);
  EXPECT_EQ(r.Calls(""), 0u);
}

TEST(ReconcileQueueTest, FailedKeyIsRetriedWithDoublingBackoffWithoutHoldingUpOthers) {
  Recorder r;
  r.FailTimes("bad", 3);
  ReconcileQueue q("test", [&](const std::string& k) { return r.Reconcile(k); }, {20ms, 60ms});
  q.Start();
  q.Add("bad");
  q.Add("good");
  ASSERT_TRUE(r.WaitCalls("bad", 4));
  auto t = r.Times("bad");
  EXPECT_LT(r.Times("good")[0], t[1]);  // not behind bad's retries
  EXPECT_GE(t[1] - t[0], 20ms);
  EXPECT_GE(t[2] - t[1], 40ms);
  EXPECT_GE(t[3] - t[2], 60ms);  // capped at max
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(r.Calls("bad"), 4u);  // succeeded: no more retries
}

TEST(ReconcileQueueTest, ForgetDropsAPendingRetry) {
  Recorder r;
  r.FailTimes("gone", 100);
  ReconcileQueue q("test", [&](const std::string& k) { return r.Reconcile(k); }, {100ms, 100ms});
  q.Start();
  q.Add("gone");
  ASSERT_TRUE(r.WaitCalls("gone", 1));
  std::this_thread::sleep_for(20ms);  // its retry is now pending
  q.Forget("gone");
  std::this_thread::sleep_for(250ms);
  EXPECT_EQ(r.Calls("gone"), 1u);
}

TEST(ReconcileQueueTest, ReconcileMayAddAndStopReturnsWhileRetriesPend) {
  Recorder r;
  std::atomic<int> chained{0};
  ReconcileQueue* self = nullptr;
  ReconcileQueue q("test", [&](const std::string& k) {
    if (k == "first") self->Add("second");  // runs without the queue's lock
    if (k == "second") ++chained;
    return absl::UnavailableError("always");
  }, {10s, 10s});
  self = &q;
  q.Start();
  q.Add("first");
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (chained == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(chained, 1);
  const auto before = std::chrono::steady_clock::now();
  q.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 1s);  // not waiting for the 10 s retries
}

}  // namespace
}  // namespace keel::kube
