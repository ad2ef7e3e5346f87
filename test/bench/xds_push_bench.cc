// xds_push_bench: what one endpoint change costs a connected proxy, state of the
// world against delta. An in-process AdsServer serves a mesh of N services (two
// ready Pods each); one SotW and one Delta stream, as an Envoy sidecar, subscribe
// to every cluster (CDS wildcard) and every ClusterLoadAssignment (EDS by name).
// Then one Pod of one service moves, a push goes out, and the bench prints, per
// stream: the bytes and resources of the EDS response, and how long the push
// took for both; then the same as an incremental EDS push (PushContext::
// UpdateEndpoints, full=false). Also: PushContext build time and the size
// of the initial responses. Prints numbers; not a test.
//
//   build/test/xds_push_bench [SERVICES]      (default 2000)
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "pilot/xds/ads_server.h"
#include "pilot/xds/resource_types.h"
#include "test/pilot/testing/configs.h"

namespace {

namespace model = keel::pilot::model;
namespace pxds = keel::pilot::xds;
using envoy::service::discovery::v3::AggregatedDiscoveryService;
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;
using Clock = std::chrono::steady_clock;

constexpr char kNode[] = "sidecar~10.9.0.1~bench-0.default~default.svc.cluster.local";

std::string Mesh(int services, const std::string& moved_ip) {
  std::string yaml;
  for (int i = 0; i < services; ++i) {
    const std::string name = "svc-" + std::to_string(i);
    yaml += keel::pilot::testing::ServiceYaml(
        name, 8080, "10.96." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1));
    for (int p = 0; p < 2; ++p) {
      const std::string ip = (i == 0 && p == 0) ? moved_ip
                                                : "10.1." + std::to_string(i / 125) + "." + std::to_string((i % 125) * 2 + p + 1);
      yaml += keel::pilot::testing::PodYaml(name + "-" + std::to_string(p), name, ip, 8080);
    }
  }
  return yaml;
}

void SetNode(envoy::config::core::v3::Node* node) {
  node->set_id(kNode);
  (*node->mutable_metadata()->mutable_fields())["NAMESPACE"].set_string_value("default");
}

