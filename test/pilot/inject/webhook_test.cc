// The /inject request handling: AdmissionReview in, AdmissionReview with a
// JSONPatch out; bad requests are refused with a reason, a pod that cannot be
// injected is denied with one. The real API server applies the patch in
// integration.injection; here the patch is applied by a minimal RFC 6902 "add".
#include "pilot/inject/webhook.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "pilot/inject/sidecar_injector.h"

namespace keel::pilot::inject {
namespace {

constexpr char kPod[] = R"({"metadata":{"name":"ratings","labels":{"app":"ratings"}},
    "spec":{"containers":[{"name":"ratings","image":"ratings:1"}]}})";

std::string Review(const std::string& object, const std::string& api_version = "admission.k8s.io/v1") {
  return R"({"apiVersion":")" + api_version + R"(","kind":"AdmissionReview","request":{"uid":"u-1",
      "kind":{"group":"","version":"v1","kind":"Pod"},"namespace":"bookinfo","operation":"CREATE","object":)" +
         object + "}}";
}

JsonObject MustParse(const std::string& json) {
  auto parsed = ParseObject(json);
  EXPECT_TRUE(parsed.ok()) << parsed.status() << "\n" << json;
  return parsed.ok() ? *parsed : JsonObject();
}

// Applies a patch of "add" operations whose paths have one or two segments.
JsonObject ApplyAddPatch(JsonObject target, const std::string& patch_json) {
  auto ops = MustParse(R"({"ops":)" + patch_json + "}");
  for (const auto& op : ListAt(ops, "ops").values()) {
    EXPECT_EQ(StringAt(op.struct_value(), "op"), "add");
    std::vector<std::string> path = absl::StrSplit(StringAt(op.struct_value(), "path").substr(1), '/');
    const JsonValue& value = *Member(op.struct_value(), "value");
    if (path.size() == 1) {
      (*target.mutable_fields())[path[0]] = value;
    } else {
      EXPECT_EQ(path.size(), 2u);
      JsonObject& parent = *(*target.mutable_fields())[path[0]].mutable_struct_value();
      (*parent.mutable_fields())[path[1]] = value;
    }
  }
  return target;
}

TEST(InjectionWebhook, AnswersWithAPatchThatYieldsTheInjectedPod) {
  WebhookReply reply = HandleInjectionReview("application/json", Review(kPod), InjectionConfig());
  ASSERT_EQ(reply.http_status, 200) << reply.body;
  EXPECT_EQ(reply.outcome, "injected");
  JsonObject review = MustParse(reply.body);
  EXPECT_EQ(StringAt(review, "apiVersion"), "admission.k8s.io/v1");
  const JsonObject& response = ObjectAt(review, "response");
  EXPECT_EQ(StringAt(response, "uid"), "u-1");
  EXPECT_TRUE(Member(response, "allowed")->bool_value());
  EXPECT_EQ(StringAt(response, "patchType"), "JSONPatch");
  std::string patch;
  ASSERT_TRUE(absl::Base64Unescape(StringAt(response, "patch"), &patch));

  auto expected = InjectSidecar(MustParse(kPod), "bookinfo", InjectionConfig());
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(ToJson(ApplyAddPatch(MustParse(kPod), patch)), ToJson(expected->pod));
}

TEST(InjectionWebhook, AnswersV1beta1InKind) {
  WebhookReply reply = HandleInjectionReview("application/json", Review(kPod, "admission.k8s.io/v1beta1"),
                                             InjectionConfig());
  ASSERT_EQ(reply.http_status, 200);
  EXPECT_EQ(StringAt(MustParse(reply.body), "apiVersion"), "admission.k8s.io/v1beta1");
}

TEST(InjectionWebhook, APodThatNeedsNoInjectionIsAllowedWithoutAPatch) {
  std::string pod = R"({"metadata":{"name":"p","labels":{"sidecar.istio.io/inject":"false"}},"spec":{"containers":[]}})";
  WebhookReply reply = HandleInjectionReview("application/json", Review(pod), InjectionConfig());
  ASSERT_EQ(reply.http_status, 200);
  EXPECT_EQ(reply.outcome, "skipped: sidecar.istio.io/inject=false");
  const JsonObject review = MustParse(reply.body);
  const JsonObject& response = ObjectAt(review, "response");
  EXPECT_TRUE(Member(response, "allowed")->bool_value());
  EXPECT_EQ(Member(response, "patch"), nullptr);
}

