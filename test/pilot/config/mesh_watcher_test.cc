// ApplyMeshConfig (istiod's mesh.ApplyMeshConfig semantics) and MeshWatcher (the
// last good mesh stays in force).
#include "pilot/config/mesh_watcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "keel/k8s/v1/objects.pb.h"

namespace keel::pilot::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const model::MeshConfig kDefaults = model::DefaultMeshConfig("istio-system", "cluster.local");

model::MeshConfig Applied(const std::string& yaml) {
  auto applied = ApplyMeshConfig(yaml, kDefaults);
  EXPECT_TRUE(applied.ok()) << applied.status();
  return applied.ok() ? applied->mesh : model::MeshConfig();
}

TEST(ApplyMeshConfigTest, EmptyIsTheDefaults) {
  model::MeshConfig mesh = Applied("");
  EXPECT_EQ(mesh.trust_domain(), "cluster.local");
  EXPECT_EQ(mesh.root_namespace(), "istio-system");
  EXPECT_EQ(mesh.outbound_traffic_policy().mode(), model::MeshConfig::OutboundTrafficPolicy::ALLOW_ANY);
  EXPECT_TRUE(mesh.enable_auto_mtls().value());
}

TEST(ApplyMeshConfigTest, TopLevelFieldsReplaceAndDefaultConfigMerges) {
  model::MeshConfig defaults = kDefaults;
  defaults.add_trust_domain_aliases("old.example");
  auto applied = ApplyMeshConfig(R"(
trustDomain: corp.example
trustDomainAliases: [new.example]
outboundTrafficPolicy: {}
defaultConfig: {concurrency: 2}
)", defaults);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->mesh.trust_domain(), "corp.example");
  // A list set in the YAML replaces the default's (istiod: "all fields are overrides").
  EXPECT_THAT(applied->mesh.trust_domain_aliases(), ElementsAre("new.example"));
  // outboundTrafficPolicy: {} replaces ALLOW_ANY with the enum's zero, REGISTRY_ONLY, as in istiod.
  EXPECT_EQ(applied->mesh.outbound_traffic_policy().mode(), model::MeshConfig::OutboundTrafficPolicy::REGISTRY_ONLY);
  // defaultConfig merges: the default discoveryAddress stays beside the YAML's concurrency.
  EXPECT_EQ(applied->mesh.default_config().concurrency().value(), 2);
  EXPECT_EQ(applied->mesh.default_config().discovery_address(), "istiod.istio-system.svc:15012");
  // Fields left out keep their defaults.
  EXPECT_EQ(applied->mesh.root_namespace(), "istio-system");
}

TEST(ApplyMeshConfigTest, AnEmptyStringIsUnsetAsInProto3) {
  EXPECT_EQ(Applied("trustDomain: \"\"\nrootNamespace: \"\"").trust_domain(), "cluster.local");
  EXPECT_EQ(Applied("rootNamespace: \"\"").root_namespace(), "istio-system");
}

TEST(ApplyMeshConfigTest, AFalseBooleanReplacesATrueDefault) {
  EXPECT_TRUE(Applied("trustDomain: a.example").enable_tracing());  // istiod's default
  EXPECT_FALSE(Applied("enableTracing: false").enable_tracing());
}

TEST(ApplyMeshConfigTest, FieldsKeelDoesNotUseAreNamed) {
  auto applied = ApplyMeshConfig("trustDomain: a.example\ningressClass: nginx\ndefaultConfig: {concurrency: 2}\n",
                                 kDefaults);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(applied->unused, ElementsAre("defaultConfig.concurrency", "ingressClass"));
  EXPECT_EQ(applied->unknown_fields, "");
  // Of the telemetry fields, the Prometheus metrics provider and tracing sampling are used.
  applied = ApplyMeshConfig(
      "defaultProviders: {metrics: [prometheus], accessLogging: [envoy]}\n"
      "extensionProviders: [{name: prom, prometheus: {}}, {name: otel, opentelemetry: {service: o.example, port: 4317}}]\n"
      "defaultConfig: {tracing: {sampling: 10}}\n",
      kDefaults);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(applied->unused, ElementsAre("defaultProviders.accessLogging", "extensionProviders.opentelemetry"));
  // The README's example: the chart's discoveryAddress is for agents, not the translation.
  applied = ApplyMeshConfig("defaultConfig: {discoveryAddress: istiod.istio-system.svc:15012}\n"
                            "localityLbSetting: {enabled: true}\n",
                            kDefaults);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(applied->unused, ElementsAre("defaultConfig.discoveryAddress", "localityLbSetting"));
}

