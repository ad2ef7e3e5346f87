// Generation runs on the push workers only: the check itself (it fires off a
// worker, not on one), and real gRPC streams (state of the world and delta, on
// an in-process AdsServer) that subscribe and receive pushes without a single
// generation off the workers.
#include "pilot/xds/push_worker.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <thread>

#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "pilot/xds/ads_server.h"
#include "pilot/xds/resource_types.h"
#include "pkg/metrics/registry.h"
#include "test/pilot/testing/configs.h"

namespace keel::pilot::xds {
namespace {

using namespace std::chrono_literals;
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

constexpr char kNode[] = "sidecar~10.0.0.9~client-0.default~default.svc.cluster.local";
constexpr char kReviews[] = "outbound|9080||reviews.default.svc.cluster.local";

std::string Mesh(const std::string& ip) {
  return testing::ServiceYaml("reviews", 9080, "10.96.0.10") + testing::PodYaml("reviews-1", "reviews", ip, 9080);
}

double Generations(const std::string& type) {
  return metrics::DefaultRegistry().GetCounter("keel_xds_generations_total", "", {{"type", type}}).value();
}

void SetNode(envoy::config::core::v3::Node* node) {
  node->set_id(kNode);
  (*node->mutable_metadata()->mutable_fields())["NAMESPACE"].set_string_value("default");
}

TEST(PushWorkerTest, GenerationOffAWorkerIsCountedAndOnOneIsNot) {
  auto push = testing::BuildPush(Mesh("10.1.0.1"));
  auto proxy = model::ParseProxy([] {
    envoy::config::core::v3::Node node;
    SetNode(&node);
    return node;
  }());
  ASSERT_TRUE(proxy.ok());
  GeneratorMap generators = MakeGenerators();
  WatchedResource watch;
  watch.names = {kReviews};
  const double off_metric = [] {
    return metrics::DefaultRegistry().GetCounter("keel_xds_generation_off_worker_total", "").value();
  }();
  const uint64_t before = GenerationsOffWorker();

  auto off = GenerateOnPushWorker(kEndpointType, *generators.at(kEndpointType), *proxy, *push, watch);
  EXPECT_EQ(off.size(), 1u);  // still served
  EXPECT_EQ(GenerationsOffWorker(), before + 1);
  EXPECT_EQ(metrics::DefaultRegistry().GetCounter("keel_xds_generation_off_worker_total", "").value(),
            off_metric + 1);

  std::thread worker([&] {
    ScopedPushWorker on_worker;
    GenerateOnPushWorker(kEndpointType, *generators.at(kEndpointType), *proxy, *push, watch);
  });
  worker.join();
  EXPECT_EQ(GenerationsOffWorker(), before + 1);
}

// Real streams: every response (first answers on the gRPC callback threads'
// watch, pushes from the debouncer's stand-in, this test thread) is generated on
// a push worker.
TEST(PushWorkerTest, StreamsGenerateOnlyOnPushWorkers) {
  AdsServer ads(MakeGenerators(), /*push_workers=*/2);
  uint64_t version = 0;
  auto push = [&](const std::string& ip) {
    PushRequest request;
    request.start = std::chrono::steady_clock::now();
    ads.Push(model::PushContext::Build(testing::SnapshotOf(Mesh(ip)), {}, ++version), request);
  };
  push("10.1.0.1");
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&ads);
  auto server = builder.BuildAndStart();
  auto stub = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  const uint64_t off_before = GenerationsOffWorker();
  const double eds_before = Generations("eds");

  grpc::ClientContext sotw_ctx;
  sotw_ctx.set_deadline(std::chrono::system_clock::now() + 30s);
  auto sotw = stub->StreamAggregatedResources(&sotw_ctx);
  DiscoveryRequest cds;
  SetNode(cds.mutable_node());
  cds.set_type_url(kClusterType);
  ASSERT_TRUE(sotw->Write(cds));
  DiscoveryResponse r;
  ASSERT_TRUE(sotw->Read(&r));
  EXPECT_EQ(r.type_url(), kClusterType);
  DiscoveryRequest eds;
  eds.set_type_url(kEndpointType);
  eds.add_resource_names(kReviews);
  ASSERT_TRUE(sotw->Write(eds));
  ASSERT_TRUE(sotw->Read(&r));
  EXPECT_EQ(r.type_url(), kEndpointType);

  grpc::ClientContext delta_ctx;
  delta_ctx.set_deadline(std::chrono::system_clock::now() + 30s);
  auto delta = stub->DeltaAggregatedResources(&delta_ctx);
  DeltaDiscoveryRequest dcds;
  SetNode(dcds.mutable_node());
  dcds.set_type_url(kEndpointType);
  dcds.add_resource_names_subscribe(kReviews);
  ASSERT_TRUE(delta->Write(dcds));
  DeltaDiscoveryResponse d;
  ASSERT_TRUE(delta->Read(&d));
  EXPECT_EQ(d.type_url(), kEndpointType);

