#include "pilot/config/config_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_split.h"

#include "networking/v1alpha3/destination_rule.pb.h"
#include "networking/v1alpha3/gateway.pb.h"
#include "networking/v1alpha3/service_entry.pb.h"
#include "networking/v1alpha3/virtual_service.pb.h"
#include "keel/k8s/v1/objects.pb.h"
#include "pilot/config/validation.h"
#include "pkg/yaml/yaml_json.h"

namespace keel::pilot::config {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace k8s = ::keel::k8s::v1;
namespace networking = ::istio::networking::v1alpha3;

// ParseConfig of the single YAML document `yaml`.
absl::StatusOr<model::ConfigPtr> ParseYaml(const std::string& yaml, const std::string& origin = "t.yaml#0") {
  auto docs = yaml::YamlToJson(yaml);
  if (!docs.ok()) return docs.status();
  if (docs->size() != 1) return absl::InternalError("test wants one document");
  return ParseConfig((*docs)[0].json, origin);
}

constexpr char kService[] = R"(
apiVersion: v1
kind: Service
metadata:
  name: reviews
spec:
  selector: {app: reviews}
  clusterIP: 10.96.0.10
  ports:
  - name: http
    port: 9080
    targetPort: 9080
)";

TEST(ConfigParserTest, ServiceInDefaultNamespace) {
  auto config = ParseYaml(kService);
  ASSERT_TRUE(config.ok()) << config.status();
  const model::Config& c = **config;
  EXPECT_EQ(c.key.kind, model::Kind::kService);
  EXPECT_EQ(c.key.ns, "default");
  EXPECT_EQ(c.key.name, "reviews");
  const auto& svc = c.As<k8s::Service>();
  EXPECT_EQ(svc.spec().cluster_ip(), "10.96.0.10");
  ASSERT_EQ(svc.spec().ports_size(), 1);
  EXPECT_EQ(svc.spec().ports(0).port(), 9080);
  EXPECT_EQ(svc.spec().ports(0).target_port().number_value(), 9080);
  EXPECT_EQ(svc.spec().selector().at("app"), "reviews");
}

TEST(ConfigParserTest, PodWithNamespace) {
  auto config = ParseYaml(R"(
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1-0, namespace: bookinfo, labels: {app: reviews, version: v1}}
spec:
  containers:
  - name: reviews
    ports: [{name: http, containerPort: 9080}]
status:
  phase: Running
  podIP: 10.244.0.13
  conditions: [{type: Ready, status: "True"}]
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ((*config)->key.kind, model::Kind::kPod);
  EXPECT_EQ((*config)->key.ns, "bookinfo");
  const auto& pod = (*config)->As<k8s::Pod>();
  EXPECT_EQ(pod.status().pod_ip(), "10.244.0.13");
  EXPECT_EQ(pod.spec().containers(0).ports(0).container_port(), 9080);
  EXPECT_EQ(pod.status().conditions(0).status(), "True");
}

TEST(ConfigParserTest, EndpointSliceDiscoveryV1) {
  auto config = ParseYaml(R"(
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: reviews-abc, labels: {kubernetes.io/service-name: reviews}}
addressType: IPv4
endpoints:
- addresses: [10.1.0.1]
  conditions: {ready: false}
ports: [{name: http, port: 9080}]
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ((*config)->key.kind, model::Kind::kEndpointSlice);
  const auto& slice = (*config)->As<k8s::EndpointSlice>();
  EXPECT_EQ(slice.address_type(), "IPv4");
  ASSERT_EQ(slice.endpoints_size(), 1);
  ASSERT_TRUE(slice.endpoints(0).conditions().has_ready());
  EXPECT_FALSE(slice.endpoints(0).conditions().ready().value());
  EXPECT_EQ(slice.ports(0).port(), 9080);
}

TEST(ConfigParserTest, EndpointSliceAtOldVersionIsUnimplemented) {
  auto config = ParseYaml("apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: {name: x}\n");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kUnimplemented) << config.status();
}

TEST(ConfigParserTest, NamespaceIsClusterScoped) {
  auto config = ParseYaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system, namespace: ignored}\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ((*config)->key.kind, model::Kind::kNamespace);
  EXPECT_EQ((*config)->key.ns, "");
  EXPECT_EQ((*config)->key.ToString(), "Namespace istio-system");
}

