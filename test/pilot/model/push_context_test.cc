#include "pilot/model/push_context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test/pilot/testing/configs.h"

namespace keel::pilot::model {
namespace {

using ::keel::pilot::testing::BuildPush;
using ::keel::pilot::testing::ParseAll;
using ::keel::pilot::testing::ParseOne;
using ::keel::pilot::testing::Upserts;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kReviews[] = "reviews.default.svc.cluster.local";
constexpr char kRatings[] = "ratings.default.svc.cluster.local";

std::string Service(const std::string& name, const std::string& ns) {
  return "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: " + ns +
         "}\nspec:\n  clusterIP: 10.96.0.1\n  ports: [{name: http, port: 9080}]\n";
}

// A VirtualService with `spec_extra` appended to its spec (two-space indented).
std::string VirtualService(const std::string& name, const std::string& ns, const std::string& hosts,
                           const std::string& created, const std::string& spec_extra = "") {
  return "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: " + name +
         ", namespace: " + ns + ", creationTimestamp: \"" + created + "\"}\nspec:\n  hosts: " + hosts +
         "\n  http: [{route: [{destination: {host: reviews}}]}]\n" + spec_extra;
}

std::string DestinationRule(const std::string& name, const std::string& ns, const std::string& host,
                            const std::string& created = "2020-01-01T00:00:00Z") {
  return "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: " + name +
         ", namespace: " + ns + ", creationTimestamp: \"" + created + "\"}\nspec: {host: \"" + host + "\"}\n";
}

std::string NameOf(const VirtualServiceEntry* vs) { return vs ? vs->config->key.ToString() : "<none>"; }
std::string NameOf(const DestinationRuleEntry* dr) { return dr ? dr->config->key.ToString() : "<none>"; }

// --- ResolveHost ---

// Istio's rule for hosts in config: only dotless names are relative to the namespace.
TEST(PushContextTest, ResolveHostExpandsOnlyDotlessNames) {
  auto push = BuildPush("");
  EXPECT_EQ(push->ResolveHost("reviews", "default"), kReviews);
  EXPECT_EQ(push->ResolveHost("reviews", "bookinfo"), "reviews.bookinfo.svc.cluster.local");
  EXPECT_EQ(push->ResolveHost("reviews.other", "default"), "reviews.other");
  EXPECT_EQ(push->ResolveHost("reviews.other.svc", "default"), "reviews.other.svc");
  EXPECT_EQ(push->ResolveHost(kReviews, "other"), kReviews);
  EXPECT_EQ(push->ResolveHost("api.example.com", "default"), "api.example.com");
  EXPECT_EQ(push->ResolveHost("*.example.com", "default"), "*.example.com");
  EXPECT_EQ(push->ResolveHost("*", "default"), "*");
}

TEST(PushContextTest, ResolveHostUsesMeshDomain) {
  MeshOptions mesh;
  mesh.domain = "corp.internal";
  auto push = BuildPush("", mesh);
  EXPECT_EQ(push->ResolveHost("reviews", "default"), "reviews.default.svc.corp.internal");
}

// A client's dialled name goes through the Kubernetes DNS search path.
TEST(PushContextTest, ServiceForDnsNameFollowsTheSearchPath) {
  auto push = BuildPush(Service("reviews", "default") + Service("reviews", "other"));
  ASSERT_NE(push->ServiceForDnsName("reviews", "default"), nullptr);
  EXPECT_EQ(push->ServiceForDnsName("reviews", "default")->ns, "default");
  EXPECT_EQ(push->ServiceForDnsName("reviews", "other")->ns, "other");
  EXPECT_EQ(push->ServiceForDnsName("reviews.other", "default")->ns, "other");
  EXPECT_EQ(push->ServiceForDnsName("reviews.other.svc", "default")->ns, "other");
  EXPECT_EQ(push->ServiceForDnsName(kReviews, "other")->ns, "default");
  EXPECT_EQ(push->ServiceForDnsName("ratings", "default"), nullptr);
  EXPECT_EQ(push->ServiceForDnsName("reviews", "nowhere"), nullptr);
}

TEST(PushContextTest, ServicesIndexedByFqdn) {
  auto push = BuildPush(Service("reviews", "default") + Service("reviews", "other"));
  ASSERT_NE(push->ServiceForHost(kReviews), nullptr);
  EXPECT_EQ(push->ServiceForHost(kReviews)->ns, "default");
  EXPECT_EQ(push->ServiceForHost(kReviews)->vip, "10.96.0.1");
  ASSERT_NE(push->ServiceForHost("reviews.other.svc.cluster.local"), nullptr);
  EXPECT_EQ(push->ServiceForHost("reviews"), nullptr);
  EXPECT_EQ(push->services().size(), 2u);
}

// --- VirtualServiceForHost ---

TEST(PushContextTest, ExactHostBeatsWildcardEvenWhenWildcardIsOlder) {
  auto push = BuildPush(VirtualService("wild", "default", "[\"*.default.svc.cluster.local\"]", "2019-01-01T00:00:00Z") +
                        VirtualService("exact", "default", "[reviews]", "2024-01-01T00:00:00Z"));
  EXPECT_EQ(NameOf(push->Scope({"default"}).VirtualServiceForHost(kReviews, "mesh")), "VirtualService default/exact");
  EXPECT_EQ(NameOf(push->Scope({"default"}).VirtualServiceForHost(kRatings, "mesh")), "VirtualService default/wild");
  EXPECT_EQ(push->Scope({"default"}).VirtualServiceForHost("reviews.other.svc.cluster.local", "mesh"), nullptr);
}

TEST(PushContextTest, LongerWildcardBeatsShorter) {
  auto push = BuildPush(VirtualService("star", "default", "[\"*\"]", "2019-01-01T00:00:00Z") +
                        VirtualService("svc", "default", "[\"*.svc.cluster.local\"]", "2020-01-01T00:00:00Z") +
                        VirtualService("ns", "default", "[\"*.default.svc.cluster.local\"]", "2021-01-01T00:00:00Z"));
  EXPECT_EQ(NameOf(push->Scope({"default"}).VirtualServiceForHost(kReviews, "mesh")), "VirtualService default/ns");
  EXPECT_EQ(NameOf(push->Scope({"default"}).VirtualServiceForHost("x.other.svc.cluster.local", "mesh")),
            "VirtualService default/svc");
  EXPECT_EQ(NameOf(push->Scope({"default"}).VirtualServiceForHost("example.com", "mesh")), "VirtualService default/star");
}

TEST(PushContextTest, OldestWinsAmongEquals) {
  // "alpha" sorts first by name but "zeta" is older.
  auto push = BuildPush(VirtualService("alpha", "default", "[reviews]", "2021-06-01T00:00:00Z") +
                        VirtualService("zeta", "default", "[reviews]", "2020-06-01T00:00:00Z"));
  EXPECT_EQ(NameOf(push->Scope({"default"}).VirtualServiceForHost(kReviews, "mesh")), "VirtualService default/zeta");
}

TEST(PushContextTest, NameBreaksTimestampTies) {
  auto push = BuildPush(VirtualService("zeta", "default", "[reviews]", "2020-06-01T00:00:00Z") +
                        VirtualService("alpha", "default", "[reviews]", "2020-06-01T00:00:00Z"));
  EXPECT_EQ(NameOf(push->Scope({"default"}).VirtualServiceForHost(kReviews, "mesh")), "VirtualService default/alpha");
}

TEST(PushContextTest, HostsResolvedRelativeToTheVirtualServiceNamespace) {
  auto push = BuildPush(VirtualService("vs", "bookinfo", "[reviews]", "2020-01-01T00:00:00Z"));
  EXPECT_EQ(push->Scope({"default"}).VirtualServiceForHost(kReviews, "mesh"), nullptr);
  EXPECT_EQ(NameOf(push->Scope({"default"}).VirtualServiceForHost("reviews.bookinfo.svc.cluster.local", "mesh")),
            "VirtualService bookinfo/vs");
}

TEST(PushContextTest, NoGatewaysMeansMesh) {
  auto push = BuildPush(VirtualService("vs", "default", "[reviews]", "2020-01-01T00:00:00Z"));
  EXPECT_NE(push->Scope({"default"}).VirtualServiceForHost(kReviews, "mesh"), nullptr);
  EXPECT_EQ(push->Scope({"default"}).VirtualServiceForHost(kReviews, "default/bookinfo-gateway"), nullptr);
}

TEST(PushContextTest, GatewayBoundVirtualServiceIsNotForMesh) {
  auto push = BuildPush(
      VirtualService("gw-only", "default", "[reviews]", "2020-01-01T00:00:00Z", "  gateways: [bookinfo-gateway]\n"));
  EXPECT_EQ(push->Scope({"default"}).VirtualServiceForHost(kReviews, "mesh"), nullptr);
  // A short gateway name is relative to the VirtualService's namespace.
  EXPECT_EQ(NameOf(push->Scope({"default"}).VirtualServiceForHost(kReviews, "default/bookinfo-gateway")),
            "VirtualService default/gw-only");
  EXPECT_EQ(push->Scope({"default"}).VirtualServiceForHost(kReviews, "other/bookinfo-gateway"), nullptr);
}

TEST(PushContextTest, VirtualServiceBoundToMeshAndGateway) {
  auto push = BuildPush(VirtualService("both", "default", "[reviews]", "2020-01-01T00:00:00Z",
                                       "  gateways: [mesh, istio-system/ingress]\n"));
  EXPECT_NE(push->Scope({"default"}).VirtualServiceForHost(kReviews, "mesh"), nullptr);
  EXPECT_NE(push->Scope({"default"}).VirtualServiceForHost(kReviews, "istio-system/ingress"), nullptr);
}

TEST(PushContextTest, ExportToDotHidesFromOtherNamespaces) {
  auto push = BuildPush(
      VirtualService("private", "other", "[\"reviews.default.svc.cluster.local\"]", "2020-01-01T00:00:00Z",
                     "  exportTo: [\".\"]\n"));
  EXPECT_EQ(push->Scope({"default"}).VirtualServiceForHost(kReviews, "mesh"), nullptr);
  EXPECT_EQ(NameOf(push->Scope({"other"}).VirtualServiceForHost(kReviews, "mesh")), "VirtualService other/private");
}

TEST(PushContextTest, ExportToNamedNamespaceAndStar) {
  auto push = BuildPush(
      VirtualService("to-ns", "other", "[\"reviews.default.svc.cluster.local\"]", "2020-01-01T00:00:00Z",
                     "  exportTo: [client]\n") +
      VirtualService("to-all", "other", "[\"ratings.default.svc.cluster.local\"]", "2020-01-01T00:00:00Z",
                     "  exportTo: [\"*\"]\n"));
  EXPECT_NE(push->Scope({"client"}).VirtualServiceForHost(kReviews, "mesh"), nullptr);
  EXPECT_EQ(push->Scope({"default"}).VirtualServiceForHost(kReviews, "mesh"), nullptr);
  EXPECT_NE(push->Scope({"default"}).VirtualServiceForHost(kRatings, "mesh"), nullptr);
}

TEST(PushContextTest, HiddenVirtualServiceFallsBackToVisibleOne) {
  auto push = BuildPush(
      VirtualService("private", "other", "[\"reviews.default.svc.cluster.local\"]", "2019-01-01T00:00:00Z",
                     "  exportTo: [\".\"]\n") +
      VirtualService("public", "default", "[reviews]", "2020-01-01T00:00:00Z"));
  EXPECT_EQ(NameOf(push->Scope({"default"}).VirtualServiceForHost(kReviews, "mesh")), "VirtualService default/public");
  EXPECT_EQ(NameOf(push->Scope({"other"}).VirtualServiceForHost(kReviews, "mesh")), "VirtualService other/private");
}

// A VirtualService for a ServiceEntry host with one dot ("httpbin.org") must
// apply to that host: Istio expands only dotless short names.
TEST(PushContextTest, VirtualServiceForServiceEntryHostWithOneDot) {
  auto push = BuildPush(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin}
spec:
  hosts: [httpbin.org]
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP}]
)" + VirtualService("httpbin", "default", "[httpbin.org]", "2020-01-01T00:00:00Z") +
                        DestinationRule("httpbin", "default", "httpbin.org"));
  ASSERT_NE(push->ServiceForHost("httpbin.org"), nullptr);
  EXPECT_EQ(NameOf(push->Scope({"default"}).VirtualServiceForHost("httpbin.org", "mesh")), "VirtualService default/httpbin");
  EXPECT_EQ(NameOf(push->Scope({"default"}).DestinationRuleForHost("httpbin.org")), "DestinationRule default/httpbin");
}

