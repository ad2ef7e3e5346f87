// The /debug handlers called directly (they are plain functions of the request),
// over an AdsServer with a PushContext built from YAML; syncz/adsz/connections and
// the xDS metrics with a live ADS stream on an in-process gRPC server, driven step by
// step (send, ACK, NACK) so each state is checked deterministically. The real xDS
// clients' view is test/e2e/debug_test.py.
#include "pilot/debug/handlers.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"

#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "pilot/xds/monitoring.h"
#include "pilot/xds/resource_types.h"
#include "pkg/metrics/process_collector.h"
#include "pkg/metrics/registry.h"
#include "test/pilot/testing/configs.h"

namespace keel::pilot::debug {
namespace {

using namespace std::chrono_literals;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;
using google::protobuf::Value;
using ::keel::pilot::testing::BuildPush;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kReviewsCluster[] = "outbound|9080||reviews.default.svc.cluster.local";

const char kMesh[] = R"(
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default, labels: {app: reviews}, creationTimestamp: "2024-01-02T03:04:05Z"}
spec:
  clusterIP: 10.96.0.10
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: default}
spec:
  clusterIP: None
  selector: {app: ratings}
  ports: [{name: grpc, port: 9080}]
---
apiVersion: v1
kind: Service
metadata: {name: details, namespace: default}
spec:
  clusterIP: 10.96.0.12
  selector: {app: details}
  ports: [{name: http, port: 9080}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin, namespace: default}
spec:
  hosts: [httpbin.org]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 443, name: https, protocol: TLS}]
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1-0, namespace: default, labels: {app: reviews, version: v1}}
spec: {serviceAccountName: bookinfo-reviews, containers: [{name: reviews, ports: [{name: http, containerPort: 9080}]}]}
status: {phase: Running, podIP: 10.0.0.1, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v2-0, namespace: default, labels: {app: reviews, version: v2}}
spec: {serviceAccountName: bookinfo-reviews, containers: [{name: reviews, ports: [{name: http, containerPort: 9080}]}]}
status: {phase: Running, podIP: 10.0.0.2, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-too, namespace: default, creationTimestamp: "2024-06-01T00:00:00Z"}
spec:
  hosts: [reviews.default.svc.cluster.local]
  http: [{route: [{destination: {host: reviews}}]}]
)";

Value Json(const http::HttpResponse& response) {
  Value v;
  auto st = google::protobuf::util::JsonStringToMessage(response.body, &v);
  EXPECT_TRUE(st.ok()) << st << "\n" << response.body;
  return v;
}

const Value& At(const Value& v, const std::string& key) {
  static const Value kNull;
  auto it = v.struct_value().fields().find(key);
  return it == v.struct_value().fields().end() ? kNull : it->second;
}
const Value& At(const Value& v, int i) { return v.list_value().values(i); }
bool Has(const Value& v, const std::string& key) { return v.struct_value().fields().count(key) > 0; }

http::HttpRequest Get(const std::string& path, std::map<std::string, std::string> query = {}) {
  http::HttpRequest r;
  r.method = "GET";
  r.path = path;
  r.query = std::move(query);
  r.remote_address = "127.0.0.1";
  return r;
}

double CounterValue(const std::string& name, const metrics::Labels& labels) {
  return metrics::DefaultRegistry().GetCounter(name, "", labels).value();
}
double GaugeValue(const std::string& name, const metrics::Labels& labels) {
  return metrics::DefaultRegistry().GetGauge(name, "", labels).value();
}
metrics::Histogram::Snapshot HistogramValue(const std::string& name, const metrics::Labels& labels = {}) {
  return metrics::DefaultRegistry().GetHistogram(name, "", {}, labels).snapshot();
}

