// Sidecar (Envoy) generation: the properties that make Envoy accept the config
// and route like istiod's — listener names, router filter last, auto mTLS,
// inbound chains for the proxy's own ports, EDS tlsMode metadata, TCP routes,
// and the xDS generators' naming and caching.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "pilot/model/proxy.h"
#include "pilot/networking/core/cluster_builder.h"
#include "pilot/networking/sidecar/common.h"
#include "pilot/networking/sidecar/envoy_cluster_builder.h"
#include "pilot/networking/sidecar/listener_builder.h"
#include "pilot/networking/sidecar/proxy_instances.h"
#include "pilot/networking/sidecar/route_builder.h"
#include "pilot/xds/generator.h"
#include "pilot/xds/resource_types.h"
#include "test/pilot/testing/configs.h"

namespace keel::pilot::networking::sidecar {
namespace {

using ::keel::pilot::testing::BuildPush;
using ::testing::ElementsAre;
using ::testing::IsSupersetOf;
using ::testing::UnorderedElementsAre;
namespace hcm = ::envoy::extensions::filters::network::http_connection_manager::v3;
namespace listener = ::envoy::config::listener::v3;
namespace cluster = ::envoy::config::cluster::v3;
namespace tcp = ::envoy::extensions::filters::network::tcp_proxy::v3;
namespace tls = ::envoy::extensions::transport_sockets::tls::v3;

std::string Pod(const std::string& name, const std::string& ip, const std::string& labels,
                const std::string& port_name, int port, const std::string& ns = "default") {
  return "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  namespace: " + ns +
         "\n  labels: {" + labels + "}\nspec: {serviceAccountName: " + name +
         "-sa, containers: [{name: app, ports: [{name: " + port_name + ", containerPort: " + std::to_string(port) +
         "}]}]}\nstatus: {phase: Running, podIP: " + ip + ", conditions: [{type: Ready, status: \"True\"}]}\n";
}

const std::string kMesh = std::string(R"(
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  clusterIP: 10.96.0.10
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080, targetPort: web}
  - {name: grpc-admin, port: 9090, targetPort: 19090}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: default}
spec:
  clusterIP: 10.96.0.11
  selector: {app: ratings}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Service
metadata: {name: mongodb, namespace: default}
spec:
  clusterIP: 10.96.0.12
  selector: {app: mongodb}
  ports: [{name: mongo, port: 27017}]
---
apiVersion: v1
kind: Service
metadata: {name: legacy, namespace: other}
spec:
  clusterIP: 10.96.0.13
  selector: {app: legacy}
  ports: [{name: http, port: 9080}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: default}
spec:
  host: ratings
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mongodb, namespace: default}
spec:
  host: mongodb
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mongodb, namespace: default}
spec:
  hosts: [mongodb]
  tcp:
  - route:
    - destination: {host: mongodb, subset: v1}
      weight: 75
    - destination: {host: mongodb, subset: v2}
      weight: 25
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin, namespace: default}
spec:
  hosts: [httpbin.org]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
  location: MESH_EXTERNAL
)") + Pod("reviews-v1", "10.0.0.1", "app: reviews, version: v1, security.istio.io/tlsMode: istio", "web", 8080) +
                          Pod("reviews-v2", "10.0.0.2", "app: reviews, version: v2", "web", 8080) +
                          Pod("ratings-v1", "10.0.0.3", "app: ratings, security.istio.io/tlsMode: istio", "http",
                              9080) +
                          Pod("mongodb-v1", "10.0.0.4", "app: mongodb, version: v1", "mongo", 27017) +
                          Pod("mongodb-v2", "10.0.0.5", "app: mongodb, version: v2", "mongo", 27017);

model::Proxy MakeProxy(const std::string& id, const std::map<std::string, std::string>& labels = {}) {
  envoy::config::core::v3::Node node;
  node.set_id(id);
  auto* fields = (*node.mutable_metadata()->mutable_fields())["LABELS"].mutable_struct_value()->mutable_fields();
  for (const auto& [k, v] : labels) (*fields)[k].set_string_value(v);
  auto proxy = model::ParseProxy(node);
  EXPECT_TRUE(proxy.ok()) << proxy.status();
  return proxy.ok() ? *proxy : model::Proxy{};
}

model::Proxy ReviewsProxy() {
  return MakeProxy("sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local",
                   {{"app", "reviews"}, {"version", "v1"}});
}

hcm::HttpConnectionManager Hcm(const listener::Filter& f) {
  hcm::HttpConnectionManager out;
  EXPECT_EQ(f.name(), kHttpConnectionManager);
  EXPECT_TRUE(f.typed_config().UnpackTo(&out));
  return out;
}

tcp::TcpProxy TcpProxyOf(const listener::FilterChain& fc) {
  tcp::TcpProxy out;
  const auto& last = fc.filters(fc.filters_size() - 1);
  EXPECT_EQ(last.name(), kTcpProxy);
  EXPECT_TRUE(last.typed_config().UnpackTo(&out));
  return out;
}

std::vector<std::string> Names(const std::vector<xds::NamedResource>& resources) {
  std::vector<std::string> out;
  for (const auto& r : resources) out.push_back(r.name);
  return out;
}

class SidecarTest : public ::testing::Test {
 protected:
  model::PushContextPtr push_ = BuildPush(kMesh);
  model::Proxy proxy_ = ReviewsProxy();
};

TEST_F(SidecarTest, ListenerNamesAreIstios) {
  EXPECT_THAT(OutboundListenerNames(proxy_, *push_),
              UnorderedElementsAre("0.0.0.0_9080", "0.0.0.0_9090", "10.96.0.12_27017", "0.0.0.0_443"));
  const auto listeners = BuildOutboundListeners(proxy_, *push_);
  for (const auto& [name, l] : listeners) {
    EXPECT_EQ(name, l.name());
    EXPECT_EQ(l.traffic_direction(), envoy::config::core::v3::OUTBOUND) << name;
    EXPECT_FALSE(l.bind_to_port().value()) << name << ": outbound listeners must not bind";
    EXPECT_TRUE(l.has_bind_to_port()) << name;
  }
  const listener::Listener out = BuildVirtualOutboundListener(proxy_);
  EXPECT_EQ(out.name(), "virtualOutbound");
  EXPECT_EQ(out.address().socket_address().port_value(), 15001u);
  EXPECT_TRUE(out.use_original_dst().value());
  ASSERT_EQ(out.filter_chains_size(), 2);
  EXPECT_EQ(out.filter_chains(0).filter_chain_match().destination_port().value(), 15001u);
  EXPECT_EQ(TcpProxyOf(out.filter_chains(0)).cluster(), "BlackHoleCluster");
  EXPECT_FALSE(out.filter_chains(1).has_filter_chain_match());
  EXPECT_EQ(TcpProxyOf(out.filter_chains(1)).cluster(), "PassthroughCluster");
}