// --- DestinationRuleForHost ---

TEST(PushContextTest, DestinationRulePrefersProxyNamespaceThenServiceNamespace) {
  auto push = BuildPush(Service("reviews", "default") +
                        DestinationRule("svc-ns", "default", "reviews", "2020-01-01T00:00:00Z") +
                        DestinationRule("client-ns", "client", kReviews, "2024-01-01T00:00:00Z") +
                        DestinationRule("third-ns", "third", kReviews, "2019-01-01T00:00:00Z"));
  EXPECT_EQ(NameOf(push->Scope({"client"}).DestinationRuleForHost(kReviews)), "DestinationRule client/client-ns");
  EXPECT_EQ(NameOf(push->Scope({"default"}).DestinationRuleForHost(kReviews)), "DestinationRule default/svc-ns");
  EXPECT_EQ(NameOf(push->Scope({"third"}).DestinationRuleForHost(kReviews)), "DestinationRule third/third-ns");
  EXPECT_EQ(NameOf(push->Scope({"elsewhere"}).DestinationRuleForHost(kReviews)), "DestinationRule default/svc-ns");
}

TEST(PushContextTest, AnEndpointsUpdateKeepsTheDestinationRules) {
  auto push = BuildPush(Service("reviews", "default") +
                        DestinationRule("svc-ns", "default", "reviews", "2020-01-01T00:00:00Z"));
  auto updated = PushContext::UpdateEndpoints(*push, push->configs(), {kReviews}, 2);
  push.reset();  // the update must not point into the previous PushContext
  EXPECT_EQ(NameOf(updated->Scope({"default"}).DestinationRuleForHost(kReviews)), "DestinationRule default/svc-ns");
}