// Polls `predicate` (the server handles stream messages on its own threads).
template <typename Fn>
bool Eventually(Fn predicate) {
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
    if (predicate()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return predicate();
}

xds::PushRequest Request(bool forced = false, std::chrono::steady_clock::duration age = 0s) {
  xds::PushRequest r;
  r.forced = forced;
  r.reasons["test"] = 1;
  r.start = std::chrono::steady_clock::now() - age;
  return r;
}

class DebugHandlersTest : public ::testing::Test {
 protected:
  DebugHandlersTest()
      : ads_(xds::MakeGenerators(nullptr, [](const model::ProxyIdentity&) { return absl::OkStatus(); })) { xds::monitoring::RegisterMetrics(); }
  ~DebugHandlersTest() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 2s);
  }

  void PushMesh(const std::string& yaml = kMesh, bool forced = false, std::chrono::steady_clock::duration age = 0s,
                const model::MeshOptions& mesh = {}) {
    ads_.Push(model::PushContext::Build(::keel::pilot::testing::SnapshotOf(yaml), mesh, ++version_),
              Request(forced, age));
  }

  // An in-process ADS server and one stream to it, as node `node_id`.
  void Connect(const std::string& node_id, const std::string& istio_version) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&ads_);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_ && port_ > 0);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials());
    stub_ = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(channel_);
    context_.set_deadline(std::chrono::system_clock::now() + 30s);
    stream_ = stub_->StreamAggregatedResources(&context_);
    node_id_ = node_id;
    istio_version_ = istio_version;
  }

  void Send(const std::string& type, const std::vector<std::string>& names, const std::string& nonce = "",
            std::optional<int> nack_code = std::nullopt) {
    DiscoveryRequest request;
    if (first_) {
      auto* node = request.mutable_node();
      node->set_id(node_id_);
      auto& md = *node->mutable_metadata()->mutable_fields();
      if (proxyless_) md["GENERATOR"].set_string_value("grpc");
      md["NAMESPACE"].set_string_value("default");
      md["ISTIO_VERSION"].set_string_value(istio_version_);
      md["CLUSTER_ID"].set_string_value("Kubernetes");
      (*md["LABELS"].mutable_struct_value()->mutable_fields())["app"].set_string_value("client");
      first_ = false;
    }
    request.set_type_url(type);
    for (const auto& n : names) request.add_resource_names(n);
    request.set_response_nonce(nonce);
    if (nack_code) {
      request.mutable_error_detail()->set_code(*nack_code);
      request.mutable_error_detail()->set_message("rejected by the test");
    }
    ASSERT_TRUE(stream_->Write(request));
  }

  DiscoveryResponse Read() {
    DiscoveryResponse response;
    EXPECT_TRUE(stream_->Read(&response)) << "stream ended";
    return response;
  }

  Value Syncz() {
    auto v = Json(MakeSynczHandler(ads_)(Get("/debug/syncz")));
    EXPECT_EQ(v.list_value().values_size(), 1);
    return v.list_value().values_size() ? v.list_value().values(0) : Value();
  }

  xds::AdsServer ads_;
  uint64_t version_ = 0;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<envoy::service::discovery::v3::AggregatedDiscoveryService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<DiscoveryRequest, DiscoveryResponse>> stream_;
  std::string node_id_, istio_version_;
  bool first_ = true;
  bool proxyless_ = true;  // GENERATOR=grpc (no SDS); false: an Envoy
};

TEST_F(DebugHandlersTest, RegistryzRendersServicesAsIstiodModelsThem) {
  EXPECT_EQ(MakeRegistryzHandler(ads_)(Get("/debug/registryz")).body, "[]\n") << "no push yet: no services";
  PushMesh();
  Value all = Json(MakeRegistryzHandler(ads_)(Get("/debug/registryz")));
  std::map<std::string, Value> by_host;
  for (const auto& s : all.list_value().values()) by_host[At(s, "hostname").string_value()] = s;
  ASSERT_EQ(by_host.size(), 4u);

  const Value& reviews = by_host["reviews.default.svc.cluster.local"];
  EXPECT_EQ(At(At(reviews, "Attributes"), "ServiceRegistry").string_value(), "Kubernetes");
  EXPECT_EQ(At(At(reviews, "Attributes"), "Name").string_value(), "reviews");
  EXPECT_EQ(At(At(reviews, "Attributes"), "Namespace").string_value(), "default");
  EXPECT_EQ(At(At(At(reviews, "Attributes"), "LabelSelectors"), "app").string_value(), "reviews");
  EXPECT_EQ(At(At(At(reviews, "Attributes"), "Labels"), "app").string_value(), "reviews");
  EXPECT_EQ(At(At(reviews, "Attributes"), "Type").string_value(), "ClusterIP");
  const Value& port = At(At(reviews, "ports"), 0);
  EXPECT_EQ(At(port, "name").string_value(), "http");
  EXPECT_EQ(At(port, "port").number_value(), 9080);
  EXPECT_EQ(At(port, "protocol").string_value(), "HTTP");
  EXPECT_EQ(At(At(At(At(reviews, "clusterVIPs"), "Addresses"), "Kubernetes"), 0).string_value(), "10.96.0.10");
  EXPECT_EQ(At(reviews, "defaultAddress").string_value(), "10.96.0.10");
  EXPECT_EQ(At(reviews, "creationTime").string_value(), "2024-01-02T03:04:05Z");
  EXPECT_EQ(At(reviews, "Resolution").number_value(), 0);  // ClientSideLB
  EXPECT_FALSE(At(reviews, "MeshExternal").bool_value());

  const Value& ratings = by_host["ratings.default.svc.cluster.local"];  // headless
  EXPECT_EQ(At(ratings, "Resolution").number_value(), 2);               // Passthrough
  EXPECT_EQ(At(ratings, "defaultAddress").string_value(), "0.0.0.0");

  const Value& httpbin = by_host["httpbin.org"];
  EXPECT_EQ(At(At(httpbin, "Attributes"), "ServiceRegistry").string_value(), "External");
  EXPECT_EQ(At(httpbin, "Resolution").number_value(), 1);  // DNSLB
  EXPECT_TRUE(At(httpbin, "MeshExternal").bool_value());
}