TEST(ApplyMeshConfigTest, UnknownFieldsAreIgnoredAndNamedAsIstiodDoes) {
  auto applied = ApplyMeshConfig(
      "trustDomain: a.example\nnotAMeshField: 1\ndefaultConfig: {concurrency: 2, futureKnob: true}\n", kDefaults);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->mesh.trust_domain(), "a.example");
  EXPECT_EQ(applied->mesh.default_config().concurrency().value(), 2);
  EXPECT_EQ(applied->unknown_fields, "defaultConfig.futureKnob, notAMeshField");
}

TEST(ApplyMeshConfigTest, BadInputNamesTheField) {
  struct Case {
    std::string yaml, error;
  } cases[] = {
      {"trustDomain: [a]", "trustDomain"},
      {"outboundTrafficPolicy: {mode: SOMETIMES}", "SOMETIMES"},
      {"trustDomain: \"bad domain\"", "mesh: trustDomain: \"bad domain\" is not a valid trust domain"},
      {"trustDomainAliases: [ok.example, -bad]", "mesh: trustDomainAliases[1]"},
      {"a: [", "mesh: line"},
      {"a: 1\n---\nb: 2\n", "more than one YAML document"},
      {"discoverySelectors: [{matchLabels: {a: b}}, {matchExpressions: [{key: env, operator: Is}]}]",
       "mesh: discoverySelectors[1].matchExpressions[0].operator: \"Is\" is not In, NotIn, Exists or DoesNotExist"},
      {"discoverySelectors: [{matchExpressions: [{key: env, operator: In}]}]",
       "mesh: discoverySelectors[0].matchExpressions[0].values: required for In"},
  };
  for (const auto& c : cases) {
    auto applied = ApplyMeshConfig(c.yaml, kDefaults);
    ASSERT_FALSE(applied.ok()) << c.yaml;
    EXPECT_EQ(applied.status().code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(std::string(applied.status().message()), HasSubstr(c.error)) << c.yaml;
  }
}

TEST(MeshConfigMapNameTest, RevisionNamesTheConfigMap) {
  EXPECT_EQ(MeshConfigMapName(""), "istio");
  EXPECT_EQ(MeshConfigMapName("default"), "istio");
  EXPECT_EQ(MeshConfigMapName("canary"), "istio-canary");
}

class MeshWatcherTest : public ::testing::Test {
 protected:
  const model::ConfigKey key_{model::Kind::kConfigMap, "istio-system", "istio"};
  MeshWatcher watcher_{key_, kDefaults};

  // The store with ConfigMap istio-system/istio holding `mesh` (or none when null).
  static model::ConfigMap Store(const model::ConfigKey& key, const char* mesh) {
    model::ConfigMap configs;
    if (mesh == nullptr) return configs;
    auto cm = std::make_shared<keel::k8s::v1::ConfigMap>();
    (*cm->mutable_data())["mesh"] = mesh;
    auto config = std::make_shared<model::Config>();
    config->key = key;
    config->body = std::move(cm);
    configs[key] = std::move(config);
    return configs;
  }
};

TEST_F(MeshWatcherTest, AbsentConfigMapIsTheDefaults) {
  EXPECT_EQ(watcher_.Update(Store(key_, nullptr))->trust_domain(), "cluster.local");
  EXPECT_EQ(watcher_.Error(), "");
}

TEST_F(MeshWatcherTest, ABadConfigMapKeepsTheLastGoodMeshAndSaysWhy) {
  EXPECT_EQ(watcher_.Update(Store(key_, "trustDomain: corp.example\ningressClass: nginx"))->trust_domain(),
            "corp.example");
  EXPECT_EQ(watcher_.Unused(), "mesh fields Keel reads but does not use: ingressClass");

  EXPECT_EQ(watcher_.Update(Store(key_, "trustDomain: [x]"))->trust_domain(), "corp.example");
  EXPECT_THAT(watcher_.Error(), HasSubstr("trustDomain"));
  EXPECT_THAT(watcher_.Error(), HasSubstr("the previous mesh stays in force"));
  EXPECT_EQ(watcher_.Current()->trust_domain(), "corp.example");

  EXPECT_EQ(watcher_.Update(Store(key_, "trustDomain: next.example"))->trust_domain(), "next.example");
  EXPECT_EQ(watcher_.Error(), "");
  EXPECT_EQ(watcher_.Unused(), "");

  // Deleted: back to the defaults.
  EXPECT_EQ(watcher_.Update(Store(key_, nullptr))->trust_domain(), "cluster.local");
}

TEST_F(MeshWatcherTest, OtherConfigMapsAreNotTheMesh) {
  const model::ConfigKey other{model::Kind::kConfigMap, "istio-system", "istio-canary"};
  EXPECT_EQ(watcher_.Update(Store(other, "trustDomain: corp.example"))->trust_domain(), "cluster.local");
}

}  // namespace
}  // namespace keel::pilot::config
