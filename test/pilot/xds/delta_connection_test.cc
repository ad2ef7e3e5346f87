// Delta xDS (DeltaAggregatedResources) on an in-process AdsServer, driven one
// message at a time so every response is checked exactly: wildcard and explicit
// subscriptions, only changed resources resent, removals, names that do not
// exist, reconnects with initial_resource_versions, ACK/NACK bookkeeping. A
// response that must not happen is proven absent by the next one the test
// provokes being the first the stream delivers. Real clients: test/e2e/.
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "pilot/xds/ads_server.h"
#include "pilot/xds/resource_types.h"
#include "test/pilot/testing/configs.h"

namespace keel::pilot::xds {
namespace {

using namespace std::chrono_literals;
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr char kNode[] = "sidecar~10.0.0.9~client-0.default~default.svc.cluster.local";
constexpr char kReviews[] = "outbound|9080||reviews.default.svc.cluster.local";
constexpr char kRatings[] = "outbound|9080||ratings.default.svc.cluster.local";

std::string Service(const std::string& name, int port) {
  return testing::ServiceYaml(name, port, "10.96.0." + std::to_string(port % 200));
}

std::string Pod(const std::string& app, const std::string& ip) {
  return testing::PodYaml(app + "-" + ip, app, ip, 9080);
}

std::map<std::string, std::string> Versions(const DeltaDiscoveryResponse& r) {
  std::map<std::string, std::string> out;
  for (const auto& res : r.resources()) out[res.name()] = res.version();
  return out;
}

std::vector<std::string> Names(const DeltaDiscoveryResponse& r) {
  std::vector<std::string> out;
  for (const auto& res : r.resources()) out.push_back(res.name());
  return out;
}

std::vector<std::string> Removed(const DeltaDiscoveryResponse& r) {
  return {r.removed_resources().begin(), r.removed_resources().end()};
}

class DeltaTest : public ::testing::Test {
 protected:
  DeltaTest() : ads_(MakeGenerators()) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&ads_);
    server_ = builder.BuildAndStart();
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials());
    stub_ = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(channel_);
  }
  ~DeltaTest() override {
    CloseStream();
    server_->Shutdown(std::chrono::system_clock::now() + 2s);
  }

  void PushMesh(const std::string& yaml, bool forced = false) {
    PushRequest request;
    request.forced = forced;
    request.start = std::chrono::steady_clock::now();
    ads_.Push(model::PushContext::Build(testing::SnapshotOf(yaml), {}, ++version_), request);
  }

  void OpenStream() {
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(std::chrono::system_clock::now() + 30s);
    stream_ = stub_->DeltaAggregatedResources(context_.get());
    first_ = true;
  }
  void CloseStream() {
    if (!stream_) return;
    stream_->WritesDone();
    DeltaDiscoveryResponse ignored;
    while (stream_->Read(&ignored)) {
    }
    stream_->Finish();
    stream_.reset();
  }

  void Send(DeltaDiscoveryRequest request) {
    if (first_) {
      auto* node = request.mutable_node();
      node->set_id(kNode);
      auto& md = *node->mutable_metadata()->mutable_fields();
      md["NAMESPACE"].set_string_value("default");
      md["ISTIO_VERSION"].set_string_value("1.24.0");
      first_ = false;
    }
    ASSERT_TRUE(stream_->Write(request));
  }
  void Subscribe(const std::string& type, const std::vector<std::string>& subscribe,
                 const std::vector<std::string>& unsubscribe = {}) {
    DeltaDiscoveryRequest r;
    r.set_type_url(type);
    for (const auto& n : subscribe) r.add_resource_names_subscribe(n);
    for (const auto& n : unsubscribe) r.add_resource_names_unsubscribe(n);
    Send(std::move(r));
  }
  void Ack(const DeltaDiscoveryResponse& response) {
    DeltaDiscoveryRequest r;
    r.set_type_url(response.type_url());
    r.set_response_nonce(response.nonce());
    Send(std::move(r));
  }
  DeltaDiscoveryResponse Read() {
    DeltaDiscoveryResponse response;
    EXPECT_TRUE(stream_->Read(&response)) << "stream ended";
    return response;
  }

  // Polls `predicate` for up to 5 s: the server handles stream messages on its own threads.
  template <typename Fn>
  static bool Eventually(Fn predicate) {
    for (auto end = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < end;) {
      if (predicate()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return predicate();
  }

  ConnectionSnapshot Connection() {
    auto c = ads_.ConnectionForProxy(kNode);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : ConnectionSnapshot{};
  }

  AdsServer ads_;
  uint64_t version_ = 0;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<envoy::service::discovery::v3::AggregatedDiscoveryService::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<DeltaDiscoveryRequest, DeltaDiscoveryResponse>> stream_;
  bool first_ = true;
};

TEST_F(DeltaTest, WildcardClustersThenOnlyWhatChanged) {
  const std::string mesh = Service("reviews", 9080) + Service("ratings", 9080) + Pod("reviews", "10.0.0.1");
  PushMesh(mesh);
  OpenStream();
  Subscribe(kClusterType, {});  // legacy wildcard
  auto first = Read();
  EXPECT_EQ(first.type_url(), kClusterType);
  EXPECT_THAT(Names(first), Contains(kReviews));
  EXPECT_THAT(Names(first), Contains(kRatings));
  EXPECT_THAT(Names(first), Contains("PassthroughCluster"));
  EXPECT_THAT(Removed(first), IsEmpty());
  for (const auto& res : first.resources()) EXPECT_FALSE(res.version().empty()) << res.name();
  EXPECT_FALSE(first.nonce().empty());
  EXPECT_EQ(first.system_version_info(), "1");
  Ack(first);

  PushMesh(mesh, /*forced=*/true);  // same bytes: nothing to send, even forced
  PushMesh(Service("reviews", 9080) + Pod("reviews", "10.0.0.1"));  // ratings deleted
  auto second = Read();
  EXPECT_THAT(Names(second), IsEmpty()) << "reviews unchanged: not resent";
  EXPECT_THAT(Removed(second), ElementsAre(kRatings));
  EXPECT_EQ(second.system_version_info(), "3");
  Ack(second);

  PushMesh(Service("reviews", 9080) + Service("ratings", 9080) + Pod("reviews", "10.0.0.1"));
  auto third = Read();
  EXPECT_THAT(Names(third), ElementsAre(kRatings));
  EXPECT_EQ(Versions(third)[kRatings], Versions(first)[kRatings]) << "same bytes, same version";
  EXPECT_THAT(Removed(third), IsEmpty());
  Ack(third);

  // The ACK is handled on the server's threads: wait for it to be recorded.
  ASSERT_TRUE(Eventually([&] { return Connection().watches.at(kClusterType).nonce_acked == third.nonce(); }));
  const auto c = Connection();
  EXPECT_TRUE(c.delta);
  const WatchState& w = c.watches.at(kClusterType);
  EXPECT_TRUE(w.watch.wildcard);
  EXPECT_EQ(w.nonce_acked, third.nonce());
  EXPECT_EQ(w.version_acked, third.system_version_info());
  EXPECT_EQ(w.resources_sent.size(), static_cast<size_t>(first.resources_size())) << "what the proxy holds";
}

TEST_F(DeltaTest, ExplicitNamesUnknownNamesAndUnsubscribe) {
  PushMesh(Service("reviews", 9080) + Service("ratings", 9080) + Pod("reviews", "10.0.0.1") +
           Pod("ratings", "10.0.0.2"));
  OpenStream();
  Subscribe(kEndpointType, {kReviews, "outbound|1||nowhere.default.svc.cluster.local"});
  auto first = Read();
  ASSERT_THAT(Names(first), ElementsAre(kReviews));
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  ASSERT_TRUE(first.resources(0).resource().UnpackTo(&cla));
  EXPECT_EQ(cla.endpoints(0).lb_endpoints(0).endpoint().address().socket_address().address(), "10.0.0.1");
  EXPECT_THAT(Removed(first), ElementsAre("outbound|1||nowhere.default.svc.cluster.local"))
      << "a name that does not exist is reported at once";
  Ack(first);

  Subscribe(kEndpointType, {}, {kReviews});  // unsubscribing needs no answer
  ASSERT_TRUE(Eventually([&] { return !Connection().watches.at(kEndpointType).watch.names.count(kReviews); }));
  PushMesh(Service("reviews", 9080) + Service("ratings", 9080) + Pod("reviews", "10.0.0.3") +
           Pod("ratings", "10.0.0.2"));  // reviews moved: not watched any more
  Subscribe(kEndpointType, {kRatings});
  auto second = Read();
  EXPECT_THAT(Names(second), ElementsAre(kRatings)) << "only the new subscription: nothing for reviews";
  EXPECT_THAT(Removed(second), IsEmpty());
  Ack(second);
  // Recorded before the next push: an ACK that arrives after a newer response is stale, and ignored.
  ASSERT_TRUE(Eventually([&] { return Connection().watches.at(kEndpointType).nonce_acked == second.nonce(); }));

  // A NACK is recorded and changes nothing the proxy holds.
  PushMesh(Service("reviews", 9080) + Service("ratings", 9080) + Pod("ratings", "10.0.0.4"));
  auto third = Read();
  EXPECT_THAT(Names(third), ElementsAre(kRatings));
  DeltaDiscoveryRequest nack;
  nack.set_type_url(kEndpointType);
  nack.set_response_nonce(third.nonce());
  nack.mutable_error_detail()->set_code(3);
  nack.mutable_error_detail()->set_message("rejected by the test");
  Send(nack);
  ASSERT_TRUE(Eventually([&] { return Connection().watches.at(kEndpointType).last_nack == "rejected by the test"; }));
  EXPECT_EQ(Connection().watches.at(kEndpointType).nonce_acked, second.nonce());
}

TEST_F(DeltaTest, ReconnectSendsOnlyWhatTheProxyLacks) {
  const std::string mesh = Service("reviews", 9080) + Service("ratings", 9080);
  PushMesh(mesh);
  OpenStream();
  Subscribe(kClusterType, {});
  auto before = Read();
  Ack(before);
  CloseStream();

  OpenStream();
  DeltaDiscoveryRequest r;
  r.set_type_url(kClusterType);
  auto held = Versions(before);
  held[kRatings] = "an-older-version";
  held["outbound|80||gone.default.svc.cluster.local"] = "1";
  r.mutable_initial_resource_versions()->insert(held.begin(), held.end());
  Send(r);
  auto after = Read();
  EXPECT_THAT(Names(after), ElementsAre(kRatings));
  EXPECT_THAT(Removed(after), ElementsAre("outbound|80||gone.default.svc.cluster.local"));
}

TEST_F(DeltaTest, ExplicitWildcardAndRouteNames) {
  PushMesh(Service("reviews", 9080));
  OpenStream();
  Subscribe(kListenerType, {"*"});
  auto listeners = Read();
  EXPECT_EQ(listeners.type_url(), kListenerType);
  EXPECT_THAT(Names(listeners), Not(IsEmpty()));
  Ack(listeners);

  // Route names as istiod answers them: an unknown name gets an empty
  // configuration (not a removal), so the proxy does not wait for it.
  Subscribe(kRouteType, {"9080", "no-such-route"});
  auto routes = Read();
  EXPECT_EQ(routes.type_url(), kRouteType);
  EXPECT_THAT(Names(routes), ElementsAre("9080", "no-such-route"));
  EXPECT_THAT(Removed(routes), IsEmpty());
  Ack(routes);

  Subscribe(kListenerType, {}, {"*"});  // wildcard off: the listeners are dropped
  ASSERT_TRUE(Eventually([&] { return !Connection().watches.at(kListenerType).watch.wildcard; }));
  Subscribe(kRouteType, {"9080"});      // already held: no answer needed
  PushMesh(Service("reviews", 9080) + Service("ratings", 9080));  // a second service on 9080: route 9080 changes
  auto changed = Read();
  EXPECT_EQ(changed.type_url(), kRouteType) << "no LDS response: listeners are not watched";
  EXPECT_THAT(Names(changed), ElementsAre("9080")) << "no-such-route unchanged";
  EXPECT_THAT(Removed(changed), IsEmpty());
}

TEST_F(DeltaTest, FirstRequestMustIdentifyTheProxy) {
  OpenStream();
  first_ = false;  // no node
  Subscribe(kClusterType, {});
  DeltaDiscoveryResponse response;
  EXPECT_FALSE(stream_->Read(&response));
  auto status = stream_->Finish();
  stream_.reset();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("node"));
}

