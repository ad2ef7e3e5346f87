#include "pilot/xds/debouncer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace keel::pilot::model {
// Readable failure messages for ConfigKey matchers.
void PrintTo(const ConfigKey& key, std::ostream* os) { *os << key.ToString(); }
}  // namespace keel::pilot::model

namespace keel::pilot::xds {
namespace {

using namespace std::chrono_literals;
using ::testing::UnorderedElementsAre;

model::ConfigKey Key(const std::string& name) { return {model::Kind::kVirtualService, "default", name}; }

PushRequest ConfigRequest(const std::string& name) {
  PushRequest r;
  r.configs_updated.insert(Key(name));
  r.reasons["config"] = 1;
  r.start = std::chrono::steady_clock::now();
  return r;
}

// Records pushes; lets a test wait (bounded) for the n-th one.
class PushRecorder {
 public:
  Debouncer::PushFn Fn() {
    return [this](const PushRequest& r) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        pushes_.push_back(r);
      }
      cv_.notify_all();
    };
  }
  bool WaitFor(size_t n, std::chrono::milliseconds timeout) {
    return WaitUntil([n](const std::vector<PushRequest>& p) { return p.size() >= n; }, timeout);
  }
  template <typename Pred>
  bool WaitUntil(Pred pred, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(pushes_); });
  }
  std::vector<PushRequest> pushes() {
    std::lock_guard<std::mutex> lock(mu_);
    return pushes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<PushRequest> pushes_;
};

TEST(DebouncerTest, BurstBecomesOneMergedPush) {
  PushRecorder recorder;
  Debouncer debouncer({/*quiet=*/50ms, /*max_delay=*/5s}, recorder.Fn());
  for (const char* name : {"a", "b", "c", "d", "e"}) debouncer.Enqueue(ConfigRequest(name));

  ASSERT_TRUE(recorder.WaitFor(1, 5s)) << "no push";
  std::this_thread::sleep_for(200ms);  // several quiet periods: no second push may follow
  auto pushes = recorder.pushes();
  ASSERT_EQ(pushes.size(), 1u);
  EXPECT_EQ(debouncer.pushes(), 1u);
  EXPECT_THAT(pushes[0].configs_updated, UnorderedElementsAre(Key("a"), Key("b"), Key("c"), Key("d"), Key("e")));
  EXPECT_EQ(pushes[0].reasons.at("config"), 5);
  EXPECT_TRUE(pushes[0].full);
}

TEST(DebouncerTest, MaxDelayBoundsTheWaitUnderContinuousChanges) {
  PushRecorder recorder;
  // The quiet period never elapses while changes arrive every 10 ms; only the
  // max delay can release pushes during the burst.
  Debouncer debouncer({/*quiet=*/300ms, /*max_delay=*/100ms}, recorder.Fn());
  const auto end = std::chrono::steady_clock::now() + 400ms;
  int sent = 0;
  while (std::chrono::steady_clock::now() < end) {
    debouncer.Enqueue(ConfigRequest("k" + std::to_string(sent++)));
    std::this_thread::sleep_for(10ms);
  }
  const size_t during_burst = recorder.pushes().size();
  EXPECT_GE(during_burst, 2u);

  // Everything enqueued is eventually pushed, each key exactly once.
  auto total_keys = [](const std::vector<PushRequest>& pushes) {
    size_t n = 0;
    for (const auto& p : pushes) n += p.configs_updated.size();
    return n;
  };
  ASSERT_TRUE(recorder.WaitUntil([&](const std::vector<PushRequest>& pushes) {
    return total_keys(pushes) >= static_cast<size_t>(sent);
  }, 5s)) << "pushed " << total_keys(recorder.pushes()) << " of " << sent << " keys";
  std::set<model::ConfigKey> seen;
  for (const auto& p : recorder.pushes()) seen.insert(p.configs_updated.begin(), p.configs_updated.end());
  EXPECT_EQ(seen.size(), static_cast<size_t>(sent));
  EXPECT_EQ(total_keys(recorder.pushes()), static_cast<size_t>(sent));
}

TEST(DebouncerTest, SeparatedRequestsArePushedSeparately) {
  PushRecorder recorder;
  Debouncer debouncer({/*quiet=*/20ms, /*max_delay=*/5s}, recorder.Fn());
  debouncer.Enqueue(ConfigRequest("a"));
  ASSERT_TRUE(recorder.WaitFor(1, 5s));
  debouncer.Enqueue(ConfigRequest("b"));
  ASSERT_TRUE(recorder.WaitFor(2, 5s));
  auto pushes = recorder.pushes();
  EXPECT_THAT(pushes[0].configs_updated, UnorderedElementsAre(Key("a")));
  EXPECT_THAT(pushes[1].configs_updated, UnorderedElementsAre(Key("b")));
}

TEST(DebouncerTest, DestroyWithPendingRequestReturns) {
  PushRecorder recorder;
  const auto begin = std::chrono::steady_clock::now();
  {
    Debouncer debouncer({/*quiet=*/30s, /*max_delay=*/30s}, recorder.Fn());
    debouncer.Enqueue(ConfigRequest("a"));
  }  // must not wait for the 30 s deadline
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 10s);
  EXPECT_TRUE(recorder.pushes().empty());
}

TEST(PushRequestTest, MergeUnionsKeysSumsReasonsKeepsEarliestStart) {
  const auto t0 = std::chrono::steady_clock::now();
  PushRequest a;
  a.full = false;
  a.configs_updated = {Key("a"), Key("shared")};
  a.reasons = {{"config", 2}};
  a.start = t0 + 5ms;
  PushRequest b;
  b.full = true;
  b.configs_updated = {Key("b"), Key("shared")};
  b.reasons = {{"config", 1}, {"debug", 1}};
  b.start = t0;
  a.Merge(b);
  EXPECT_TRUE(a.full);
  EXPECT_THAT(a.configs_updated, UnorderedElementsAre(Key("a"), Key("b"), Key("shared")));
  EXPECT_EQ(a.reasons, (std::map<std::string, int>{{"config", 3}, {"debug", 1}}));
  EXPECT_TRUE(a.start == t0);
}

}  // namespace
}  // namespace keel::pilot::xds