size_t Bytes(const DiscoveryResponse& r) { return r.ByteSizeLong(); }
size_t Bytes(const DeltaDiscoveryResponse& r) { return r.ByteSizeLong(); }

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  const int services = argc > 1 ? std::atoi(argv[1]) : 2000;
  uint64_t version = 0;
  auto build = [&](const std::string& ip) {
    const std::string yaml = Mesh(services, ip);
    const auto begin = Clock::now();
    auto push = model::PushContext::Build(keel::pilot::testing::SnapshotOf(yaml), {}, ++version);
    std::printf("PushContext for %d services, %d pods: %.1f ms (YAML parse included)\n", services, 2 * services,
                Ms(Clock::now() - begin));
    return push;
  };
  pxds::AdsServer ads(pxds::MakeGenerators());
  pxds::PushRequest full;
  full.start = Clock::now();
  ads.Push(build("10.200.0.1"), full);

  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&ads);
  builder.SetMaxSendMessageSize(-1);
  auto server = builder.BuildAndStart();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(), args);
  auto stub = AggregatedDiscoveryService::NewStub(channel);

  // State of the world: CDS wildcard, then EDS for every cluster.
  grpc::ClientContext sotw_ctx;
  auto sotw = stub->StreamAggregatedResources(&sotw_ctx);
  DiscoveryRequest cds;
  SetNode(cds.mutable_node());
  cds.set_type_url(pxds::kClusterType);
  sotw->Write(cds);
  DiscoveryResponse clusters;
  sotw->Read(&clusters);
  std::vector<std::string> names;
  for (int i = 0; i < services; ++i) names.push_back("outbound|8080||svc-" + std::to_string(i) + ".default.svc.cluster.local");
  DiscoveryRequest eds;
  eds.set_type_url(pxds::kEndpointType);
  for (const auto& n : names) eds.add_resource_names(n);
  auto t0 = Clock::now();
  sotw->Write(eds);
  DiscoveryResponse endpoints;
  sotw->Read(&endpoints);
  std::printf("initial CDS: %d clusters, %zu bytes; initial EDS: %d assignments, %zu bytes, %.1f ms\n",
              clusters.resources_size(), Bytes(clusters), endpoints.resources_size(), Bytes(endpoints), Ms(Clock::now() - t0));
  for (const auto* r : {&clusters, &endpoints}) {
    DiscoveryRequest ack;
    ack.set_type_url(r->type_url());
    ack.set_version_info(r->version_info());
    ack.set_response_nonce(r->nonce());
    if (r == &endpoints) *ack.mutable_resource_names() = eds.resource_names();
    sotw->Write(ack);
  }

  // Delta: the same subscriptions.
  grpc::ClientContext delta_ctx;
  auto delta = stub->DeltaAggregatedResources(&delta_ctx);
  DeltaDiscoveryRequest dcds;
  SetNode(dcds.mutable_node());
  dcds.set_type_url(pxds::kClusterType);
  delta->Write(dcds);
  DeltaDiscoveryResponse dclusters;
  delta->Read(&dclusters);
  DeltaDiscoveryRequest deds;
  deds.set_type_url(pxds::kEndpointType);
  for (const auto& n : names) deds.add_resource_names_subscribe(n);
  delta->Write(deds);
  DeltaDiscoveryResponse dendpoints;
  delta->Read(&dendpoints);
  for (const auto* r : {&dclusters, &dendpoints}) {
    DeltaDiscoveryRequest ack;
    ack.set_type_url(r->type_url());
    ack.set_response_nonce(r->nonce());
    delta->Write(ack);
  }

  // One Pod moves: both streams get an EDS response.
  pxds::PushRequest change;
  change.start = Clock::now();
  auto moved = build("10.200.0.2");
  const auto pushed = Clock::now();
  ads.Push(moved, change);  // queues both streams; the push workers generate (cached per push), diff, send
  const auto push_returned = Clock::now();
  DiscoveryResponse sotw_update;
  sotw->Read(&sotw_update);
  DeltaDiscoveryResponse delta_update;
  delta->Read(&delta_update);
  const auto both_read = Clock::now();
  std::printf("one endpoint change: Push() for both streams %.2f ms; both EDS responses read %.2f ms after it began\n",
              Ms(push_returned - pushed), Ms(both_read - pushed));
  std::printf("  state of the world EDS: %d assignments, %zu bytes\n", sotw_update.resources_size(), Bytes(sotw_update));
  std::printf("  delta EDS:              %d assignments, %zu bytes, removed %d\n", delta_update.resources_size(),
              Bytes(delta_update), delta_update.removed_resources_size());

  for (const auto* r : {&sotw_update}) {
    DiscoveryRequest ack;
    ack.set_type_url(r->type_url());
    ack.set_version_info(r->version_info());
    ack.set_response_nonce(r->nonce());
    *ack.mutable_resource_names() = eds.resource_names();
    sotw->Write(ack);
  }
  {
    DeltaDiscoveryRequest ack;
    ack.set_type_url(delta_update.type_url());
    ack.set_response_nonce(delta_update.nonce());
    delta->Write(ack);
  }

  // The same change as an incremental EDS push (what keel-discovery does for a
  // Pod or EndpointSlice change): the previous PushContext with one host's
  // endpoints recomputed, and an EDS-only push.
  auto snapshot = keel::pilot::testing::SnapshotOf(Mesh(services, "10.200.0.3"));
  auto t_full = Clock::now();
  auto full_again = model::PushContext::Build(snapshot, {}, ++version);
  const double full_ms = Ms(Clock::now() - t_full);
  const std::string host = "svc-0.default.svc.cluster.local";
  auto t_inc = Clock::now();
  auto incremental = model::PushContext::UpdateEndpoints(*moved, snapshot, {host}, ++version);
  const double inc_ms = Ms(Clock::now() - t_inc);
  std::printf("PushContext from the same snapshot (no YAML): full build %.2f ms, endpoints of 1 host rebuilt %.3f ms\n",
              full_ms, inc_ms);
  pxds::PushRequest eds_only;
  eds_only.full = false;
  eds_only.endpoints_updated = {host};
  eds_only.start = Clock::now();
  const auto inc_pushed = Clock::now();
  ads.Push(incremental, eds_only);
  const auto inc_returned = Clock::now();
  DiscoveryResponse sotw_inc;
  sotw->Read(&sotw_inc);
  DeltaDiscoveryResponse delta_inc;
  delta->Read(&delta_inc);
  const auto inc_read = Clock::now();
  std::printf("incremental EDS push: Push() %.2f ms; both EDS responses read %.2f ms after it began\n",
              Ms(inc_returned - inc_pushed), Ms(inc_read - inc_pushed));
  std::printf("  state of the world EDS: %d assignments, %zu bytes\n", sotw_inc.resources_size(), Bytes(sotw_inc));
  std::printf("  delta EDS:              %d assignments, %zu bytes, removed %d\n", delta_inc.resources_size(),
              Bytes(delta_inc), delta_inc.removed_resources_size());

  sotw_ctx.TryCancel();
  delta_ctx.TryCancel();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
