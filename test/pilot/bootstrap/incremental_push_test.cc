// Incremental EDS end to end in one process: a DiscoveryServer on a --config-dir
// (the file source, polled), a real gRPC stream as a sidecar (state of the
// world: CDS, EDS, LDS), and the files edited underneath it. A Pod's IP or
// readiness, or an EndpointSlice, changing builds no full PushContext, generates
// EDS only and sends the sidecar EDS only, with the new endpoints; a Service
// change is still a full push.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "pilot/bootstrap/discovery_server.h"
#include "pilot/xds/push_worker.h"
#include "pilot/xds/resource_types.h"
#include "pkg/metrics/registry.h"
#include "test/pilot/testing/configs.h"

namespace keel::pilot::bootstrap {
namespace {

using namespace std::chrono_literals;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

constexpr char kNode[] = "sidecar~10.0.0.9~client-0.default~default.svc.cluster.local";
constexpr char kReviews[] = "outbound|9080||reviews.default.svc.cluster.local";
constexpr char kRatings[] = "outbound|9080||ratings.default.svc.cluster.local";
constexpr char kDetails[] = "outbound|9080||details.default.svc.cluster.local";

double Counter(const std::string& name, const metrics::Labels& labels) {
  return metrics::DefaultRegistry().GetCounter(name, "", labels).value();
}
double Builds(const std::string& kind) { return Counter("keel_pushcontext_builds_total", {{"kind", kind}}); }
double Generations(const std::string& type) { return Counter("keel_xds_generations_total", {{"type", type}}); }

std::string Slice(const std::string& ip) {
  return "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: reviews-abc, namespace: default, "
         "labels: {kubernetes.io/service-name: reviews}}\naddressType: IPv4\nports: [{name: http, port: 9080}]\n"
         "endpoints: [{addresses: [\"" + ip + "\"]}]\n";
}

std::string UnreadyPod(const std::string& name, const std::string& ip) {
  std::string yaml = testing::PodYaml(name, "reviews", ip, 9080);
  const std::string ready = "status: \"True\"";
  yaml.replace(yaml.find(ready), ready.size(), "status: \"False\"");
  return yaml;
}

std::vector<std::string> Addresses(const DiscoveryResponse& r) {
  std::vector<std::string> out;
  for (const auto& any : r.resources()) {
    envoy::config::endpoint::v3::ClusterLoadAssignment cla;
    any.UnpackTo(&cla);
    for (const auto& locality : cla.endpoints()) {
      for (const auto& lb : locality.lb_endpoints()) out.push_back(lb.endpoint().address().socket_address().address());
    }
  }
  return out;
}

// The clusters a (SotW) EDS response carries assignments for.
std::vector<std::string> AssignedClusters(const DiscoveryResponse& r) {
  std::vector<std::string> out;
  for (const auto& any : r.resources()) {
    envoy::config::endpoint::v3::ClusterLoadAssignment cla;
    any.UnpackTo(&cla);
    out.push_back(cla.cluster_name());
  }
  return out;
}

bool HasCluster(const DiscoveryResponse& r, const std::string& name) {
  for (const auto& any : r.resources()) {
    envoy::config::cluster::v3::Cluster c;
    if (any.UnpackTo(&c) && c.name() == name) return true;
  }
  return false;
}

class IncrementalPushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("keel-incremental-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Write("services.yaml", testing::ServiceYaml("reviews", 9080, "10.96.0.10"));
    Write("pods.yaml", testing::PodYaml("reviews-1", "reviews", "10.1.0.1", 9080));
  }
  // Starts the server on what the directory holds, and opens the sidecar's stream.
  void StartServer() {
    Options options;
    options.config_dir = dir_.string();
    options.grpc_addr = "127.0.0.1:0";
    options.monitoring_addr = "127.0.0.1:0";
    options.secure_grpc_addr = "off";
    options.disable_ca = true;
    options.debounce_after_ms = 10;
    options.debounce_max_ms = 100;
    auto server = DiscoveryServer::Create(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_TRUE(server_->Start().ok());  // the first push has the directory's objects
    // The initial load also reaches the debouncer (one more full push): wait
    // until pushes settle (no new build for 300 ms, at most 5 s) before counting.
    double builds = -1;
    for (int i = 0; i < 50; ++i) {
      const double now = Builds("full") + Builds("endpoints");
      if (now == builds) break;
      builds = now;
      std::this_thread::sleep_for(300ms);
    }
    stub_ = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->grpc_port()), grpc::InsecureChannelCredentials()));
    context_.set_deadline(std::chrono::system_clock::now() + 60s);
    stream_ = stub_->StreamAggregatedResources(&context_);
  }
  void TearDown() override {
    if (stream_) {
      context_.TryCancel();
      DiscoveryResponse ignored;
      while (stream_->Read(&ignored)) {
      }
      stream_->Finish();
    }
    if (server_) server_->Stop();
    std::filesystem::remove_all(dir_);
  }

  // Replaces `name` at once (a rename), so the poller never reads half a file.
  void Write(const std::string& name, const std::string& yaml) {
    const auto tmp = dir_ / ("." + name + ".tmp");
    std::ofstream(tmp) << yaml;
    std::filesystem::rename(tmp, dir_ / name);
  }

  void Request(const std::string& type, const std::vector<std::string>& names, const DiscoveryResponse* ack = nullptr) {
    DiscoveryRequest r;
    if (first_) {
      r.mutable_node()->set_id(kNode);
      (*r.mutable_node()->mutable_metadata()->mutable_fields())["NAMESPACE"].set_string_value("default");
      first_ = false;
    }
    r.set_type_url(type);
    for (const auto& n : names) r.add_resource_names(n);
    if (ack) {
      r.set_version_info(ack->version_info());
      r.set_response_nonce(ack->nonce());
    }
    ASSERT_TRUE(stream_->Write(r));
  }
  DiscoveryResponse Read() {
    DiscoveryResponse r;
    EXPECT_TRUE(stream_->Read(&r)) << "stream ended";
    return r;
  }
  // The sidecar's subscriptions: CDS and LDS wildcard, EDS for `clusters`; all ACKed.
  void Subscribe(const std::vector<std::string>& clusters) {
    Request(xds::kClusterType, {});
    DiscoveryResponse cds = Read();
    ASSERT_EQ(cds.type_url(), xds::kClusterType);
    Request(xds::kClusterType, {}, &cds);
    Request(xds::kEndpointType, clusters);
    DiscoveryResponse eds = Read();
    ASSERT_EQ(eds.type_url(), xds::kEndpointType);
    Request(xds::kEndpointType, clusters, &eds);
    Request(xds::kListenerType, {});
    DiscoveryResponse lds = Read();
    ASSERT_EQ(lds.type_url(), xds::kListenerType);
    Request(xds::kListenerType, {}, &lds);
  }

  std::filesystem::path dir_;
  std::unique_ptr<DiscoveryServer> server_;
  std::unique_ptr<envoy::service::discovery::v3::AggregatedDiscoveryService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<DiscoveryRequest, DiscoveryResponse>> stream_;
  bool first_ = true;
};

