// Endpoints as PushContext builds them (through EndpointBuilder) from Services,
// Pods, EndpointSlices and ServiceEntries.
#include "pilot/model/endpoint_builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pilot/model/push_context.h"
#include "test/pilot/testing/configs.h"

namespace keel::pilot::model {
namespace {

using ::keel::pilot::testing::BuildPush;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// "address:port" of each endpoint.
std::vector<std::string> Addrs(const std::vector<Endpoint>& eps) {
  std::vector<std::string> out;
  for (const auto& ep : eps) out.push_back(ep.address + ":" + std::to_string(ep.port));
  return out;
}

// A Pod; `extra_status`/`extra_meta` are spliced into status/metadata.
std::string Pod(const std::string& name, const std::string& ns, const std::string& labels, const std::string& ip,
                const std::string& ports = "[{name: http, containerPort: 9080}]", const std::string& phase = "Running",
                const std::string& ready = "\"True\"", const std::string& extra_meta = "") {
  return "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: " + ns + ", labels: " + labels +
         extra_meta + "}\nspec:\n  serviceAccountName: sa-" + name + "\n  containers:\n  - name: app\n    ports: " +
         ports + "\nstatus:\n  phase: " + phase + "\n  podIP: " + ip + "\n  conditions: [{type: Ready, status: " +
         ready + "}]\n";
}

constexpr char kReviewsService[] = R"(
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  clusterIP: 10.96.0.10
  selector: {app: reviews}
  ports: [{name: http, port: 9080, targetPort: 9080}]
)";

const char* kHost = "reviews.default.svc.cluster.local";

TEST(EndpointBuilderTest, ReadyRunningPodsMatchingTheSelector) {
  auto push = BuildPush(std::string(kReviewsService) +
                        Pod("reviews-v1", "default", "{app: reviews, version: v1}", "10.0.0.1") +
                        Pod("not-ready", "default", "{app: reviews}", "10.0.0.2", "[{name: http, containerPort: 9080}]",
                            "Running", "\"False\"") +
                        Pod("pending", "default", "{app: reviews}", "10.0.0.3", "[{name: http, containerPort: 9080}]",
                            "Pending") +
                        Pod("other-ns", "other", "{app: reviews}", "10.0.0.4") +
                        Pod("ratings", "default", "{app: ratings}", "10.0.0.5") +
                        Pod("terminating", "default", "{app: reviews}", "10.0.0.6",
                            "[{name: http, containerPort: 9080}]", "Running", "\"True\"",
                            ", deletionTimestamp: \"2024-01-01T00:00:00Z\""));
  const auto& eps = push->Endpoints(kHost, 9080);
  EXPECT_THAT(Addrs(eps), UnorderedElementsAre("10.0.0.1:9080"));
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].labels.at("version"), "v1");
  EXPECT_EQ(eps[0].service_account, "sa-reviews-v1");
  EXPECT_EQ(eps[0].workload_name, "reviews-v1");  // a bare pod is its own workload
  EXPECT_EQ(eps[0].workload_namespace, "default");
  EXPECT_EQ(eps[0].tls_mode, "disabled");
  EXPECT_EQ(eps[0].health, EndpointHealth::kHealthy);
}

TEST(EndpointBuilderTest, APodsWorkloadIsItsDeploymentAsIstiodGuessesIt) {
  auto push = BuildPush(std::string(kReviewsService) + R"(
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-v1-7d8f9c-abcde
  generateName: reviews-v1-7d8f9c-
  labels: {app: reviews, pod-template-hash: 7d8f9c, security.istio.io/tlsMode: istio}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: reviews-v1-7d8f9c, uid: u, controller: true}]
spec: {containers: [{name: app, ports: [{name: http, containerPort: 9080}]}]}
status: {phase: Running, podIP: 10.0.0.1, conditions: [{type: Ready, status: "True"}]}
)");
  const auto& eps = push->Endpoints(kHost, 9080);
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].workload_name, "reviews-v1");
  EXPECT_EQ(eps[0].tls_mode, "istio");
}

TEST(EndpointBuilderTest, PodWithoutReadyConditionIsExcluded) {
  auto push = BuildPush(std::string(kReviewsService) + R"(
---
apiVersion: v1
kind: Pod
metadata: {name: r, labels: {app: reviews}}
status: {phase: Running, podIP: 10.0.0.1}
)");
  EXPECT_THAT(push->Endpoints(kHost, 9080), IsEmpty());
}

