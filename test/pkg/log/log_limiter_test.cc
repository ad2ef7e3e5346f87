#include "pkg/log/log_limiter.h"

#include <gtest/gtest.h>

namespace keel::log {
namespace {

using namespace std::chrono_literals;

TEST(LogLimiterTest, ABurstThenTheRateAndTheDroppedAreReported) {
  LogLimiter limiter(/*per_second=*/2, /*burst=*/3);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Allow(t0), 0u) << i;
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(limiter.Allow(t0).has_value()) << i;
  EXPECT_FALSE(limiter.Allow(t0 + 400ms).has_value()) << "0.8 of a line refilled";
  EXPECT_EQ(limiter.Allow(t0 + 500ms), 11u) << "one line refilled; it reports the 11 dropped";
  EXPECT_FALSE(limiter.Allow(t0 + 500ms).has_value());
  // Idle for long: the bucket refills to the burst, not beyond.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow(t0 + 1h).has_value()) << i;
  EXPECT_FALSE(limiter.Allow(t0 + 1h).has_value());
}

TEST(LogLimiterTest, SuppressedSaysHowMany) {
  EXPECT_EQ(Suppressed(0), "");
  EXPECT_EQ(Suppressed(7), " (7 similar lines suppressed)");
}

}  // namespace
}  // namespace keel::log
