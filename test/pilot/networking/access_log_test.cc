// meshConfig accessLogFile on a sidecar's listeners, as istiod's
// FileAccessLogFromMeshConfig shapes it.
#include "pilot/networking/core/access_log.h"
#include "pilot/networking/core/telemetry.h"

#include <gtest/gtest.h>

#include "envoy/extensions/access_loggers/file/v3/file.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "pilot/networking/core/well_known_names.h"
#include "pilot/networking/sidecar/listener_builder.h"
#include "pilot/networking/sidecar/proxy_instances.h"
#include "pilot/xds/generator.h"
#include "pilot/xds/resource_types.h"
#include "test/pilot/testing/configs.h"

namespace keel::pilot::networking {
namespace {

namespace file = ::envoy::extensions::access_loggers::file::v3;
namespace hcm = ::envoy::extensions::filters::network::http_connection_manager::v3;
namespace tcp = ::envoy::extensions::filters::network::tcp_proxy::v3;

envoy::config::listener::v3::Listener ReviewsInbound() {
  auto push = testing::BuildPush(testing::ServiceYaml("reviews", 9080, "10.96.0.9") +
                                 testing::PodYaml("reviews-v1", "reviews", "10.0.0.1", 9080));
  model::Proxy p;
  p.id = "sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local";
  p.ip = "10.0.0.1";
  p.ns = "default";
  p.labels = {{"app", "reviews"}};
  return sidecar::BuildVirtualInboundListener(p, *push, sidecar::ProxyServiceInstances(p, *push));
}

// The file access logs of every HCM and tcp_proxy of `l`, and how many filters had none.
std::vector<file::FileAccessLog> Logs(const envoy::config::listener::v3::Listener& l, int* without) {
  std::vector<file::FileAccessLog> out;
  *without = 0;
  auto collect = [&](const auto& logs) {
    if (logs.empty()) ++*without;
    for (const auto& log : logs) {
      EXPECT_EQ(log.name(), kFileAccessLog);
      file::FileAccessLog f;
      EXPECT_TRUE(log.typed_config().UnpackTo(&f));
      out.push_back(f);
    }
  };
  for (const auto& chain : l.filter_chains()) {
    for (const auto& f : chain.filters()) {
      if (f.name() == kHttpConnectionManager) {
        hcm::HttpConnectionManager m;
        EXPECT_TRUE(f.typed_config().UnpackTo(&m));
        collect(m.access_log());
      } else if (f.name() == kTcpProxy) {
        tcp::TcpProxy t;
        EXPECT_TRUE(f.typed_config().UnpackTo(&t));
        collect(t.access_log());
      }
    }
  }
  return out;
}

TEST(AccessLogTest, NoFileNoLog) {
  int without = 0;
  EXPECT_TRUE(Logs(WithMeshTelemetry(model::DefaultMeshConfig(), model::Proxy{}, ReviewsInbound()), &without).empty());
  EXPECT_GT(without, 2);
}

TEST(AccessLogTest, TextIsIstiodsDefaultFormatOnEveryHcmAndTcpProxy) {
  model::MeshConfig mesh = model::DefaultMeshConfig();
  mesh.set_access_log_file("/dev/stdout");
  int without = 0;
  const auto logs = Logs(WithMeshTelemetry(mesh, model::Proxy{}, ReviewsInbound()), &without);
  EXPECT_EQ(without, 0);
  ASSERT_GT(logs.size(), 2u);
  for (const auto& f : logs) {
    EXPECT_EQ(f.path(), "/dev/stdout");
    const std::string& text = f.log_format().text_format_source().inline_string();
    EXPECT_EQ(text.rfind("[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\"", 0), 0u)
        << text;
    EXPECT_EQ(text.back(), '\n');
  }
  mesh.set_access_log_format("%START_TIME% %RESPONSE_CODE%");
  EXPECT_EQ(Logs(WithMeshTelemetry(mesh, model::Proxy{}, ReviewsInbound()), &without)[0].log_format().text_format_source().inline_string(),
            "%START_TIME% %RESPONSE_CODE%\n")
      << "a newline added, as istiod";
}

TEST(AccessLogTest, JsonUsesTheMeshLabelsOrIstiodsDefaults) {
  model::MeshConfig mesh = model::DefaultMeshConfig();
  mesh.set_access_log_file("/var/log/envoy.json");
  mesh.set_access_log_encoding(model::MeshConfig::JSON);
  int without = 0;
  auto logs = Logs(WithMeshTelemetry(mesh, model::Proxy{}, ReviewsInbound()), &without);
  ASSERT_FALSE(logs.empty());
  const auto& labels = logs[0].log_format().json_format().fields();
  EXPECT_EQ(labels.size(), 24u);
  EXPECT_EQ(labels.at("upstream_cluster").string_value(), "%UPSTREAM_CLUSTER_RAW%");
  mesh.set_access_log_format(R"({"code": "%RESPONSE_CODE%", "path": "%REQ(:PATH)%"})");
  logs = Logs(WithMeshTelemetry(mesh, model::Proxy{}, ReviewsInbound()), &without);
  EXPECT_EQ(logs[0].log_format().json_format().fields().size(), 2u);
  mesh.set_access_log_format("not json");
  logs = Logs(WithMeshTelemetry(mesh, model::Proxy{}, ReviewsInbound()), &without);
  EXPECT_EQ(logs[0].log_format().json_format().fields().size(), 24u) << "unparsable: istiod's default labels";
}

TEST(AccessLogTest, TheListenersKeelServesCarryIt) {
  model::MeshOptions mesh;
  auto config = std::make_shared<model::MeshConfig>(model::DefaultMeshConfig());
  config->set_access_log_file("/dev/stdout");
  mesh.config = config;
  auto push = testing::BuildPush(testing::ServiceYaml("reviews", 9080, "10.96.0.9") +
                                     testing::PodYaml("reviews-v1", "reviews", "10.0.0.1", 9080),
                                 mesh);
  model::Proxy p;
  p.id = "sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local";
  p.ip = "10.0.0.1";
  p.ns = "default";
  p.labels = {{"app", "reviews"}};
  const auto generators = xds::MakeGenerators();
  xds::WatchedResource all;
  all.wildcard = true;
  const auto listeners = generators.at(xds::kListenerType)->Generate(p, *push, all);
  ASSERT_GE(listeners.size(), 3u);  // outbound 9080, virtualOutbound, virtualInbound
  for (const auto& r : listeners) {
    envoy::config::listener::v3::Listener l;
    ASSERT_TRUE(r.resource->any.UnpackTo(&l));
    int without = 0;
    EXPECT_FALSE(Logs(l, &without).empty()) << r.name;
    EXPECT_EQ(without, 0) << r.name;
  }
}

}  // namespace
}  // namespace keel::pilot::networking