TEST_F(SidecarTest, HttpListenerUsesRdsAndEndsWithRouter) {
  const auto listeners = BuildOutboundListeners(proxy_, *push_);
  const listener::Listener& l = listeners.at("0.0.0.0_9080");
  EXPECT_EQ(l.address().socket_address().address(), "0.0.0.0");
  ASSERT_EQ(l.filter_chains_size(), 1);
  EXPECT_THAT(l.filter_chains(0).filter_chain_match().application_protocols(), ElementsAre("http/1.1", "h2c"));
  const hcm::HttpConnectionManager m = Hcm(l.filter_chains(0).filters(0));
  EXPECT_EQ(m.rds().route_config_name(), "9080");
  EXPECT_TRUE(m.rds().config_source().has_ads());
  EXPECT_EQ(m.stat_prefix(), "outbound_0.0.0.0_9080;");  // istiod's delimited stat prefix
  ASSERT_GE(m.http_filters_size(), 1);
  EXPECT_EQ(m.http_filters(m.http_filters_size() - 1).name(), "envoy.filters.http.router");
  std::vector<std::string> filters;
  for (const auto& f : m.http_filters()) filters.push_back(f.name());
  // istiod's outbound chain: Istio's peer metadata, gRPC stats and ALPN, then fault, cors, router.
  EXPECT_THAT(filters, ElementsAre("istio.metadata_exchange", "envoy.filters.http.grpc_stats", "istio.alpn",
                                   "envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.router"));
  EXPECT_TRUE(m.proxy_100_continue());
  // Non-HTTP bytes on the port pass through.
  EXPECT_EQ(l.default_filter_chain().name(), "PassthroughFilterChain");
  EXPECT_EQ(TcpProxyOf(l.default_filter_chain()).cluster(), "PassthroughCluster");
  std::vector<std::string> inspectors;
  for (const auto& f : l.listener_filters()) inspectors.push_back(f.name());
  // Only the HTTP inspector: no chain matches on SNI (istiod adds the TLS one only then).
  EXPECT_THAT(inspectors, ElementsAre(kHttpInspector));
}

TEST_F(SidecarTest, TcpListenerBindsTheVipAndFollowsTcpRoutes) {
  const auto listeners = BuildOutboundListeners(proxy_, *push_);
  const listener::Listener& l = listeners.at("10.96.0.12_27017");
  EXPECT_EQ(l.address().socket_address().address(), "10.96.0.12");
  ASSERT_EQ(l.filter_chains_size(), 1);
  EXPECT_FALSE(l.has_default_filter_chain());
  // MONGO ports get the mongo_proxy filter before tcp_proxy, as istiod does.
  ASSERT_EQ(l.filter_chains(0).filters_size(), 2);
  EXPECT_EQ(l.filter_chains(0).filters(0).name(), kMongoProxy);
  const tcp::TcpProxy p = TcpProxyOf(l.filter_chains(0));
  EXPECT_EQ(p.stat_prefix(), "mongodb.default");
  ASSERT_EQ(p.weighted_clusters().clusters_size(), 2);
  EXPECT_EQ(p.weighted_clusters().clusters(0).name(), "outbound|27017|v1|mongodb.default.svc.cluster.local");
  EXPECT_EQ(p.weighted_clusters().clusters(0).weight(), 75u);
  EXPECT_EQ(p.weighted_clusters().clusters(1).name(), "outbound|27017|v2|mongodb.default.svc.cluster.local");
}

TEST_F(SidecarTest, TlsServiceEntryWithoutVipMatchesSni) {
  const auto listeners = BuildOutboundListeners(proxy_, *push_);
  const listener::Listener& l = listeners.at("0.0.0.0_443");
  ASSERT_EQ(l.filter_chains_size(), 1);
  EXPECT_THAT(l.filter_chains(0).filter_chain_match().server_names(), ElementsAre("httpbin.org"));
  EXPECT_EQ(TcpProxyOf(l.filter_chains(0)).cluster(), "outbound|443||httpbin.org");
  EXPECT_EQ(l.listener_filters(0).name(), kTlsInspector);
  EXPECT_EQ(l.default_filter_chain().name(), "PassthroughFilterChain");
}