TEST_F(DebugHandlersTest, EndpointzListsInstancesPerServicePort) {
  model::MeshOptions mesh;  // the SPIFFE ids are in the push's mesh trust domain
  mesh.config = std::make_shared<const model::MeshConfig>(model::DefaultMeshConfig("istio-system", "example.org"));
  PushMesh(kMesh, false, 0s, mesh);
  auto handler = MakeEndpointzHandler(ads_);
  Value all = Json(handler(Get("/debug/endpointz")));
  std::map<std::string, Value> by_svc;
  for (const auto& e : all.list_value().values()) by_svc[At(e, "svc").string_value()] = At(e, "ep");
  ASSERT_TRUE(by_svc.count("reviews.default.svc.cluster.local:http"));
  EXPECT_TRUE(by_svc.count("httpbin.org:https"));
  EXPECT_EQ(by_svc["details.default.svc.cluster.local:http"].list_value().values_size(), 0);

  const Value& eps = by_svc["reviews.default.svc.cluster.local:http"];
  ASSERT_EQ(eps.list_value().values_size(), 2);
  std::map<std::string, Value> by_address;
  for (const auto& i : eps.list_value().values()) by_address[At(At(i, "endpoint"), "Address").string_value()] = i;
  ASSERT_TRUE(by_address.count("10.0.0.2"));
  const Value& v2 = by_address["10.0.0.2"];
  const Value& ep = At(v2, "endpoint");
  EXPECT_EQ(At(At(ep, "Labels"), "version").string_value(), "v2");
  EXPECT_EQ(At(ep, "EndpointPort").number_value(), 9080);
  EXPECT_EQ(At(ep, "ServicePortName").string_value(), "http");
  EXPECT_EQ(At(ep, "ServiceAccount").string_value(), "spiffe://example.org/ns/default/sa/bookinfo-reviews");
  EXPECT_EQ(At(ep, "Namespace").string_value(), "default");
  EXPECT_EQ(At(ep, "WorkloadName").string_value(), "reviews-v2-0");
  EXPECT_EQ(At(ep, "HealthStatus").number_value(), 1);
  EXPECT_EQ(At(At(ep, "Locality"), "ClusterID").string_value(), "Kubernetes");
  EXPECT_EQ(At(At(v2, "servicePort"), "port").number_value(), 9080);
  EXPECT_EQ(At(At(v2, "service"), "hostname").string_value(), "reviews.default.svc.cluster.local");

  http::HttpResponse brief = handler(Get("/debug/endpointz", {{"brief", ""}}));
  EXPECT_EQ(brief.content_type, "text/plain");
  EXPECT_THAT(brief.body, HasSubstr("reviews.default.svc.cluster.local:http 10.0.0.2:9080 map[app:reviews "
                                    "version:v2] spiffe://example.org/ns/default/sa/bookinfo-reviews\n"));
}

