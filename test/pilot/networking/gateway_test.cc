// Gateway (router) translation: host algebra, merging Gateways per port,
// listeners, routes, TLS routes, SDS secrets, and the generators' cache scope.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "pilot/networking/core/tls_route_translator.h"
#include "pilot/networking/gateway/gateway_hosts.h"
#include "pilot/networking/gateway/listener_builder.h"
#include "pilot/networking/gateway/merged_gateway.h"
#include "pilot/networking/gateway/route_builder.h"
#include "pilot/networking/gateway/secret_builder.h"
#include "pilot/networking/gateway/tls_context.h"
#include "pilot/xds/generator.h"
#include "pilot/xds/proxy_generators.h"
#include "pilot/xds/sds_generator.h"
#include "test/pilot/testing/configs.h"

namespace keel::pilot::networking::gateway {
namespace {

using ::keel::pilot::testing::BuildPush;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
namespace hcm = ::envoy::extensions::filters::network::http_connection_manager::v3;
namespace tcp = ::envoy::extensions::filters::network::tcp_proxy::v3;
namespace tls = ::envoy::extensions::transport_sockets::tls::v3;
namespace route = ::envoy::config::route::v3;

model::Proxy Gateway(std::map<std::string, std::string> labels = {{"istio", "ingressgateway"}},
                     std::string ns = "istio-system", std::string ip = "10.0.0.50") {
  model::Proxy p;
  p.type = model::ProxyType::kRouter;
  p.id = "router~" + ip + "~istio-ingressgateway-0." + ns + "~" + ns + ".svc.cluster.local";
  p.ip = ip;
  p.pod_name = "istio-ingressgateway-0";
  p.ns = ns;
  p.labels = std::move(labels);
  return p;
}

constexpr char kServices[] = R"(
apiVersion: v1
kind: Service
metadata: {name: productpage, namespace: default}
spec:
  clusterIP: 10.96.0.20
  selector: {app: productpage}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  clusterIP: 10.96.0.21
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
)";

std::vector<std::string> Domains(const route::VirtualHost& vh) { return {vh.domains().begin(), vh.domains().end()}; }

std::vector<std::string> VirtualHostNames(const route::RouteConfiguration& rc) {
  std::vector<std::string> out;
  for (const auto& vh : rc.virtual_hosts()) out.push_back(vh.name());
  return out;
}

hcm::HttpConnectionManager Hcm(const envoy::config::listener::v3::FilterChain& fc) {
  hcm::HttpConnectionManager m;
  EXPECT_TRUE(fc.filters(0).typed_config().UnpackTo(&m));
  return m;
}

// --- host algebra ---

TEST(GatewayHostsTest, SubsetOfFollowsIstioWildcards) {
  EXPECT_TRUE(HostSubsetOf("a.example.com", "*.example.com"));
  EXPECT_TRUE(HostSubsetOf("*.a.example.com", "*.example.com"));
  EXPECT_TRUE(HostSubsetOf("anything", "*"));
  EXPECT_TRUE(HostSubsetOf("*", "*"));
  EXPECT_FALSE(HostSubsetOf("*.example.com", "a.example.com"));
  EXPECT_FALSE(HostSubsetOf("example.com", "*.example.com"));  // "*." needs a label before it
  EXPECT_FALSE(HostSubsetOf("a.example.org", "*.example.com"));
  EXPECT_TRUE(HostsMatch("*.example.com", "a.example.com"));
}

TEST(GatewayHostsTest, IntersectionKeepsTheMoreSpecificName) {
  EXPECT_THAT(IntersectHosts({"*"}, {"bookinfo.example.com", "*.org"}), ElementsAre("bookinfo.example.com", "*.org"));
  EXPECT_THAT(IntersectHosts({"*.example.com"}, {"a.example.com", "b.example.org"}), ElementsAre("a.example.com"));
  EXPECT_THAT(IntersectHosts({"a.example.com", "b.example.com"}, {"*.example.com"}),
              ElementsAre("a.example.com", "b.example.com"));
  EXPECT_THAT(IntersectHosts({"*", "*.example.com"}, {"*"}), ElementsAre("*", "*.example.com"));
  EXPECT_THAT(IntersectHosts({"a.com"}, {"b.com"}), IsEmpty());
}

TEST(GatewayHostsTest, ServerHostNamespaces) {
  EXPECT_THAT(SanitizeServerHosts({"./a.com", "*/b.com", "other/c.com", "d.com"}, "gw-ns"),
              ElementsAre("gw-ns/a.com", "b.com", "other/c.com", "d.com"));
  EXPECT_THAT(SanitizeServerHosts({"a.com", "*/*"}, "gw-ns"), ElementsAre("*"));
  const std::vector<std::string> hosts{"gw-ns/a.com", "b.com", "other/c.com"};
  EXPECT_THAT(ServerHostsForNamespace(hosts, "gw-ns"), ElementsAre("a.com", "b.com"));
  EXPECT_THAT(ServerHostsForNamespace(hosts, "other"), ElementsAre("b.com", "c.com"));
  EXPECT_THAT(StripNamespaces({"x/b.com", "a.com", "y/b.com"}), ElementsAre("a.com", "b.com"));
}

// --- merging ---

TEST(MergeGatewaysTest, SelectsByLabelsFromEveryNamespaceOldestFirst) {
  auto push = BuildPush(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: newer, namespace: apps, creationTimestamp: "2024-02-01T00:00:00Z"}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [b.com]}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: older, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [a.com]}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: egress, namespace: default}