TEST_F(SidecarTest, InboundChainsCoverTheProxysOwnPorts) {
  const auto instances = ProxyServiceInstances(proxy_, *push_);
  ASSERT_EQ(instances.size(), 2u);
  EXPECT_EQ(instances[0].target_port, 8080);  // named targetPort "web", from the endpoint / Pod
  EXPECT_EQ(instances[0].port.port, 9080);
  EXPECT_EQ(instances[1].target_port, 19090);
  const listener::Listener l = BuildVirtualInboundListener(proxy_, *push_, instances);
  EXPECT_EQ(l.name(), "virtualInbound");
  EXPECT_EQ(l.address().socket_address().port_value(), 15006u);
  EXPECT_EQ(l.traffic_direction(), envoy::config::core::v3::INBOUND);
  EXPECT_EQ(l.listener_filters(0).name(), kOriginalDst);

  std::map<uint32_t, std::vector<const listener::FilterChain*>> by_port;
  for (const auto& fc : l.filter_chains()) by_port[fc.filter_chain_match().destination_port().value()].push_back(&fc);
  EXPECT_EQ(by_port.count(9080), 0u) << "chains match the workload port, not the service port";
  ASSERT_EQ(by_port[8080].size(), 2u);  // PERMISSIVE: mTLS and plaintext
  const listener::FilterChain& mtls = *by_port[8080][0];
  EXPECT_EQ(mtls.name(), "0.0.0.0_8080");
  EXPECT_EQ(mtls.filter_chain_match().transport_protocol(), "tls");
  EXPECT_EQ(mtls.transport_socket().name(), kTlsTransportSocket);
  tls::DownstreamTlsContext ctx;
  ASSERT_TRUE(mtls.transport_socket().typed_config().UnpackTo(&ctx));
  EXPECT_TRUE(ctx.require_client_certificate().value());
  EXPECT_EQ(ctx.common_tls_context().tls_certificate_sds_secret_configs(0).name(), "default");
  EXPECT_EQ(ctx.common_tls_context().combined_validation_context().validation_context_sds_secret_config().name(),
            "ROOTCA");
  const auto& peer_sans = ctx.common_tls_context().combined_validation_context().default_validation_context();
  ASSERT_EQ(peer_sans.match_subject_alt_names_size(), 1);
  EXPECT_EQ(peer_sans.match_subject_alt_names(0).prefix(), "spiffe://cluster.local/")
      << "peers of the mesh's trust domain only (istiod's TrustDomainsForValidation)";
  for (const auto* fc : by_port[8080]) {
    const hcm::HttpConnectionManager m = Hcm(fc->filters(fc->filters_size() - 1));
    EXPECT_EQ(m.route_config().name(), "inbound|8080||");
    EXPECT_EQ(m.route_config().virtual_hosts(0).routes(0).route().cluster(), "inbound|8080||");
    EXPECT_EQ(m.route_config().virtual_hosts(0).routes(0).route().retry_policy().retry_on(), "reset-before-request");
    EXPECT_EQ(m.http_filters(m.http_filters_size() - 1).name(), "envoy.filters.http.router");
    EXPECT_EQ(m.stat_prefix(), "inbound_0.0.0.0_8080;");
  }
  EXPECT_FALSE(BuildInboundRouteConfiguration("inbound|9090||", "grpc.default.svc.cluster.local", 9090, /*grpc=*/true)
                   .virtual_hosts(0).routes(0).route().has_retry_policy())
      << "gRPC: no reset-before-request retries (they break streams)";
  EXPECT_EQ(by_port[15006].size(), 1u);  // the blackhole chain
  EXPECT_EQ(TcpProxyOf(*by_port[15006][0]).cluster(), "BlackHoleCluster");
  // Passthrough chains (no destination port) go to InboundPassthroughCluster.
  bool passthrough = false;
  for (const auto* fc : by_port[0]) {
    if (fc->name() == "virtualInbound" && fc->filter_chain_match().transport_protocol() == "raw_buffer") {
      passthrough = TcpProxyOf(*fc).cluster() == "InboundPassthroughCluster";
    }
  }
  EXPECT_TRUE(passthrough);

  // A proxy no Service selects has only the blackhole and passthrough chains.
  model::Proxy lonely = MakeProxy("sidecar~10.0.0.99~lonely.default~default.svc.cluster.local", {{"app", "lonely"}});
  const listener::Listener empty = BuildVirtualInboundListener(lonely, *push_, ProxyServiceInstances(lonely, *push_));
  for (const auto& fc : empty.filter_chains()) {
    const uint32_t port = fc.filter_chain_match().destination_port().value();
    EXPECT_TRUE(port == 0 || port == 15006) << fc.name();
  }
}

TEST_F(SidecarTest, AutoMtlsUsesTransportSocketMatches) {
  auto c = BuildEnvoyOutboundCluster(ClusterName{"outbound", 9080, "v1", "reviews.default.svc.cluster.local"}, proxy_,
                                     *push_);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->has_transport_socket());
  ASSERT_EQ(c->transport_socket_matches_size(), 2);
  const auto& istio = c->transport_socket_matches(0);
  EXPECT_EQ(istio.name(), "tlsMode-istio");
  EXPECT_EQ(istio.match().fields().at("tlsMode").string_value(), "istio");
  tls::UpstreamTlsContext ctx;
  ASSERT_TRUE(istio.transport_socket().typed_config().UnpackTo(&ctx));
  EXPECT_EQ(ctx.sni(), "outbound_.9080_.v1_.reviews.default.svc.cluster.local");
  EXPECT_THAT(ctx.common_tls_context().alpn_protocols(), ElementsAre("istio-peer-exchange", "istio"));
  EXPECT_EQ(ctx.common_tls_context().tls_certificate_sds_secret_configs(0).name(), "default");
  EXPECT_EQ(ctx.common_tls_context().tls_certificate_sds_secret_configs(0)
                .sds_config().api_config_source().grpc_services(0).envoy_grpc().cluster_name(),
            "sds-grpc");
  const auto& validation = ctx.common_tls_context().combined_validation_context();
  EXPECT_EQ(validation.validation_context_sds_secret_config().name(), "ROOTCA");
  std::vector<std::string> sans;
  for (const auto& m : validation.default_validation_context().match_subject_alt_names()) sans.push_back(m.exact());
  EXPECT_THAT(sans, ElementsAre("spiffe://cluster.local/ns/default/sa/reviews-v1-sa",
                                "spiffe://cluster.local/ns/default/sa/reviews-v2-sa"));
  const auto& plain = c->transport_socket_matches(1);
  EXPECT_EQ(plain.name(), "tlsMode-disabled");
  EXPECT_TRUE(plain.match().fields().empty());
  EXPECT_EQ(plain.transport_socket().name(), kRawBufferTransportSocket);

  // Istio's defaults for Envoy clusters (proxyless clients keep theirs).
  EXPECT_EQ(c->lb_policy(), cluster::Cluster::LEAST_REQUEST);
  ASSERT_TRUE(c->common_lb_config().has_healthy_panic_threshold()) << "panic routing off, as istiod";
  EXPECT_EQ(c->common_lb_config().healthy_panic_threshold().value(), 0);
  EXPECT_EQ(c->circuit_breakers().thresholds(0).max_requests().value(), 4294967295u);
  EXPECT_EQ(c->eds_cluster_config().service_name(), "outbound|9080|v1|reviews.default.svc.cluster.local");
}

// PeerAuthentication as istiod applies it: the workload's composed mode picks
// the inbound chains (STRICT: mTLS only, DISABLE: plaintext only), portLevelMtls
// overrides per workload port (and adds passthrough chains for ports no Service
// has), and a namespace-wide DISABLE turns auto mTLS off for clients.
std::map<uint32_t, std::vector<std::string>> TransportsByPort(const listener::Listener& l) {
  std::map<uint32_t, std::vector<std::string>> out;
  for (const auto& fc : l.filter_chains()) {
    const auto& m = fc.filter_chain_match();
    out[m.destination_port().value()].push_back(m.transport_protocol() +
                                                (fc.has_transport_socket() ? "+mtls" : ""));
  }
  return out;
}

