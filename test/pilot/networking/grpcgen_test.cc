// Proxyless gRPC translation for a small mesh: Listener -> RouteConfiguration ->
// Cluster -> ClusterLoadAssignment, plus ParseProxy.
#include "pilot/networking/grpcgen/grpc_listener_builder.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "envoy/config/core/v3/base.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "pilot/model/proxy.h"
#include "pilot/networking/core/cluster_builder.h"
#include "pilot/networking/core/http_route_translator.h"
#include "test/pilot/testing/configs.h"

namespace keel::pilot::networking {
namespace {

using ::keel::pilot::testing::BuildPush;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::UnorderedElementsAre;
namespace hcm = ::envoy::extensions::filters::network::http_connection_manager::v3;
namespace cluster = ::envoy::config::cluster::v3;
using envoy::extensions::filters::http::fault::v3::HTTPFault;
using google::protobuf::util::TimeUtil;

constexpr char kFqdn[] = "reviews.default.svc.cluster.local";
constexpr char kTarget[] = "reviews.default.svc.cluster.local:9080";  // the dialled target: the listener
constexpr char kRoute[] = "outbound|9080||reviews.default.svc.cluster.local";  // its route configuration
constexpr char kV1[] = "outbound|9080|v1|reviews.default.svc.cluster.local";
constexpr char kV2[] = "outbound|9080|v2|reviews.default.svc.cluster.local";
constexpr char kV3[] = "outbound|9080|v3|reviews.default.svc.cluster.local";

std::string Pod(const std::string& version, const std::string& ip, const std::string& zone) {
  return "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: reviews-" + version +
         "\n  labels: {app: reviews, version: " + version +
         ", topology.kubernetes.io/region: us-east1, topology.kubernetes.io/zone: " + zone +
         "}\nspec: {containers: [{name: reviews, ports: [{name: http, containerPort: 9080}]}]}\n"
         "status: {phase: Running, podIP: " + ip + ", conditions: [{type: Ready, status: \"True\"}]}\n";
}

const std::string kMesh = std::string(R"(
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  clusterIP: 10.96.0.10
  selector: {app: reviews}
  ports: [{name: grpc, port: 9080, targetPort: 9080}]
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: default}
spec:
  clusterIP: 10.96.0.11
  selector: {app: ratings}
  ports: [{name: grpc, port: 9080}]
)") + Pod("v1", "10.0.0.1", "us-east1-b") + Pod("v2", "10.0.0.2", "us-east1-c") + Pod("v3", "10.0.0.3", "us-east1-c");

constexpr char kDestinationRule[] = R"(
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - name: v3
    labels: {version: v3}
    trafficPolicy:
      loadBalancer:
        consistentHash: {httpHeaderName: x-user}
)";

constexpr char kVirtualService[] = R"(
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match:
    - headers:
        end-user: {exact: jason}
    fault:
      delay:
        fixedDelay: 7s
        percentage: {value: 100}
    route:
    - destination: {host: reviews, subset: v2}
  - name: aborted
    match:
    - headers:
        end-user: {exact: mallory}
    fault:
      abort:
        httpStatus: 500
        percentage: {value: 50}
    route:
    - destination: {host: reviews, subset: v1}
  - name: split
    timeout: 2.5s
    route:
    - destination: {host: reviews, subset: v1}
      weight: 50
    - destination: {host: reviews, subset: v3}
      weight: 50
)";

envoy::config::core::v3::Node GrpcNode(const std::string& id = "sidecar~10.0.0.9~client.default~default.svc.cluster.local") {
  envoy::config::core::v3::Node node;
  node.set_id(id);
  (*node.mutable_metadata()->mutable_fields())["GENERATOR"].set_string_value("grpc");
  return node;
}

model::Proxy GrpcProxy() {
  auto proxy = model::ParseProxy(GrpcNode());
  EXPECT_TRUE(proxy.ok()) << proxy.status();
  return proxy.ok() ? *proxy : model::Proxy{};
}

class GrpcGenTest : public ::testing::Test {
 protected:
  model::PushContextPtr push_ = BuildPush(kMesh + kDestinationRule + kVirtualService);
  model::Proxy proxy_ = GrpcProxy();

  hcm::HttpConnectionManager ListenerHcm(const std::string& name) {
    auto listener = grpcgen::BuildGrpcListener(name, proxy_, *push_);
    hcm::HttpConnectionManager manager;
    if (!listener) {
      ADD_FAILURE() << "no listener " << name;
      return manager;
    }
    EXPECT_EQ(listener->name(), name);
    EXPECT_TRUE(listener->api_listener().api_listener().UnpackTo(&manager));
    return manager;
  }

