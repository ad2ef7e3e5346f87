// metrics::Registry: Remove() deletes one series, whatever its type, and the
// family's HELP/TYPE stay; other series are untouched.
#include "pkg/metrics/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace keel::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RegistryRemove, DeletesOneSeries) {
  Registry r;
  r.GetGauge("g", "a gauge", {{"conn", "1"}}).Set(3);
  r.GetGauge("g", "a gauge", {{"conn", "2"}}).Set(4);
  r.GetCounter("c", "a counter", {{"conn", "1"}}).Inc();
  r.GetHistogram("h", "a histogram", {1}, {{"conn", "1"}}).Observe(0.5);
  EXPECT_EQ(r.SeriesCount("g"), 2u);

  EXPECT_TRUE(r.Remove("g", {{"conn", "1"}}));
  EXPECT_TRUE(r.Remove("c", {{"conn", "1"}}));
  EXPECT_TRUE(r.Remove("h", {{"conn", "1"}}));
  EXPECT_FALSE(r.Remove("g", {{"conn", "1"}})) << "already gone";
  EXPECT_FALSE(r.Remove("nope", {}));

  EXPECT_EQ(r.SeriesCount("g"), 1u);
  EXPECT_EQ(r.SeriesCount("c"), 0u);
  const std::string text = r.Render();
  EXPECT_THAT(text, Not(HasSubstr("conn=\"1\"")));
  EXPECT_THAT(text, HasSubstr("g{conn=\"2\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE c counter\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE h histogram\n"));
  // Looked up again: a new series from zero.
  EXPECT_EQ(r.GetGauge("g", "a gauge", {{"conn", "1"}}).value(), 0);
}

}  // namespace
}  // namespace keel::metrics