TEST_F(SidecarTest, PeerAuthenticationPicksTheInboundChains) {
  const std::string mesh_strict = R"(
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
)";
  auto push = BuildPush(kMesh + mesh_strict);
  auto chains = TransportsByPort(BuildVirtualInboundListener(proxy_, *push, ProxyServiceInstances(proxy_, *push)));
  EXPECT_THAT(chains[8080], ElementsAre("tls+mtls")) << "STRICT: no plaintext chain";
  EXPECT_THAT(chains[19090], ElementsAre("tls+mtls"));
  EXPECT_THAT(chains[0], ElementsAre("tls+mtls", "tls+mtls")) << "passthrough: mTLS HTTP and TCP only";

  const std::string workload = R"(
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: reviews, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  portLevelMtls:
    8080: {mode: DISABLE}
    7070: {mode: PERMISSIVE}
    19090: {}
)";
  push = BuildPush(kMesh + mesh_strict + workload);
  chains = TransportsByPort(BuildVirtualInboundListener(proxy_, *push, ProxyServiceInstances(proxy_, *push)));
  EXPECT_THAT(chains[8080], ElementsAre("raw_buffer")) << "DISABLE on the port: plaintext only";
  EXPECT_THAT(chains[19090], ElementsAre("tls+mtls")) << "UNSET port: the workload's mode, inherited from the mesh";
  EXPECT_THAT(chains[7070], ElementsAre("tls+mtls", "raw_buffer", "tls+mtls", "raw_buffer", "tls"))
      << "a port no Service has gets passthrough chains of its own mode";
  EXPECT_THAT(chains[0], ElementsAre("tls+mtls", "tls+mtls"));
  // Another workload of the namespace is not selected.
  model::Proxy ratings = MakeProxy("sidecar~10.0.0.3~ratings-v1.default~default.svc.cluster.local", {{"app", "ratings"}});
  chains = TransportsByPort(BuildVirtualInboundListener(ratings, *push, ProxyServiceInstances(ratings, *push)));
  EXPECT_THAT(chains[9080], ElementsAre("tls+mtls"));
  EXPECT_EQ(chains.count(7070), 0u);

  // A namespace-wide DISABLE overrides the mesh; the default (no policy) is PERMISSIVE.
  push = BuildPush(kMesh + mesh_strict + R"(
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: off, namespace: default}
spec: {mtls: {mode: DISABLE}}
)");
  chains = TransportsByPort(BuildVirtualInboundListener(proxy_, *push, ProxyServiceInstances(proxy_, *push)));
  EXPECT_THAT(chains[8080], ElementsAre("raw_buffer"));
  EXPECT_THAT(chains[0], ElementsAre("raw_buffer", "raw_buffer"));
  chains = TransportsByPort(BuildVirtualInboundListener(proxy_, *push_, ProxyServiceInstances(proxy_, *push_)));
  EXPECT_THAT(chains[8080], ElementsAre("tls+mtls", "raw_buffer"));
}

TEST_F(SidecarTest, NamespaceDisableTurnsAutoMtlsOffForClients) {
  const ClusterName reviews{"outbound", 9080, "v1", "reviews.default.svc.cluster.local"};
  auto push = BuildPush(kMesh + R"(
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: off, namespace: default}
spec: {mtls: {mode: DISABLE}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict-reviews, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  mtls: {mode: STRICT}
)");
  auto c = BuildEnvoyOutboundCluster(reviews, proxy_, *push);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->transport_socket_matches_size(), 0) << "DISABLE: plaintext (workload policies are not consulted)";
  EXPECT_FALSE(c->has_transport_socket());
  push = BuildPush(kMesh + R"(
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: default}
spec: {mtls: {mode: STRICT}}
)");
  c = BuildEnvoyOutboundCluster(reviews, proxy_, *push);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->transport_socket_matches_size(), 2) << "STRICT and PERMISSIVE: auto mTLS as without a policy";
}

TEST_F(SidecarTest, DestinationRuleTlsModes) {
  // ISTIO_MUTUAL: always mTLS, one transport_socket.
  auto ratings = BuildEnvoyOutboundCluster(ClusterName{"outbound", 9080, "", "ratings.default.svc.cluster.local"},
                                           proxy_, *push_);
  ASSERT_TRUE(ratings.has_value());
  EXPECT_EQ(ratings->transport_socket_matches_size(), 0);
  EXPECT_EQ(ratings->transport_socket().name(), kTlsTransportSocket);
  // MESH_EXTERNAL without a rule: no TLS from the proxy.
  auto external = BuildEnvoyOutboundCluster(ClusterName{"outbound", 443, "", "httpbin.org"}, proxy_, *push_);
  ASSERT_TRUE(external.has_value());
  EXPECT_EQ(external->type(), cluster::Cluster::STRICT_DNS);
  EXPECT_FALSE(external->has_transport_socket());
  EXPECT_EQ(external->transport_socket_matches_size(), 0);
  EXPECT_EQ(external->load_assignment().endpoints(0).lb_endpoints(0).endpoint().address().socket_address().address(),
            "httpbin.org");
  // gRPC ports speak HTTP/2 upstream.
  auto admin = BuildEnvoyOutboundCluster(ClusterName{"outbound", 9090, "", "reviews.default.svc.cluster.local"},
                                         proxy_, *push_);
  ASSERT_TRUE(admin.has_value());
  ASSERT_TRUE(admin->typed_extension_protocol_options().count(kHttpProtocolOptionsKey));
}

TEST_F(SidecarTest, EndpointsCarryTheTlsModeOfTheirWorkload) {
  auto cla = BuildLoadAssignment(ClusterName{"outbound", 9080, "", "reviews.default.svc.cluster.local"}, proxy_,
                                 *push_);
  ASSERT_TRUE(cla.has_value());
  int with = 0, without = 0;
  for (const auto& group : cla->endpoints()) {
    for (const auto& ep : group.lb_endpoints()) {
      const auto& md = ep.metadata().filter_metadata();
      if (md.count("envoy.transport_socket_match")) {
        EXPECT_EQ(md.at("envoy.transport_socket_match").fields().at("tlsMode").string_value(), "istio");
        EXPECT_EQ(ep.endpoint().address().socket_address().address(), "10.0.0.1");
        ++with;
      } else {
        ++without;
      }
    }
  }
  EXPECT_EQ(with, 1);
  EXPECT_EQ(without, 1);
}

TEST_F(SidecarTest, EndpointsCarryIstiosWorkloadTelemetryLabel) {
  auto cla = BuildLoadAssignment(ClusterName{"outbound", 9080, "", "reviews.default.svc.cluster.local"}, proxy_,
                                 *push_);
  ASSERT_TRUE(cla.has_value());
  std::vector<std::string> workloads;
  for (const auto& group : cla->endpoints()) {
    for (const auto& ep : group.lb_endpoints()) {
      workloads.push_back(ep.metadata().filter_metadata().at("istio").fields().at("workload").string_value());
    }
  }
  // Bare pods (no generateName) are their own workload; canonical name from app, revision from version.
  EXPECT_THAT(workloads, UnorderedElementsAre("reviews-v1;default;reviews;v1;Kubernetes",
                                              "reviews-v2;default;reviews;v2;Kubernetes"));
}

