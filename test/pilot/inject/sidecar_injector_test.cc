// The injector against istiod's behaviour for the default `sidecar` template:
// who is injected (policy, labels, annotations, selectors, hostNetwork, ignored
// namespaces) and what an injected pod holds.
#include "pilot/inject/sidecar_injector.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pilot/inject/names.h"

namespace keel::pilot::inject {
namespace {

JsonObject Parse(const std::string& json) {
  auto parsed = ParseObject(json);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : JsonObject();
}

// A Deployment's pod as the API server hands it to the webhook (no name yet).
JsonObject DeploymentPod(const std::string& extra_labels = "", const std::string& annotations = "{}",
                         const std::string& spec_extra = "") {
  return Parse(R"({"metadata":{"generateName":"reviews-v1-7d8f9c6b5-","namespace":"default",
      "labels":{"app":"reviews","version":"v1","pod-template-hash":"7d8f9c6b5")" + extra_labels + R"(},
      "annotations":)" + annotations + R"(,
      "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"reviews-v1-7d8f9c6b5","controller":true}]},
    "spec":{)" + spec_extra + R"("serviceAccountName":"bookinfo-reviews","containers":[{"name":"reviews","image":"reviews:1",
      "ports":[{"containerPort":9080,"protocol":"TCP"}],
      "readinessProbe":{"httpGet":{"path":"/health","port":9080}},
      "livenessProbe":{"tcpSocket":{"port":9080}}}]}})");
}

std::vector<std::string> Names(const JsonList& list) {
  std::vector<std::string> out;
  for (const auto& v : list.values()) out.push_back(StringAt(v.struct_value(), "name"));
  return out;
}

const JsonObject* Container(const JsonObject& pod, const std::string& name) {
  for (const auto& c : ListAt(ObjectAt(pod, "spec"), "containers").values()) {
    if (StringAt(c.struct_value(), "name") == name) return &c.struct_value();
  }
  return nullptr;
}

std::string EnvValue(const JsonObject& container, const std::string& name) {
  for (const auto& e : ListAt(container, "env").values()) {
    if (StringAt(e.struct_value(), "name") == name) return StringAt(e.struct_value(), "value");
  }
  return "<unset>";
}

InjectionOutcome MustInject(const JsonObject& pod, const InjectionConfig& config = {}) {
  auto out = InjectSidecar(pod, "default", config);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : InjectionOutcome();
}

TEST(SidecarInjector, InjectsADeploymentPodWithTheDefaultTemplate) {
  InjectionOutcome out = MustInject(DeploymentPod());
  ASSERT_TRUE(out.injected) << out.skip_reason;
  const JsonObject& spec = ObjectAt(out.pod, "spec");
  EXPECT_EQ(Names(ListAt(spec, "containers")), (std::vector<std::string>{"reviews", "istio-proxy"}));
  EXPECT_EQ(Names(ListAt(spec, "initContainers")), (std::vector<std::string>{"istio-init"}));
  EXPECT_EQ(Names(ListAt(spec, "volumes")),
            (std::vector<std::string>{"workload-socket", "credential-socket", "workload-certs", "istio-envoy",
                                      "istio-data", "istio-podinfo", "istio-token", "istiod-ca-cert", "istio-ca-crl"}));

  const JsonObject* proxy = Container(out.pod, "istio-proxy");
  ASSERT_NE(proxy, nullptr);
  EXPECT_EQ(StringAt(*proxy, "image"), "docker.io/istio/proxyv2:1.31.0");
  EXPECT_EQ(EnvValue(*proxy, "CA_ADDR"), "istiod.istio-system.svc:15012");
  EXPECT_EQ(EnvValue(*proxy, "ISTIO_META_WORKLOAD_NAME"), "reviews-v1");
  EXPECT_EQ(EnvValue(*proxy, "ISTIO_META_OWNER"),
            "kubernetes://apis/apps/v1/namespaces/default/deployments/reviews-v1");
  EXPECT_EQ(EnvValue(*proxy, "ISTIO_META_APP_CONTAINERS"), "reviews");
  EXPECT_EQ(EnvValue(*proxy, "TRUST_DOMAIN"), "cluster.local");
  // istiod writes only what differs from Istio's built-in ProxyConfig defaults.
  EXPECT_EQ(EnvValue(*proxy, "PROXY_CONFIG"), "{}\n");
  EXPECT_NE(EnvValue(*proxy, "ISTIO_META_POD_PORTS").find("\"containerPort\":9080"), std::string::npos);
  EXPECT_EQ(ToJson(*Member(*proxy, "readinessProbe")),
            R"({"failureThreshold":4,"httpGet":{"path":"/healthz/ready","port":15021},"periodSeconds":15,)"
            R"("timeoutSeconds":3})");

  // The token the agent presents to the CA has istiod's audience.
  std::string volumes = ToJson(*Member(spec, "volumes"));
  EXPECT_NE(volumes.find(R"("audience":"istio-ca")"), std::string::npos) << volumes;

  // istio-init redirects to 15001/15006 and leaves the agent's ports alone.
  const JsonObject& init = ListAt(spec, "initContainers").values(0).struct_value();
  std::string args = ToJson(*Member(init, "args"));
  EXPECT_NE(args.find(R"("-p","15001","-z","15006","-u","1337","-m","REDIRECT")"), std::string::npos) << args;
  EXPECT_NE(args.find(R"("-d","15090,15021,15020")"), std::string::npos) << args;

  const JsonObject& metadata = ObjectAt(out.pod, "metadata");
  auto labels = StringMapAt(metadata, "labels");
  EXPECT_EQ(labels[kTlsModeLabel], "istio");
  EXPECT_EQ(labels[kCanonicalNameLabel], "reviews");
  EXPECT_EQ(labels[kCanonicalRevisionLabel], "v1");
  auto annotations = StringMapAt(metadata, "annotations");
  EXPECT_EQ(annotations[kIstioRev], "default");
  EXPECT_EQ(annotations[kDefaultContainer], "reviews");
  EXPECT_EQ(annotations["prometheus.io/port"], "15020");
  EXPECT_EQ(annotations["prometheus.io/path"], "/stats/prometheus");
  auto status = ParseObject(annotations[kSidecarStatus]);
  ASSERT_TRUE(status.ok()) << annotations[kSidecarStatus];
  EXPECT_EQ(ToJson(*Member(*status, "containers")), R"(["istio-proxy"])");
}

TEST(SidecarInjector, RewritesAppProbesToTheAgentStatusPort) {
  InjectionOutcome out = MustInject(DeploymentPod());
  const JsonObject* app = Container(out.pod, "reviews");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(ToJson(*Member(*app, "readinessProbe")),
            R"({"httpGet":{"path":"/app-health/reviews/readyz","port":15020}})");
  EXPECT_EQ(ToJson(*Member(*app, "livenessProbe")),
            R"({"httpGet":{"path":"/app-health/reviews/livez","port":15020}})");
  std::string probers = EnvValue(*Container(out.pod, "istio-proxy"), "ISTIO_KUBE_APP_PROBERS");
  auto parsed = ParseObject(probers);
  ASSERT_TRUE(parsed.ok()) << probers;
  EXPECT_EQ(ToJson(*Member(*parsed, "/app-health/reviews/readyz")), R"({"httpGet":{"path":"/health","port":9080}})");
  EXPECT_EQ(ToJson(*Member(*parsed, "/app-health/reviews/livez")), R"({"tcpSocket":{"port":9080}})");
}

TEST(SidecarInjector, ProbeRewriteCanBeTurnedOffPerPod) {
  InjectionOutcome out = MustInject(DeploymentPod("", R"({"sidecar.istio.io/rewriteAppHTTPProbers":"false"})"));
  EXPECT_EQ(ToJson(*Member(*Container(out.pod, "reviews"), "readinessProbe")),
            R"({"httpGet":{"path":"/health","port":9080}})");
  EXPECT_EQ(EnvValue(*Container(out.pod, "istio-proxy"), "ISTIO_KUBE_APP_PROBERS"), "<unset>");
}

TEST(SidecarInjector, AnnotationsOverrideResourcesImageAndInterceptionRanges) {
  InjectionOutcome out = MustInject(DeploymentPod(
      "", R"({"sidecar.istio.io/proxyCPU":"50m","sidecar.istio.io/proxyImage":"my.registry/proxy:9",
             "traffic.sidecar.istio.io/excludeOutboundIPRanges":"10.0.0.0/8",
             "traffic.sidecar.istio.io/excludeOutboundPorts":"5432"})"));
  const JsonObject* proxy = Container(out.pod, "istio-proxy");
  EXPECT_EQ(StringAt(*proxy, "image"), "my.registry/proxy:9");
  EXPECT_EQ(ToJson(*Member(*proxy, "resources")), R"({"requests":{"cpu":"50m"}})");
  std::string args = ToJson(*Member(ListAt(ObjectAt(out.pod, "spec"), "initContainers").values(0).struct_value(), "args"));
  EXPECT_NE(args.find(R"("-x","10.0.0.0/8")"), std::string::npos) << args;
  EXPECT_NE(args.find(R"("-o","5432")"), std::string::npos) << args;
}

TEST(SidecarInjector, ProxyConfigAnnotationOverridesTheMeshDefault) {
  InjectionConfig config;
  config.default_proxy_config_json = R"({"concurrency":2,"tracing":{"sampling":1}})";
  InjectionOutcome out = MustInject(DeploymentPod("", R"({"proxy.istio.io/config":"{\"concurrency\":4}"})"), config);
  auto proxy_config = ParseObject(EnvValue(*Container(out.pod, "istio-proxy"), "PROXY_CONFIG"));
  ASSERT_TRUE(proxy_config.ok());
  EXPECT_EQ(Member(*proxy_config, "concurrency")->number_value(), 4);
  EXPECT_NE(Member(*proxy_config, "tracing"), nullptr);

  // istioctl and users write the annotation as YAML; istiod reads it as YAML.
  out = MustInject(DeploymentPod("", R"({"proxy.istio.io/config":"concurrency: 3\nholdApplicationUntilProxyStarts: true\n"})"));
  proxy_config = ParseObject(EnvValue(*Container(out.pod, "istio-proxy"), "PROXY_CONFIG"));
  ASSERT_TRUE(proxy_config.ok());
  EXPECT_EQ(Member(*proxy_config, "concurrency")->number_value(), 3);
}

TEST(SidecarInjector, ProxyConfigKeepsADiscoveryAddressOtherThanIstiosDefault) {
  InjectionConfig config;
  config.istio_namespace = "keel-system";
  InjectionOutcome out = MustInject(DeploymentPod(), config);
  EXPECT_EQ(EnvValue(*Container(out.pod, "istio-proxy"), "PROXY_CONFIG"),
            "{\"discoveryAddress\":\"istiod.keel-system.svc:15012\"}\n");
}

TEST(SidecarInjector, AProxyConfigFieldIstioDoesNotKnowIsAnError) {
  auto out = InjectSidecar(DeploymentPod("", R"({"proxy.istio.io/config":"concurency: 2"})"), "default", InjectionConfig());
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("annotation proxy.istio.io/config"), absl::string_view::npos) << out.status();
}

TEST(SidecarInjector, RevisionNamesTheDiscoveryAddressAndTheAnnotation) {
  InjectionConfig config;
  config.revision = "canary";
  InjectionOutcome out = MustInject(DeploymentPod(), config);
  EXPECT_EQ(EnvValue(*Container(out.pod, "istio-proxy"), "CA_ADDR"), "istiod-canary.istio-system.svc:15012");
  EXPECT_EQ(StringMapAt(ObjectAt(out.pod, "metadata"), "annotations")[kIstioRev], "canary");
}

TEST(SidecarInjector, HoldApplicationPutsTheProxyFirstWithAWaitHook) {
  InjectionConfig config;
  config.hold_application_until_proxy_starts = true;
  InjectionOutcome out = MustInject(DeploymentPod(), config);
  EXPECT_EQ(Names(ListAt(ObjectAt(out.pod, "spec"), "containers")),
            (std::vector<std::string>{"istio-proxy", "reviews"}));
  EXPECT_NE(Member(*Container(out.pod, "istio-proxy"), "lifecycle"), nullptr);
}

struct SkipCase {
  std::string name;
  std::string labels;
  std::string annotations;
  std::string spec_extra;
  std::string ns;
  bool policy_enabled;
  bool injected;
};

class InjectionPolicy : public testing::TestWithParam<SkipCase> {};

TEST_P(InjectionPolicy, DecidesAsIstiod) {
  const SkipCase& c = GetParam();
  InjectionConfig config;
  config.policy_enabled = c.policy_enabled;
  JsonObject pod = DeploymentPod(c.labels, c.annotations.empty() ? "{}" : c.annotations, c.spec_extra);
  if (!c.ns.empty()) {
    (*(*pod.mutable_fields())["metadata"].mutable_struct_value()->mutable_fields())["namespace"] = Str(c.ns);
  }
  auto out = InjectSidecar(pod, "default", config);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->injected, c.injected) << out->skip_reason;
  if (!c.injected) {
    EXPECT_FALSE(out->skip_reason.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InjectionPolicy,
    testing::Values(SkipCase{"default_policy", "", "", "", "", true, true},
                    SkipCase{"label_false", R"(,"sidecar.istio.io/inject":"false")", "", "", "", true, false},
                    SkipCase{"annotation_false", "", R"({"sidecar.istio.io/inject":"false"})", "", "", true, false},
                    SkipCase{"label_beats_annotation", R"(,"sidecar.istio.io/inject":"true")",
                             R"({"sidecar.istio.io/inject":"false"})", "", "", true, true},
                    SkipCase{"policy_disabled", "", "", "", "", false, false},
                    SkipCase{"policy_disabled_pod_asks", R"(,"sidecar.istio.io/inject":"true")", "", "", "", false, true},
                    SkipCase{"host_network", R"(,"sidecar.istio.io/inject":"true")", "", R"("hostNetwork":true,)", "",
                             true, false},
                    SkipCase{"kube_system", "", "", "", "kube-system", true, false}),
    [](const testing::TestParamInfo<SkipCase>& info) { return info.param.name; });

TEST(SidecarInjector, NeverAndAlwaysSelectorsApplyWhenThePodIsSilent) {
  InjectionConfig config;
  auto never = ParseLabelSelector(Parse(R"({"matchExpressions":[{"key":"app","operator":"In","values":["reviews"]}]})"));
  ASSERT_TRUE(never.ok());
  config.never_inject_selector.push_back(*never);
  auto out = InjectSidecar(DeploymentPod(), "default", config);
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->injected);

  // The pod's own label still wins over the selector.
  out = InjectSidecar(DeploymentPod(R"(,"sidecar.istio.io/inject":"true")"), "default", config);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->injected);

