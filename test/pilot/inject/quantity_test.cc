// Quantities canonicalised as k8s.io/apimachinery's resource.Quantity prints them
// (the expected values are what `kubectl` shows after the API server stores them).
#include "pilot/inject/quantity.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace keel::pilot::inject {
namespace {

void ExpectCanonical(const std::vector<std::pair<std::string, std::string>>& cases) {
  for (const auto& [in, want] : cases) EXPECT_EQ(CanonicalQuantity(in), want) << in;
}

TEST(CanonicalQuantity, DecimalSIPicksTheLargestWholeExponent) {
  ExpectCanonical({{"2000m", "2"}, {"100m", "100m"}, {"1500m", "1500m"}, {"0.5", "500m"}, {"2000", "2k"},
                   {"128974848", "128974848"}, {"1M", "1M"}, {"0", "0"}, {"0m", "0"}});
}

TEST(CanonicalQuantity, BinarySIStaysBinaryForWholeValuesOfAtLeast1024) {
  ExpectCanonical({{"1024Mi", "1Gi"}, {"128Mi", "128Mi"}, {"1.5Gi", "1536Mi"}, {"1Ki", "1Ki"},
                   {"0.5Ki", "512"}});  // below 1024: decimal
}

TEST(CanonicalQuantity, ExponentsStayExponents) { ExpectCanonical({{"129e6", "129e6"}, {"1e3", "1e3"}, {"12e0", "12"}}); }

TEST(CanonicalQuantity, RoundsUpBelowNanoAndRefusesWhatDoesNotParse) {
  ExpectCanonical({{"0.0000000001", "1n"}, {"-100m", "-100m"}});
  for (const char* bad : {"", "m", "12Qi", "1e99"}) EXPECT_EQ(CanonicalQuantity(bad), std::nullopt) << bad;
}

}  // namespace
}  // namespace keel::pilot::inject