TEST_F(DebugHandlersTest, PushStatusCountsAndReportsProblems) {
  std::vector<std::string> errors;
  model::ConfigStore store;
  auto handler = MakePushStatusHandler(ads_, store, [&] { return errors; });
  EXPECT_EQ(handler(Get("/debug/push_status")).body, "{}\n") << "istiod answers {} before the first push";

  PushMesh();
  Value status = Json(handler(Get("/debug/push_status")));
  EXPECT_EQ(At(status, "pushVersion").string_value(), "1");
  const Value& counts = At(status, "counts");
  EXPECT_EQ(At(counts, "services").number_value(), 4);
  EXPECT_EQ(At(counts, "endpoints").number_value(), 3);  // two reviews pods, httpbin.org (DNS) itself
  EXPECT_EQ(At(counts, "virtualServices").number_value(), 2);
  EXPECT_EQ(At(counts, "serviceEntries").number_value(), 1);
  EXPECT_EQ(At(counts, "connectedProxies").number_value(), 0);

  // details has no pods: its EDS cluster has no instances (headless and DNS services have no EDS).
  const Value& no_instances = At(status, "pilot_eds_no_instances");
  EXPECT_TRUE(Has(no_instances, "outbound|9080||details.default.svc.cluster.local"));
  EXPECT_FALSE(Has(no_instances, kReviewsCluster));
  EXPECT_FALSE(Has(no_instances, "outbound|9080||ratings.default.svc.cluster.local"));
  EXPECT_FALSE(Has(no_instances, "outbound|443||httpbin.org"));

  // Two mesh VirtualServices for the same host: the older one wins.
  const Value& dup = At(At(status, "pilot_vservice_dup_domain"), "reviews.default.svc.cluster.local");
  EXPECT_EQ(At(dup, "message").string_value(),
            "duplicate domain from virtual services: default/reviews, default/reviews-too (default/reviews wins "
            "where all are visible)");
  EXPECT_FALSE(Has(status, "keel_invalid_config"));

  errors = {"routes.yaml#1 (line 14): VirtualService default/x: spec.http[0].route: total destination weight = 0"};
  status = Json(handler(Get("/debug/push_status")));
  EXPECT_EQ(At(At(At(status, "keel_invalid_config"), "routes.yaml#1 (line 14)"), "message").string_value(),
            "VirtualService default/x: spec.http[0].route: total destination weight = 0");
  EXPECT_FALSE(Has(status, "keel_kube_skipped_objects"));

  // Objects the Kubernetes source skipped are listed by kind, namespace and name.
  errors = {"kube://VirtualService default/deep: nested 111 levels deep, more than the limit of 32 (resourceVersion 7)",
            "kube://Namespace bad: not valid JSON: x"};
  status = Json(handler(Get("/debug/push_status")));
  const Value& skipped = At(status, "keel_kube_skipped_objects");
  EXPECT_EQ(At(At(skipped, "VirtualService default/deep"), "message").string_value(),
            "nested 111 levels deep, more than the limit of 32 (resourceVersion 7)");
  EXPECT_EQ(At(At(skipped, "Namespace bad"), "message").string_value(), "not valid JSON: x");
  EXPECT_FALSE(Has(status, "keel_invalid_config"));
}