  envoy::config::route::v3::RouteConfiguration Routes() {
    auto rc = grpcgen::BuildGrpcRouteConfiguration(kRoute, proxy_, *push_);
    if (!rc) {
      ADD_FAILURE() << "no route configuration";
      return {};
    }
    return *rc;
  }

  const envoy::config::route::v3::Route* RouteNamed(const envoy::config::route::v3::RouteConfiguration& rc,
                                                    const std::string& name) {
    for (const auto& r : rc.virtual_hosts(0).routes()) {
      if (r.name() == name) return &r;
    }
    ADD_FAILURE() << "no route " << name;
    return nullptr;
  }

  std::optional<cluster::Cluster> Cluster(const std::string& name) {
    ClusterName parsed;
    if (!ClusterName::Parse(name, &parsed)) {
      ADD_FAILURE() << "bad cluster name " << name;
      return std::nullopt;
    }
    return BuildOutboundCluster(parsed, proxy_, *push_);
  }
};

// --- ParseProxy ---

TEST(ParseProxyTest, SidecarNodeId) {
  auto proxy = model::ParseProxy(GrpcNode());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  EXPECT_EQ(proxy->type, model::ProxyType::kSidecar);
  EXPECT_EQ(proxy->id, "sidecar~10.0.0.9~client.default~default.svc.cluster.local");
  EXPECT_EQ(proxy->ip, "10.0.0.9");
  EXPECT_EQ(proxy->pod_name, "client");
  EXPECT_EQ(proxy->ns, "default");
  EXPECT_EQ(proxy->dns_domain, "default.svc.cluster.local");
  EXPECT_TRUE(proxy->proxyless_grpc);
}

TEST(ParseProxyTest, RouterType) {
  envoy::config::core::v3::Node node;
  node.set_id("router~10.0.0.5~ingress-abc.istio-system~istio-system.svc.cluster.local");
  auto proxy = model::ParseProxy(node);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  EXPECT_EQ(proxy->type, model::ProxyType::kRouter);
  EXPECT_EQ(proxy->ns, "istio-system");
  EXPECT_FALSE(proxy->proxyless_grpc);
}