TEST_F(SidecarTest, ClusterNamesAndStaticClusters) {
  const auto instances = ProxyServiceInstances(proxy_, *push_);
  const auto names = EnvoyClusterNames(proxy_, *push_, instances);
  EXPECT_THAT(names, IsSupersetOf({"BlackHoleCluster", "PassthroughCluster", "InboundPassthroughCluster",
                                   "inbound|8080||", "inbound|19090||",
                                   "outbound|9080|v1|reviews.default.svc.cluster.local"}));
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  auto inbound = BuildEnvoyCluster("inbound|8080||", proxy_, *push_, instances);
  ASSERT_TRUE(inbound.has_value());
  EXPECT_EQ(inbound->type(), cluster::Cluster::ORIGINAL_DST);
  EXPECT_EQ(inbound->upstream_bind_config().source_address().address(), "127.0.0.6");
  EXPECT_FALSE(BuildEnvoyCluster("inbound|7777||", proxy_, *push_, instances).has_value());
  auto passthrough = BuildEnvoyCluster("PassthroughCluster", proxy_, *push_, instances);
  ASSERT_TRUE(passthrough.has_value());
  EXPECT_EQ(passthrough->type(), cluster::Cluster::ORIGINAL_DST);
  EXPECT_EQ(passthrough->lb_policy(), cluster::Cluster::CLUSTER_PROVIDED);
  auto inbound_passthrough = BuildEnvoyCluster("InboundPassthroughCluster", proxy_, *push_, instances);
  ASSERT_TRUE(inbound_passthrough.has_value());
  EXPECT_EQ(inbound_passthrough->upstream_bind_config().source_address().address(), "127.0.0.6");
  auto blackhole = BuildEnvoyCluster("BlackHoleCluster", proxy_, *push_, instances);
  ASSERT_TRUE(blackhole.has_value());
  EXPECT_EQ(blackhole->type(), cluster::Cluster::STATIC);

  // Routers get neither passthrough nor inbound clusters.
  model::Proxy router =
      MakeProxy("router~10.0.0.50~gw-0.istio-system~istio-system.svc.cluster.local", {{"istio", "ingressgateway"}});
  const auto router_names = EnvoyClusterNames(router, *push_, {});
  EXPECT_EQ(std::count(router_names.begin(), router_names.end(), "PassthroughCluster"), 0);
  EXPECT_EQ(std::count(router_names.begin(), router_names.end(), "BlackHoleCluster"), 1);
  EXPECT_FALSE(BuildEnvoyCluster("PassthroughCluster", router, *push_, {}).has_value());
}

TEST_F(SidecarTest, RoutesHaveServiceHostsThenAllowAny) {
  const auto rc = BuildSidecarRouteConfiguration("9080", proxy_, *push_);
  EXPECT_FALSE(rc.validate_clusters().value());
  EXPECT_TRUE(rc.ignore_port_in_host_matching());
  std::vector<std::string> hosts;
  for (const auto& vh : rc.virtual_hosts()) hosts.push_back(vh.name());
  EXPECT_THAT(hosts, ElementsAre("legacy.other.svc.cluster.local:9080", "ratings.default.svc.cluster.local:9080",
                                 "reviews.default.svc.cluster.local:9080", "allow_any"));
  // Short names as Kubernetes DNS resolves them from the proxy's namespace.
  EXPECT_THAT(rc.virtual_hosts(0).domains(),
              ElementsAre("legacy.other.svc.cluster.local", "legacy.other.svc.cluster.local.", "legacy.other",
                          "legacy.other.svc", "10.96.0.13"))
      << "the absolute FQDN (trailing dot) too, as istiod";
  EXPECT_THAT(rc.virtual_hosts(1).domains(),
              ElementsAre("ratings.default.svc.cluster.local", "ratings.default.svc.cluster.local.", "ratings",
                          "ratings.default.svc", "ratings.default", "10.96.0.11"));
  const auto& allow_any = rc.virtual_hosts(3);
  EXPECT_THAT(allow_any.domains(), ElementsAre("*"));
  EXPECT_EQ(allow_any.routes(0).route().cluster(), "PassthroughCluster");
  // Default route: Istio's retry policy and no timeout.
  const auto& route = rc.virtual_hosts(1).routes(0);
  EXPECT_EQ(route.route().cluster(), "outbound|9080||ratings.default.svc.cluster.local");
  EXPECT_EQ(route.route().retry_policy().num_retries().value(), 2u);
  EXPECT_EQ(route.route().timeout().seconds(), 0);
  EXPECT_EQ(route.decorator().operation(), "ratings.default.svc.cluster.local:9080/*");
  // Unknown route names get an empty configuration, as from istiod.
  const auto unknown = BuildSidecarRouteConfiguration("not-a-port", proxy_, *push_);
  EXPECT_EQ(unknown.name(), "not-a-port");
  EXPECT_EQ(unknown.virtual_hosts_size(), 0);
}

xds::WatchedResource Wildcard() {
  xds::WatchedResource w;
  w.wildcard = true;
  return w;
}

xds::WatchedResource Named(std::set<std::string> names) {
  xds::WatchedResource w;
  w.names = std::move(names);
  return w;
}

TEST_F(SidecarTest, GeneratorsServeWildcardAndNamedRequests) {
  const xds::GeneratorMap generators = xds::MakeGenerators();
  const auto& lds = *generators.at(xds::kListenerType);
  EXPECT_THAT(Names(lds.Generate(proxy_, *push_, Wildcard())),
              ElementsAre("0.0.0.0_443", "0.0.0.0_9080", "0.0.0.0_9090", "10.96.0.12_27017", "virtualInbound",
                          "virtualOutbound"));
  EXPECT_THAT(Names(lds.Generate(proxy_, *push_, Named({"virtualInbound", "0.0.0.0_9080", "nope"}))),
              ElementsAre("0.0.0.0_9080", "virtualInbound"));

  const auto& cds = *generators.at(xds::kClusterType);
  const auto all = Names(cds.Generate(proxy_, *push_, Wildcard()));
  EXPECT_THAT(all, IsSupersetOf({"inbound|8080||", "PassthroughCluster",
                                 "outbound|27017|v2|mongodb.default.svc.cluster.local"}));
  EXPECT_THAT(Names(cds.Generate(proxy_, *push_, Named({"inbound|8080||", "BlackHoleCluster"}))),
              ElementsAre("BlackHoleCluster", "inbound|8080||"));

  const auto& rds = *generators.at(xds::kRouteType);
  EXPECT_THAT(Names(rds.Generate(proxy_, *push_, Named({"9080"}))), ElementsAre("9080"));
  const auto& eds = *generators.at(xds::kEndpointType);
  EXPECT_THAT(Names(eds.Generate(proxy_, *push_, Named({"outbound|9080|v2|reviews.default.svc.cluster.local"}))),
              ElementsAre("outbound|9080|v2|reviews.default.svc.cluster.local"));
}

