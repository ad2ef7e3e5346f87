// GoDurationToProtoJson: Go's time.ParseDuration syntax (what Istio's YAML uses)
// to protobuf's JSON Duration, over protobuf's whole range.
#include "pilot/config/go_duration.h"

#include <gtest/gtest.h>

namespace keel::pilot::config {
namespace {

std::string Converted(const std::string& go) {
  auto out = GoDurationToProtoJson(go);
  return out.ok() ? *out : std::string(out.status().message());
}

TEST(GoDurationTest, UnitsAndSignsConvertToSecondsAndNanos) {
  EXPECT_EQ(Converted("1.5s"), "1.500000000s");
  EXPECT_EQ(Converted("1h2m3s4ms5us6ns"), "3723.004005006s");
  EXPECT_EQ(Converted("-250ms"), "-0.250000000s");
  EXPECT_EQ(Converted("0"), "0s");
}

// protobuf's Duration reaches 315,576,000,000 s: 3.2e20 ns, beyond int64 nanoseconds
// (the fuzzer found the overflow: undefined behaviour on a long duration).
TEST(GoDurationTest, TheWholeProtobufRangeAndNotBeyond) {
  EXPECT_EQ(Converted("315576000000s"), "315576000000.000000000s");
  EXPECT_EQ(Converted("87660000h"), "315576000000.000000000s");
  EXPECT_EQ(Converted("13194139533312s"), "invalid duration \"13194139533312s\"");
  EXPECT_EQ(Converted("47498700000000000000ns"), "47498700000.000000000s");  // the fuzzer's input
  EXPECT_EQ(Converted("10000000000s"), "10000000000.000000000s");
}

TEST(GoDurationTest, MalformedIsAnError) {
  for (const char* bad : {"", "-", "s", "1", "1x", "1..2s", "."}) {
    EXPECT_FALSE(GoDurationToProtoJson(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace keel::pilot::config