TEST_F(DebugHandlersTest, PushStatusNamesWhatKeelDoesNotTranslate) {
  model::ConfigStore store;
  auto handler = MakePushStatusHandler(ads_, store, [] { return std::vector<std::string>{}; });
  PushMesh();
  store.Apply(::keel::pilot::testing::Upserts(::keel::pilot::testing::ParseAll(kMesh)));
  EXPECT_FALSE(Has(Json(handler(Get("/debug/push_status"))), "keel_unsupported_config"))
      << "the mesh uses translated fields only";

  // Read from the store, not the push: objects of untranslated kinds push nothing.
  store.Apply(::keel::pilot::testing::Upserts(::keel::pilot::testing::ParseAll(R"(
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: default}
spec: {tracing: [{randomSamplingPercentage: 10}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mirrored, namespace: default}
spec:
  hosts: [ratings]
  http:
  - match: [{name: all}]
    route: [{destination: {host: ratings}}]
    mirror: {host: ratings-shadow}
    retries: {attempts: 3, retryRemoteLocalities: true}
)")));
  const Value status = Json(handler(Get("/debug/push_status")));
  const Value& unsupported = At(status, "keel_unsupported_config");
  EXPECT_EQ(At(At(unsupported, "Telemetry default/mesh-default"), "message").string_value(),
            "Telemetry is not translated by Keel: stored and listed, no xDS built from it");
  EXPECT_EQ(At(At(unsupported, "VirtualService default/mirrored"), "message").string_value(),
            "spec fields Keel does not translate (ignored): http.match.name, http.retries.retryRemoteLocalities");
  EXPECT_FALSE(Has(unsupported, "VirtualService default/reviews"));
}

TEST_F(DebugHandlersTest, ErrorsAndPushTriggerAsIstiod) {
  PushMesh();
  auto dump = MakeConfigDumpHandler(ads_);
  http::HttpResponse r = dump(Get("/debug/config_dump"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "You must provide a proxyID in the query string\n");
  EXPECT_EQ(dump(Get("/debug/config_dump", {{"proxyID", "nope"}})).status, 404);

  int pushes = 0;
  auto adsz = MakeAdszHandler(ads_, [&] { ++pushes; });
  r = adsz(Get("/debug/adsz", {{"proxyID", "nope"}}));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "Proxy not connected to this Pilot instance. It may be connected to another instance.\n");
  r = adsz(Get("/debug/adsz", {{"push", "true"}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Pushed to 0 servers\n");
  EXPECT_EQ(pushes, 1);
  Value none = Json(adsz(Get("/debug/adsz")));
  EXPECT_EQ(At(none, "totalClients").number_value(), 0);
  EXPECT_FALSE(Has(none, "clients")) << "omitted when empty, as istiod's omitempty";

  Value list = Json(MakeListHandler({"/debug/syncz", "/debug/adsz", "/debug/list"})(Get("/debug/list")));
  ASSERT_EQ(list.list_value().values_size(), 2);
  EXPECT_EQ(At(list, 0).string_value(), "adsz");
  EXPECT_EQ(At(list, 1).string_value(), "syncz");
}

TEST_F(DebugHandlersTest, SynczAdszAndMetricsFollowALiveStream) {
  const std::string node = "sidecar~10.0.0.9~client-0.default~default.svc.cluster.local";
  const metrics::Labels version{{"version", "9.9.9-syncz"}};
  PushMesh();
  Connect(node, "9.9.9-syncz");
  const double cds_pushes = CounterValue("pilot_xds_pushes", {{"type", "cds"}});
  const uint64_t cds_sizes = HistogramValue("pilot_xds_config_size_bytes", {{"type", xds::kClusterType}}).count;

  // Sent, never acknowledged.
  Send(xds::kClusterType, {kReviewsCluster});
  DiscoveryResponse first = Read();
  ASSERT_EQ(first.resources_size(), 1);
  ASSERT_TRUE(Eventually([&] { return GaugeValue("pilot_xds", version) == 1; }));
  Value s = Syncz();
  EXPECT_EQ(At(s, "proxy").string_value(), node);
  EXPECT_EQ(At(s, "proxy_type").string_value(), "sidecar");
  EXPECT_EQ(At(s, "cluster_id").string_value(), "Kubernetes");
  EXPECT_EQ(At(s, "istio_version").string_value(), "9.9.9-syncz");
  EXPECT_EQ(At(s, "cluster_sent").string_value(), first.nonce());
  EXPECT_FALSE(Has(s, "cluster_acked")) << "empty fields are omitted";
  EXPECT_EQ(At(s, "cluster_status").string_value(), "STALE (Never Acknowledged)");
  EXPECT_FALSE(Has(s, "listener_sent"));
  EXPECT_EQ(At(s, "listener_status").string_value(), "NOT SENT");
  EXPECT_EQ(CounterValue("pilot_xds_pushes", {{"type", "cds"}}), cds_pushes + 1);
  EXPECT_EQ(HistogramValue("pilot_xds_config_size_bytes", {{"type", xds::kClusterType}}).count, cds_sizes + 1);

  // ACK.
  Send(xds::kClusterType, {kReviewsCluster}, first.nonce());
  ASSERT_TRUE(Eventually([&] { return At(Syncz(), "cluster_status").string_value() == "SYNCED"; }));
  EXPECT_EQ(At(Syncz(), "cluster_acked").string_value(), first.nonce());

  // adsz and connections.
  Value adsz = Json(MakeAdszHandler(ads_, [] {})(Get("/debug/adsz", {{"proxyID", node}})));
  EXPECT_EQ(At(adsz, "totalClients").number_value(), 1);
  const Value& client = At(At(adsz, "clients"), 0);
  EXPECT_EQ(At(At(client, "labels"), "app").string_value(), "client");
  EXPECT_EQ(At(At(client, "metadata"), "ISTIO_VERSION").string_value(), "9.9.9-syncz");
  EXPECT_EQ(At(At(At(client, "watches"), xds::kClusterType), 0).string_value(), kReviewsCluster);
  EXPECT_FALSE(At(client, "connectedAt").string_value().empty());
  Value connections = Json(MakeConnectionsHandler(ads_)(Get("/debug/connections")));
  EXPECT_EQ(At(connections, "totalClients").number_value(), 1);
  EXPECT_EQ(At(At(At(connections, "clients"), 0), "proxyID").string_value(), node);

  // A forced push whose change happened 2 s ago: convergence is measured to the ACK.
  const auto convergence = HistogramValue("pilot_proxy_convergence_time");
  PushMesh(kMesh, /*forced=*/true, /*age=*/2s);
  DiscoveryResponse second = Read();
  EXPECT_NE(second.nonce(), first.nonce());
  EXPECT_EQ(HistogramValue("pilot_proxy_convergence_time").count, convergence.count) << "not before the ACK";
  Send(xds::kClusterType, {kReviewsCluster}, second.nonce());
  ASSERT_TRUE(Eventually([&] { return HistogramValue("pilot_proxy_convergence_time").count == convergence.count + 1; }));
  EXPECT_GE(HistogramValue("pilot_proxy_convergence_time").sum - convergence.sum, 2.0);

  // An unchanged, unforced push sends nothing.
  PushMesh();
  EXPECT_EQ(At(Syncz(), "cluster_sent").string_value(), second.nonce());

  // A NACK: a reject, STALE, and no convergence observation.
  const double rejects = CounterValue("pilot_total_xds_rejects", {{"type", "cds"}});
  const double invalid_argument_rejects = GaugeValue("pilot_xds_cds_reject", {{"err", "InvalidArgument"}});
  PushMesh(kMesh, /*forced=*/true);
  DiscoveryResponse third = Read();
  Send(xds::kClusterType, {kReviewsCluster}, third.nonce(), /*nack_code=*/3);
  ASSERT_TRUE(Eventually([&] { return CounterValue("pilot_total_xds_rejects", {{"type", "cds"}}) == rejects + 1; }));
  EXPECT_EQ(GaugeValue("pilot_xds_cds_reject", {{"err", "InvalidArgument"}}), invalid_argument_rejects + 1);
  s = Syncz();
  EXPECT_EQ(At(s, "cluster_status").string_value(), "STALE");
  EXPECT_EQ(At(s, "cluster_acked").string_value(), second.nonce());
  EXPECT_EQ(HistogramValue("pilot_proxy_convergence_time").count, convergence.count + 1);

  // A response nonce that is not the last one sent.
  const double expired = CounterValue("pilot_xds_expired_nonce", {{"type", "cds"}});
  Send(xds::kClusterType, {kReviewsCluster}, first.nonce());
  ASSERT_TRUE(Eventually([&] { return CounterValue("pilot_xds_expired_nonce", {{"type", "cds"}}) == expired + 1; }));

  // The stream ends: the client is no longer counted.
  stream_->WritesDone();
  grpc::Status status = stream_->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(Eventually([&] { return GaugeValue("pilot_xds", version) == 0; }));
  EXPECT_TRUE(Eventually([&] { return Json(MakeSynczHandler(ads_)(Get("/debug/syncz"))).list_value().values_size() == 0; }));
}

// Key material as it would show in JSON: a PEM marker in a string, or in a
// string that is base64 (Secret data, DataSource inline_bytes). `markers`: what
// counts ("-----BEGIN" for any PEM, "PRIVATE KEY" for keys only).
bool HasKeyMaterial(const Value& v, const std::vector<std::string>& markers, std::string* where) {
  switch (v.kind_case()) {
    case Value::kStringValue: {
      std::string decoded;
      const bool base64 = absl::Base64Unescape(v.string_value(), &decoded);
      for (const auto& m : markers) {
        if (absl::StrContains(v.string_value(), m) || (base64 && absl::StrContains(decoded, m))) {
          *where = v.string_value().substr(0, 80);
          return true;
        }
      }
      return false;
    }
    case Value::kStructValue:
      for (const auto& [k, f] : v.struct_value().fields()) {
        if (HasKeyMaterial(f, markers, where)) return true;
      }
      return false;
    case Value::kListValue:
      for (const auto& e : v.list_value().values()) {
        if (HasKeyMaterial(e, markers, where)) return true;
      }
      return false;
    default:
      return false;
  }
}

constexpr char kCert[] = "-----BEGIN CERTIFICATE-----\nMIIBgateway\n-----END CERTIFICATE-----\n";
constexpr char kKey[] = "-----BEGIN PRIVATE KEY-----\nMIIEgatewaykey\n-----END PRIVATE KEY-----\n";
constexpr char kCaKey[] = "-----BEGIN RSA PRIVATE KEY-----\nMIIEcaroot\n-----END RSA PRIVATE KEY-----\n";

// A gateway TLS Secret, Istio's CA root Secret, an Opaque Secret written by
// `kubectl apply` (its last-applied annotation repeats the data), the root
// certificate ConfigMap, and objects configz should show in full.
std::string SecretsYaml() {
  return absl::StrCat(R"(
apiVersion: v1
kind: Secret
metadata: {name: gw-cert, namespace: default}
type: kubernetes.io/tls
data: {tls.crt: )", absl::Base64Escape(kCert), ", tls.key: ", absl::Base64Escape(kKey), R"(}
---
apiVersion: v1
kind: Secret
metadata: {name: istio-ca-secret, namespace: istio-system, labels: {istio.io/ca: self-signed}}
type: istio.io/ca-root
data: {ca-cert.pem: )", absl::Base64Escape(kCert), ", ca-key.pem: ", absl::Base64Escape(kCaKey), R"(}
---
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: default
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"stringData":{"password":"hunter2-db"}}'
type: Opaque
stringData: {password: hunter2-db}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio-ca-root-cert, namespace: istio-system}
data: {root-cert.pem: ")", absl::CEscape(kCert), R"("}
---
apiVersion: v1
kind: Pod
metadata:
  name: app-0
  namespace: default
  labels: {app: app}
  annotations:
    sidecar.istio.io/inject: "true"
    kubectl.kubernetes.io/last-applied-configuration: '{"spec":{"containers":[{"env":[{"value":"hunter2-env"}]}]}}'
spec: {serviceAccountName: app, containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]}
status: {phase: Running, podIP: 10.0.0.7, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, credentialName: gw-cert}}]
)");
}