TEST_F(SidecarTest, CacheScopesKeepProxiesApart) {
  const xds::GeneratorMap generators = xds::MakeGenerators();
  const auto& lds = *generators.at(xds::kListenerType);
  // Same push, two workloads: each gets its own virtualInbound.
  const auto reviews = lds.Generate(proxy_, *push_, Named({"virtualInbound"}));
  model::Proxy ratings =
      MakeProxy("sidecar~10.0.0.3~ratings-v1.default~default.svc.cluster.local", {{"app", "ratings"}});
  const auto other = lds.Generate(ratings, *push_, Named({"virtualInbound"}));
  ASSERT_EQ(reviews.size(), 1u);
  ASSERT_EQ(other.size(), 1u);
  EXPECT_NE(reviews[0].resource->hash, other[0].resource->hash);
  listener::Listener l;
  ASSERT_TRUE(other[0].resource->any.UnpackTo(&l));
  bool has_9080 = false;
  for (const auto& fc : l.filter_chains()) {
    has_9080 = has_9080 || fc.filter_chain_match().destination_port().value() == 9080;
  }
  EXPECT_TRUE(has_9080);

  // Two replicas of one workload share outbound listeners (same built resource).
  model::Proxy replica = MakeProxy("sidecar~10.0.0.7~reviews-v1-b.default~default.svc.cluster.local",
                                   {{"app", "reviews"}, {"version", "v1"}});
  const auto a = lds.Generate(proxy_, *push_, Named({"0.0.0.0_9080"}));
  const auto b = lds.Generate(replica, *push_, Named({"0.0.0.0_9080"}));
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].resource.get(), b[0].resource.get());
}

TEST_F(SidecarTest, SourceLabelsSelectRoutesPerProxy) {
  auto push = BuildPush(kMesh + R"(
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings]
  http:
  - match:
    - sourceLabels: {app: reviews, version: v2}
    route:
    - destination: {host: ratings}
    fault:
      abort: {httpStatus: 500, percentage: {value: 100}}
  - route:
    - destination: {host: ratings}
)");
  const xds::GeneratorMap generators = xds::MakeGenerators();
  const auto& rds = *generators.at(xds::kRouteType);
  model::Proxy v2 = MakeProxy("sidecar~10.0.0.2~reviews-v2.default~default.svc.cluster.local",
                              {{"app", "reviews"}, {"version", "v2"}});
  auto ratings_routes = [&](const model::Proxy& p) {
    auto out = rds.Generate(p, *push, Named({"9080"}));
    envoy::config::route::v3::RouteConfiguration rc;
    EXPECT_TRUE(out.at(0).resource->any.UnpackTo(&rc));
    for (const auto& vh : rc.virtual_hosts()) {
      if (vh.name() == "ratings.default.svc.cluster.local:9080") return vh;
    }
    return envoy::config::route::v3::VirtualHost();
  };
  // v1: the sourceLabels match does not apply; only the catch-all is left.
  const auto v1_host = ratings_routes(proxy_);
  ASSERT_EQ(v1_host.routes_size(), 1);
  EXPECT_EQ(v1_host.routes(0).typed_per_filter_config().count("envoy.filters.http.fault"), 0u);
  // v2: the match applies and, matching every path, ends the list (Istio drops
  // the routes after a catch-all).
  const auto v2_host = ratings_routes(v2);
  ASSERT_EQ(v2_host.routes_size(), 1);
  EXPECT_EQ(v2_host.routes(0).typed_per_filter_config().count("envoy.filters.http.fault"), 1u);
}

// --- Sidecar resource (networking.istio.io Sidecar) ---

const std::string kIstiod = R"(
---
apiVersion: v1
kind: Service
metadata: {name: istiod, namespace: istio-system}
spec:
  clusterIP: 10.96.9.1
  ports: [{name: grpc-xds, port: 15010}]
)";

std::string SidecarObject(const std::string& name, const std::string& spec) {
  return "---\napiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: " + name +
         ", namespace: default, resourceVersion: \"1\"}\nspec:\n" + spec;
}

const std::string kScopedSidecar = SidecarObject("default", "  egress: [{hosts: [\"./*\", \"istio-system/*\"]}]\n");

std::vector<std::string> Domains(const envoy::config::route::v3::RouteConfiguration& rc) {
  std::vector<std::string> out;
  for (const auto& vh : rc.virtual_hosts()) out.push_back(vh.name());
  return out;
}

// A Sidecar limited to "./*" and "istio-system/*": other namespaces' services
// (legacy.other) get no listener, cluster or virtual host.
TEST_F(SidecarTest, SidecarEgressHostsLimitWhatTheProxySees) {
  auto push = BuildPush(kMesh + kIstiod + kScopedSidecar);
  const xds::GeneratorMap generators = xds::MakeGenerators();
  const auto clusters = Names(generators.at(xds::kClusterType)->Generate(proxy_, *push, Wildcard()));
  EXPECT_THAT(clusters, IsSupersetOf({"outbound|15010||istiod.istio-system.svc.cluster.local",
                                      "outbound|9080||ratings.default.svc.cluster.local"}));
  for (const auto& c : clusters) {
    EXPECT_EQ(c.find("other.svc"), std::string::npos) << c;
  }
  const auto listeners = Names(generators.at(xds::kListenerType)->Generate(proxy_, *push, Wildcard()));
  EXPECT_THAT(listeners, ElementsAre("0.0.0.0_15010", "0.0.0.0_443", "0.0.0.0_9080", "0.0.0.0_9090",
                                     "10.96.0.12_27017", "virtualInbound", "virtualOutbound"));
  const auto rc = BuildSidecarRouteConfiguration("9080", proxy_, *push);
  EXPECT_THAT(Domains(rc), ElementsAre("ratings.default.svc.cluster.local:9080", "reviews.default.svc.cluster.local:9080",
                                       "allow_any"));
  // Without the Sidecar legacy.other is there.
  EXPECT_THAT(Domains(BuildSidecarRouteConfiguration("9080", proxy_, *push_)),
              IsSupersetOf({"legacy.other.svc.cluster.local:9080"}));
}