TEST(ParseProxyTest, BadIds) {
  envoy::config::core::v3::Node node;
  node.set_id("sidecar~10.0.0.9~client.default");
  auto three = model::ParseProxy(node);
  EXPECT_EQ(three.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(three.status().message(), HasSubstr("sidecar~10.0.0.9~client.default"));

  node.set_id("gateway~10.0.0.9~client.default~default.svc.cluster.local");
  EXPECT_EQ(model::ParseProxy(node).status().code(), absl::StatusCode::kInvalidArgument);

  node.set_id("");
  EXPECT_EQ(model::ParseProxy(node).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseProxyTest, NamespaceMetadataLabelsAndLocality) {
  auto node = GrpcNode("sidecar~10.0.0.9~client.default~default.svc.cluster.local");
  auto& md = *node.mutable_metadata()->mutable_fields();
  md["NAMESPACE"].set_string_value("other");
  md["CLUSTER_ID"].set_string_value("Kubernetes");
  auto& labels = *md["LABELS"].mutable_struct_value()->mutable_fields();
  labels["app"].set_string_value("client");
  labels["version"].set_string_value("v2");
  node.mutable_locality()->set_region("us-east1");
  node.mutable_locality()->set_zone("us-east1-b");
  auto proxy = model::ParseProxy(node);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  EXPECT_EQ(proxy->ns, "other");
  EXPECT_EQ(proxy->cluster_id, "Kubernetes");
  EXPECT_EQ(proxy->labels, (std::map<std::string, std::string>{{"app", "client"}, {"version", "v2"}}));
  EXPECT_EQ(proxy->region, "us-east1");
  EXPECT_EQ(proxy->zone, "us-east1-b");
}

TEST(ParseProxyTest, NamespaceFromDnsDomainWhenPodHasNone) {
  envoy::config::core::v3::Node node;
  node.set_id("sidecar~10.0.0.9~client~bookinfo.svc.cluster.local");
  auto proxy = model::ParseProxy(node);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  EXPECT_EQ(proxy->ns, "bookinfo");
}

// --- Listener ---

TEST_F(GrpcGenTest, ListenerForFqdnHasApiListenerWithRdsOverAds) {
  hcm::HttpConnectionManager manager = ListenerHcm(kTarget);
  ASSERT_TRUE(manager.has_rds());
  EXPECT_EQ(manager.rds().route_config_name(), kRoute);
  EXPECT_TRUE(manager.rds().config_source().has_ads());
  std::vector<std::string> filters;
  for (const auto& f : manager.http_filters()) filters.push_back(f.name());
  EXPECT_THAT(filters, ElementsAre("envoy.filters.http.fault", "envoy.filters.http.router"));
  EXPECT_TRUE(manager.http_filters(1).typed_config().Is<envoy::extensions::filters::http::router::v3::Router>());
}

TEST_F(GrpcGenTest, ListenerIsAtTheServiceVipAndPort) {
  auto l = grpcgen::BuildGrpcListener(kTarget, proxy_, *push_);
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->address().socket_address().address(), "10.96.0.10");
  EXPECT_EQ(l->address().socket_address().port_value(), 9080u);
}

TEST_F(GrpcGenTest, ListenerForShortNameRoutesToFqdn) {
  hcm::HttpConnectionManager manager = ListenerHcm("reviews:9080");
  EXPECT_EQ(manager.rds().route_config_name(), kRoute);
  EXPECT_EQ(ListenerHcm("reviews.default:9080").rds().route_config_name(), kRoute);
  EXPECT_EQ(ListenerHcm("reviews.default.svc:9080").rds().route_config_name(), kRoute);
}

TEST_F(GrpcGenTest, UnknownTargetHasNoListener) {
  EXPECT_FALSE(grpcgen::BuildGrpcListener("nope:9080", proxy_, *push_).has_value());
  EXPECT_FALSE(grpcgen::BuildGrpcListener("reviews:1234", proxy_, *push_).has_value());
  EXPECT_FALSE(grpcgen::BuildGrpcListener("reviews", proxy_, *push_).has_value());
  EXPECT_FALSE(grpcgen::BuildGrpcListener("reviews:abc", proxy_, *push_).has_value());
  // A short name is resolved in the proxy's namespace: not found from "other".
  model::Proxy other = proxy_;
  other.ns = "other";
  EXPECT_FALSE(grpcgen::BuildGrpcListener("reviews:9080", other, *push_).has_value());
}

TEST_F(GrpcGenTest, AllListenerNames) {
  EXPECT_THAT(grpcgen::AllGrpcListenerNames(*push_),
              UnorderedElementsAre(kTarget, "ratings.default.svc.cluster.local:9080"));
}

// --- RouteConfiguration ---

TEST_F(GrpcGenTest, RouteConfigurationHasDomainAliases) {
  auto rc = Routes();
  EXPECT_EQ(rc.name(), kRoute);
  ASSERT_EQ(rc.virtual_hosts_size(), 1);
  EXPECT_THAT(rc.virtual_hosts(0).domains(),
              IsSupersetOf({kFqdn, kTarget, "reviews", "reviews:9080", "reviews.default", "reviews.default:9080",
                            "reviews.default.svc", "reviews.default.svc:9080", "10.96.0.10", "10.96.0.10:9080"}));
}

TEST_F(GrpcGenTest, RouteConfigurationOnlyForCanonicalName) {
  EXPECT_FALSE(grpcgen::BuildGrpcRouteConfiguration("reviews:9080", proxy_, *push_).has_value());
  EXPECT_FALSE(grpcgen::BuildGrpcRouteConfiguration(kTarget, proxy_, *push_).has_value());  // Keel's old name
  EXPECT_FALSE(grpcgen::BuildGrpcRouteConfiguration("outbound|9080|v1|reviews.default.svc.cluster.local", proxy_,
                                                    *push_)
                   .has_value());
  EXPECT_FALSE(
      grpcgen::BuildGrpcRouteConfiguration("outbound|9080||nope.default.svc.cluster.local", proxy_, *push_).has_value());
}

TEST_F(GrpcGenTest, RoutesFollowVirtualServiceOrder) {
  auto rc = Routes();
  std::vector<std::string> names;
  for (const auto& r : rc.virtual_hosts(0).routes()) names.push_back(r.name());
  EXPECT_THAT(names, ElementsAre("jason", "aborted", "split"));
}

TEST_F(GrpcGenTest, WeightedClusters) {
  auto rc = Routes();
  const auto* split = RouteNamed(rc, "split");
  ASSERT_NE(split, nullptr);
  EXPECT_EQ(split->match().prefix(), "/");
  ASSERT_TRUE(split->route().has_weighted_clusters());
  const auto& wc = split->route().weighted_clusters();
  ASSERT_EQ(wc.clusters_size(), 2);
  EXPECT_EQ(wc.clusters(0).name(), kV1);
  EXPECT_EQ(wc.clusters(0).weight().value(), 50u);
  EXPECT_EQ(wc.clusters(1).name(), kV3);
  EXPECT_EQ(wc.clusters(1).weight().value(), 50u);
}

TEST_F(GrpcGenTest, TimeoutForProxylessIsMaxStreamDuration) {
  auto rc = Routes();
  const auto* split = RouteNamed(rc, "split");
  ASSERT_NE(split, nullptr);
  ASSERT_TRUE(split->route().has_max_stream_duration());
  EXPECT_EQ(split->route().max_stream_duration().max_stream_duration(), TimeUtil::MillisecondsToDuration(2500));
  EXPECT_EQ(split->route().timeout(), TimeUtil::MillisecondsToDuration(2500));  // istiod sets both
  EXPECT_FALSE(split->route().has_max_grpc_timeout());
}

TEST_F(GrpcGenTest, TimeoutForEnvoyIsRouteTimeout) {
  model::Proxy envoy_proxy = proxy_;
  envoy_proxy.proxyless_grpc = false;
  auto rc = grpcgen::BuildGrpcRouteConfiguration(kRoute, envoy_proxy, *push_);
  ASSERT_TRUE(rc.has_value());
  const auto* split = RouteNamed(*rc, "split");
  ASSERT_NE(split, nullptr);
  EXPECT_EQ(split->route().timeout(), TimeUtil::MillisecondsToDuration(2500));
  EXPECT_FALSE(split->route().has_max_stream_duration());
}

TEST_F(GrpcGenTest, HeaderMatchAndSingleCluster) {
  auto rc = Routes();
  const auto* jason = RouteNamed(rc, "jason");
  ASSERT_NE(jason, nullptr);
  EXPECT_EQ(jason->route().cluster(), kV2);
  ASSERT_EQ(jason->match().headers_size(), 1);
  const auto& h = jason->match().headers(0);
  EXPECT_EQ(h.name(), "end-user");
  EXPECT_EQ(h.string_match().exact(), "jason");
  EXPECT_FALSE(h.invert_match());
}

TEST_F(GrpcGenTest, FaultDelay) {
  auto rc = Routes();
  const auto* jason = RouteNamed(rc, "jason");
  ASSERT_NE(jason, nullptr);
  auto it = jason->typed_per_filter_config().find("envoy.filters.http.fault");
  ASSERT_NE(it, jason->typed_per_filter_config().end());
  HTTPFault fault;
  ASSERT_TRUE(it->second.UnpackTo(&fault));
  EXPECT_EQ(fault.delay().fixed_delay(), TimeUtil::SecondsToDuration(7));
  EXPECT_EQ(fault.delay().percentage().numerator(), 1000000u);
  EXPECT_EQ(fault.delay().percentage().denominator(), envoy::type::v3::FractionalPercent::MILLION);
  EXPECT_FALSE(fault.has_abort());
}

TEST_F(GrpcGenTest, FaultAbort) {
  auto rc = Routes();
  const auto* aborted = RouteNamed(rc, "aborted");
  ASSERT_NE(aborted, nullptr);
  HTTPFault fault;
  ASSERT_TRUE(aborted->typed_per_filter_config().at(kFaultFilter).UnpackTo(&fault));
  EXPECT_EQ(fault.abort().http_status(), 500u);
  EXPECT_EQ(fault.abort().percentage().numerator(), 500000u);
  EXPECT_EQ(fault.abort().percentage().denominator(), envoy::type::v3::FractionalPercent::MILLION);
  EXPECT_FALSE(fault.has_delay());
  // Routes without a fault carry no fault config.
  const auto* split = RouteNamed(rc, "split");
  ASSERT_NE(split, nullptr);
  EXPECT_EQ(split->typed_per_filter_config().count(kFaultFilter), 0u);
}

TEST_F(GrpcGenTest, DefaultRouteWithoutVirtualService) {
  auto rc = grpcgen::BuildGrpcRouteConfiguration("outbound|9080||ratings.default.svc.cluster.local", proxy_, *push_);
  ASSERT_TRUE(rc.has_value());
  ASSERT_EQ(rc->virtual_hosts(0).routes_size(), 1);
  const auto& r = rc->virtual_hosts(0).routes(0);
  EXPECT_EQ(r.match().prefix(), "/");
  EXPECT_EQ(r.route().cluster(), "outbound|9080||ratings.default.svc.cluster.local");
  // istiod's default route: no timeout (0), the mesh's default retries.
  EXPECT_EQ(r.route().timeout(), TimeUtil::SecondsToDuration(0));
  EXPECT_EQ(r.route().retry_policy().num_retries().value(), 2u);
}

// --- Clusters ---

TEST_F(GrpcGenTest, SubsetClusterIsEdsOverAds) {
  auto c = Cluster(kV1);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->name(), kV1);
  EXPECT_EQ(c->type(), cluster::Cluster::EDS);
  EXPECT_TRUE(c->eds_cluster_config().eds_config().has_ads());
  EXPECT_EQ(c->eds_cluster_config().service_name(), kV1);
}