// Each Istio kind, at each served apiVersion.
struct IstioCase {
  const char* api_version;
  const char* kind;
  model::Kind want;
  const char* spec;
};

void PrintTo(const IstioCase& c, std::ostream* os) { *os << c.api_version << " " << c.kind; }

class IstioKindTest : public ::testing::TestWithParam<IstioCase> {};

TEST_P(IstioKindTest, Parses) {
  const IstioCase& c = GetParam();
  auto config = ParseYaml(std::string("apiVersion: ") + c.api_version + "\nkind: " + c.kind +
                          "\nmetadata: {name: x, namespace: ns1}\nspec: " + c.spec + "\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ((*config)->key.kind, c.want);
  EXPECT_EQ((*config)->key.ns, "ns1");
  EXPECT_EQ((*config)->meta.api_version, c.api_version);
}

constexpr char kVsSpec[] = "{hosts: [reviews], http: [{route: [{destination: {host: reviews, subset: v1}}]}]}";
constexpr char kDrSpec[] = "{host: reviews, subsets: [{name: v1, labels: {version: v1}}]}";
constexpr char kGwSpec[] = "{selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]}";
constexpr char kSeSpec[] = "{hosts: [api.example.com], ports: [{number: 443, name: https, protocol: TLS}], resolution: DNS}";
constexpr char kScSpec[] =
    "{workloadSelector: {labels: {app: cart}}, egress: [{hosts: ['./*', 'istio-system/*']}], "
    "outboundTrafficPolicy: {mode: REGISTRY_ONLY}}";

std::vector<IstioCase> AllIstioCases() {
  std::vector<IstioCase> out;
  for (const char* v : {"networking.istio.io/v1alpha3", "networking.istio.io/v1beta1", "networking.istio.io/v1"}) {
    out.push_back({v, "VirtualService", model::Kind::kVirtualService, kVsSpec});
    out.push_back({v, "DestinationRule", model::Kind::kDestinationRule, kDrSpec});
    out.push_back({v, "Gateway", model::Kind::kGateway, kGwSpec});
    out.push_back({v, "ServiceEntry", model::Kind::kServiceEntry, kSeSpec});
    out.push_back({v, "Sidecar", model::Kind::kSidecar, kScSpec});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllVersions, IstioKindTest, ::testing::ValuesIn(AllIstioCases()),
                         [](const ::testing::TestParamInfo<IstioCase>& info) {
                           std::string v = info.param.api_version;
                           return std::string(info.param.kind) + "_" + v.substr(v.rfind('/') + 1);
                         });

TEST(ConfigParserTest, VirtualServiceSpecIsTyped) {
  auto config = ParseYaml(std::string("apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                                      "metadata: {name: x}\nspec: ") + kVsSpec + "\n");
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& vs = (*config)->As<networking::VirtualService>();
  ASSERT_EQ(vs.hosts_size(), 1);
  EXPECT_EQ(vs.hosts(0), "reviews");
  EXPECT_EQ(vs.http(0).route(0).destination().subset(), "v1");
}

TEST(ConfigParserTest, UnknownKindIsUnimplemented) {
  auto config = ParseYaml("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: reviews-v1}\nspec: {replicas: 1}\n");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kUnimplemented) << config.status();
}

TEST(ConfigParserTest, IstioKindAtWrongApiVersionIsUnimplemented) {
  for (const char* api : {"networking.istio.io/v2", "security.istio.io/v1", "v1"}) {
    auto config = ParseYaml(std::string("apiVersion: ") + api + "\nkind: VirtualService\nmetadata: {name: x}\nspec: " +
                            kVsSpec + "\n");
    EXPECT_EQ(config.status().code(), absl::StatusCode::kUnimplemented) << api << ": " << config.status();
  }
  // Gateway API's Gateway shares the kind name with Istio's.
  auto gw = ParseYaml("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: x}\nspec: {}\n");
  EXPECT_EQ(gw.status().code(), absl::StatusCode::kUnimplemented) << gw.status();
}

TEST(ConfigParserTest, KubernetesKindAtWrongApiVersionIsUnimplemented) {
  auto config = ParseYaml("apiVersion: networking.istio.io/v1\nkind: Service\nmetadata: {name: x}\n");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kUnimplemented) << config.status();
}

TEST(ConfigParserTest, MissingNameIsInvalidArgument) {
  auto config = ParseYaml("apiVersion: v1\nkind: Service\nmetadata: {namespace: default}\n");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  EXPECT_THAT(config.status().message(), HasSubstr("metadata.name"));
  auto istio = ParseYaml(std::string("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {}\nspec: ") +
                         kVsSpec + "\n");
  EXPECT_EQ(istio.status().code(), absl::StatusCode::kInvalidArgument) << istio.status();
}

TEST(ConfigParserTest, MalformedObjectsAreInvalidArgument) {
  EXPECT_EQ(ParseConfig("not json", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseConfig("[1, 2]", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseConfig(R"({"kind": "Service", "metadata": {"name": "x"}})", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseConfig(R"({"apiVersion": "v1", "metadata": {"name": "x"}})", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseConfig(R"({"apiVersion": "v1", "kind": "Service"})", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// {"a":{"a":...}} `levels` objects deep.
std::string NestedJson(int levels) {
  std::string out;
  for (int i = 0; i < levels - 1; ++i) out += R"({"a":)";
  return out + "{}" + std::string(levels - 1, '}');
}

// Before: any object nested more than 34 levels, status included, failed with
// protobuf's "Message too deep"; status is not read now, except Pods' and Services'.
TEST(ConfigParserTest, StatusIsNotReadAndDepthIsBounded) {
  const std::string vs = R"({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
      "metadata": {"name": "x", "managedFields": [{"fieldsV1": )" + NestedJson(60) + R"(}]},
      "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]},
      "status": )" + NestedJson(60) + "}";
  auto config = ParseConfig(vs, "t.json#0");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ((*config)->key.ToString(), "VirtualService default/x");

  auto deep_spec = ParseConfig(R"({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
      "metadata": {"name": "x"}, "spec": )" + NestedJson(40) + "}", "t.json#0");
  ASSERT_EQ(deep_spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(deep_spec.status().message(), HasSubstr("nested 41 levels deep, more than the limit of 32"));

  // A Pod's status is read.
  auto pod = ParseConfig(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
      "status": {"podIP": "10.0.0.9"}})", "t.json#0");
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ((*pod)->As<keel::k8s::v1::Pod>().status().pod_ip(), "10.0.0.9");
}

TEST(ConfigParserTest, MisspeltIstioFieldIsInvalidArgumentNamingObject) {
  auto config = ParseConfig(R"({"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
      "metadata": {"name": "x"},
      "spec": {"hostz": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]}})",
                            "t.json#0");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  EXPECT_THAT(config.status().message(), AllOf(HasSubstr("VirtualService default/x"), HasSubstr("hostz")));
}

TEST(ConfigParserTest, IstioFieldOfWrongTypeIsInvalidArgument) {
  auto config = ParseYaml("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: x}\n"
                          "spec: {host: [reviews, ratings]}\n");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  EXPECT_THAT(config.status().message(), HasSubstr("DestinationRule default/x"));
}

TEST(ConfigParserTest, KubernetesObjectsAcceptUnknownFields) {
  auto config = ParseYaml(R"(
apiVersion: v1
kind: Service
metadata:
  name: reviews
  managedFields: [{manager: kubectl}]
  uid: "1234"
  generateName: reviews-
spec:
  sessionAffinity: None
  ports: [{name: http, port: 9080, nodePortz: 1}]
status: {whatever: {}}
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ((*config)->As<k8s::Service>().spec().ports(0).port(), 9080);
}

TEST(ConfigParserTest, MetadataLandsInMeta) {
  auto config = ParseYaml(R"(
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: reviews
  namespace: bookinfo
  labels: {app: reviews, team: "7"}
  annotations: {note: "hello world"}
  creationTimestamp: "2024-01-02T03:04:05Z"
  resourceVersion: "42"
spec: {host: reviews}
)",
                          "dir/rules.yaml#3");
  ASSERT_TRUE(config.ok()) << config.status();
  const model::ConfigMeta& meta = (*config)->meta;
  EXPECT_EQ(meta.api_version, "networking.istio.io/v1beta1");
  EXPECT_EQ(meta.labels, (std::map<std::string, std::string>{{"app", "reviews"}, {"team", "7"}}));
  EXPECT_EQ(meta.annotations, (std::map<std::string, std::string>{{"note", "hello world"}}));
  EXPECT_EQ(meta.creation_timestamp, "2024-01-02T03:04:05Z");
  EXPECT_EQ(meta.resource_version, "42");
  EXPECT_EQ(meta.origin, "dir/rules.yaml#3");
  EXPECT_EQ((*config)->key.ToString(), "DestinationRule bookinfo/reviews");
}

// --- Validation: errors name the object and the field. ---

absl::Status ParseStatus(const std::string& kind, const std::string& spec) {
  return ParseYaml("apiVersion: networking.istio.io/v1\nkind: " + kind + "\nmetadata: {name: x}\nspec:\n" + spec)
      .status();
}

// istiod's rule: weights are relative; several destinations all weighing 0 are invalid.
TEST(ValidationTest, WeightsMayNotAllBeZero) {
  auto st = ParseStatus("VirtualService", R"(
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 0
    - destination: {host: reviews, subset: v3}
      weight: 0
)");
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(st.message(), AllOf(HasSubstr("VirtualService default/x"), HasSubstr("spec.http[0].route"),
                                  HasSubstr("total destination weight = 0")));
}

TEST(ValidationTest, WeightsAreRelativeAsIstiods) {
  for (const char* weights : {"50, 50", "50, 40", "1, 0"}) {
    const std::vector<std::string> w = absl::StrSplit(weights, ", ");
    auto st = ParseStatus("VirtualService", "\n  hosts: [reviews]\n  http:\n  - route:\n"
                                            "    - {destination: {host: reviews, subset: v1}, weight: " + w[0] + "}\n"
                                            "    - {destination: {host: reviews, subset: v3}, weight: " + w[1] + "}\n");
    EXPECT_TRUE(st.ok()) << weights << ": " << st;
  }
}

TEST(ValidationTest, ErrorNamesTheRouteIndex) {
  auto st = ParseStatus("VirtualService", R"(
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 0}
    - {destination: {host: reviews, subset: v3}, weight: 0}
)");
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(st.message(), AllOf(HasSubstr("spec.http[1].route"), HasSubstr("total destination weight = 0")));
}

TEST(ValidationTest, BadUriRegex) {
  auto st = ParseStatus("VirtualService", R"(
  hosts: [reviews]
  http:
  - match: [{uri: {regex: "("}}]
    route: [{destination: {host: reviews}}]
)");
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(st.message(), AllOf(HasSubstr("spec.http[0].match[0]"), HasSubstr("regex")));
}

TEST(ValidationTest, BadHeaderRegex) {
  auto st = ParseStatus("VirtualService", R"(
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {regex: "[a-"}}}]
    route: [{destination: {host: reviews}}]
)");
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(st.message(), AllOf(HasSubstr("end-user"), HasSubstr("regex")));
}