TEST(EndpointBuilderTest, UnknownPortHasNoEndpoints) {
  auto push = BuildPush(std::string(kReviewsService) + Pod("r", "default", "{app: reviews}", "10.0.0.1"));
  EXPECT_THAT(push->Endpoints(kHost, 9081), IsEmpty());
  EXPECT_THAT(push->Endpoints("nope.default.svc.cluster.local", 9080), IsEmpty());
}

TEST(EndpointBuilderTest, ServiceWithoutSelectorHasNoPodEndpoints) {
  auto push = BuildPush(R"(
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec: {ports: [{name: http, port: 9080}]}
)" + Pod("r", "default", "{app: reviews}", "10.0.0.1"));
  EXPECT_THAT(push->Endpoints(kHost, 9080), IsEmpty());
}

TEST(EndpointBuilderTest, NumericTargetPortAndDefaultTargetPort) {
  auto push = BuildPush(R"(
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: admin, port: 81}
  - {name: grpc, port: 82, targetPort: "7070"}
)" + Pod("w", "default", "{app: web}", "10.0.0.1"));
  const char* host = "web.default.svc.cluster.local";
  EXPECT_THAT(Addrs(push->Endpoints(host, 80)), UnorderedElementsAre("10.0.0.1:8080"));
  EXPECT_THAT(Addrs(push->Endpoints(host, 81)), UnorderedElementsAre("10.0.0.1:81"));
  EXPECT_THAT(Addrs(push->Endpoints(host, 82)), UnorderedElementsAre("10.0.0.1:7070"));
}

TEST(EndpointBuilderTest, NamedTargetPortResolvedPerPod) {
  auto push = BuildPush(R"(
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: web-port}]
)" + Pod("w1", "default", "{app: web}", "10.0.0.1", "[{name: web-port, containerPort: 8080}]") +
                        Pod("w2", "default", "{app: web}", "10.0.0.2",
                            "[{name: metrics, containerPort: 9100}, {name: web-port, containerPort: 9090}]") +
                        Pod("w3", "default", "{app: web}", "10.0.0.3", "[{name: metrics, containerPort: 9100}]"));
  EXPECT_THAT(Addrs(push->Endpoints("web.default.svc.cluster.local", 80)),
              UnorderedElementsAre("10.0.0.1:8080", "10.0.0.2:9090"));
}

// A numeric-string targetPort too large for an int is bad input from a file;
// it must not throw out of PushContext::Build (which would end the process).
TEST(EndpointBuilderTest, OutOfRangeNumericStringTargetPortDoesNotThrow) {
  const std::string yaml = R"(
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: "99999999999"}]
)" + Pod("w1", "default", "{app: web}", "10.0.0.1");
  PushContextPtr push;
  EXPECT_NO_THROW(push = BuildPush(yaml));
  if (push) {
    EXPECT_THAT(push->Endpoints("web.default.svc.cluster.local", 80), IsEmpty());
  }
}

constexpr char kSlice[] = R"(
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: reviews-abc
  labels: {kubernetes.io/service-name: reviews}
addressType: IPv4
endpoints:
- addresses: [10.1.0.1]
  conditions: {ready: true}
  zone: us-east1-b
  targetRef: {kind: Pod, name: reviews-v1}
- addresses: [10.1.0.2]
  conditions: {ready: false}
- addresses: [10.1.0.3]
ports:
- {name: grpc, port: 7070}
- {name: http, port: 9080}
)";

TEST(EndpointBuilderTest, EndpointSliceIsUsedInsteadOfPods) {
  auto push = BuildPush(std::string(R"(
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 80, targetPort: 1234}]
)") + kSlice + Pod("reviews-v1", "default", "{app: reviews, version: v1}", "10.0.0.1"));
  const auto& eps = push->Endpoints(kHost, 80);
  // Pod IP 10.0.0.1 is not used; the not-ready slice endpoint is dropped; the
  // port is the slice's port named like the service port.
  EXPECT_THAT(Addrs(eps), UnorderedElementsAre("10.1.0.1:9080", "10.1.0.3:9080"));
  for (const auto& ep : eps) {
    if (ep.address != "10.1.0.1") continue;
    EXPECT_EQ(ep.zone, "us-east1-b");
    EXPECT_EQ(ep.labels.at("version"), "v1") << "labels come from the targetRef Pod";
  }
}

