// DiscoveryNamespaces (meshConfig discoverySelectors, as istiod's discovery
// namespace filter) and the PushContext built through it.
#include "pilot/model/discovery_namespaces.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pilot/model/push_context.h"
#include "test/pilot/testing/configs.h"

namespace keel::pilot::model {
namespace {

using ::keel::pilot::testing::SnapshotOf;
using ::testing::ElementsAre;

// Namespaces a (team: web, env: prod), b (team: web, env: dev), c (no labels),
// each with a Service and a VirtualService, and the ingress Gateway in istio-system.
std::string Mesh() {
  std::string yaml = R"(
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: web, env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: web, env: dev}}
---
apiVersion: v1
kind: Namespace
metadata: {name: c}
---
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
)";
  for (const std::string ns : {"a", "b", "c"}) {
    yaml += "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: " + ns +
            "}\nspec: {clusterIP: 10.96.0.1, ports: [{name: http, port: 80}]}\n"
            "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, namespace: " +
            ns + "}\nspec: {hosts: [web], http: [{route: [{destination: {host: web}}]}]}\n";
  }
  return yaml;
}

std::vector<std::string> Hosts(const PushContext& push) {
  std::vector<std::string> out;
  for (const auto& svc : push.services()) out.push_back(svc.hostname);
  return out;
}

MeshOptions Options(const MeshConfig& mesh) {
  MeshOptions options;
  options.config = std::make_shared<const MeshConfig>(mesh);
  return options;
}

::istio::mesh::v1alpha1::LabelSelector MatchLabels(const std::string& key, const std::string& value) {
  ::istio::mesh::v1alpha1::LabelSelector s;
  (*s.mutable_matchlabels())[key] = value;
  return s;
}

TEST(DiscoveryNamespacesTest, NoSelectorsSelectEverythingAndShareTheSnapshot) {
  auto snapshot = SnapshotOf(Mesh());
  DiscoveryNamespaces all(DefaultMeshConfig(), *snapshot);
  EXPECT_TRUE(all.all());
  EXPECT_TRUE(all.Selects("c"));
  EXPECT_EQ(all.Select(snapshot), snapshot);  // no copy
  auto push = PushContext::Build(snapshot, {}, 1);
  EXPECT_THAT(Hosts(*push), ElementsAre("web.a.svc.cluster.local", "web.b.svc.cluster.local",
                                        "web.c.svc.cluster.local"));
}

TEST(DiscoveryNamespacesTest, ANamespaceMatchingAnySelectorIsSelected) {
  MeshConfig mesh = DefaultMeshConfig();
  *mesh.add_discovery_selectors() = MatchLabels("env", "prod");
  auto* dev = mesh.add_discovery_selectors();
  auto* expr = dev->add_matchexpressions();
  expr->set_key("env");
  expr->set_operator_("In");
  expr->add_values("dev");
  expr->add_values("test");
  DiscoveryNamespaces selected(mesh, *SnapshotOf(Mesh()));
  EXPECT_FALSE(selected.all());
  EXPECT_THAT(selected.selected(), ElementsAre("a", "b"));
  EXPECT_TRUE(selected.Selects(""));  // cluster-scoped objects are always in
  EXPECT_FALSE(selected.Selects("istio-system"));  // not implied, as in istiod
  EXPECT_TRUE(selected.Selects(ConfigKey{Kind::kNamespace, "", "a"}));
  EXPECT_FALSE(selected.Selects(ConfigKey{Kind::kNamespace, "", "c"}));
  EXPECT_FALSE(selected.Selects(ConfigKey{Kind::kVirtualService, "c", "web"}));
}

TEST(DiscoveryNamespacesTest, AllRequirementsOfOneSelectorMustHold) {
  MeshConfig mesh = DefaultMeshConfig();
  auto selector = MatchLabels("team", "web");
  auto* expr = selector.add_matchexpressions();
  expr->set_key("env");
  expr->set_operator_("NotIn");
  expr->add_values("dev");
  *mesh.add_discovery_selectors() = selector;
  EXPECT_THAT(DiscoveryNamespaces(mesh, *SnapshotOf(Mesh())).selected(), ElementsAre("a"));
}

TEST(DiscoveryNamespacesTest, AnEmptySelectorSelectsEveryNamespace) {
  MeshConfig mesh = DefaultMeshConfig();
  mesh.add_discovery_selectors();  // {} is labels.Everything() in istiod
  DiscoveryNamespaces selected(mesh, *SnapshotOf(Mesh()));
  EXPECT_FALSE(selected.all());
  EXPECT_THAT(selected.selected(), ElementsAre("a", "b", "c", "istio-system"));
}

// The push is built from the selected objects only: services, VirtualServices and
// the Gateway of a namespace left out are not seen, and an endpoint-only push
// keeps the selection of the full push before it.
TEST(DiscoveryNamespacesTest, APushSeesOnlyTheSelectedNamespaces) {
  MeshConfig mesh = DefaultMeshConfig();
  *mesh.add_discovery_selectors() = MatchLabels("team", "web");
  auto snapshot = SnapshotOf(Mesh());
  auto push = PushContext::Build(snapshot, Options(mesh), 1);
  EXPECT_THAT(Hosts(*push), ElementsAre("web.a.svc.cluster.local", "web.b.svc.cluster.local"));
  EXPECT_THAT(push->discovery_namespaces().selected(), ElementsAre("a", "b"));
  size_t virtual_services = 0, gateways = 0, namespaces = 0;
  for (const auto& [key, config] : *push->configs()) {
    EXPECT_NE(key.ns, "c") << key.ToString();
    virtual_services += key.kind == Kind::kVirtualService;
    gateways += key.kind == Kind::kGateway;
    namespaces += key.kind == Kind::kNamespace;
  }
  EXPECT_EQ(virtual_services, 2u);
  EXPECT_EQ(gateways, 0u);
  EXPECT_EQ(namespaces, 2u);
  EXPECT_EQ(snapshot->size(), 11u);  // the store's snapshot is not changed

  auto after = PushContext::UpdateEndpoints(*push, snapshot, {}, 2);
  EXPECT_EQ(after->discovery_namespaces(), push->discovery_namespaces());
  EXPECT_NE(after->discovery_namespaces(), DiscoveryNamespaces());  // not "every namespace"
  EXPECT_THAT(after->discovery_namespaces().selected(), ElementsAre("a", "b"));
  EXPECT_EQ(after->configs()->size(), push->configs()->size());
}

}  // namespace
}  // namespace keel::pilot::model