TEST_F(GrpcGenTest, TopLevelLoadBalancerAppliesToSubsetCluster) {
  auto v1 = Cluster(kV1);
  ASSERT_TRUE(v1.has_value());
  EXPECT_EQ(v1->lb_policy(), cluster::Cluster::RANDOM);
  auto all = Cluster("outbound|9080||reviews.default.svc.cluster.local");
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->lb_policy(), cluster::Cluster::RANDOM);
}

TEST_F(GrpcGenTest, SubsetConsistentHashIsRingHash) {
  auto v3 = Cluster(kV3);
  ASSERT_TRUE(v3.has_value());
  EXPECT_EQ(v3->lb_policy(), cluster::Cluster::RING_HASH);
}

TEST_F(GrpcGenTest, RoundRobinWithoutDestinationRule) {
  auto c = Cluster("outbound|9080||ratings.default.svc.cluster.local");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->type(), cluster::Cluster::EDS);
  EXPECT_EQ(c->lb_policy(), cluster::Cluster::ROUND_ROBIN);
}

TEST_F(GrpcGenTest, PortLevelLoadBalancerOverridesTopLevel) {
  push_ = BuildPush(kMesh + R"(
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    portLevelSettings:
    - port: {number: 9080}
      loadBalancer: {simple: LEAST_REQUEST}
    - port: {number: 1234}
      loadBalancer: {simple: PASSTHROUGH}
)");
  auto c = Cluster("outbound|9080||reviews.default.svc.cluster.local");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->lb_policy(), cluster::Cluster::LEAST_REQUEST);
}

