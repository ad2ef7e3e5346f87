// ConfigMap istio-sidecar-injector's `values` and `config` read into InjectionConfig:
// each value Keel's templates read, istiod's defaults for empty strings, and errors
// naming the value.
#include "pilot/inject/injector_values.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace keel::pilot::inject {
namespace {

using ::testing::HasSubstr;

TEST(InjectorValues, EachValueSetsItsField) {
  InjectionConfig config;
  ASSERT_TRUE(ApplyInjectorValues(R"({"global": {"hub": "my.registry/istio", "tag": "1.31.2",
      "imagePullPolicy": "Always", "network": "net1", "logging": {"level": "default:debug"},
      "proxy_init": {"image": "proxyv2-init"},
      "proxy": {"image": "my.registry/istio/proxyv2:1.31.2", "statusPort": 15021, "privileged": true,
                "readinessPeriodSeconds": 5, "startupProbe": {"enabled": false, "failureThreshold": 30},
                "excludeOutboundPorts": "5432", "holdApplicationUntilProxyStarts": true,
                "resources": {"requests": {"cpu": "10m", "memory": "40Mi"}, "limits": {"memory": "1024Mi"}}}},
      "sidecarInjectorWebhook": {"rewriteAppHTTPProbe": false}, "unknownToKeel": {"x": 1}})",
                                  config)
                  .ok());
  EXPECT_EQ(config.hub, "my.registry/istio");
  EXPECT_EQ(config.tag, "1.31.2");
  EXPECT_EQ(config.image_pull_policy, "Always");
  EXPECT_EQ(config.network, "net1");
  EXPECT_EQ(config.agent_log_level, "default:debug");
  EXPECT_EQ(config.proxy_init_image, "proxyv2-init");
  EXPECT_EQ(config.proxy_image, "my.registry/istio/proxyv2:1.31.2");
  EXPECT_EQ(config.status_port, 15021);
  EXPECT_TRUE(config.privileged);
  EXPECT_EQ(config.readiness_period_seconds, 5);
  EXPECT_FALSE(config.startup_probe_enabled);
  EXPECT_EQ(config.startup_probe_failure_threshold, 30);
  EXPECT_EQ(config.exclude_outbound_ports, "5432");
  EXPECT_TRUE(config.hold_application_until_proxy_starts);
  EXPECT_FALSE(config.rewrite_app_http_probe);
  // Canonical, as istiod's patch writes them; no CPU limit since none is given.
  EXPECT_EQ(ToJson(config.proxy_resources), R"({"limits":{"memory":"1Gi"},"requests":{"cpu":"10m","memory":"40Mi"}})");
  EXPECT_EQ(config.log_level, "warning");  // not set: the default stays
}

TEST(InjectorValues, AnEmptyStringWhereTheTemplateHasADefaultKeepsIt) {
  InjectionConfig config;
  config.revision = "canary";
  config.istio_namespace = "istio-control";
  ASSERT_TRUE(ApplyInjectorValues(R"({"revision": "", "global": {"hub": "", "tag": "", "istioNamespace": "",
      "caAddress": "", "meshID": "", "multiCluster": {"clusterName": ""}, "network": ""}})", config).ok());
  EXPECT_EQ(config.revision, "canary");
  EXPECT_EQ(config.istio_namespace, "istio-control");
  EXPECT_EQ(config.hub, "docker.io/istio");
  EXPECT_EQ(config.tag, "1.31.0");
  EXPECT_EQ(config.cluster_name, "Kubernetes");
  EXPECT_EQ(config.ca_address, "");
}

TEST(InjectorValues, YamlIsReadToo) {
  InjectionConfig config;
  ASSERT_TRUE(ApplyInjectorValues("global:\n  proxy:\n    logLevel: debug\n", config).ok());
  EXPECT_EQ(config.log_level, "debug");
}