  push("10.1.0.2");  // both streams get the moved endpoint
  ASSERT_TRUE(sotw->Read(&r));
  EXPECT_EQ(r.type_url(), kEndpointType);
  ASSERT_TRUE(delta->Read(&d));
  EXPECT_EQ(d.type_url(), kEndpointType);
  EXPECT_EQ(d.resources_size(), 1);

  EXPECT_GE(Generations("eds") - eds_before, 4);  // generation did happen...
  EXPECT_EQ(GenerationsOffWorker(), off_before);  // ...and only on the push workers

  sotw_ctx.TryCancel();
  delta_ctx.TryCancel();
  server->Shutdown(std::chrono::system_clock::now() + 2s);
}

// An EDS-only push (full=false): a delta stream gets only the assignments of
// the hosts in endpoints_updated (nothing removed of the others it holds); a
// stream watching none of them gets nothing (proven by the next push's response
// being the first it reads).
TEST(PushWorkerTest, AnEdsOnlyPushSendsOnlyTheAffectedAssignments) {
  AdsServer ads(MakeGenerators(), /*push_workers=*/2);
  uint64_t version = 0;
  const std::string ratings = testing::ServiceYaml("ratings", 9080, "10.96.0.11") +
                              testing::PodYaml("ratings-1", "ratings", "10.2.0.1", 9080);
  auto push = [&](const std::string& ip, bool full) {
    PushRequest request;
    request.full = full;
    request.endpoints_updated = {"reviews.default.svc.cluster.local"};
    request.start = std::chrono::steady_clock::now();
    ads.Push(model::PushContext::Build(testing::SnapshotOf(Mesh(ip) + ratings), {}, ++version), request);
  };
  push("10.1.0.1", true);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&ads);
  auto server = builder.BuildAndStart();
  auto stub = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  const std::string kRatings = "outbound|9080||ratings.default.svc.cluster.local";

  grpc::ClientContext delta_ctx;
  delta_ctx.set_deadline(std::chrono::system_clock::now() + 30s);
  auto delta = stub->DeltaAggregatedResources(&delta_ctx);
  DeltaDiscoveryRequest sub;
  SetNode(sub.mutable_node());
  sub.set_type_url(kEndpointType);
  sub.add_resource_names_subscribe(kReviews);
  sub.add_resource_names_subscribe(kRatings);
  ASSERT_TRUE(delta->Write(sub));
  DeltaDiscoveryResponse d;
  ASSERT_TRUE(delta->Read(&d));
  EXPECT_EQ(d.resources_size(), 2);

  grpc::ClientContext sotw_ctx;
  sotw_ctx.set_deadline(std::chrono::system_clock::now() + 30s);
  auto sotw = stub->StreamAggregatedResources(&sotw_ctx);
  DiscoveryRequest eds;
  SetNode(eds.mutable_node());
  eds.set_type_url(kEndpointType);
  eds.add_resource_names(kRatings);  // not an affected host
  ASSERT_TRUE(sotw->Write(eds));
  DiscoveryResponse r;
  ASSERT_TRUE(sotw->Read(&r));
  EXPECT_EQ(r.resources_size(), 1);

  const double eds_generated = Generations("eds");
  push("10.1.0.2", /*full=*/false);
  ASSERT_TRUE(delta->Read(&d));
  ASSERT_EQ(d.resources_size(), 1);
  EXPECT_EQ(d.resources(0).name(), kReviews);
  EXPECT_EQ(d.removed_resources_size(), 0);
  EXPECT_EQ(Generations("eds"), eds_generated + 1);  // the delta stream's only: the SotW one was skipped

  // A full push moving ratings: the SotW stream's next response is that one.
  const std::string moved_ratings = testing::ServiceYaml("ratings", 9080, "10.96.0.11") +
                                    testing::PodYaml("ratings-1", "ratings", "10.2.0.9", 9080);
  PushRequest full;
  full.start = std::chrono::steady_clock::now();
  ads.Push(model::PushContext::Build(testing::SnapshotOf(Mesh("10.1.0.2") + moved_ratings), {}, ++version), full);
  ASSERT_TRUE(sotw->Read(&r));
  ASSERT_EQ(r.resources_size(), 1);
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  ASSERT_TRUE(r.resources(0).UnpackTo(&cla));
  EXPECT_EQ(cla.endpoints(0).lb_endpoints(0).endpoint().address().socket_address().address(), "10.2.0.9");

  sotw_ctx.TryCancel();
  delta_ctx.TryCancel();
  server->Shutdown(std::chrono::system_clock::now() + 2s);
}

}  // namespace
}  // namespace keel::pilot::xds
