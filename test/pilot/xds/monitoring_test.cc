// pilot/xds/monitoring: label values that come from proxies are bounded, so
// /metrics (the chart's liveness probe) stays small whatever clients send, and
// series of closed connections are deleted. Recorded into the real
// DefaultRegistry and read back through its Prometheus text.
#include "pilot/xds/monitoring.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "pilot/xds/resource_types.h"
#include "pkg/metrics/registry.h"

namespace keel::pilot::xds::monitoring {
namespace {


metrics::Registry& R() { return metrics::DefaultRegistry(); }

TEST(CodeName, GrpcsSeventeenNamesElseUnknown) {
  EXPECT_EQ(CodeName(0), "OK");
  EXPECT_EQ(CodeName(3), "InvalidArgument");
  EXPECT_EQ(CodeName(16), "Unauthenticated");
  for (int code : {17, 18, 1000, -1, 2147483647, -2147483647 - 1}) EXPECT_EQ(CodeName(code), "Unknown") << code;
}

TEST(RecordReject, ThousandsOfCodesMakeAtMostSeventeenSeriesPerType) {
  const size_t before = R().Render().size();
  for (int i = 0; i < 5000; ++i) {
    RecordReject(kClusterType, 1000 + i);
    RecordReject(kListenerType, i % 17);
  }
  EXPECT_EQ(R().SeriesCount("pilot_xds_cds_reject"), 1u);  // all "Unknown"
  EXPECT_EQ(R().SeriesCount("pilot_xds_lds_reject"), 17u);
  EXPECT_EQ(R().GetGauge("pilot_xds_cds_reject", "", {{"err", "Unknown"}}).value(), 5000);
  EXPECT_EQ(R().GetCounter("pilot_total_xds_rejects", "", {{"type", "cds"}}).value(), 5000);
  EXPECT_LT(R().Render().size(), before + 4000) << "17 short series, not 10,000";
}

TEST(MetricType, AClientsTypeUrlIsOther) {
  EXPECT_EQ(MetricType(kClusterType), "cds");
  EXPECT_EQ(MetricType("type.googleapis.com/evil.Type1"), "other");
  for (int i = 0; i < 1000; ++i) RecordExpiredNonce(absl::StrCat("type.googleapis.com/evil.Type", i));
  RecordExpiredNonce(kRouteType);
  EXPECT_EQ(R().SeriesCount("pilot_xds_expired_nonce"), 2u);
  EXPECT_EQ(R().GetCounter("pilot_xds_expired_nonce", "", {{"type", "other"}}).value(), 1000);
}

TEST(IsVersionShaped, IstioVersionsOnly) {
  for (const char* v : {"1.22.0", "1.24", "v1.2.3", "1.23-alpha.0123456789abcdef0123456789abcdef01234567",
                        "1.20.0-beta.1", "1.2.3.4", "1.21.0+build_7"}) {
    EXPECT_TRUE(IsVersionShaped(v)) << v;
  }
  for (const char* v : {"", "1", "latest", "1.", "1..2", "1.2.3.4.5", "1.2-", "1.2 ", "1.2\n", "1.2\"}", "x1.2",
                        "1.2/../../etc", "1.2-{a=\"b\"}"}) {
    EXPECT_FALSE(IsVersionShaped(v)) << v;
  }
  EXPECT_FALSE(IsVersionShaped("1.2-" + std::string(kMaxVersionLabelLength, 'a')));
}

// pilot_xds{version} as the registry renders it, one entry per series.
std::map<std::string, double> XdsClients() {
  std::map<std::string, double> out;
  const std::string text = R().Render();
  const std::string prefix = "pilot_xds{version=\"";
  for (size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1)) {
    if (at > 0 && text[at - 1] != '\n') continue;
    const size_t end = text.find("\"} ", at);
    const size_t eol = text.find('\n', end);
    out[text.substr(at + prefix.size(), end - at - prefix.size())] = std::stod(text.substr(end + 3, eol - end - 3));
  }
  return out;
}

TEST(RecordXdsClient, VersionsAreBoundedAndClosedConnectionsLeaveNoSeries) {
  ASSERT_TRUE(XdsClients().empty());
  // Malformed versions: one "unknown" series.
  for (int i = 0; i < 100; ++i) RecordXdsClient(absl::StrCat("junk ", i, std::string(200, 'x')), +1);
  // 50 distinct real-looking versions: the first 32 get their own series, the rest "other".
  for (int i = 0; i < 50; ++i) RecordXdsClient(absl::StrCat("1.", i, ".0"), +1);
  RecordXdsClient("1.0.0", +1);  // a second connection of a version that has its series
  RecordXdsClient("", +1);       // no ISTIO_VERSION
  auto series = XdsClients();
  EXPECT_EQ(series.size(), kMaxVersionLabels + 3) << "32 versions, unknown, other, \"\"";
  EXPECT_EQ(series["unknown"], 100);
  EXPECT_EQ(series["other"], 50 - kMaxVersionLabels);
  EXPECT_EQ(series["1.0.0"], 2);
  EXPECT_EQ(series["1.31.0"], 1);
  EXPECT_EQ(series.count("1.32.0"), 0u);
  EXPECT_EQ(series[""], 1);

  // A slot freed by a closed version goes to the next new version; "other" keeps its own.
  RecordXdsClient("1.1.0", -1);
  RecordXdsClient("9.9.9", +1);
  series = XdsClients();
  EXPECT_EQ(series.count("1.1.0"), 0u) << "no connection left: no series (not a 0)";
  EXPECT_EQ(series["9.9.9"], 1);
  EXPECT_EQ(series["other"], 50 - kMaxVersionLabels);

  // Every connection closes, each with the version it connected with.
  for (int i = 0; i < 100; ++i) RecordXdsClient(absl::StrCat("junk ", i, std::string(200, 'x')), -1);
  for (int i = 0; i < 50; ++i) {
    if (i != 1) RecordXdsClient(absl::StrCat("1.", i, ".0"), -1);
  }
  RecordXdsClient("1.0.0", -1);
  RecordXdsClient("", -1);
  RecordXdsClient("9.9.9", -1);
  RecordXdsClient("never connected", -1);  // ignored
  EXPECT_TRUE(XdsClients().empty()) << R().Render();
  EXPECT_EQ(R().SeriesCount("pilot_xds"), 0u);
}

}  // namespace
}  // namespace keel::pilot::xds::monitoring