spec:
  selector: {istio: egressgateway}
  servers: [{port: {number: 443, name: tls, protocol: TLS}, hosts: [c.com], tls: {mode: PASSTHROUGH}}]
)");
  auto merged = MergeGateways(Gateway(), *push);
  ASSERT_THAT(merged.gateways, SizeIs(2));
  EXPECT_EQ(merged.gateways[0]->key.name, "older");
  ASSERT_THAT(merged.server_ports, SizeIs(1));  // both HTTP servers share port 80
  const auto& servers = merged.servers_by_route.at("http.80");
  ASSERT_THAT(servers, SizeIs(2));
  EXPECT_EQ(servers[0]->gateway, "default/older");
  EXPECT_EQ(servers[1]->gateway, "apps/newer");
  EXPECT_THAT(MergeGateways(Gateway({{"istio", "egressgateway"}}), *push).servers_by_route, IsEmpty());
  EXPECT_TRUE(MergeGateways(Gateway({{"app", "other"}}), *push).empty());
}

TEST(MergeGatewaysTest, TranslatesPortsThroughTheGatewayService) {
  auto push = BuildPush(R"(
apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  ports:
  - {name: http2, port: 80, targetPort: 8080}
  - {name: https, port: 443, targetPort: https}
---
apiVersion: v1
kind: Pod
metadata: {name: istio-ingressgateway-0, namespace: istio-system, labels: {istio: ingressgateway}}
spec: {containers: [{name: istio-proxy, ports: [{name: https, containerPort: 8443}]}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}
  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, credentialName: c}}
  - {port: {number: 9000, name: tcp, protocol: TCP}, hosts: ["*"]}
)");
  auto merged = MergeGateways(Gateway(), *push);
  std::vector<std::string> names = GatewayListenerNames(merged, Gateway());
  EXPECT_THAT(names, ElementsAre("0.0.0.0_8080", "0.0.0.0_8443", "0.0.0.0_9000"));
  // HTTP routes are named by the port listened on, HTTPS routes by the server's port.
  EXPECT_TRUE(merged.servers_by_route.count("http.8080"));
  EXPECT_TRUE(merged.servers_by_route.count("https.443.https.gw.default"));
  EXPECT_EQ(merged.port_translations, "80>8080;443>8443");
  // A proxy elsewhere, with no Service selecting it, listens on the ports as written.
  EXPECT_THAT(GatewayListenerNames(MergeGateways(Gateway({{"istio", "ingressgateway"}}, "other"), *push),
                                   Gateway({{"istio", "ingressgateway"}}, "other")),
              ElementsAre("0.0.0.0_443", "0.0.0.0_80", "0.0.0.0_9000"));
}

TEST(MergeGatewaysTest, ResolvesConflictsAsIstiod) {
  auto push = BuildPush(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: a, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  selector: {istio: ingressgateway}
  servers:
  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}
  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.com], tls: {mode: SIMPLE, credentialName: a}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: b, namespace: default, creationTimestamp: "2024-01-02T00:00:00Z"}
spec:
  selector: {istio: ingressgateway}
  servers:
  - {port: {number: 80, name: tcp, protocol: TCP}, hosts: ["*"]}
  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.com], tls: {mode: SIMPLE, credentialName: b}}
  - {port: {number: 443, name: https-b, protocol: HTTPS}, hosts: [b.com], tls: {mode: SIMPLE, credentialName: b}}
)");
  auto merged = MergeGateways(Gateway(), *push);
  ASSERT_THAT(merged.rejected, SizeIs(2));
  EXPECT_THAT(merged.rejected[0], HasSubstr("conflicts with HTTP server"));
  EXPECT_THAT(merged.rejected[1], HasSubstr("duplicate TLS hosts a.com"));
  const auto& https = merged.servers.at(ServerPort{443, "HTTPS", ""});
  ASSERT_THAT(https.servers, SizeIs(2));
  EXPECT_EQ(https.servers[0]->route_name, "https.443.https.a.default");
  EXPECT_EQ(https.servers[1]->route_name, "https.443.https-b.b.default");
  EXPECT_THAT(https.servers[1]->sni_hosts, ElementsAre("b.com"));
}