TEST(InjectionWebhook, APodThatCannotBeInjectedIsDeniedWithTheReason) {
  std::string pod = R"({"metadata":{"name":"p","annotations":{"status.sidecar.istio.io/port":"x"}},"spec":{}})";
  WebhookReply reply = HandleInjectionReview("application/json", Review(pod), InjectionConfig());
  ASSERT_EQ(reply.http_status, 200);
  const JsonObject review = MustParse(reply.body);
  const JsonObject& response = ObjectAt(review, "response");
  EXPECT_FALSE(Member(response, "allowed")->bool_value());
  std::string message = StringAt(ObjectAt(response, "status"), "message");
  EXPECT_NE(message.find("Pod bookinfo/p"), std::string::npos) << message;
  EXPECT_NE(message.find("status.sidecar.istio.io/port"), std::string::npos) << message;
  EXPECT_EQ(reply.outcome.rfind("error: ", 0), 0u) << reply.outcome;
}

TEST(InjectionWebhook, RefusesRequestsThatAreNotPodReviews) {
  struct Bad {
    std::string content_type, body, reason;
    int status;
  };
  for (const Bad& bad : {Bad{"application/json", "", "no body", 400},
                         Bad{"text/plain", Review(kPod), "Content-Type", 415},
                         Bad{"application/json", "{\"kind\":", "AdmissionReview:", 400},
                         Bad{"application/json", "[1,2]", "AdmissionReview:", 400},
                         Bad{"application/json", R"({"kind":"Pod","apiVersion":"v1"})", "kind/apiVersion", 400},
                         Bad{"application/json", R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"})",
                             "request: required", 400},
                         Bad{"application/json", R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1",
                               "request":{"uid":"u","object":7}})", "request.object", 400},
                         Bad{"application/json", R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1",
                               "request":{"uid":"u","kind":{"kind":"Service"},"object":{}}})", "request.kind", 400}}) {
    WebhookReply reply = HandleInjectionReview(bad.content_type, bad.body, InjectionConfig());
    EXPECT_EQ(reply.http_status, bad.status) << bad.body;
    EXPECT_NE(reply.body.find(bad.reason), std::string::npos) << reply.body;
    EXPECT_EQ(reply.outcome.rfind("bad request: ", 0), 0u) << reply.outcome;
  }
}

// What istioctl kube-inject sends when it calls the webhook named by the
// MutatingWebhookConfiguration itself (istioctl/pkg/kubeinject ExternalInjector.Inject):
// no uid, the request's own kind, an empty resource.
TEST(InjectionWebhook, InjectsTheReviewIstioctlKubeInjectSends) {
  const std::string body = std::string(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
      "kind":{"group":"admission.k8s.io","version":"v1","kind":"AdmissionRequest"},"resource":{"group":"",
      "version":"","resource":""},"namespace":"bookinfo","operation":"","object":)") + kPod + "}}";
  WebhookReply reply = HandleInjectionReview("application/json", body, InjectionConfig());
  ASSERT_EQ(reply.http_status, 200) << reply.body;
  EXPECT_EQ(reply.outcome, "injected");
  EXPECT_EQ(StringAt(ObjectAt(MustParse(reply.body), "response"), "uid"), "");
}

TEST(InjectionPatch, AddsMetadataWhenThePodHasNone) {
  JsonObject original = MustParse(R"({"spec":{"containers":[]}})");
  JsonObject injected = MustParse(R"({"metadata":{"labels":{"a":"b"}},"spec":{"containers":[]}})");
  EXPECT_EQ(InjectionPatch(original, injected),
            R"([{"op":"add","path":"/metadata","value":{}},{"op":"add","path":"/metadata/labels","value":{"a":"b"}}])");
}

}  // namespace
}  // namespace keel::pilot::inject

namespace keel::pilot::inject {
namespace {

TEST(InjectionPathEnvs, ReadsIstiodsInjectUrlForms) {
  using Envs = std::map<std::string, std::string>;
  EXPECT_EQ(InjectionPathEnvs("/inject"), Envs());
  EXPECT_EQ(InjectionPathEnvs("/inject/"), Envs());
  EXPECT_EQ(InjectionPathEnvs("/inject/cluster/c1/net/n1"),
            (Envs{{"ISTIO_META_CLUSTER_ID", "c1"}, {"ISTIO_META_NETWORK", "n1"}}));
  EXPECT_EQ(InjectionPathEnvs("/inject/cluster/c1/net/n1/"),
            (Envs{{"ISTIO_META_CLUSTER_ID", "c1"}, {"ISTIO_META_NETWORK", "n1"}}));
  EXPECT_EQ(InjectionPathEnvs("/inject/my_env/a--slash--b/dangling"), (Envs{{"MY_ENV", "a/b"}}));
  EXPECT_EQ(InjectionPathEnvs("/inject/:ENV:cluster=c2:ENV:=bad:ENV:EMPTY="), (Envs{{"ISTIO_META_CLUSTER_ID", "c2"},
                                                                                  {"EMPTY", ""}}));
}

}  // namespace
}  // namespace keel::pilot::inject