TEST(PushContextTest, DestinationRuleExactBeatsWildcardInSameNamespace) {
  auto push = BuildPush(Service("reviews", "default") +
                        DestinationRule("wild", "default", "*.default.svc.cluster.local", "2019-01-01T00:00:00Z") +
                        DestinationRule("exact", "default", "reviews", "2024-01-01T00:00:00Z"));
  EXPECT_EQ(NameOf(push->Scope({"default"}).DestinationRuleForHost(kReviews)), "DestinationRule default/exact");
  EXPECT_EQ(NameOf(push->Scope({"default"}).DestinationRuleForHost(kRatings)), "DestinationRule default/wild");
  EXPECT_EQ(push->Scope({"default"}).DestinationRuleForHost("ratings.other.svc.cluster.local"), nullptr);
}

// --- HostMatches / LabelsMatch ---

TEST(PushContextTest, HostMatches) {
  EXPECT_TRUE(HostMatches("*", kReviews));
  EXPECT_TRUE(HostMatches("*.cluster.local", kReviews));
  EXPECT_TRUE(HostMatches(kReviews, kReviews));
  EXPECT_FALSE(HostMatches("*.example.com", kReviews));
  EXPECT_FALSE(HostMatches("*.example.com", "example.com"));
  EXPECT_FALSE(HostMatches(kRatings, kReviews));
}

