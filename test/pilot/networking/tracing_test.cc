// Tracing and the request id istiod puts on every HttpConnectionManager without
// a Telemetry resource (pilot/pkg/networking/core/tracing.go, meshConfig fallback).
#include "pilot/networking/core/tracing.h"
#include "pilot/networking/core/telemetry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "envoy/extensions/request_id/uuid/v3/uuid.pb.h"
#include "pilot/networking/core/well_known_names.h"
#include "pilot/networking/sidecar/listener_builder.h"
#include "pilot/networking/sidecar/proxy_instances.h"
#include "test/pilot/testing/configs.h"

namespace keel::pilot::networking {
namespace {

namespace hcm = ::envoy::extensions::filters::network::http_connection_manager::v3;
using ::testing::ElementsAre;

model::Proxy Reviews() {
  model::Proxy p;
  p.id = "sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local";
  p.ip = "10.0.0.1";
  p.ns = "default";
  p.labels = {{"app", "reviews"}, {"service.istio.io/canonical-name", "reviews"}};
  return p;
}

TEST(TracingTest, DefaultsAreIstiods) {
  const auto t = MeshTracing(model::DefaultMeshConfig(), Reviews());
  ASSERT_TRUE(t.has_value());  // enableTracing defaults to true
  EXPECT_EQ(t->client_sampling().value(), 100);
  EXPECT_EQ(t->overall_sampling().value(), 100);
  EXPECT_EQ(t->random_sampling().value(), 1);  // PILOT_TRACE_SAMPLING
  std::vector<std::string> tags;
  std::map<std::string, std::string> literals;
  for (const auto& tag : t->custom_tags()) {
    tags.push_back(tag.tag());
    if (tag.has_literal()) literals[tag.tag()] = tag.literal().value();
  }
  EXPECT_THAT(tags, ElementsAre("istio.authorization.dry_run.allow_policy.name",
                                "istio.authorization.dry_run.allow_policy.result",
                                "istio.authorization.dry_run.deny_policy.name",
                                "istio.authorization.dry_run.deny_policy.result", "istio.canonical_revision",
                                "istio.canonical_service", "istio.cluster_id", "istio.mesh_id", "istio.namespace"));
  EXPECT_EQ(literals["istio.canonical_service"], "reviews");
  EXPECT_EQ(literals["istio.canonical_revision"], "latest");
  EXPECT_EQ(literals["istio.cluster_id"], "Kubernetes");
  EXPECT_EQ(literals["istio.mesh_id"], "unknown");
  EXPECT_EQ(literals["istio.namespace"], "default");
}

TEST(TracingTest, MeshConfigSamplingTagsAndSwitch) {
  model::MeshConfig mesh = model::DefaultMeshConfig();
  mesh.mutable_default_config()->mutable_tracing()->set_sampling(25);
  mesh.mutable_default_config()->mutable_tracing()->mutable_enable_istio_tags()->set_value(false);
  auto t = MeshTracing(mesh, Reviews());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->random_sampling().value(), 25);
  EXPECT_TRUE(t->custom_tags().empty());
  mesh.mutable_default_config()->mutable_tracing()->set_sampling(150);  // istiod: above 100 means 1
  EXPECT_EQ(MeshTracing(mesh, Reviews())->random_sampling().value(), 1);
  mesh.set_enable_tracing(false);
  EXPECT_FALSE(MeshTracing(mesh, Reviews()).has_value());
}

TEST(TracingTest, EveryHcmGetsTracingAndTheUuidRequestIdEvenWithoutTracing) {
  auto push = testing::BuildPush(testing::ServiceYaml("reviews", 9080, "10.96.0.9") +
                                 testing::PodYaml("reviews-v1", "reviews", "10.0.0.1", 9080));
  const model::Proxy p = Reviews();
  const auto inbound = sidecar::BuildVirtualInboundListener(p, *push, sidecar::ProxyServiceInstances(p, *push));
  for (const bool tracing : {true, false}) {
    model::MeshConfig mesh = model::DefaultMeshConfig();
    mesh.set_enable_tracing(tracing);
    const auto l = WithMeshTelemetry(mesh, p, inbound);
    int hcms = 0;
    for (const auto& chain : l.filter_chains()) {
      for (const auto& f : chain.filters()) {
        if (f.name() != kHttpConnectionManager) continue;
        hcm::HttpConnectionManager m;
        ASSERT_TRUE(f.typed_config().UnpackTo(&m));
        EXPECT_EQ(m.has_tracing(), tracing) << chain.name();
        envoy::extensions::request_id::uuid::v3::UuidRequestIdConfig uuid;
        ASSERT_TRUE(m.request_id_extension().typed_config().UnpackTo(&uuid)) << chain.name();
        EXPECT_TRUE(uuid.use_request_id_for_trace_sampling().value());
        ++hcms;
      }
    }
    EXPECT_GT(hcms, 0);
  }
}

}  // namespace
}  // namespace keel::pilot::networking