TEST(ValidationTest, VirtualServiceNeedsARouteAction) {
  auto st = ParseStatus("VirtualService", "  hosts: [reviews]\n  http: [{match: [{uri: {prefix: /}}]}]\n");
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(st.message(), HasSubstr("spec.http[0]"));
}

TEST(ValidationTest, DestinationRuleDuplicateSubsetName) {
  auto st = ParseStatus("DestinationRule", R"(
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v1, labels: {version: v2}}
)");
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(st.message(), AllOf(HasSubstr("DestinationRule default/x"), HasSubstr("spec.subsets[1].name"),
                                  HasSubstr("duplicate")));
}

TEST(ValidationTest, DestinationRuleNeedsHost) {
  auto st = ParseStatus("DestinationRule", "  subsets: [{name: v1}]\n");
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(st.message(), HasSubstr("spec.host"));
}

TEST(ValidationTest, GatewayWithoutServers) {
  auto st = ParseStatus("Gateway", "  selector: {istio: ingressgateway}\n");
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(st.message(), AllOf(HasSubstr("Gateway default/x"), HasSubstr("spec.servers")));
}

TEST(ValidationTest, ServiceEntryWithoutPorts) {
  auto st = ParseStatus("ServiceEntry", "  hosts: [api.example.com]\n  resolution: DNS\n");
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(st.message(), AllOf(HasSubstr("ServiceEntry default/x"), HasSubstr("spec.ports")));
}

