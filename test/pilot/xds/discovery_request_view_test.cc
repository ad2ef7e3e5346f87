#include "pilot/xds/discovery_request_view.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "envoy/service/discovery/v3/discovery.pb.h"

namespace keel::pilot::xds {
namespace {

using envoy::service::discovery::v3::DiscoveryRequest;

DiscoveryRequest Ack() {
  DiscoveryRequest r;
  r.set_version_info("7");
  r.set_type_url("type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment");
  r.set_response_nonce("conn-1-3");
  r.add_resource_names("outbound|9080||reviews.default.svc.cluster.local");
  r.add_resource_names("outbound|9080||details.default.svc.cluster.local");
  return r;
}

TEST(DiscoveryRequestViewTest, ReadsWhatTheMessageSays) {
  const std::string bytes = Ack().SerializeAsString();
  DiscoveryRequestView view;
  ASSERT_TRUE(DiscoveryRequestView::Parse(bytes, &view));
  EXPECT_EQ(view.version_info, "7");
  EXPECT_EQ(view.type_url, Ack().type_url());
  EXPECT_EQ(view.response_nonce, "conn-1-3");
  EXPECT_EQ(view.resource_names, (std::vector<absl::string_view>{"outbound|9080||reviews.default.svc.cluster.local",
                                                                  "outbound|9080||details.default.svc.cluster.local"}));
  EXPECT_TRUE(view.OnlyAckFields());
  // Views into the bytes: nothing copied.
  EXPECT_GE(view.response_nonce.data(), bytes.data());
  EXPECT_LT(view.response_nonce.data(), bytes.data() + bytes.size());
}

TEST(DiscoveryRequestViewTest, MarksWhatOnlyTheFullParseHandles) {
  DiscoveryRequest with_node = Ack();
  with_node.mutable_node()->set_id("sidecar~10.0.0.1~a.default~default.svc.cluster.local");
  DiscoveryRequest nack = Ack();
  nack.mutable_error_detail()->set_message("rejected");
  DiscoveryRequest locators = Ack();
  locators.add_resource_locators()->set_name("x");
  DiscoveryRequestView view;
  ASSERT_TRUE(DiscoveryRequestView::Parse(with_node.SerializeAsString(), &view));
  EXPECT_TRUE(view.has_node);
  EXPECT_FALSE(view.OnlyAckFields());
  ASSERT_TRUE(DiscoveryRequestView::Parse(nack.SerializeAsString(), &view));
  EXPECT_TRUE(view.has_error_detail);
  EXPECT_FALSE(view.OnlyAckFields());
  ASSERT_TRUE(DiscoveryRequestView::Parse(locators.SerializeAsString(), &view));
  EXPECT_TRUE(view.has_other_fields);
  EXPECT_EQ(view.resource_names.size(), 2u);  // the fields after it are still read
}

TEST(DiscoveryRequestViewTest, UnknownScalarFieldsAreSkippedAndMarked) {
  std::string bytes = Ack().SerializeAsString();
  bytes += std::string("\x78\x96\x01", 3);  // field 15, varint 150
  bytes += std::string("\x85\x01\x01\x02\x03\x04", 6);  // field 16, fixed32
  DiscoveryRequestView view;
  ASSERT_TRUE(DiscoveryRequestView::Parse(bytes, &view));
  EXPECT_TRUE(view.has_other_fields);
  EXPECT_EQ(view.response_nonce, "conn-1-3");
  DiscoveryRequest parsed;
  EXPECT_TRUE(parsed.ParseFromString(bytes));  // the full parse accepts it too
}

TEST(DiscoveryRequestViewTest, RefusesWhatItCannotDecode) {
  const std::string bytes = Ack().SerializeAsString();
  DiscoveryRequestView view;
  for (size_t cut = 1; cut < bytes.size(); ++cut) {
    // Every truncation inside a field is refused, never read past the end.
    const std::string truncated = bytes.substr(0, cut);
    DiscoveryRequest parsed;
    if (!parsed.ParseFromString(truncated)) EXPECT_FALSE(DiscoveryRequestView::Parse(truncated, &view)) << cut;
  }
  EXPECT_FALSE(DiscoveryRequestView::Parse(std::string("\x0b", 1), &view));       // a group
  EXPECT_FALSE(DiscoveryRequestView::Parse(std::string("\x28\x01", 2), &view));   // nonce as a varint
  EXPECT_FALSE(DiscoveryRequestView::Parse(std::string("\x00\x01", 2), &view));   // field 0
  EXPECT_FALSE(DiscoveryRequestView::Parse(std::string("\x2a\x7f", 2), &view));   // length past the end
  EXPECT_FALSE(DiscoveryRequestView::Parse(std::string(11, '\xff'), &view));       // an endless varint
  ASSERT_TRUE(DiscoveryRequestView::Parse("", &view));                             // empty is a valid message
  EXPECT_TRUE(view.response_nonce.empty());
}

TEST(DiscoveryRequestViewTest, LastSingularValueWinsAsInProto3) {
  std::string bytes = Ack().SerializeAsString();
  DiscoveryRequest later;
  later.set_response_nonce("conn-1-4");
  bytes += later.SerializeAsString();  // concatenated messages merge
  DiscoveryRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  DiscoveryRequestView view;
  ASSERT_TRUE(DiscoveryRequestView::Parse(bytes, &view));
  EXPECT_EQ(view.response_nonce, parsed.response_nonce());
}

TEST(DiscoveryRequestViewTest, IsAscii) {
  EXPECT_TRUE(IsAscii("2026-12-07T00:00:00Z/7"));
  EXPECT_FALSE(IsAscii("v\xc3\xa9"));
}

}  // namespace
}  // namespace keel::pilot::xds