// A delegate VirtualService's routes take what their root route sets and they do
// not (Istio mergeHTTPRoute): here the name, timeout and retries; their own
// values win where they set one.
TEST_F(SidecarTest, DelegateRoutesInheritTheRootRoutesSettings) {
  auto push = BuildPush(kMesh + R"(
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: default}
spec:
  hosts: [ratings]
  http:
  - name: api
    match: [{uri: {prefix: /api}}]
    timeout: 3s
    retries: {attempts: 5, perTryTimeout: 1s}
    delegate: {name: leaf, namespace: default}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: leaf, namespace: default}
spec:
  http:
  - name: v1
    route: [{destination: {host: ratings}}]
  - timeout: 7s
    route: [{destination: {host: ratings}}]
)");
  const auto rc = BuildSidecarRouteConfiguration("9080", proxy_, *push);
  const envoy::config::route::v3::VirtualHost* vh = nullptr;
  for (const auto& v : rc.virtual_hosts()) {
    if (v.name() == "ratings.default.svc.cluster.local:9080") vh = &v;
  }
  ASSERT_NE(vh, nullptr);
  ASSERT_EQ(vh->routes_size(), 2);
  EXPECT_EQ(vh->routes(0).name(), "api-v1");
  EXPECT_EQ(vh->routes(0).route().timeout().seconds(), 3);
  EXPECT_EQ(vh->routes(0).route().retry_policy().num_retries().value(), 5u);
  EXPECT_EQ(vh->routes(1).name(), "api");
  EXPECT_EQ(vh->routes(1).route().timeout().seconds(), 7);
  EXPECT_EQ(vh->routes(1).route().retry_policy().num_retries().value(), 5u);
}

// egress[].port narrows a listener's hosts to that port.
TEST_F(SidecarTest, SidecarEgressPortNarrows) {
  auto push = BuildPush(kMesh + SidecarObject("default",
                                              "  egress:\n  - port: {number: 9080, protocol: HTTP, name: web}\n"
                                              "    hosts: [\"./*\"]\n"));
  // 9090 (reviews grpc-admin) and 443 (httpbin.org) are gone; mongodb stays, all
  // ports, as the destination of the imported mongodb VirtualService (Keel
  // imports those for listeners too; istiod only for clusters).
  EXPECT_THAT(OutboundListenerNames(proxy_, *push), ElementsAre("0.0.0.0_9080", "10.96.0.12_27017"));
}

// REGISTRY_ONLY: unknown destinations go to BlackHoleCluster (virtualOutbound,
// outbound listeners' PassthroughFilterChain) and RDS ends with block_all.
TEST_F(SidecarTest, RegistryOnlyBlackholesUnknownDestinations) {
  auto push = BuildPush(kMesh + SidecarObject("default", "  outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n"));
  const auto vo = BuildVirtualOutboundListener(proxy_, push->ScopeFor(proxy_).outbound_traffic_policy());
  EXPECT_EQ(TcpProxyOf(vo.filter_chains(vo.filter_chains_size() - 1)).cluster(), "BlackHoleCluster");
  const auto rc = BuildSidecarRouteConfiguration("9080", proxy_, *push);
  ASSERT_GT(rc.virtual_hosts_size(), 0);
  const auto& last = rc.virtual_hosts(rc.virtual_hosts_size() - 1);
  EXPECT_EQ(last.name(), "block_all");
  EXPECT_EQ(last.routes(0).direct_response().status(), 502u);
  auto listeners = BuildOutboundListeners(proxy_, *push);
  const auto& http = listeners.at("0.0.0.0_9080");
  ASSERT_TRUE(http.has_default_filter_chain());
  EXPECT_EQ(TcpProxyOf(http.default_filter_chain()).cluster(), "BlackHoleCluster");
  // Mesh default (no Sidecar): ALLOW_ANY, PassthroughCluster.
  const auto open = BuildVirtualOutboundListener(proxy_);
  EXPECT_EQ(TcpProxyOf(open.filter_chains(open.filter_chains_size() - 1)).cluster(), "PassthroughCluster");
}

// The mesh's outboundTrafficPolicy (ConfigMap istio) is the default of proxies whose
// Sidecar sets none; a Sidecar's own policy wins.
TEST_F(SidecarTest, MeshOutboundTrafficPolicyIsTheDefault) {
  model::MeshOptions mesh;
  auto config = std::make_shared<model::MeshConfig>(model::DefaultMeshConfig());
  config->mutable_outbound_traffic_policy()->set_mode(model::MeshConfig::OutboundTrafficPolicy::REGISTRY_ONLY);
  mesh.config = config;
  auto catch_all = [&](const model::PushContextPtr& push) {
    const auto vo = BuildVirtualOutboundListener(proxy_, push->ScopeFor(proxy_).outbound_traffic_policy());
    return TcpProxyOf(vo.filter_chains(vo.filter_chains_size() - 1)).cluster();
  };
  EXPECT_EQ(catch_all(BuildPush(kMesh, mesh)), "BlackHoleCluster");
  const auto rc = BuildSidecarRouteConfiguration("9080", proxy_, *BuildPush(kMesh, mesh));
  EXPECT_EQ(rc.virtual_hosts(rc.virtual_hosts_size() - 1).name(), "block_all");
  EXPECT_EQ(catch_all(BuildPush(kMesh + SidecarObject("default", "  outboundTrafficPolicy: {mode: ALLOW_ANY}\n"), mesh)),
            "PassthroughCluster");
  // A Sidecar without a policy takes the mesh's.
  EXPECT_EQ(catch_all(BuildPush(kMesh + kIstiod + kScopedSidecar, mesh)), "BlackHoleCluster");
}