// --- virtual services for a gateway ---

TEST(VirtualServicesForGatewayTest, VisibilityGroupsThenAge) {
  auto push = BuildPush(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: public-old, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {hosts: [a.com], gateways: [istio-system/gw], http: [{route: [{destination: {host: a}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: private, namespace: istio-system, creationTimestamp: "2024-01-03T00:00:00Z"}
spec: {hosts: [a.com], gateways: [gw], exportTo: ["."], http: [{route: [{destination: {host: a}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: exported, namespace: default, creationTimestamp: "2024-01-02T00:00:00Z"}
spec: {hosts: [a.com], gateways: [istio-system/gw], exportTo: [istio-system], http: [{route: [{destination: {host: a}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: hidden, namespace: default}
spec: {hosts: [a.com], gateways: [istio-system/gw], exportTo: ["."], http: [{route: [{destination: {host: a}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mesh, namespace: default}
spec: {hosts: [a.com], http: [{route: [{destination: {host: a}}]}]}
)");
  std::vector<std::string> names;
  for (const auto* vs : push->Scope({"istio-system"}).VirtualServicesForGateway("istio-system/gw")) {
    names.push_back(vs->config->key.name);
  }
  EXPECT_THAT(names, ElementsAre("private", "exported", "public-old"));
  EXPECT_THAT(push->Scope({"default"}).VirtualServicesForGateway("istio-system/gw"), SizeIs(2));  // public-old, hidden
}

// --- listeners and routes ---

constexpr char kHttpGateway[] = R"(
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [example.org]}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gateway-redirect, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [example.org], tls: {httpsRedirect: true}}]
)";

constexpr char kTwoVirtualServices[] = R"(
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: virtual-service, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: [example.org]
  gateways: [gateway, gateway-redirect]
  http: [{route: [{destination: {host: productpage}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: virtual-service-copy, namespace: default, creationTimestamp: "2024-01-02T00:00:00Z"}
spec:
  hosts: [example.org]
  gateways: [gateway, gateway-redirect]
  http: [{route: [{destination: {host: reviews}}]}]
)";

// Istio's TestGatewayHTTPRouteConfig "merging of virtual services when tls redirect is set".
TEST(GatewayRoutesTest, MergesEveryServerAndVirtualServiceIntoOneHost) {
  auto push = BuildPush(std::string(kServices) + kHttpGateway + kTwoVirtualServices);
  const auto proxy = Gateway();
  auto merged = MergeGateways(proxy, *push);
  auto rc = BuildGatewayRouteConfiguration("http.80", merged, proxy, *push);
  ASSERT_THAT(VirtualHostNames(rc), ElementsAre("example.org:80"));
  EXPECT_THAT(Domains(rc.virtual_hosts(0)), ElementsAre("example.org"));
  EXPECT_EQ(rc.virtual_hosts(0).routes_size(), 4);  // 2 servers x 2 VirtualServices
  EXPECT_EQ(rc.virtual_hosts(0).require_tls(), route::VirtualHost::ALL);
  EXPECT_TRUE(rc.ignore_port_in_host_matching());
  EXPECT_FALSE(rc.validate_clusters().value());
}

TEST(GatewayRoutesTest, RedirectOnlyHostsAndBlackhole) {
  const auto proxy = Gateway();
  auto push = BuildPush(std::string(kServices) + kHttpGateway);
  auto rc = BuildGatewayRouteConfiguration("http.80", MergeGateways(proxy, *push), proxy, *push);
  ASSERT_THAT(VirtualHostNames(rc), ElementsAre("example.org:80"));
  EXPECT_EQ(rc.virtual_hosts(0).routes_size(), 0);
  EXPECT_EQ(rc.virtual_hosts(0).require_tls(), route::VirtualHost::ALL);

  push = BuildPush(std::string(kServices) + R"(
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [example.org]}]
)");
  rc = BuildGatewayRouteConfiguration("http.80", MergeGateways(proxy, *push), proxy, *push);
  ASSERT_THAT(VirtualHostNames(rc), ElementsAre("blackhole:80"));
  EXPECT_THAT(Domains(rc.virtual_hosts(0)), ElementsAre("*"));
  EXPECT_EQ(rc.virtual_hosts(0).routes_size(), 0);

  // A name no server has (a deleted Gateway's draining listener): empty, not missing.
  rc = BuildGatewayRouteConfiguration("http.81", MergeGateways(proxy, *push), proxy, *push);
  EXPECT_EQ(rc.name(), "http.81");
  EXPECT_EQ(rc.virtual_hosts_size(), 0);
}

constexpr char kWildcardHttpGateway[] = R"(
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
)";

TEST(GatewayRoutesTest, CatchAllRoutesGoLast) {
  const auto proxy = Gateway();
  auto push = BuildPush(std::string(kServices) + kWildcardHttpGateway + R"(
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: [example.org]
  gateways: [gateway]
  http:
  - route: [{destination: {host: productpage}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: b, namespace: default, creationTimestamp: "2024-01-02T00:00:00Z"}
spec:
  hosts: [example.org]
  gateways: [gateway]
  http:
  - match: [{uri: {prefix: /reviews}}]
    route: [{destination: {host: reviews}}]
)");
  auto rc = BuildGatewayRouteConfiguration("http.80", MergeGateways(proxy, *push), proxy, *push);
  ASSERT_EQ(rc.virtual_hosts_size(), 1);
  ASSERT_EQ(rc.virtual_hosts(0).routes_size(), 2);
  EXPECT_EQ(rc.virtual_hosts(0).routes(0).match().prefix(), "/reviews");
  EXPECT_EQ(rc.virtual_hosts(0).routes(1).route().cluster(), "outbound|9080||productpage.default.svc.cluster.local");
}

// istiod completes gateway routes as it does sidecar routes (one
// BuildHTTPRoutesForVirtualService): retries, hashing, decorator, metadata.
TEST(GatewayRoutesTest, CompletedAsSidecarRoutesAre) {
  const auto proxy = Gateway();
  auto push = BuildPush(std::string(kServices) + kWildcardHttpGateway + R"(
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [example.org]
  gateways: [gateway]
  http:
  - match: [{uri: {prefix: /reviews}}]
    timeout: 3s
    retries: {attempts: 4, retryOn: "gateway-error,502", retryIgnorePreviousHosts: true, backoff: 0.25s}
    route: [{destination: {host: reviews}}]
  - match: [{uri: {exact: /once}}]
    retries: {attempts: 0}
    route: [{destination: {host: productpage}}]
  - route: [{destination: {host: productpage}}]
  - match: [{uri: {prefix: /never}}]
    route: [{destination: {host: reviews}}]
)");
  auto rc = BuildGatewayRouteConfiguration("http.80", MergeGateways(proxy, *push), proxy, *push);
  ASSERT_EQ(rc.virtual_hosts_size(), 1);
  const auto& routes = rc.virtual_hosts(0).routes();
  ASSERT_EQ(routes.size(), 3) << "nothing after the catch-all";

  const auto& reviews = routes[0].route();
  EXPECT_EQ(routes[0].decorator().operation(), "reviews.default.svc.cluster.local:9080/reviews*");
  EXPECT_EQ(reviews.max_grpc_timeout().seconds(), 3);
  EXPECT_EQ(reviews.retry_policy().num_retries().value(), 4u);
  EXPECT_EQ(reviews.retry_policy().retry_on(), "gateway-error,retriable-status-codes");
  EXPECT_THAT(reviews.retry_policy().retriable_status_codes(), ElementsAre(502));
  ASSERT_EQ(reviews.hash_policy_size(), 1);
  EXPECT_EQ(reviews.hash_policy(0).header().header_name(), "x-user");
  ASSERT_EQ(reviews.retry_policy().retry_host_predicate_size(), 1)
      << "retryIgnorePreviousHosts: true overrides hashing's same-host retries";
  EXPECT_EQ(reviews.retry_policy().retry_back_off().base_interval().nanos(), 250000000);

  EXPECT_FALSE(routes[1].route().has_retry_policy()) << "attempts: 0 turns retries off";

  const auto& fallback = routes[2].route().retry_policy();
  EXPECT_EQ(fallback.num_retries().value(), 2u) << "the mesh default";
  EXPECT_EQ(fallback.retry_on(), "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes");
  EXPECT_THAT(fallback.retriable_status_codes(), IsEmpty()) << "istiod's default retries no status (not 503)";
  EXPECT_FALSE(fallback.has_retry_back_off());
  ASSERT_EQ(fallback.retry_host_predicate_size(), 1);
  EXPECT_EQ(fallback.retry_host_predicate(0).name(), "envoy.retry_host_predicates.previous_hosts");
  EXPECT_EQ(routes[2].metadata().filter_metadata().at("istio").fields().at("config").string_value(),
            "/apis/networking.istio.io/v1/namespaces/default/virtual-service/shop");
}

TEST(GatewayListenersTest, HttpsChainsPerServerWithSniAndSds) {
  const auto proxy = Gateway();
  auto push = BuildPush(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-wild, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: wild}
  - port: {number: 443, name: https-mtls, protocol: HTTPS}
    hosts: [default/b.com, a.com]
    tls: {mode: MUTUAL, credentialName: other-ns/cred}
)");
  auto l = BuildGatewayListener("0.0.0.0_443", MergeGateways(proxy, *push), proxy, *push);
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->traffic_direction(), envoy::config::core::v3::OUTBOUND);
  ASSERT_EQ(l->listener_filters_size(), 1);
  EXPECT_EQ(l->listener_filters(0).name(), kTlsInspector);
  ASSERT_EQ(l->filter_chains_size(), 2);
  EXPECT_FALSE(l->filter_chains(0).has_filter_chain_match());  // "*": no SNI match
  EXPECT_THAT(l->filter_chains(1).filter_chain_match().server_names(), ElementsAre("a.com", "b.com"));

  tls::DownstreamTlsContext ctx;
  ASSERT_TRUE(l->filter_chains(1).transport_socket().typed_config().UnpackTo(&ctx));
  EXPECT_TRUE(ctx.require_client_certificate().value());
  EXPECT_EQ(ctx.common_tls_context().tls_certificate_sds_secret_configs(0).name(), "kubernetes://other-ns/cred");
  EXPECT_TRUE(ctx.common_tls_context().tls_certificate_sds_secret_configs(0).sds_config().has_ads());
  EXPECT_EQ(ctx.common_tls_context().combined_validation_context().validation_context_sds_secret_config().name(),
            "kubernetes://other-ns/cred-cacert");
  EXPECT_EQ(Hcm(l->filter_chains(1)).rds().route_config_name(), "https.443.https-mtls.gw.default");
  EXPECT_EQ(Hcm(l->filter_chains(0)).stat_prefix(), "outbound_0.0.0.0_443;");
}

TEST(GatewayListenersTest, TlsContextVariants) {
  EXPECT_EQ(CredentialResourceName("cred"), "kubernetes://cred");
  EXPECT_EQ(CredentialResourceName("kubernetes://ns/cred"), "kubernetes://ns/cred");
  EXPECT_EQ(CredentialResourceName("builtin://"), "default");

  auto push = BuildPush(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-files, protocol: HTTPS}
    hosts: [files.com]
    tls: {mode: MUTUAL, serverCertificate: /etc/certs/tls.crt, privateKey: /etc/certs/tls.key, caCertificates: /etc/certs/ca.crt}
  - port: {number: 443, name: https-mesh, protocol: HTTPS}
    hosts: [mesh.com]
    tls: {mode: ISTIO_MUTUAL}
)");
  auto merged = MergeGateways(Gateway(), *push);
  const auto& servers = merged.servers.begin()->second.servers;
  ASSERT_THAT(servers, SizeIs(2));
  auto files = BuildServerTlsContext(*servers[0]);
  EXPECT_EQ(files.common_tls_context().tls_certificate_sds_secret_configs(0).name(),
            "file-cert:/etc/certs/tls.crt~/etc/certs/tls.key");
  EXPECT_EQ(files.common_tls_context()
                .tls_certificate_sds_secret_configs(0)
                .sds_config()
                .api_config_source()
                .grpc_services(0)
                .envoy_grpc()
                .cluster_name(),
            "sds-grpc");
  EXPECT_EQ(files.common_tls_context().combined_validation_context().validation_context_sds_secret_config().name(),
            "file-root:/etc/certs/ca.crt");
  auto mesh = BuildServerTlsContext(*servers[1]);
  EXPECT_EQ(mesh.common_tls_context().tls_certificate_sds_secret_configs(0).name(), "default");
  EXPECT_EQ(mesh.common_tls_context().combined_validation_context().validation_context_sds_secret_config().name(),
            "ROOTCA");
  EXPECT_TRUE(mesh.require_client_certificate().value());
}

TEST(GatewayListenersTest, TcpAndPassthroughNeedAVirtualService) {
  const auto proxy = Gateway();
  const std::string gateway = std::string(kServices) + R"(
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - {port: {number: 31400, name: tcp, protocol: TCP}, hosts: ["*"]}
  - {port: {number: 443, name: tls, protocol: TLS}, hosts: ["*.example.com"], tls: {mode: PASSTHROUGH}}
)";
  auto push = BuildPush(gateway);
  auto merged = MergeGateways(proxy, *push);
  EXPECT_FALSE(BuildGatewayListener("0.0.0.0_31400", merged, proxy, *push).has_value());
  EXPECT_FALSE(BuildGatewayListener("0.0.0.0_443", merged, proxy, *push).has_value());
  EXPECT_FALSE(BuildGatewayListener("0.0.0.0_9", merged, proxy, *push).has_value());

  push = BuildPush(gateway + R"(
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: routes, namespace: default}
spec:
  hosts: ["*.example.com"]
  gateways: [gw]
  tcp:
  - match: [{port: 31401}]
    route: [{destination: {host: reviews}}]
  - route: [{destination: {host: productpage}}]
  tls:
  - match: [{sniHosts: [a.example.com]}]
    route: [{destination: {host: productpage}}]
  - match: [{sniHosts: [a.example.com, b.example.com]}]
    route: [{destination: {host: reviews}}]
)");
  merged = MergeGateways(proxy, *push);
  auto tcp_listener = BuildGatewayListener("0.0.0.0_31400", merged, proxy, *push);
  ASSERT_TRUE(tcp_listener.has_value());
  ASSERT_EQ(tcp_listener->filter_chains_size(), 1);
  EXPECT_EQ(tcp_listener->listener_filters_size(), 0);
  tcp::TcpProxy proxy_config;
  ASSERT_TRUE(tcp_listener->filter_chains(0).filters(0).typed_config().UnpackTo(&proxy_config));
  EXPECT_EQ(proxy_config.cluster(), "outbound|9080||productpage.default.svc.cluster.local");  // the first match applies

  auto tls_listener = BuildGatewayListener("0.0.0.0_443", merged, proxy, *push);
  ASSERT_TRUE(tls_listener.has_value());
  // The second TLS match repeats a.example.com: Envoy would reject it, so it is skipped.
  ASSERT_EQ(tls_listener->filter_chains_size(), 1);
  EXPECT_THAT(tls_listener->filter_chains(0).filter_chain_match().server_names(), ElementsAre("a.example.com"));
  EXPECT_FALSE(tls_listener->filter_chains(0).has_transport_socket());
  EXPECT_EQ(tls_listener->listener_filters(0).name(), kTlsInspector);
}

// AuthorizationPolicies that select the gateway's pods (its namespace's, or the
// root namespace's) put RBAC first on its chains: in the HttpConnectionManager
// of HTTP servers, before tcp_proxy on TCP ones.
TEST(GatewayListenersTest, AuthorizationPoliciesSelectingTheGatewayAddRbac) {
  const auto proxy = Gateway();
  const std::string config = std::string(kServices) + kHttpGateway + kTwoVirtualServices + R"(
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tcp, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 31400, name: tcp, protocol: TCP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp, namespace: default}
spec:
  hosts: ["*"]
  gateways: [tcp]
  tcp: [{route: [{destination: {host: productpage}}]}]
)";
  const std::string policy = R"(
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: office-only, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  rules: [{from: [{source: {remoteIpBlocks: [203.0.113.0/24]}}]}]
)";
  for (const bool with_policy : {false, true}) {
    auto push = BuildPush(config + (with_policy ? policy : ""));
    auto merged = MergeGateways(proxy, *push);
    auto http = BuildGatewayListener("0.0.0.0_80", merged, proxy, *push);
    ASSERT_TRUE(http.has_value());
    hcm::HttpConnectionManager m;
    ASSERT_TRUE(http->filter_chains(0).filters(0).typed_config().UnpackTo(&m));
    EXPECT_EQ(m.http_filters(0).name(), kMetadataExchangeFilter);  // istiod: before authorization
    EXPECT_EQ(m.http_filters(1).name() == kHttpRbacFilter, with_policy);
    EXPECT_EQ(m.http_filters(m.http_filters_size() - 1).name(), kRouterFilter);
    auto tcp_listener = BuildGatewayListener("0.0.0.0_31400", merged, proxy, *push);
    ASSERT_TRUE(tcp_listener.has_value());
    const auto& filters = tcp_listener->filter_chains(0).filters();
    ASSERT_EQ(filters.size(), with_policy ? 2 : 1);
    if (with_policy) EXPECT_EQ(filters[0].name(), kNetworkRbacFilter);
    EXPECT_EQ(filters[filters.size() - 1].name(), kTcpProxy);
  }
}

TEST(GatewayListenersTest, Ipv6ProxyListensOnTheIpv6Wildcard) {
  const auto proxy = Gateway({{"istio", "ingressgateway"}}, "istio-system", "fd00::5");
  auto push = BuildPush(std::string(kHttpGateway));
  auto merged = MergeGateways(proxy, *push);
  EXPECT_THAT(GatewayListenerNames(merged, proxy), ElementsAre("::_80"));
  auto l = BuildGatewayListener("::_80", merged, proxy, *push);
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->address().socket_address().address(), "::");
}

// --- TLS routes ---

TEST(TlsRouteTranslatorTest, MatchesPortAndGatewayOnly) {
  auto push = BuildPush(std::string(kServices) + R"(
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tls, namespace: default}
spec:
  hosts: ["*.example.com"]
  gateways: [gw, mesh]
  tls:
  - match:
    - {sniHosts: [a.example.com], port: 443, gateways: [gw], sourceLabels: {app: nobody}}
    - {sniHosts: [b.example.com], port: 8443}
    - {sniHosts: [c.example.com], gateways: [other]}
    route:
    - {destination: {host: reviews, subset: v1}, weight: 100}
    - {destination: {host: reviews, subset: v2}, weight: 0}
)");
  const auto proxy = Gateway();
  const auto* vs = push->Scope({"istio-system"}).VirtualServicesForGateway("default/gw").at(0);
  RouteContext ctx{push.get(), &proxy, 443, "default/gw"};
  auto chains = TranslateTlsRoutes(*vs, ctx, "TLS");
  ASSERT_THAT(chains, SizeIs(1));  // sourceLabels do not apply to gateways
  EXPECT_THAT(chains[0].sni_hosts, ElementsAre("a.example.com"));
  tcp::TcpProxy p;
  ASSERT_TRUE(chains[0].filters[0].typed_config().UnpackTo(&p));
  EXPECT_EQ(p.stat_prefix(), "tls.default");
  ASSERT_EQ(p.weighted_clusters().clusters_size(), 1);  // zero weights dropped
  EXPECT_EQ(p.weighted_clusters().clusters(0).name(), "outbound|9080|v1|reviews.default.svc.cluster.local");

  model::Proxy sidecar = proxy;
  sidecar.type = model::ProxyType::kSidecar;
  RouteContext mesh{push.get(), &sidecar, 443, "mesh"};
  EXPECT_THAT(TranslateTlsRoutes(*vs, mesh, "TLS"), IsEmpty());  // gw-only match, and sourceLabels apply to sidecars
}

// --- secrets ---

std::string B64(const std::string& s) { return absl::Base64Escape(s); }

const std::string kSecrets = R"(
---
apiVersion: v1
kind: Secret
metadata: {name: tls-cred, namespace: istio-system}
type: kubernetes.io/tls
data: {tls.crt: )" + B64("TLS-CERT") + ", tls.key: " + B64("TLS-KEY") + ", ca.crt: " + B64("TLS-CA") + R"(}
---
apiVersion: v1
kind: Secret
metadata: {name: generic-cred, namespace: istio-system}
data: {cert: )" + B64("CERT") + ", key: " + B64("KEY") + ", cacert: " + B64("CA") + R"(}
stringData: {key: KEY-FROM-STRINGDATA}
---
apiVersion: v1
kind: Secret
metadata: {name: tls-cred-cacert, namespace: istio-system}
stringData: {ca.crt: SEPARATE-CA}
---
apiVersion: v1
kind: Secret
metadata: {name: no-keys, namespace: istio-system}
data: {password: )" + B64("hunter2") + R"(}
---
apiVersion: v1
kind: Secret
metadata: {name: not-base64, namespace: istio-system}
data: {tls.crt: "!!!", tls.key: "!!!"}
---
apiVersion: v1
kind: Secret
metadata: {name: elsewhere, namespace: default}
data: {cert: )" + B64("C") + ", key: " + B64("K") + R"(}
)";

TEST(SecretBuilderTest, ServesCertificatesFromEitherLayout) {
  auto push = BuildPush(kSecrets);
  const auto proxy = Gateway();
  auto s = BuildSecret("kubernetes://tls-cred", proxy, *push);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->name(), "kubernetes://tls-cred");
  EXPECT_EQ(s->tls_certificate().certificate_chain().inline_bytes(), "TLS-CERT");
  EXPECT_EQ(s->tls_certificate().private_key().inline_bytes(), "TLS-KEY");

  s = BuildSecret("kubernetes://istio-system/generic-cred", proxy, *push);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->tls_certificate().certificate_chain().inline_bytes(), "CERT");
  EXPECT_EQ(s->tls_certificate().private_key().inline_bytes(), "KEY-FROM-STRINGDATA");
}