  InjectionConfig disabled;
  disabled.policy_enabled = false;
  auto always = ParseLabelSelector(Parse(R"({"matchLabels":{"version":"v1"}})"));
  ASSERT_TRUE(always.ok());
  disabled.always_inject_selector.push_back(*always);
  out = InjectSidecar(DeploymentPod(), "default", disabled);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->injected);
}

TEST(SidecarInjector, AnAlreadyInjectedPodIsLeftAlone) {
  InjectionOutcome first = MustInject(DeploymentPod());
  auto second = InjectSidecar(first.pod, "default", InjectionConfig());
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->injected);
  EXPECT_EQ(second->skip_reason, "already injected");
}

TEST(SidecarInjector, MalformedAnnotationsAreErrorsNamingPodAndField) {
  for (const std::string& annotations :
       {std::string(R"({"readiness.status.sidecar.istio.io/periodSeconds":"soon"})"),
        std::string(R"({"status.sidecar.istio.io/port":"-1"})"),
        std::string(R"({"proxy.istio.io/config":"{not json"})"),
        std::string(R"({"inject.istio.io/templates":"waypoint"})"),
        std::string(R"({"sidecar.istio.io/interceptionMode":"TPROXY"})")}) {
    auto out = InjectSidecar(DeploymentPod("", annotations), "default", InjectionConfig());
    ASSERT_FALSE(out.ok()) << annotations;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(out.status().message().find("Pod default/reviews-v1-7d8f9c6b5-"), absl::string_view::npos)
        << out.status();
    EXPECT_NE(out.status().message().find("annotation "), absl::string_view::npos) << out.status();
  }
}

// A pod of Istio's gateway chart: template "gateway", its own istio-proxy with image "auto".
TEST(SidecarInjector, TheGatewayTemplateRunsTheAgentAsARouterWithoutIstioInit) {
  JsonObject pod = Parse(R"({"metadata":{"generateName":"istio-ingressgateway-5d9c7-","namespace":"istio-ingress",
      "labels":{"app":"istio-ingressgateway","istio":"ingressgateway","sidecar.istio.io/inject":"true",
                "pod-template-hash":"5d9c7"},
      "annotations":{"inject.istio.io/templates":"gateway","prometheus.io/port":"15020"},
      "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"istio-ingressgateway-5d9c7","controller":true}]},
    "spec":{"serviceAccountName":"istio-ingressgateway","containers":[{"name":"istio-proxy","image":"auto",
      "securityContext":{"runAsNonRoot":true},"ports":[{"containerPort":15090,"protocol":"TCP","name":"http-envoy-prom"}]}]}})");
  InjectionOutcome out = MustInject(pod);
  ASSERT_TRUE(out.injected);
  const JsonObject& spec = ObjectAt(out.pod, "spec");
  EXPECT_EQ(Names(ListAt(spec, "containers")), std::vector<std::string>{"istio-proxy"});
  EXPECT_EQ(Member(spec, "initContainers"), nullptr);
  const JsonObject* proxy = Container(out.pod, "istio-proxy");
  ASSERT_NE(proxy, nullptr);
  EXPECT_EQ(StringAt(*proxy, "image"), "docker.io/istio/proxyv2:1.31.0") << "image auto: the injector's";
  EXPECT_EQ(ListAt(*proxy, "args").values(1).string_value(), "router");
  EXPECT_EQ(ObjectAt(*proxy, "securityContext").fields().at("runAsUser").number_value(), 1337);
  EXPECT_TRUE(ObjectAt(*proxy, "securityContext").fields().at("runAsNonRoot").bool_value()) << "the pod's own kept";
  EXPECT_TRUE(ObjectAt(*proxy, "resources").fields().empty()) << "the template sets none";
  EXPECT_EQ(Member(*proxy, "startupProbe"), nullptr);
  EXPECT_EQ(EnvValue(*proxy, "ISTIO_META_WORKLOAD_NAME"), "istio-ingressgateway");
  EXPECT_EQ(EnvValue(*proxy, "ISTIO_META_APP_CONTAINERS"), "");
  std::vector<std::string> volumes = Names(ListAt(spec, "volumes"));
  EXPECT_EQ(std::count(volumes.begin(), volumes.end(), "istio-ca-crl"), 0);
  EXPECT_EQ(std::count(volumes.begin(), volumes.end(), "istio-token"), 1);
  const JsonObject& sysctl = ListAt(ObjectAt(spec, "securityContext"), "sysctls").values(0).struct_value();
  EXPECT_EQ(StringAt(sysctl, "name"), "net.ipv4.ip_unprivileged_port_start");
  const auto labels = StringMapAt(ObjectAt(out.pod, "metadata"), "labels");
  EXPECT_EQ(labels.count(kTlsModeLabel), 0u) << "only the sidecar template labels the mTLS mode";
  EXPECT_EQ(labels.at(kCanonicalNameLabel), "istio-ingressgateway");
  const auto annotations = StringMapAt(ObjectAt(out.pod, "metadata"), "annotations");
  EXPECT_EQ(annotations.at(kSidecarStatus).rfind(R"({"initContainers":null,"containers":["istio-proxy"],)", 0), 0u)
      << annotations.at(kSidecarStatus);
}