// Istio (GetPortLevelTrafficPolicy; DestinationRule docs): "Traffic settings
// specified at the destination-level will not be inherited when overridden by
// port-level settings, i.e. default values will be applied to fields omitted in
// port-level traffic policies."
TEST_F(GrpcGenTest, PortLevelSettingsDoNotInheritDestinationLevelFields) {
  push_ = BuildPush(kMesh + R"(
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    portLevelSettings:
    - port: {number: 9080}
      connectionPool:
        http: {http2MaxRequests: 10}
)");
  auto c = Cluster("outbound|9080||reviews.default.svc.cluster.local");
  ASSERT_TRUE(c.has_value());
  ASSERT_EQ(c->circuit_breakers().thresholds_size(), 1);
  EXPECT_EQ(c->circuit_breakers().thresholds(0).max_requests().value(), 10u);
  EXPECT_NE(c->lb_policy(), cluster::Cluster::RANDOM)
      << "the destination-level loadBalancer must not apply to a port with its own settings";
}

// Istio's applyOutlierDetection: a detector is enforced only when its count is
// above 0, and success-rate ejection is off (gRPC clients fail on it without data).
TEST_F(GrpcGenTest, OutlierDetectionEnforcesOnlyConfiguredDetectors) {
  push_ = BuildPush(kMesh + R"(
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 7
      consecutiveGatewayErrors: 0
      interval: 5m
      baseEjectionTime: 15m
)");
  auto c = Cluster("outbound|9080||reviews.default.svc.cluster.local");
  ASSERT_TRUE(c.has_value());
  const auto& od = c->outlier_detection();
  EXPECT_EQ(od.consecutive_5xx().value(), 7u);
  EXPECT_EQ(od.enforcing_consecutive_5xx().value(), 100u);
  ASSERT_TRUE(od.has_enforcing_consecutive_gateway_failure());
  EXPECT_EQ(od.enforcing_consecutive_gateway_failure().value(), 0u);
  ASSERT_TRUE(od.has_enforcing_success_rate());
  EXPECT_EQ(od.enforcing_success_rate().value(), 0u);
  EXPECT_EQ(od.interval().seconds(), 300);
  EXPECT_EQ(od.base_ejection_time().seconds(), 900);
}