TEST(SecretBuilderTest, CaFromSeparateSecretFirstThenTheCredential) {
  auto push = BuildPush(kSecrets);
  const auto proxy = Gateway();
  auto s = BuildSecret("kubernetes://tls-cred-cacert", proxy, *push);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->validation_context().trusted_ca().inline_bytes(), "SEPARATE-CA");
  s = BuildSecret("kubernetes://generic-cred-cacert", proxy, *push);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->validation_context().trusted_ca().inline_bytes(), "CA");
}

TEST(SecretBuilderTest, RefusesWhatIstiodRefuses) {
  auto push = BuildPush(kSecrets);
  const auto proxy = Gateway();
  auto s = BuildSecret("kubernetes://default/elsewhere", proxy, *push);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied);
  s = BuildSecret("kubernetes://missing", proxy, *push);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  s = BuildSecret("kubernetes://no-keys", proxy, *push);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(), HasSubstr("keys: password"));
  EXPECT_THAT(s.status().message(), Not(HasSubstr("hunter2")));  // never key material
  s = BuildSecret("kubernetes://not-base64", proxy, *push);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  s = BuildSecret("kubernetes-gateway://istio-system/tls-cred", proxy, *push);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  s = BuildSecret("kubernetes://a/b/c", proxy, *push);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
}