TEST(ConfigzTest, ListsSecretsAndConfigMapsByMetadataOnlyNeverTheirData) {
  model::ConfigStore store;
  store.Apply(::keel::pilot::testing::Upserts(::keel::pilot::testing::ParseAll(SecretsYaml())));
  http::HttpResponse r = MakeConfigzHandler(store)(Get("/debug/configz"));
  ASSERT_EQ(r.status, 200);
  for (const char* leaked : {"-----BEGIN", "PRIVATE KEY", "LS0tLS1CRUdJTi", "hunter2"}) {
    EXPECT_THAT(r.body, ::testing::Not(HasSubstr(leaked)));
  }
  Value all = Json(r);
  std::string where;
  EXPECT_FALSE(HasKeyMaterial(all, {"-----BEGIN", "PRIVATE KEY", "hunter2"}, &where)) << where;

  std::map<std::string, Value> by_name;  // "Kind ns/name"
  for (const auto& o : all.list_value().values()) {
    by_name[absl::StrCat(At(o, "kind").string_value(), " ", At(At(o, "metadata"), "namespace").string_value(), "/",
                         At(At(o, "metadata"), "name").string_value())] = o;
  }
  ASSERT_EQ(by_name.size(), 6u);
  const Value& ca = by_name["Secret istio-system/istio-ca-secret"];
  EXPECT_EQ(At(ca, "apiVersion").string_value(), "v1");
  EXPECT_EQ(At(ca, "type").string_value(), "istio.io/ca-root");
  EXPECT_EQ(At(At(At(ca, "metadata"), "labels"), "istio.io/ca").string_value(), "self-signed");
  EXPECT_FALSE(Has(ca, "data"));
  const Value& db = by_name["Secret default/db"];
  EXPECT_EQ(At(db, "type").string_value(), "Opaque");
  EXPECT_FALSE(Has(db, "stringData"));
  EXPECT_FALSE(Has(At(db, "metadata"), "annotations"));
  EXPECT_EQ(At(by_name["Secret default/gw-cert"], "type").string_value(), "kubernetes.io/tls");
  const Value& root = by_name["ConfigMap istio-system/istio-ca-root-cert"];
  EXPECT_FALSE(Has(root, "data"));
  EXPECT_EQ(At(At(root, "metadata"), "origin").string_value(), "test.yaml#3");

  // What Keel translates is shown as it keeps it, without the client's last-applied copy.
  const Value& pod = by_name["Pod default/app-0"];
  EXPECT_EQ(At(At(pod, "spec"), "serviceAccountName").string_value(), "app");
  EXPECT_EQ(At(At(pod, "status"), "podIP").string_value(), "10.0.0.7");
  const Value& annotations = At(At(pod, "metadata"), "annotations");
  EXPECT_EQ(At(annotations, "sidecar.istio.io/inject").string_value(), "true");
  EXPECT_FALSE(Has(annotations, "kubectl.kubernetes.io/last-applied-configuration"));
  const Value& gw = by_name["Gateway default/gw"];
  EXPECT_EQ(At(At(At(At(At(gw, "spec"), "servers"), 0), "tls"), "credentialName").string_value(), "gw-cert");
}

