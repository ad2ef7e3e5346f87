#include "pilot/model/sidecar_scope.h"

#include <gtest/gtest.h>

#include "pilot/model/push_context.h"
#include "test/pilot/testing/configs.h"

namespace keel::pilot::model {
namespace {

using ::keel::pilot::testing::BuildPush;

std::string Svc(const std::string& name, const std::string& ns, const std::string& ports = "[{name: http, port: 9080}]") {
  return "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: " + ns +
         "}\nspec:\n  clusterIP: 10.96.0.1\n  ports: " + ports + "\n";
}

std::string Sidecar(const std::string& name, const std::string& ns, const std::string& spec,
                    const std::string& created = "2020-01-01T00:00:00Z") {
  return "---\napiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: " + name + ", namespace: " + ns +
         ", creationTimestamp: \"" + created + "\", resourceVersion: \"7\"}\nspec:\n" + spec;
}

constexpr char kScoped[] = "  egress: [{hosts: [\"./*\", \"istio-system/*\"]}]\n";
constexpr char kAnySpec[] = "  outboundTrafficPolicy: {mode: ALLOW_ANY}\n";

std::string Selected(const PushContextPtr& push, const std::string& ns, std::map<std::string, std::string> labels) {
  ConfigPtr c = SelectSidecar(push->configs(), ns, labels, push->mesh().root_namespace());
  return c ? c->key.ToString() : "<none>";
}

// --- SelectSidecar: selector > namespace default > root default > none ---

TEST(SelectSidecarTest, SelectorBeatsNamespaceDefaultBeatsRootDefault) {
  auto push = BuildPush(Sidecar("root", "istio-system", kScoped) + Sidecar("ns-default", "shop", kScoped) +
                        Sidecar("for-cart", "shop", "  workloadSelector: {labels: {app: cart}}\n" + std::string(kScoped)));
  EXPECT_EQ(Selected(push, "shop", {{"app", "cart"}, {"version", "v1"}}), "Sidecar shop/for-cart");
  EXPECT_EQ(Selected(push, "shop", {{"app", "web"}}), "Sidecar shop/ns-default");
  EXPECT_EQ(Selected(push, "other", {{"app", "cart"}}), "Sidecar istio-system/root");
}

TEST(SelectSidecarTest, NoneWithoutSidecarsAndSelectorsDoNotCrossNamespaces) {
  EXPECT_EQ(Selected(BuildPush(""), "shop", {}), "<none>");
  // A selector in the root namespace selects only the root namespace's workloads.
  auto push = BuildPush(Sidecar("sel", "istio-system", "  workloadSelector: {labels: {app: cart}}\n" +
                                                           std::string(kScoped)));
  EXPECT_EQ(Selected(push, "shop", {{"app", "cart"}}), "<none>");
  EXPECT_EQ(Selected(push, "istio-system", {{"app", "cart"}}), "Sidecar istio-system/sel");
}

TEST(SelectSidecarTest, OldestMatchingSelectorWins) {
  auto push = BuildPush(
      Sidecar("a-newer", "shop", "  workloadSelector: {labels: {app: cart}}\n" + std::string(kScoped), "2021-01-01T00:00:00Z") +
      Sidecar("b-older", "shop", "  workloadSelector: {labels: {app: cart}}\n" + std::string(kScoped), "2020-01-01T00:00:00Z"));
  EXPECT_EQ(Selected(push, "shop", {{"app", "cart"}}), "Sidecar shop/b-older");
}

TEST(SelectSidecarTest, RootNamespaceIsTheMeshOption) {
  MeshOptions mesh;
  mesh.config = std::make_shared<const MeshConfig>(DefaultMeshConfig("mesh-root"));
  auto push = BuildPush(Sidecar("root", "istio-system", kScoped) + Sidecar("root", "mesh-root", kScoped), mesh);
  EXPECT_EQ(Selected(push, "shop", {}), "Sidecar mesh-root/root");
}

// --- visibility ---

SidecarScope ScopeOf(const PushContextPtr& push, const std::string& sidecar_ns, const std::string& name,
                     const std::string& proxy_ns) {
  return SidecarScope::Build(push->configs()->at(ConfigKey{Kind::kSidecar, sidecar_ns, name}), proxy_ns, *push);
}

TEST(SidecarScopeTest, DefaultScopeSeesEverythingAndAllowsAny) {
  SidecarScope scope;
  auto push = BuildPush(Svc("a", "x"));
  EXPECT_TRUE(scope.ServiceVisible(push->services()[0]));
  EXPECT_TRUE(scope.VirtualServiceVisible("x", {"anything"}));
  EXPECT_EQ(scope.outbound_traffic_policy(), OutboundTrafficPolicy::kAllowAny);
  EXPECT_EQ(scope.cache_key(), "");
}

TEST(SidecarScopeTest, DotAndNamespaceHostsImportThoseNamespaces) {
  auto push = BuildPush(Svc("a", "shop") + Svc("istiod", "istio-system") + Svc("b", "other") +
                        Sidecar("default", "shop", kScoped));
  SidecarScope scope = ScopeOf(push, "shop", "default", "shop");
  EXPECT_TRUE(scope.ServiceVisible(*push->ServiceForHost("a.shop.svc.cluster.local")));
  EXPECT_TRUE(scope.ServiceVisible(*push->ServiceForHost("istiod.istio-system.svc.cluster.local")));
  EXPECT_FALSE(scope.ServiceVisible(*push->ServiceForHost("b.other.svc.cluster.local")));
  EXPECT_EQ(scope.outbound_traffic_policy(), OutboundTrafficPolicy::kAllowAny);
  EXPECT_NE(scope.cache_key(), "");
}

// The cache key follows the Sidecar's identity and version (a cross-push cache
// must not serve resources built for an older spec).
TEST(SidecarScopeTest, CacheKeyFollowsResourceVersion) {
  auto v7 = BuildPush(Sidecar("default", "shop", kScoped));
  std::string v8_yaml = Sidecar("default", "shop", kScoped);
  v8_yaml.replace(v8_yaml.find("\"7\""), 3, "\"8\"");
  auto v8 = BuildPush(v8_yaml);
  EXPECT_NE(ScopeOf(v7, "shop", "default", "shop").cache_key(), ScopeOf(v8, "shop", "default", "shop").cache_key());
  EXPECT_EQ(ScopeOf(v7, "shop", "default", "shop").cache_key(), ScopeOf(v7, "shop", "default", "shop").cache_key());
}

// A root-namespace default applies "." to each proxy's own namespace.
TEST(SidecarScopeTest, RootDefaultDotMeansTheProxyNamespace) {
  auto push = BuildPush(Svc("a", "shop") + Svc("b", "other") + Sidecar("default", "istio-system", kScoped));
  SidecarScope in_other = ScopeOf(push, "istio-system", "default", "other");
  EXPECT_TRUE(in_other.ServiceVisible(*push->ServiceForHost("b.other.svc.cluster.local")));
  EXPECT_FALSE(in_other.ServiceVisible(*push->ServiceForHost("a.shop.svc.cluster.local")));
  EXPECT_NE(in_other.cache_key(), ScopeOf(push, "istio-system", "default", "shop").cache_key());
}

TEST(SidecarScopeTest, WildcardNamespaceTildeAndHostPatterns) {
  auto push = BuildPush(
      "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: ext}\n"
      "spec: {hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}\n" +
      Svc("a", "shop") + Svc("b", "other") +
      Sidecar("default", "shop", "  egress: [{hosts: [\"*/*.example.com\", \"~/*\", \"other/b.other.svc.cluster.local\"]}]\n"));
  SidecarScope scope = ScopeOf(push, "shop", "default", "shop");
  EXPECT_TRUE(scope.ServiceVisible(*push->ServiceForHost("api.example.com")));
  EXPECT_TRUE(scope.ServiceVisible(*push->ServiceForHost("b.other.svc.cluster.local")));
  EXPECT_FALSE(scope.ServiceVisible(*push->ServiceForHost("a.shop.svc.cluster.local")));
}

TEST(SidecarScopeTest, EgressPortNarrowsToThatPort) {
  auto push = BuildPush(Svc("a", "shop", "[{name: http, port: 9080}, {name: tcp, port: 3306}]") +
                        Svc("b", "istio-system", "[{name: grpc, port: 15010}]") +
                        Sidecar("default", "shop",
                                "  egress:\n  - port: {number: 9080, protocol: HTTP, name: web}\n    hosts: [\"./*\"]\n"
                                "  - hosts: [\"istio-system/*\"]\n"));
  SidecarScope scope = ScopeOf(push, "shop", "default", "shop");
  const Service& a = *push->ServiceForHost("a.shop.svc.cluster.local");
  const Service& b = *push->ServiceForHost("b.istio-system.svc.cluster.local");
  EXPECT_TRUE(scope.ServicePortVisible(a, 9080));
  EXPECT_FALSE(scope.ServicePortVisible(a, 3306));
  EXPECT_TRUE(scope.ServiceVisible(a));
  EXPECT_TRUE(scope.ServicePortVisible(b, 15010));  // the port-less listener: every port
}

TEST(SidecarScopeTest, VirtualServicesOfImportedNamespacesAndTheirDestinations) {
  auto push = BuildPush(
      Svc("a", "shop") + Svc("backend", "other") + Svc("c", "third") +
      "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a, namespace: shop}\n"
      "spec: {hosts: [a], http: [{route: [{destination: {host: backend.other.svc.cluster.local}}]}]}\n" +
      Sidecar("default", "shop", kScoped));
  SidecarScope scope = ScopeOf(push, "shop", "default", "shop");
  EXPECT_TRUE(scope.VirtualServiceVisible("shop", {"a.shop.svc.cluster.local"}));
  EXPECT_FALSE(scope.VirtualServiceVisible("third", {"a.shop.svc.cluster.local"}));
  // "./*" imports every VirtualService of the namespace, whatever its hosts.
  EXPECT_TRUE(scope.VirtualServiceVisible("shop", {"c.third.svc.cluster.local"}));
  auto by_host = BuildPush(Sidecar("default", "shop", "  egress: [{hosts: [\"*/a.shop.svc.cluster.local\"]}]\n"));
  SidecarScope exact = ScopeOf(by_host, "shop", "default", "shop");
  EXPECT_TRUE(exact.VirtualServiceVisible("third", {"a.shop.svc.cluster.local"}));
  EXPECT_TRUE(exact.VirtualServiceVisible("third", {"*.svc.cluster.local"}));
  EXPECT_FALSE(exact.VirtualServiceVisible("shop", {"c.third.svc.cluster.local"}));
  // The route destination of an imported VirtualService is imported (istiod does so).
  EXPECT_TRUE(scope.ServiceVisible(*push->ServiceForHost("backend.other.svc.cluster.local")));
  EXPECT_FALSE(scope.ServiceVisible(*push->ServiceForHost("c.third.svc.cluster.local")));
  EXPECT_TRUE(scope.DestinationRuleApplies(*push->ServiceForHost("backend.other.svc.cluster.local")));
}

TEST(SidecarScopeTest, OutboundTrafficPolicyAndImplicitCatchAll) {
  auto push = BuildPush(Svc("b", "other") + Sidecar("ro", "shop", "  outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n") +
                        Sidecar("any", "shop", kAnySpec));
  SidecarScope ro = ScopeOf(push, "shop", "ro", "shop");
  EXPECT_EQ(ro.outbound_traffic_policy(), OutboundTrafficPolicy::kRegistryOnly);
  // No egress: istiod's implicit "*/*".
  EXPECT_TRUE(ro.ServiceVisible(push->services()[0]));
  EXPECT_EQ(ScopeOf(push, "shop", "any", "shop").outbound_traffic_policy(), OutboundTrafficPolicy::kAllowAny);
}

// PushContext::ScopeFor: routers and proxyless gRPC clients never get a
// Sidecar's scope; sidecars share one ProxyScope per (ns, Sidecar), its key
// naming the Sidecar, its services filtered by it.
TEST(SidecarScopeTest, PushContextScopeForProxy) {
  auto push = BuildPush(Svc("b", "other") + Sidecar("default", "shop", kScoped));
  Proxy sidecar;
  sidecar.ns = "shop";
  Proxy router = sidecar;
  router.type = ProxyType::kRouter;
  Proxy grpc = sidecar;
  grpc.proxyless_grpc = true;
  EXPECT_EQ(push->ScopeFor(router).sidecar().sidecar(), nullptr);
  EXPECT_FALSE(push->ScopeFor(router).key().has_sidecar());
  EXPECT_EQ(push->ScopeFor(grpc).sidecar().sidecar(), nullptr);
  EXPECT_EQ(push->ScopeFor(router).services().size(), 1u);
  ASSERT_NE(push->ScopeFor(sidecar).sidecar().sidecar(), nullptr);
  EXPECT_EQ((push->ScopeFor(sidecar).key().sidecar), (ConfigKey{Kind::kSidecar, "shop", "default"}));
  EXPECT_FALSE(push->ScopeFor(sidecar).key().sidecar_version.empty());
  EXPECT_EQ(&push->ScopeFor(sidecar), &push->ScopeFor(sidecar));
  EXPECT_NE(&push->ScopeFor(sidecar), &push->ScopeFor(router));
  EXPECT_FALSE(push->ScopeFor(sidecar).sidecar().ServiceVisible(push->services()[0]));
  EXPECT_TRUE(push->ScopeFor(sidecar).services().empty());
}

}  // namespace
}  // namespace keel::pilot::model