TEST_F(GrpcGenTest, UnknownSubsetHostOrPortHasNoCluster) {
  EXPECT_FALSE(Cluster("outbound|9080|v9|reviews.default.svc.cluster.local").has_value());
  EXPECT_FALSE(Cluster("outbound|9080||nope.default.svc.cluster.local").has_value());
  EXPECT_FALSE(Cluster("outbound|9081||reviews.default.svc.cluster.local").has_value());
}

TEST_F(GrpcGenTest, AllClusterNamesIncludeSubsets) {
  auto names = AllOutboundClusterNames(proxy_, *push_);
  EXPECT_THAT(names, UnorderedElementsAre("outbound|9080||ratings.default.svc.cluster.local",
                                          "outbound|9080||reviews.default.svc.cluster.local", kV1, kV2, kV3));
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

// --- Endpoints ---

TEST_F(GrpcGenTest, SubsetLoadAssignmentHasOnlyItsPods) {
  ClusterName name;
  ASSERT_TRUE(ClusterName::Parse(kV1, &name));
  auto cla = BuildLoadAssignment(name, proxy_, *push_);
  ASSERT_TRUE(cla.has_value());
  EXPECT_EQ(cla->cluster_name(), kV1);
  ASSERT_EQ(cla->endpoints_size(), 1);
  const auto& group = cla->endpoints(0);
  EXPECT_EQ(group.locality().region(), "us-east1");
  EXPECT_EQ(group.locality().zone(), "us-east1-b");
  EXPECT_GT(group.load_balancing_weight().value(), 0u);
  ASSERT_EQ(group.lb_endpoints_size(), 1);
  const auto& socket = group.lb_endpoints(0).endpoint().address().socket_address();
  EXPECT_EQ(socket.address(), "10.0.0.1");
  EXPECT_EQ(socket.port_value(), 9080u);
}

TEST_F(GrpcGenTest, LoadAssignmentGroupsByLocality) {
  ClusterName name;
  ASSERT_TRUE(ClusterName::Parse("outbound|9080||reviews.default.svc.cluster.local", &name));
  auto cla = BuildLoadAssignment(name, proxy_, *push_);
  ASSERT_TRUE(cla.has_value());
  std::map<std::string, std::vector<std::string>> by_zone;
  for (const auto& group : cla->endpoints()) {
    EXPECT_EQ(group.load_balancing_weight().value(), static_cast<uint32_t>(group.lb_endpoints_size()));
    for (const auto& ep : group.lb_endpoints()) {
      by_zone[group.locality().zone()].push_back(ep.endpoint().address().socket_address().address());
    }
  }
  EXPECT_THAT(by_zone["us-east1-b"], ElementsAre("10.0.0.1"));
  EXPECT_THAT(by_zone["us-east1-c"], UnorderedElementsAre("10.0.0.2", "10.0.0.3"));
}

TEST_F(GrpcGenTest, UnknownSubsetHasNoLoadAssignment) {
  ClusterName name;
  ASSERT_TRUE(ClusterName::Parse("outbound|9080|v9|reviews.default.svc.cluster.local", &name));
  EXPECT_FALSE(BuildLoadAssignment(name, proxy_, *push_).has_value());
}

TEST(ClusterNameTest, RoundTrip) {
  ClusterName name;
  ASSERT_TRUE(ClusterName::Parse(kV1, &name));
  EXPECT_EQ(name.direction, "outbound");
  EXPECT_EQ(name.port, 9080);
  EXPECT_EQ(name.subset, "v1");
  EXPECT_EQ(name.host, kFqdn);
  EXPECT_EQ(name.ToString(), kV1);
  EXPECT_EQ(OutboundClusterName(9080, "v1", kFqdn), kV1);
  EXPECT_FALSE(ClusterName::Parse("outbound|x|v1|h", &name));
  EXPECT_FALSE(ClusterName::Parse("outbound|9080|v1", &name));
  EXPECT_FALSE(ClusterName::Parse("sideways|9080|v1|h", &name));
  EXPECT_FALSE(ClusterName::Parse("outbound|9080|v1|", &name));
}

}  // namespace
}  // namespace keel::pilot::networking
