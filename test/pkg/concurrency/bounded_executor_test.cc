#include "pkg/concurrency/bounded_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

namespace keel::concurrency {
namespace {

using namespace std::chrono_literals;

TEST(BoundedExecutorTest, RunsWhatItAccepts) {
  BoundedExecutor executor(2, 16);
  std::atomic<int> ran{0};
  std::promise<void> all;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(executor.Submit([&] {
      if (++ran == 10) all.set_value();
    }));
  }
  ASSERT_EQ(all.get_future().wait_for(5s), std::future_status::ready);
}

TEST(BoundedExecutorTest, RefusesBeyondTheQueueAndCancelsWhatShutdownFindsQueued) {
  BoundedExecutor executor(1, 2);
  std::promise<void> release, started;
  ASSERT_TRUE(executor.Submit([&] {
    started.set_value();
    release.get_future().wait();
  }));
  started.get_future().wait();  // the one worker is busy
  std::atomic<int> ran{0}, cancelled{0};
  EXPECT_TRUE(executor.Submit([&] { ++ran; }, [&] { ++cancelled; }));
  EXPECT_TRUE(executor.Submit([&] { ++ran; }, [&] { ++cancelled; }));
  EXPECT_FALSE(executor.Submit([&] { ++ran; }, [&] { ++cancelled; })) << "two wait already";

  std::thread unblock([&] {
    std::this_thread::sleep_for(50ms);
    release.set_value();
  });
  executor.Shutdown();  // the running task finishes; the queued ones are cancelled, not run
  unblock.join();
  EXPECT_EQ(ran.load(), 0);
  EXPECT_EQ(cancelled.load(), 2);
  EXPECT_FALSE(executor.Submit([&] { ++ran; })) << "after Shutdown";
}

}  // namespace
}  // namespace keel::concurrency