TEST(EndpointBuilderTest, EndpointSliceWithoutMatchingPortNameGivesNoEndpoints) {
  auto push = BuildPush(std::string(R"(
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec:
  selector: {app: reviews}
  ports: [{name: tcp-other, port: 80}]
)") + kSlice + Pod("reviews-v1", "default", "{app: reviews}", "10.0.0.1"));
  EXPECT_THAT(push->Endpoints(kHost, 80), IsEmpty());
}

TEST(EndpointBuilderTest, SliceOfAnotherServiceIsIgnored) {
  std::string other_slice = kSlice;
  other_slice.replace(other_slice.find("service-name: reviews"), 21, "service-name: ratings");
  auto push = BuildPush(std::string(kReviewsService) + other_slice +
                        Pod("reviews-v1", "default", "{app: reviews}", "10.0.0.1"));
  EXPECT_THAT(Addrs(push->Endpoints(kHost, 9080)), UnorderedElementsAre("10.0.0.1:9080"));
}

TEST(EndpointBuilderTest, ServiceEntryStaticEndpoints) {
  auto push = BuildPush(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db}
spec:
  hosts: [db.example.com]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 5432, name: tcp-pg, protocol: TCP}
  - {number: 6000, name: tcp-other, protocol: TCP, targetPort: 16000}
  endpoints:
  - address: 192.168.0.1
  - address: 192.168.0.2
    ports: {tcp-pg: 6432}
    labels: {version: v2}
    weight: 3
    serviceAccount: db
)");
  const auto& eps = push->Endpoints("db.example.com", 5432);
  EXPECT_THAT(Addrs(eps), UnorderedElementsAre("192.168.0.1:5432", "192.168.0.2:6432"));
  for (const auto& ep : eps) {
    // istiod: no health status, the workload named for the entry and the index.
    EXPECT_EQ(ep.health, EndpointHealth::kUnknown);
    EXPECT_EQ(ep.workload_namespace, "default");
    if (ep.address == "192.168.0.2") {
      EXPECT_EQ(ep.weight, 3);
      EXPECT_EQ(ep.labels.at("version"), "v2");
      EXPECT_EQ(ep.workload_name, "db-1");
      EXPECT_EQ(ep.tls_mode, "istio");  // a service account means a sidecar
    } else {
      EXPECT_EQ(ep.weight, 1);
      EXPECT_EQ(ep.workload_name, "db-0");
      EXPECT_EQ(ep.tls_mode, "disabled");
    }
  }
  EXPECT_THAT(Addrs(push->Endpoints("db.example.com", 6000)),
              UnorderedElementsAre("192.168.0.1:16000", "192.168.0.2:16000"));
}

TEST(EndpointBuilderTest, ServiceEntryDnsWithoutEndpointsUsesTheHost) {
  auto push = BuildPush(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api}
spec:
  hosts: [api.example.com]
  resolution: DNS
  ports: [{number: 443, name: tls, protocol: TLS}]
)");
  EXPECT_THAT(Addrs(push->Endpoints("api.example.com", 443)), UnorderedElementsAre("api.example.com:443"));
}

TEST(EndpointBuilderTest, ServiceEntryWorkloadSelectorSelectsPods) {
  auto push = BuildPush(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vm}
spec:
  hosts: [vm.example.com]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]
  workloadSelector: {labels: {app: vm}}
)" + Pod("vm-1", "default", "{app: vm}", "10.0.0.7") + Pod("other", "default", "{app: x}", "10.0.0.8"));
  EXPECT_THAT(Addrs(push->Endpoints("vm.example.com", 80)), UnorderedElementsAre("10.0.0.7:8080"));
}

TEST(EndpointBuilderTest, BuilderCanBeUsedDirectly) {
  auto snapshot = keel::pilot::testing::SnapshotOf(std::string(kReviewsService) + Pod("r", "default", "{app: reviews}", "10.0.0.1"));
  EndpointBuilder builder(*snapshot);
  const Config& svc_config = *snapshot->at(ConfigKey{Kind::kService, "default", "reviews"});
  Service svc;
  svc.hostname = kHost;
  svc.name = "reviews";
  svc.ns = "default";
  svc.source = svc_config.key;
  ServicePort port{"http", 9080, "HTTP"};
  svc.ports.push_back(port);
  EXPECT_THAT(Addrs(builder.Build(svc_config, svc, port)), UnorderedElementsAre("10.0.0.1:9080"));
}

}  // namespace
}  // namespace keel::pilot::model