// --- generators ---

TEST(GatewayGeneratorsTest, ReplicasShareBuiltResourcesOthersDoNot) {
  auto push = BuildPush(std::string(kServices) + kHttpGateway + kTwoVirtualServices + kSecrets);
  xds::WatchedResource all;
  all.wildcard = true;
  const auto a = Gateway();
  auto b = Gateway();
  b.id = "router~10.0.0.51~istio-ingressgateway-1.istio-system~istio-system.svc.cluster.local";
  b.ip = "10.0.0.51";
  b.pod_name = "istio-ingressgateway-1";
  auto la = xds::GenerateGatewayListeners(a, *push, all);
  auto lb = xds::GenerateGatewayListeners(b, *push, all);
  ASSERT_THAT(la, SizeIs(1));
  ASSERT_THAT(lb, SizeIs(1));
  EXPECT_EQ(la[0].name, "0.0.0.0_80");
  EXPECT_EQ(la[0].resource.get(), lb[0].resource.get());  // built once

  auto other = Gateway({{"istio", "ingressgateway"}, {"zone", "b"}});
  auto lo = xds::GenerateGatewayListeners(other, *push, all);
  ASSERT_THAT(lo, SizeIs(1));
  EXPECT_NE(la[0].resource.get(), lo[0].resource.get());

  xds::WatchedResource rds;
  rds.names = {"http.80", "http.9999"};
  auto routes = xds::GenerateGatewayRoutes(a, *push, rds, nullptr);
  ASSERT_THAT(routes, SizeIs(2));  // unknown names still get an (empty) RouteConfiguration
}