TEST(PushContextTest, LabelsMatch) {
  EXPECT_TRUE(LabelsMatch({}, {{"app", "x"}}));
  EXPECT_TRUE(LabelsMatch({{"app", "x"}}, {{"app", "x"}, {"version", "v1"}}));
  EXPECT_FALSE(LabelsMatch({{"app", "x"}, {"version", "v2"}}, {{"app", "x"}, {"version", "v1"}}));
  EXPECT_FALSE(LabelsMatch({{"app", "x"}}, {}));
}

// --- ConfigStore ---

TEST(ConfigStoreTest, SnapshotIsUnchangedByLaterApply) {
  ConfigStore store;
  auto a = ParseOne(Service("a", "default"));
  auto b = ParseOne(Service("b", "default"));
  ASSERT_TRUE(a && b);
  store.Apply({{a->key, a}});
  ConfigSnapshot before = store.Snapshot();

  store.Apply({{b->key, b}, {a->key, nullptr}});
  ASSERT_EQ(before->size(), 1u);
  EXPECT_EQ(before->begin()->second, a);

  ConfigSnapshot after = store.Snapshot();
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ(after->begin()->first, b->key);
  EXPECT_EQ(store.Get(a->key), nullptr);
  EXPECT_EQ(store.Get(b->key), b);
}