// StreamLimits: a stream that subscribes past the bound, or leaves more
// response bytes unread than it may, is closed with RESOURCE_EXHAUSTED naming
// the flag; other streams go on.
TEST_F(DeltaTest, SubscribingPastTheBoundClosesTheStream) {
  ads_.SetStreamLimits(StreamLimits{/*max_subscribed_names=*/5, /*max_queued_bytes=*/128u << 20});
  PushMesh(Service("reviews", 9080));
  OpenStream();
  Subscribe(kEndpointType, {kReviews, "made-up-1", "made-up-2"});
  auto first = Read();
  EXPECT_THAT(Names(first), ElementsAre(kReviews));
  Subscribe(kEndpointType, {"made-up-1", "made-up-3"});  // 4 distinct names: within the bound
  auto second = Read();
  EXPECT_THAT(Removed(second), ElementsAre("made-up-3"));
  Subscribe(kClusterType, {"made-up-4", "made-up-5"});  // 6 in all
  DeltaDiscoveryResponse ignored;
  EXPECT_FALSE(stream_->Read(&ignored)) << "the stream must end";
  const grpc::Status status = stream_->Finish();
  stream_.reset();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("subscribed to 6 resource names, more than the 5"));
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("--max-subscribed-names"));
  // A stream within the bound is served as before.
  OpenStream();
  Subscribe(kEndpointType, {kReviews});
  EXPECT_THAT(Names(Read()), ElementsAre(kReviews));
}