TEST_F(IncrementalPushTest, PodChangesAreEdsOnlyAndAServiceChangeIsFull) {
  const std::string other = testing::PodYaml("reviews-2", "reviews", "10.1.0.3", 9080);
  Write("pods.yaml", testing::PodYaml("reviews-1", "reviews", "10.1.0.1", 9080) + other);
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Subscribe({kReviews, kRatings});
  const double full_builds = Builds("full"), endpoint_builds = Builds("endpoints");
  const double cds = Generations("cds"), lds = Generations("lds"), eds = Generations("eds");
  const uint64_t off_worker = xds::GenerationsOffWorker();

  // A Pod moves: the next response is EDS, with the new address.
  Write("pods.yaml", testing::PodYaml("reviews-1", "reviews", "10.1.0.2", 9080) + other);
  DiscoveryResponse moved = Read();
  ASSERT_EQ(moved.type_url(), xds::kEndpointType);
  EXPECT_EQ(Addresses(moved), (std::vector<std::string>{"10.1.0.2", "10.1.0.3"}));
  // Only the changed assignment, as istiod's incremental EDS: ratings' is left out.
  EXPECT_EQ(AssignedClusters(moved), std::vector<std::string>{kReviews});
  Request(xds::kEndpointType, {kReviews, kRatings}, &moved);
  // It becomes unready: EDS again, without it.
  Write("pods.yaml", UnreadyPod("reviews-1", "10.1.0.2") + other);
  DiscoveryResponse unready = Read();
  ASSERT_EQ(unready.type_url(), xds::kEndpointType);
  EXPECT_EQ(Addresses(unready), std::vector<std::string>{"10.1.0.3"});
  EXPECT_EQ(AssignedClusters(unready), std::vector<std::string>{kReviews});
  Request(xds::kEndpointType, {kReviews, kRatings}, &unready);

  EXPECT_EQ(Builds("full"), full_builds);  // no PushContext built from scratch
  EXPECT_EQ(Builds("endpoints"), endpoint_builds + 2);
  EXPECT_EQ(Generations("cds"), cds);  // nothing but EDS generated
  EXPECT_EQ(Generations("lds"), lds);
  EXPECT_EQ(Generations("eds"), eds + 2);

  // A new Service is a full push: CDS is the next response (so nothing else was
  // queued by the Pod changes), with the new cluster.
  Write("services.yaml",
        testing::ServiceYaml("reviews", 9080, "10.96.0.10") + testing::ServiceYaml("ratings", 9080, "10.96.0.11"));
  DiscoveryResponse cds_update = Read();
  ASSERT_EQ(cds_update.type_url(), xds::kClusterType);
  EXPECT_TRUE(HasCluster(cds_update, kRatings));
  EXPECT_EQ(Builds("full"), full_builds + 1);
  EXPECT_GT(Generations("cds"), cds);
  EXPECT_EQ(xds::GenerationsOffWorker(), off_worker);
}