// trustDomain names the SPIFFE ids clusters expect of their endpoints, and each of
// them is accepted in every trustDomainAliases domain too (istiod's
// spiffe.ExpandWithTrustDomains); enableAutoMtls: false leaves plaintext.
TEST_F(SidecarTest, MeshTrustDomainAndAliasesNameTheExpectedSans) {
  model::MeshOptions mesh;
  auto config = std::make_shared<model::MeshConfig>(model::DefaultMeshConfig("istio-system", "corp.example"));
  config->add_trust_domain_aliases("old.example");
  mesh.config = config;
  auto push = BuildPush(kMesh, mesh);
  auto c = BuildEnvoyOutboundCluster(ClusterName{"outbound", 9080, "v1", "reviews.default.svc.cluster.local"}, proxy_,
                                     *push);
  ASSERT_TRUE(c.has_value());
  ASSERT_EQ(c->transport_socket_matches_size(), 2);
  tls::UpstreamTlsContext ctx;
  ASSERT_TRUE(c->transport_socket_matches(0).transport_socket().typed_config().UnpackTo(&ctx));
  std::vector<std::string> sans;
  for (const auto& m : ctx.common_tls_context().combined_validation_context().default_validation_context()
                           .match_subject_alt_names()) {
    sans.push_back(m.exact());
  }
  EXPECT_THAT(sans, ElementsAre("spiffe://corp.example/ns/default/sa/reviews-v1-sa",
                                "spiffe://corp.example/ns/default/sa/reviews-v2-sa",
                                "spiffe://old.example/ns/default/sa/reviews-v1-sa",
                                "spiffe://old.example/ns/default/sa/reviews-v2-sa"));

  config->mutable_enable_auto_mtls()->set_value(false);
  auto plain = BuildEnvoyOutboundCluster(ClusterName{"outbound", 9080, "v1", "reviews.default.svc.cluster.local"},
                                         proxy_, *BuildPush(kMesh, mesh));
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->transport_socket_matches_size(), 0);
  EXPECT_FALSE(plain->has_transport_socket());
}

// Two proxies of one namespace with different Sidecars must not share cached
// resources: virtualOutbound (REGISTRY_ONLY vs ALLOW_ANY) and outbound listeners.
TEST_F(SidecarTest, CacheScopesIncludeTheSelectedSidecar) {
  auto push = BuildPush(kMesh + kIstiod + kScopedSidecar +
                        SidecarObject("ratings", "  workloadSelector: {labels: {app: ratings}}\n"
                                                 "  outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n"));
  const xds::GeneratorMap generators = xds::MakeGenerators();
  const auto& lds = *generators.at(xds::kListenerType);
  model::Proxy ratings =
      MakeProxy("sidecar~10.0.0.3~ratings-v1.default~default.svc.cluster.local", {{"app", "ratings"}});
  auto cluster_of_catch_all = [&](const model::Proxy& p) {
    auto out = lds.Generate(p, *push, Named({"virtualOutbound"}));
    listener::Listener l;
    EXPECT_EQ(out.size(), 1u);
    EXPECT_TRUE(out.at(0).resource->any.UnpackTo(&l));
    return TcpProxyOf(l.filter_chains(l.filter_chains_size() - 1)).cluster();
  };
  // Either order (two pushes, two caches): the second must not get the first's cached resource.
  EXPECT_EQ(cluster_of_catch_all(proxy_), "PassthroughCluster");
  EXPECT_EQ(cluster_of_catch_all(ratings), "BlackHoleCluster");
  push = BuildPush(kMesh + kIstiod + kScopedSidecar +
                         SidecarObject("ratings", "  workloadSelector: {labels: {app: ratings}}\n"
                                                  "  outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n"));  // fresh cache
  EXPECT_EQ(cluster_of_catch_all(ratings), "BlackHoleCluster");
  EXPECT_EQ(cluster_of_catch_all(proxy_), "PassthroughCluster");

  // The ratings Sidecar has no egress (implicit */*): legacy.other's listener
  // is there for ratings, not for reviews (./* and istio-system/*).
  EXPECT_THAT(Names(lds.Generate(ratings, *push, Wildcard())), IsSupersetOf({"0.0.0.0_9080"}));
  const auto reviews_9080 = lds.Generate(proxy_, *push, Named({"0.0.0.0_9080"}));
  const auto ratings_9080 = lds.Generate(ratings, *push, Named({"0.0.0.0_9080"}));
  ASSERT_EQ(reviews_9080.size(), 1u);
  ASSERT_EQ(ratings_9080.size(), 1u);
  EXPECT_NE(reviews_9080[0].resource->hash, ratings_9080[0].resource->hash);  // PassthroughFilterChain differs
}


// A Sidecar's ingress listeners replace the inbound chains and clusters. Two
// connections with one proxy id whose labels differ only in what selects the
// Sidecar have the same Service instances: the inbound cache scope must still
// keep them apart (it includes the Sidecar).
TEST_F(SidecarTest, SidecarIngressReplacesInboundPortsAndScopesTheCache) {
  auto push = BuildPush(kMesh + SidecarObject("ingress", "  workloadSelector: {labels: {edge: \"yes\"}}\n"
                                                         "  ingress:\n"
                                                         "  - port: {number: 7000, protocol: HTTP, name: http}\n"
                                                         "    defaultEndpoint: 127.0.0.1:7001\n"));
  const xds::GeneratorMap generators = xds::MakeGenerators();
  model::Proxy edge = proxy_;
  edge.labels["edge"] = "yes";
  ASSERT_EQ(InstancesKey(ProxyServiceInstances(edge, *push)), InstancesKey(ProxyServiceInstances(proxy_, *push)));
  auto inbound_ports = [&](const model::Proxy& p) {
    auto out = generators.at(xds::kListenerType)->Generate(p, *push, Named({"virtualInbound"}));
    listener::Listener l;
    EXPECT_EQ(out.size(), 1u);
    EXPECT_TRUE(out.at(0).resource->any.UnpackTo(&l));
    std::set<uint32_t> ports;
    for (const auto& fc : l.filter_chains()) ports.insert(fc.filter_chain_match().destination_port().value());
    return ports;
  };
  EXPECT_THAT(inbound_ports(proxy_), ElementsAre(0u, 8080u, 15006u, 19090u));
  EXPECT_THAT(inbound_ports(edge), ElementsAre(0u, 7000u, 15006u));
  const auto inbound_clusters = [&](const model::Proxy& p) {
    std::vector<std::string> out;
    for (const auto& n : Names(generators.at(xds::kClusterType)->Generate(p, *push, Wildcard()))) {
      if (absl::StartsWith(n, "inbound|")) out.push_back(n);
    }
    return out;
  };
  EXPECT_THAT(inbound_clusters(proxy_), ElementsAre("inbound|19090||", "inbound|8080||"));
  EXPECT_THAT(inbound_clusters(edge), ElementsAre("inbound|7000||"));
}

}  // namespace
}  // namespace keel::pilot::networking::sidecar