TEST(InjectorValues, AWrongValueIsRefusedNamingItAndChangesNothing) {
  struct Bad {
    const char* values;
    const char* reason;
  };
  for (const Bad& bad : {Bad{R"({"revision": "after", "global": {"proxy": {"statusPort": "15020"}}})", "values: global.proxy.statusPort"},
                         Bad{R"({"revision": "after", "global": {"proxy": {"readinessPeriodSeconds": -1}}})", "global.proxy.readinessPeriodSeconds"},
                         Bad{R"({"revision": "after", "global": {"proxy": {"privileged": "yes"}}})", "global.proxy.privileged: want true"},
                         Bad{R"({"revision": "after", "global": {"hub": 7}})", "global.hub: want a string"},
                         Bad{R"({"revision": "after", "global": {"proxy": {"resources": {"limits": {"cpu": "lots"}}}}})",
                             "global.proxy.resources.limits.cpu: not a quantity"},
                         Bad{R"({"revision": "after", "global": {"proxy": {"resources": []}}})", "global.proxy.resources: want an object"},
                         Bad{"[1, 2]", "values:"},
                         Bad{"{not json", "values:"}}) {
    InjectionConfig config;
    config.revision = "before";
    absl::Status st = ApplyInjectorValues(bad.values, config);
    EXPECT_FALSE(st.ok()) << bad.values;
    EXPECT_THAT(std::string(st.message()), HasSubstr(bad.reason)) << bad.values;
    EXPECT_EQ(config.revision, "before");  // all or nothing
  }
}

TEST(InjectorConfig, PolicySelectorsAndInjectedAnnotations) {
  InjectionConfig config;
  ASSERT_TRUE(ApplyInjectorConfig(R"(
policy: disabled
neverInjectSelector:
- matchExpressions: [{key: openshift.io/build.name, operator: Exists}]
alwaysInjectSelector:
- matchLabels: {team: mesh}
injectedAnnotations:
  container.apparmor.security.beta.kubernetes.io/istio-proxy: runtime/default
defaultTemplates: [sidecar]
templates:
  sidecar: "ignored: Keel's templates are C++"
)", config).ok());
  EXPECT_FALSE(config.policy_enabled);
  ASSERT_EQ(config.never_inject_selector.size(), 1u);
  EXPECT_TRUE(config.never_inject_selector[0].Matches({{"openshift.io/build.name", "b1"}}));
  ASSERT_EQ(config.always_inject_selector.size(), 1u);
  EXPECT_TRUE(config.always_inject_selector[0].Matches({{"team", "mesh"}}));
  EXPECT_EQ(config.injected_annotations.at("container.apparmor.security.beta.kubernetes.io/istio-proxy"),
            "runtime/default");
}

TEST(InjectorConfig, ABadConfigIsRefusedNamingTheField) {
  struct Bad {
    const char* yaml;
    const char* reason;
  };
  for (const Bad& bad : {Bad{"policy: sometimes", "config: policy"},
                         Bad{"neverInjectSelector: {a: b}", "config: neverInjectSelector: want a list"},
                         Bad{"alwaysInjectSelector: [{matchExpressions: [{key: a, operator: Near}]}]",
                             "config: alwaysInjectSelector[0]"},
                         Bad{"injectedAnnotations: {a: [1]}", "config: injectedAnnotations.a"},
                         Bad{"defaultTemplates: [sidecar, spire]", "config: defaultTemplates"}}) {
    InjectionConfig config;
    absl::Status st = ApplyInjectorConfig(bad.yaml, config);
    EXPECT_FALSE(st.ok()) << bad.yaml;
    EXPECT_THAT(std::string(st.message()), HasSubstr(bad.reason)) << bad.yaml;
    EXPECT_TRUE(config.policy_enabled);
  }
}

TEST(InjectorConfigMapName, IsIstiodsPerRevision) {
  EXPECT_EQ(InjectorConfigMapName(""), "istio-sidecar-injector");
  EXPECT_EQ(InjectorConfigMapName("default"), "istio-sidecar-injector");
  EXPECT_EQ(InjectorConfigMapName("canary"), "istio-sidecar-injector-canary");
}

}  // namespace
}  // namespace keel::pilot::inject