// SDS as istiod's SecretGen serves it: authenticated proxies only, Secrets of
// their own namespace only, private keys only when the identity may read them.
std::vector<std::string> Names(const std::vector<xds::NamedResource>& resources) {
  std::vector<std::string> out;
  for (const auto& r : resources) out.push_back(r.name);
  return out;
}

xds::WatchedResource SecretsAsked() {
  xds::WatchedResource sds;
  sds.names = {"kubernetes://tls-cred", "kubernetes://tls-cred-cacert", "kubernetes://missing",
               "kubernetes://default/elsewhere", "kubernetes://istio-system/generic-cred"};
  return sds;
}

TEST(SdsGeneratorTest, AnUnauthenticatedProxyGetsNothingAndIsNotReviewed) {
  auto push = BuildPush(kSecrets);
  int reviews = 0;
  xds::SdsGenerator sds([&](const model::ProxyIdentity&) { return ++reviews, absl::OkStatus(); });
  EXPECT_THAT(sds.Generate(Gateway(), *push, SecretsAsked()), IsEmpty());
  EXPECT_EQ(reviews, 0);
}

TEST(SdsGeneratorTest, AnAuthorizedIdentityGetsItsOwnNamespacesSecretsReviewedOnce) {
  auto push = BuildPush(kSecrets);
  auto proxy = Gateway();
  proxy.verified_identity = model::ProxyIdentity{"istio-system", "istio-ingressgateway"};
  std::vector<std::string> reviewed;
  xds::SdsGenerator sds([&](const model::ProxyIdentity& id) {
    reviewed.push_back(id.ns + "/" + id.service_account);
    return absl::OkStatus();
  });
  EXPECT_THAT(Names(sds.Generate(proxy, *push, SecretsAsked())),
              ElementsAre("kubernetes://istio-system/generic-cred", "kubernetes://tls-cred",
                          "kubernetes://tls-cred-cacert"))
      << "missing is left out, and another namespace's Secret is never served";
  EXPECT_THAT(reviewed, ElementsAre("istio-system/istio-ingressgateway"));
}

TEST(SdsGeneratorTest, ADeniedIdentityGetsOnlyCaCertificates) {
  auto push = BuildPush(kSecrets);
  auto proxy = Gateway();
  proxy.verified_identity = model::ProxyIdentity{"istio-system", "app"};
  xds::SdsGenerator sds([](const model::ProxyIdentity&) { return absl::PermissionDeniedError("no RBAC rule"); });
  auto secrets = sds.Generate(proxy, *push, SecretsAsked());
  ASSERT_THAT(Names(secrets), ElementsAre("kubernetes://tls-cred-cacert"));
  tls::Secret ca;
  ASSERT_TRUE(secrets[0].resource->any.UnpackTo(&ca));
  EXPECT_FALSE(ca.has_tls_certificate());
  EXPECT_EQ(ca.validation_context().trusted_ca().inline_bytes(), "SEPARATE-CA");
  // Without an authorizer (no API server to ask) no key is served either.
  xds::SdsGenerator none(nullptr);
  EXPECT_THAT(Names(none.Generate(proxy, *push, SecretsAsked())), ElementsAre("kubernetes://tls-cred-cacert"));
}

}  // namespace
}  // namespace keel::pilot::networking::gateway