TEST(ConfigStoreTest, ApplyReportsChangedKeysAndCallsHandler) {
  ConfigStore store;
  std::vector<std::vector<ConfigKey>> calls;
  store.SetChangeHandler([&](const std::vector<ConfigKey>& changed) { calls.push_back(changed); });
  auto configs = ParseAll(Service("a", "default") + Service("b", "default"));
  ASSERT_EQ(configs.size(), 2u);
  auto changed = store.Apply(Upserts(configs));
  EXPECT_THAT(changed, ElementsAre(configs[0]->key, configs[1]->key));
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], changed);
  EXPECT_EQ(store.Size(), 2u);
}

TEST(ConfigStoreTest, SameObjectReappliedIsNoChange) {
  ConfigStore store;
  int calls = 0;
  store.SetChangeHandler([&](const std::vector<ConfigKey>&) { ++calls; });
  const std::string yaml = VirtualService("vs", "default", "[reviews]", "2020-01-01T00:00:00Z");
  auto first = ParseOne(yaml);
  auto again = ParseOne(yaml);  // a new object with the same content
  ASSERT_TRUE(first && again);
  ASSERT_NE(first, again);
  EXPECT_EQ(store.Apply({{first->key, first}}).size(), 1u);
  EXPECT_THAT(store.Apply({{again->key, again}}), IsEmpty());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(store.Get(first->key), first);

  // Deleting something absent is no change either.
  auto other = ParseOne(Service("absent", "default"));
  EXPECT_THAT(store.Apply({{other->key, nullptr}}), IsEmpty());
  EXPECT_EQ(calls, 1);
}

TEST(ConfigStoreTest, ChangedBodyOrLabelsIsAChange) {
  ConfigStore store;
  auto v1 = ParseOne(VirtualService("vs", "default", "[reviews]", "2020-01-01T00:00:00Z"));
  auto v2 = ParseOne(VirtualService("vs", "default", "[reviews, ratings]", "2020-01-01T00:00:00Z"));
  auto labelled = ParseOne(
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs, labels: {a: b}, "
      "creationTimestamp: \"2020-01-01T00:00:00Z\"}\nspec:\n  hosts: [reviews, ratings]\n"
      "  http: [{route: [{destination: {host: reviews}}]}]\n");
  ASSERT_TRUE(v1 && v2 && labelled);
  store.Apply({{v1->key, v1}});
  EXPECT_EQ(store.Apply({{v2->key, v2}}).size(), 1u);
  EXPECT_EQ(store.Get(v1->key), v2);
  EXPECT_EQ(store.Apply({{labelled->key, labelled}}).size(), 1u);
}

}  // namespace
}  // namespace keel::pilot::model
