// Incremental EDS in the model: which hosts a Pod/EndpointSlice change touches
// (endpoint_changes.h), and PushContext::UpdateEndpoints, which must equal a
// full build of the same snapshot in everything generators read while sharing
// the untouched hosts' endpoints with the previous PushContext.
#include "pilot/model/endpoint_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "envoy/config/core/v3/base.pb.h"
#include "pilot/model/endpoint_changes.h"
#include "pilot/model/push_context.h"
#include "pilot/xds/generator.h"
#include "pilot/xds/resource_types.h"
#include "test/pilot/testing/configs.h"

namespace keel::pilot::model {
namespace {

using ::keel::pilot::testing::PodYaml;
using ::keel::pilot::testing::ServiceYaml;
using ::keel::pilot::testing::SnapshotOf;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kReviews[] = "reviews.default.svc.cluster.local";
constexpr char kRatings[] = "ratings.default.svc.cluster.local";
constexpr char kExternal[] = "db.example.com";

std::string Slice(const std::string& name, const std::string& service, const std::string& ip,
                  const std::string& pod = "") {
  return "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: " + name +
         ", namespace: default, labels: {kubernetes.io/service-name: " + service +
         "}}\naddressType: IPv4\nports: [{name: http, port: 9080}]\nendpoints: [{addresses: [\"" + ip + "\"]" +
         (pod.empty() ? "" : ", targetRef: {kind: Pod, name: " + pod + "}") + "}]\n---\n";
}

std::string WorkloadEntryService() {
  return "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: db, namespace: default}\n"
         "spec:\n  hosts: [db.example.com]\n  location: MESH_INTERNAL\n  resolution: STATIC\n"
         "  ports: [{name: tcp, number: 5432, protocol: TCP}]\n  workloadSelector: {labels: {app: db}}\n---\n";
}

std::string Base() {
  return ServiceYaml("reviews", 9080, "10.96.0.10") + ServiceYaml("ratings", 9080, "10.96.0.11") +
         WorkloadEntryService() + PodYaml("reviews-1", "reviews", "10.1.0.1", 9080) +
         PodYaml("ratings-1", "ratings", "10.1.0.2", 9080) + PodYaml("db-1", "db", "10.1.0.3", 5432);
}

std::vector<std::string> Addresses(const PushContext& push, const std::string& host, int port) {
  std::vector<std::string> out;
  for (const auto& ep : push.Endpoints(host, port)) out.push_back(ep.address + ":" + std::to_string(ep.port));
  return out;
}

TEST(EndpointChangesTest, APodTouchesTheServicesThatSelectItBeforeOrAfter) {
  auto before = PushContext::Build(SnapshotOf(Base()), {}, 1);
  // reviews-1 relabelled app=ratings: it leaves reviews and joins ratings.
  auto after = SnapshotOf(ServiceYaml("reviews", 9080, "10.96.0.10") + ServiceYaml("ratings", 9080, "10.96.0.11") +
                          WorkloadEntryService() + PodYaml("reviews-1", "ratings", "10.1.0.1", 9080) +
                          PodYaml("ratings-1", "ratings", "10.1.0.2", 9080) + PodYaml("db-1", "db", "10.1.0.3", 5432));
  EXPECT_THAT(HostsWithEndpointChanges(*before, *after, {ConfigKey{Kind::kPod, "default", "reviews-1"}}),
              UnorderedElementsAre(kReviews, kRatings));
  // A ServiceEntry's workloadSelector counts as a selector.
  EXPECT_THAT(HostsWithEndpointChanges(*before, *before->configs(), {ConfigKey{Kind::kPod, "default", "db-1"}}),
              ElementsAre(kExternal));
  // Keys of other kinds are not endpoint changes.
  EXPECT_THAT(HostsWithEndpointChanges(*before, *before->configs(), {ConfigKey{Kind::kService, "default", "reviews"}}),
              IsEmpty());
}

TEST(EndpointChangesTest, AnEndpointSliceTouchesItsServiceAndSlicesPointingAtAPodTouchTheirs) {
  const std::string yaml = Base() + Slice("reviews-abc", "reviews", "10.1.0.9", "ratings-1");
  auto before = PushContext::Build(SnapshotOf(yaml), {}, 1);
  EXPECT_THAT(HostsWithEndpointChanges(*before, *before->configs(),
                                       {ConfigKey{Kind::kEndpointSlice, "default", "reviews-abc"}}),
              ElementsAre(kReviews));
  // ratings-1 is selected by ratings, and reviews' slice points at it (targetRef).
  EXPECT_THAT(HostsWithEndpointChanges(*before, *before->configs(), {ConfigKey{Kind::kPod, "default", "ratings-1"}}),
              UnorderedElementsAre(kReviews, kRatings));
  // A deleted slice still names its service (judged on the object as it was).
  EXPECT_THAT(HostsWithEndpointChanges(*before, *SnapshotOf(Base()),
                                       {ConfigKey{Kind::kEndpointSlice, "default", "reviews-abc"}}),
              ElementsAre(kReviews));
}

TEST(UpdateEndpointsTest, RecomputesOnlyTheTouchedHostsAndSharesTheRest) {
  auto before = PushContext::Build(SnapshotOf(Base()), {}, 1);
  const std::string moved = ServiceYaml("reviews", 9080, "10.96.0.10") + ServiceYaml("ratings", 9080, "10.96.0.11") +
                            WorkloadEntryService() + PodYaml("reviews-1", "reviews", "10.1.0.7", 9080) +
                            PodYaml("ratings-1", "ratings", "10.1.0.2", 9080) + PodYaml("db-1", "db", "10.1.0.3", 5432);
  auto snapshot = SnapshotOf(moved);
  auto after = PushContext::UpdateEndpoints(*before, snapshot, {kReviews}, 2);
  EXPECT_EQ(after->version(), 2u);
  EXPECT_EQ(after->configs(), snapshot);  // /debug/configz reads the new objects
  EXPECT_THAT(Addresses(*after, kReviews, 9080), ElementsAre("10.1.0.7:9080"));
  EXPECT_THAT(Addresses(*before, kReviews, 9080), ElementsAre("10.1.0.1:9080"));  // the previous one is untouched
  EXPECT_FALSE(after->endpoint_index().SharesHost(before->endpoint_index(), kReviews));
  EXPECT_TRUE(after->endpoint_index().SharesHost(before->endpoint_index(), kRatings));
  EXPECT_TRUE(after->endpoint_index().SharesHost(before->endpoint_index(), kExternal));
}

// What every generator makes for `proxy_node` from `push`, serialized, by type and name.
std::map<std::string, std::string> Generate(const PushContext& push, const std::string& node_id) {
  envoy::config::core::v3::Node node;
  node.set_id(node_id);
  (*node.mutable_metadata()->mutable_fields())["NAMESPACE"].set_string_value("default");
  auto proxy = ParseProxy(node);
  EXPECT_TRUE(proxy.ok());
  std::map<std::string, std::string> out;
  auto generators = xds::MakeGenerators();
  std::map<std::string, xds::WatchedResource> watches;
  watches[xds::kClusterType].wildcard = true;
  watches[xds::kListenerType].wildcard = true;
  std::set<std::string> clusters;
  for (const auto& type : {xds::kClusterType, xds::kListenerType}) {
    for (const auto& r : generators.at(type)->Generate(*proxy, push, watches[type])) {
      out[std::string(type) + " " + r.name] = r.resource->any.value();
      if (type == std::string(xds::kClusterType)) clusters.insert(r.name);
    }
  }
  watches[xds::kEndpointType].names = clusters;
  for (const auto& [name, bytes] : out) {
    if (name.rfind(xds::kListenerType, 0) == 0) watches[xds::kRouteType].names = {"9080"};
  }
  for (const auto& type : {xds::kEndpointType, xds::kRouteType}) {
    for (const auto& r : generators.at(type)->Generate(*proxy, push, watches[type])) {
      out[std::string(type) + " " + r.name] = r.resource->any.value();
    }
  }
  return out;
}

TEST(UpdateEndpointsTest, GeneratesWhatAFullBuildOfTheSameSnapshotGenerates) {
  const std::string routes =
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\n"
      "spec:\n  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews, subset: v1}}]}]\n---\n"
      "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: default}\n"
      "spec:\n  host: reviews\n  subsets: [{name: v1, labels: {app: reviews}}]\n---\n";
  auto before = PushContext::Build(SnapshotOf(Base() + routes), {}, 1);
  const std::string changed = routes + ServiceYaml("reviews", 9080, "10.96.0.10") +
                              ServiceYaml("ratings", 9080, "10.96.0.11") + WorkloadEntryService() +
                              PodYaml("reviews-1", "reviews", "10.1.0.7", 9080) +
                              PodYaml("reviews-2", "reviews", "10.1.0.8", 9080) +
                              PodYaml("ratings-1", "ratings", "10.1.0.2", 9080) +
                              PodYaml("db-1", "db", "10.1.0.4", 5432);
  auto snapshot = SnapshotOf(changed);
  std::set<ConfigKey> keys;
  for (const char* pod : {"reviews-1", "reviews-2", "db-1"}) keys.insert(ConfigKey{Kind::kPod, "default", pod});
  auto incremental =
      PushContext::UpdateEndpoints(*before, snapshot, HostsWithEndpointChanges(*before, *snapshot, keys), 2);
  auto full = PushContext::Build(snapshot, {}, 2);
  for (const char* node : {"sidecar~10.0.0.9~client-0.default~default.svc.cluster.local",
                           "sidecar~10.1.0.7~reviews-1.default~default.svc.cluster.local"}) {
    auto a = Generate(*incremental, node);
    auto b = Generate(*full, node);
    EXPECT_GT(a.size(), 5u);
    EXPECT_EQ(a, b) << node;
  }
}

}  // namespace
}  // namespace keel::pilot::model