// Istio's ValidateSidecar, for the fields Keel reads: each error names the object and field.
TEST(ValidationTest, SidecarEgressHostsAndPorts) {
  struct Case {
    const char* spec;
    const char* field;
    const char* message;
  } cases[] = {
      {"  egress: [{hosts: [reviews]}]\n", "spec.egress[0].hosts[0]", "namespace/dnsName"},
      {"  egress: [{hosts: [\"/*\"]}]\n", "spec.egress[0].hosts[0]", "cannot be empty"},
      {"  egress: [{hosts: [\"Bad_ns/*\"]}]\n", "spec.egress[0].hosts[0]", "invalid namespace"},
      {"  egress: [{hosts: [\"./a..b\"]}]\n", "spec.egress[0].hosts[0]", "invalid domain"},
      {"  egress: [{hosts: []}]\n", "spec.egress[0].hosts", "at least one host"},
      {"  egress: [{hosts: [\"./*\"]}, {port: {number: 80, protocol: HTTP}, hosts: [\"./*\"]}]\n", "spec.egress[0].port",
       "should be the last"},
      {"  egress: [{port: {number: 80, protocol: HTTP}, hosts: [\"./*\"]}, {port: {number: 80, protocol: TCP}, hosts: "
       "[\"./*\"]}]\n",
       "spec.egress[1].port", "must be unique"},
      {"  egress: [{port: {number: 80, protocol: FOO}, hosts: [\"./*\"]}]\n", "spec.egress[0].port.protocol",
       "unrecognized protocol"},
      {"  egress: [{port: {number: 70000, protocol: HTTP}, hosts: [\"./*\"]}]\n", "spec.egress[0].port.number", "1-65535"},
      {"  egress: [{port: {number: 0, protocol: HTTP}, hosts: [\"./*\"]}]\n", "spec.egress[0].bind", "unix domain socket"},
      {"  workloadSelector: {labels: {app: \"*\"}}\n  egress: [{hosts: [\"./*\"]}]\n", "spec.workloadSelector.labels[app]",
       "wildcard"},
      {"  ingress: [{defaultEndpoint: \"127.0.0.1:8080\"}]\n", "spec.ingress[0].port", "port is required"},
      {"  ingress: [{port: {number: 80, protocol: HTTP}, defaultEndpoint: \"10.0.0.1:8080\"}]\n",
       "spec.ingress[0].defaultEndpoint", "127.0.0.1:<port>"},
      {"  {}\n", "spec", "empty configuration"},
  };
  for (const auto& c : cases) {
    auto st = ParseStatus("Sidecar", c.spec);
    ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << c.spec << ": " << st;
    EXPECT_THAT(st.message(), AllOf(HasSubstr("Sidecar default/x"), HasSubstr(std::string(c.field) + ":"),
                                    HasSubstr(c.message)))
        << c.spec;
  }
}