double AcksInPlace() { return Counter("keel_xds_acks_read_in_place_total", {}); }

// Waits (at most 5 s) until the server has read `n` ACKs in place.
bool AcksInPlaceReach(double n) {
  for (int i = 0; i < 100 && AcksInPlace() < n; ++i) std::this_thread::sleep_for(50ms);
  return AcksInPlace() >= n;
}

// A plain ACK (our last nonce, the subscribed names in any order) is recognised
// in the request bytes; an ACK that changes the names, or a stale one, is
// parsed and handled as before: the changed subscription is answered.
TEST_F(IncrementalPushTest, PlainAcksAreReadInPlaceAndAnAckChangingNamesIsAnswered) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const double before = AcksInPlace();
  Request(xds::kClusterType, {});
  DiscoveryResponse cds = Read();
  Request(xds::kClusterType, {}, &cds);
  Request(xds::kEndpointType, {kReviews, kRatings});
  DiscoveryResponse eds = Read();
  ASSERT_EQ(eds.type_url(), xds::kEndpointType);
  Request(xds::kEndpointType, {kRatings, kReviews}, &eds);  // another order: the same subscription
  ASSERT_TRUE(AcksInPlaceReach(before + 2)) << AcksInPlace() - before;

  // The ACK also subscribes to details: parsed, and answered with a response.
  Request(xds::kEndpointType, {kReviews, kRatings, kDetails}, &eds);
  DiscoveryResponse answered = Read();
  ASSERT_EQ(answered.type_url(), xds::kEndpointType);
  EXPECT_NE(answered.nonce(), eds.nonce());
  EXPECT_EQ(AcksInPlace(), before + 2);
  // A stale nonce (the previous response's) is not an ACK of the last response.
  Request(xds::kEndpointType, {kReviews, kRatings, kDetails}, &eds);
  // The current one is, with the new names.
  Request(xds::kEndpointType, {kDetails, kRatings, kReviews}, &answered);
  ASSERT_TRUE(AcksInPlaceReach(before + 3));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(AcksInPlace(), before + 3);

  // The stream still works: an endpoint change reaches it.
  Write("pods.yaml", testing::PodYaml("reviews-1", "reviews", "10.1.0.7", 9080));
  DiscoveryResponse moved = Read();
  ASSERT_EQ(moved.type_url(), xds::kEndpointType);
  EXPECT_EQ(Addresses(moved), std::vector<std::string>{"10.1.0.7"});
}