TEST_F(DeltaTest, AProxyThatDoesNotReadIsClosedPastTheQueuedBytes) {
  ads_.SetStreamLimits(StreamLimits{/*max_subscribed_names=*/100000, /*max_queued_bytes=*/1u << 20});
  std::string many;
  for (int i = 0; i < 1500; ++i) many += Service("svc-" + std::to_string(i), 9080);
  PushMesh(many);
  OpenStream();
  Subscribe(kClusterType, {});
  ASSERT_TRUE(Eventually([&] { return ads_.ConnectionForProxy(kNode).ok(); }));
  // Never read: every push from here adds 1500 clusters or their removal to what waits.
  bool closed = false;
  for (int i = 0; i < 40 && !closed; ++i) {
    PushMesh(i % 2 ? many : Service("reviews", 9080));
    std::this_thread::sleep_for(50ms);  // let the push workers queue it
    // Closed: its subscriptions are dropped at once; the stream itself ends once
    // the response gRPC is writing completes (when the proxy reads it).
    closed = Connection().watches.empty();
  }
  ASSERT_TRUE(closed) << "the stream should have been closed";
  DeltaDiscoveryResponse ignored;
  while (stream_->Read(&ignored)) {
  }
  const grpc::Status status = stream_->Finish();
  stream_.reset();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("--max-queued-bytes"));
}

}  // namespace
}  // namespace keel::pilot::xds
