// Quantities canonicalised as k8s.io/apimachinery's resource.Quantity prints them
// (the expected values are what `kubectl` shows after the API server stores them).
#include "pilot/inject/quantity.h"

#include "gtest/gtest.h"

namespace keel::pilot::inject {
namespace {

TEST(CanonicalQuantity, DecimalSIPicksTheLargestWholeExponent) {
  EXPECT_EQ(CanonicalQuantity("2000m"), "2");
  EXPECT_EQ(CanonicalQuantity("100m"), "100m");
  EXPECT_EQ(CanonicalQuantity("1500m"), "1500m");
  EXPECT_EQ(CanonicalQuantity("0.5"), "500m");
  EXPECT_EQ(CanonicalQuantity("2000"), "2k");
  EXPECT_EQ(CanonicalQuantity("128974848"), "128974848");
  EXPECT_EQ(CanonicalQuantity("1M"), "1M");
  EXPECT_EQ(CanonicalQuantity("0"), "0");
  EXPECT_EQ(CanonicalQuantity("0m"), "0");
}

TEST(CanonicalQuantity, BinarySIStaysBinaryForWholeValuesOfAtLeast1024) {
  EXPECT_EQ(CanonicalQuantity("1024Mi"), "1Gi");
  EXPECT_EQ(CanonicalQuantity("128Mi"), "128Mi");
  EXPECT_EQ(CanonicalQuantity("1.5Gi"), "1536Mi");
  EXPECT_EQ(CanonicalQuantity("1Ki"), "1Ki");
  EXPECT_EQ(CanonicalQuantity("0.5Ki"), "512");  // below 1024: decimal
}

TEST(CanonicalQuantity, ExponentsStayExponents) {
  EXPECT_EQ(CanonicalQuantity("129e6"), "129e6");
  EXPECT_EQ(CanonicalQuantity("1e3"), "1e3");
  EXPECT_EQ(CanonicalQuantity("12e0"), "12");
}

TEST(CanonicalQuantity, RoundsUpBelowNanoAndRefusesWhatDoesNotParse) {
  EXPECT_EQ(CanonicalQuantity("0.0000000001"), "1n");
  EXPECT_EQ(CanonicalQuantity("-100m"), "-100m");
  EXPECT_EQ(CanonicalQuantity(""), std::nullopt);
  EXPECT_EQ(CanonicalQuantity("m"), std::nullopt);
  EXPECT_EQ(CanonicalQuantity("12Qi"), std::nullopt);
  EXPECT_EQ(CanonicalQuantity("1e99"), std::nullopt);
}

}  // namespace
}  // namespace keel::pilot::inject