// A first request of a type carrying a nonce (Envoy reconnecting from another
// control plane instance, istioctl's adsc always) is a new request, answered, as
// istiod's shouldRespond; before, Keel took it for a stale ACK and stayed silent.
TEST_F(IncrementalPushTest, AFirstRequestWithAnEarlierStreamsNonceIsAnswered) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  DiscoveryResponse earlier;
  earlier.set_version_info("7");
  earlier.set_nonce("nonce-of-another-stream");
  Request(xds::kClusterType, {}, &earlier);
  DiscoveryResponse cds = Read();
  EXPECT_EQ(cds.type_url(), xds::kClusterType);
  EXPECT_GT(cds.resources_size(), 0);
  // Once answered, a nonce that is not ours is stale again: no response.
  Request(xds::kClusterType, {}, &earlier);
  Request(xds::kEndpointType, {kReviews});
  EXPECT_EQ(Read().type_url(), xds::kEndpointType) << "the stale CDS request was not answered";
}

// The clusters' SANs are the endpoints' service accounts: when the last endpoint
// of reviews goes, its cluster changes, so the endpoint-only change (still no
// full PushContext build) is pushed in full.
TEST_F(IncrementalPushTest, AChangeOfTheEndpointsServiceAccountsIsAFullPush) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Subscribe({kReviews});
  const double full_builds = Builds("full"), cds = Generations("cds");
  Write("pods.yaml", UnreadyPod("reviews-1", "10.1.0.1"));
  DiscoveryResponse first = Read();
  EXPECT_EQ(first.type_url(), xds::kClusterType);
  DiscoveryResponse second = Read();
  EXPECT_EQ(second.type_url(), xds::kEndpointType);
  EXPECT_TRUE(Addresses(second).empty());
  EXPECT_EQ(Builds("full"), full_builds);
  EXPECT_GT(Generations("cds"), cds);
}

TEST_F(IncrementalPushTest, AnEndpointSliceChangeIsEdsOnly) {
  Write("slice.yaml", Slice("10.2.0.1"));
  Write("details.yaml", testing::ServiceYaml("details", 9080, "10.96.0.11") +
                            testing::PodYaml("details-1", "details", "10.1.0.7", 9080));
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Subscribe({kDetails, kReviews});
  const double full_builds = Builds("full");
  const double cds = Generations("cds"), lds = Generations("lds");

  Write("slice.yaml", Slice("10.2.0.2"));
  DiscoveryResponse update = Read();
  ASSERT_EQ(update.type_url(), xds::kEndpointType);
  EXPECT_EQ(Addresses(update), std::vector<std::string>{"10.2.0.2"});
  // Only the changed assignment, as istiod's incremental EDS on SotW: details' is left out.
  EXPECT_EQ(AssignedClusters(update), std::vector<std::string>{kReviews});
  EXPECT_EQ(Builds("full"), full_builds);
  EXPECT_EQ(Generations("cds"), cds);
  EXPECT_EQ(Generations("lds"), lds);
}

}  // namespace
}  // namespace keel::pilot::bootstrap