TEST(SidecarInjector, TheGrpcAgentTemplatePointsTheAppAtTheAgentsBootstrapWithoutEnvoy) {
  InjectionOutcome out = MustInject(DeploymentPod("", R"({"inject.istio.io/templates":"grpc-agent"})"));
  ASSERT_TRUE(out.injected);
  const JsonObject& spec = ObjectAt(out.pod, "spec");
  EXPECT_EQ(Names(ListAt(spec, "containers")), (std::vector<std::string>{"reviews", "istio-proxy"}));
  EXPECT_EQ(Member(spec, "initContainers"), nullptr);
  const JsonObject* proxy = Container(out.pod, "istio-proxy");
  ASSERT_NE(proxy, nullptr);
  EXPECT_EQ(EnvValue(*proxy, "DISABLE_ENVOY"), "true");
  EXPECT_EQ(EnvValue(*proxy, "ISTIO_META_GENERATOR"), "grpc");
  EXPECT_EQ(EnvValue(*proxy, "OUTPUT_CERTS"), "/var/lib/istio/data");
  const JsonObject* app = Container(out.pod, "reviews");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(EnvValue(*app, "GRPC_XDS_BOOTSTRAP"), "/etc/istio/proxy/grpc-bootstrap.json");
  EXPECT_EQ(StringAt(ObjectAt(ObjectAt(*app, "readinessProbe"), "httpGet"), "path"), "/health")
      << "the template turns the probe rewrite off";
  const auto annotations = StringMapAt(ObjectAt(out.pod, "metadata"), "annotations");
  EXPECT_EQ(annotations.at(kRewriteAppHttpProbers), "false");
  EXPECT_NE(annotations.at(kSidecarStatus).find(R"("containers":["istio-proxy","reviews"])"), std::string::npos)
      << annotations.at(kSidecarStatus);
}

TEST(SidecarInjector, ASpecThatIsNotAnObjectIsAnError) {
  auto out = InjectSidecar(Parse(R"({"metadata":{"name":"p"},"spec":"x"})"), "ns1", InjectionConfig());
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("Pod ns1/p: spec"), absl::string_view::npos) << out.status();
}

TEST(DeployMeta, NamesTheControllerAsIstiodGuessesIt) {
  DeployMeta deployment = DeployMetaFromPod(ObjectAt(DeploymentPod(), "metadata"));
  EXPECT_EQ(deployment.kind, "Deployment");
  EXPECT_EQ(deployment.name, "reviews-v1");

  DeployMeta cron = DeployMetaFromPod(Parse(R"({"generateName":"backup-28912345-","ownerReferences":[
      {"apiVersion":"batch/v1","kind":"Job","name":"backup-28912345","controller":true}]})"));
  EXPECT_EQ(cron.kind, "CronJob");
  EXPECT_EQ(cron.name, "backup");

  DeployMeta bare = DeployMetaFromPod(Parse(R"({"name":"debug"})"));
  EXPECT_EQ(bare.kind, "Pod");
  EXPECT_EQ(bare.name, "debug");
}

}  // namespace
}  // namespace keel::pilot::inject
