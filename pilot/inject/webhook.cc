#include "pilot/inject/webhook.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "pilot/inject/admission_review.h"
#include "pilot/inject/sidecar_injector.h"

namespace keel::pilot::inject {
namespace {

WebhookReply BadRequest(int status, const std::string& reason) {
  return {status, reason + "\n", "bad request: " + reason};
}

// The member `key` of `object` as JSON text, "" when absent.
std::string MemberJson(const JsonObject& object, const std::string& key) {
  const JsonValue* v = Member(object, key);
  return v == nullptr ? "" : ToJson(*v);
}

void AppendPatchOps(const JsonObject& original, const JsonObject& injected, const std::string& prefix,
                    std::vector<std::string>& ops) {
  for (const auto& [key, value] : injected.fields()) {
    if (MemberJson(original, key) == ToJson(value)) continue;
    // RFC 6901: "~" is "~0", "/" is "~1" (keys here are Kubernetes field names).
    ops.push_back(absl::StrCat("{\"op\":\"add\",\"path\":", ToJson(Str(prefix + key)), ",\"value\":", ToJson(value), "}"));
  }
}

// The API server names the object's kind (Pod); istioctl kube-inject, calling the
// webhook itself, names its request's ({admission.k8s.io, AdmissionRequest}); absent is
// taken as a Pod. Any other kind is refused (istiod would decode it as a Pod).
bool IsPodRequestKind(const JsonObject& kind) {
  const std::string name = StringAt(kind, "kind");
  return name.empty() || (name == "Pod" && StringAt(kind, "group").empty()) ||
         (name == "AdmissionRequest" && StringAt(kind, "group") == "admission.k8s.io");
}

}  // namespace

std::string InjectionPatch(const JsonObject& original, const JsonObject& injected) {
  std::vector<std::string> ops;
  if (Member(original, "metadata") == nullptr) {
    ops.push_back(absl::StrCat("{\"op\":\"add\",\"path\":\"/metadata\",\"value\":{}}"));
  }
  AppendPatchOps(ObjectAt(original, "metadata"), ObjectAt(injected, "metadata"), "/metadata/", ops);
  AppendPatchOps(ObjectAt(original, "spec"), ObjectAt(injected, "spec"), "/spec/", ops);
  return absl::StrCat("[", absl::StrJoin(ops, ","), "]");
}

std::map<std::string, std::string> InjectionPathEnvs(absl::string_view path) {
  path = absl::StripSuffix(path, "/");
  std::vector<std::string> parts = absl::StrSplit(path, absl::MaxSplits('/', 2));  // "", "inject", rest
  std::vector<std::string> items;
  if (parts.size() == 3) {
    if (absl::StartsWith(parts[2], ":ENV:")) {
      std::vector<std::string> pairs = absl::StrSplit(parts[2], ":ENV:");
      for (size_t i = 1; i < pairs.size(); ++i) {
        std::vector<std::string> kv = absl::StrSplit(pairs[i], absl::MaxSplits('=', 1));
        if (kv.size() == 2 && !kv[0].empty()) items.insert(items.end(), kv.begin(), kv.end());
      }
    } else {
      items = absl::StrSplit(parts[2], '/');
      for (size_t i = 1; i < items.size(); i += 2) items[i] = absl::StrReplaceAll(items[i], {{"--slash--", "/"}});
    }
  }
  std::map<std::string, std::string> envs;
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    std::string env = items[i] == "cluster" ? "ISTIO_META_CLUSTER_ID"
                      : items[i] == "net"   ? "ISTIO_META_NETWORK"
                                            : absl::AsciiStrToUpper(items[i]);
    if (!env.empty()) envs[env] = items[i + 1];
  }
  return envs;
}

WebhookReply HandleInjectionReview(absl::string_view content_type, absl::string_view body,
                                   const InjectionConfig& config) {
  auto review = ParseAdmissionReview(content_type, body);
  if (!review.ok()) {
    return BadRequest(absl::IsFailedPrecondition(review.status()) ? 415 : 400, std::string(review.status().message()));
  }
  const JsonObject& request = review->request;
  // The uid is echoed back; istioctl kube-inject sends none, and istiod does not require one.
  const std::string uid = StringAt(request, "uid");
  const JsonValue* object = Member(request, "object");
  if (object == nullptr || !object->has_struct_value()) return BadRequest(400, "request.object: must be an object");
  if (!IsPodRequestKind(ObjectAt(request, "kind"))) {
    return BadRequest(400, absl::StrCat("request.kind: want Pod, got ", StringAt(ObjectAt(request, "kind"), "kind")));
  }

  JsonObject response;
  auto& fields = *response.mutable_fields();
  fields["uid"] = Str(uid);
  std::string outcome;
  auto injected = InjectSidecar(object->struct_value(), StringAt(request, "namespace"), config);
  if (!injected.ok()) {
    fields["allowed"] = Bool(false);
    fields["status"] = Obj({{"message", Str(injected.status().message())}});
    outcome = absl::StrCat("error: ", injected.status().message());
  } else if (!injected->injected) {
    fields["allowed"] = Bool(true);
    outcome = absl::StrCat("skipped: ", injected->skip_reason);
  } else {
    fields["allowed"] = Bool(true);
    fields["patchType"] = Str("JSONPatch");
    fields["patch"] = Str(absl::Base64Escape(InjectionPatch(object->struct_value(), injected->pod)));
    outcome = "injected";
  }
  return {200, AdmissionReviewReply(*review, std::move(response)), outcome};
}

}  // namespace keel::pilot::inject