TEST(ValidationTest, SidecarValidShapesAccepted) {
  for (const char* spec : {
           "  egress: [{hosts: [\"./*\", \"istio-system/*\", \"~/*\", \"*/*.example.com\", \"ns1/a.ns1.svc.cluster.local\"]}]\n",
           "  egress:\n  - port: {number: 9080, protocol: HTTP, name: web}\n    hosts: [\"./*\"]\n  - hosts: [\"*/*\"]\n",
           "  outboundTrafficPolicy: {mode: ALLOW_ANY}\n",
           "  ingress: [{port: {number: 9080, protocol: HTTP, name: web}, defaultEndpoint: \"127.0.0.1:8080\"}]\n",
       }) {
    EXPECT_TRUE(ParseStatus("Sidecar", spec).ok()) << spec << ": " << ParseStatus("Sidecar", spec);
  }
}

// A field of Istio's API that Keel does not implement is accepted, as istiod accepts
// it, and named on the object (/debug/push_status lists it), not silently ignored.
TEST(ValidationTest, SidecarUntranslatedFieldAcceptedAndNamed) {
  auto config = ParseYaml(
      "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: x}\nspec:\n"
      "  outboundTrafficPolicy: {mode: REGISTRY_ONLY, egressProxy: {host: x}}\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT((*config)->unsupported_fields, ::testing::ElementsAre("outboundTrafficPolicy.egressProxy"));
}

TEST(ValidationTest, ValidateRegexUsesRe2Syntax) {
  EXPECT_TRUE(ValidateRegex("/api/v[0-9]+/.*").ok());
  EXPECT_EQ(ValidateRegex("(").code(), absl::StatusCode::kInvalidArgument);
  // Backreferences are PCRE, not RE2: Envoy would reject them.
  EXPECT_EQ(ValidateRegex("(a)\\1").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace keel::pilot::config