TEST_F(DebugHandlersTest, ConfigDumpRedactsSdsPrivateKeysAsIstiod) {
  PushMesh(SecretsYaml());
  proxyless_ = false;
  const std::string node = "router~10.0.0.9~gw-0.default~default.svc.cluster.local";
  // SDS keys go to authenticated proxies only: this one's stream authenticates
  // (on the plaintext port, as with --xds-auth-plaintext) as default/gw.
  ads_.RequireAuthentication(
      [](const std::multimap<std::string, std::string>&) -> absl::StatusOr<model::ProxyIdentity> {
        return model::ProxyIdentity{"default", "gw"};
      },
      xds::AdsServer::AuthenticatedPorts::kAll);
  Connect(node, "1.24.0");
  Send(xds::kSecretType, {"kubernetes://gw-cert"});
  DiscoveryResponse sent = Read();
  ASSERT_EQ(sent.resources_size(), 1);
  envoy::extensions::transport_sockets::tls::v3::Secret secret;
  ASSERT_TRUE(sent.resources(0).UnpackTo(&secret));
  ASSERT_EQ(secret.tls_certificate().private_key().inline_bytes(), kKey) << "the proxy itself gets the key";

  http::HttpResponse r = MakeConfigDumpHandler(ads_)(Get("/debug/config_dump", {{"proxyID", node}}));
  ASSERT_EQ(r.status, 200) << r.body;
  Value dump = Json(r);
  std::string where;
  EXPECT_FALSE(HasKeyMaterial(dump, {"PRIVATE KEY"}, &where)) << where;
  const Value& resources = At(At(At(dump, "xds"), xds::ShortTypeName(xds::kSecretType)), "resources");
  ASSERT_EQ(resources.list_value().values_size(), 1) << r.body;
  const Value& cert = At(At(resources, 0), "tlsCertificate");
  // istiod's redaction: DataSource{inline_bytes: "[redacted]"} (base64 in JSON).
  EXPECT_EQ(At(At(cert, "privateKey"), "inlineBytes").string_value(), absl::Base64Escape("[redacted]"));
  EXPECT_EQ(At(At(cert, "certificateChain"), "inlineBytes").string_value(), absl::Base64Escape(kCert))
      << "certificates are public and stay";
  EXPECT_EQ(At(At(resources, 0), "name").string_value(), "kubernetes://gw-cert");
}

TEST(MetricsTest, ProcessCollectorAndIstiodNames) {
  metrics::Registry registry;
  registry.GetHistogram("h", "help", {0.1, 1, 1e6}).Observe(0.05);
  EXPECT_EQ(xds::monitoring::MetricType(xds::kListenerType), "lds");
  EXPECT_EQ(xds::monitoring::MetricType(xds::kSecretType), "sds");
  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("h_bucket{le=\"0.1\"} 1\n"));  // the shortest form, as Go prints it
  EXPECT_THAT(text, HasSubstr("h_bucket{le=\"1000000\"} 1\n"));

  metrics::RegisterProcessCollector(registry);
  text = registry.Render();
  for (const char* family : {"# TYPE process_cpu_seconds_total counter", "# TYPE process_resident_memory_bytes gauge",
                             "# TYPE process_start_time_seconds gauge", "# TYPE process_open_fds gauge"}) {
    EXPECT_THAT(text, HasSubstr(family));
  }
  EXPECT_GT(registry.GetGauge("process_resident_memory_bytes", "").value(), 1 << 20);
  const double start = registry.GetGauge("process_start_time_seconds", "").value();
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 3600);
}

}  // namespace
}  // namespace keel::pilot::debug
