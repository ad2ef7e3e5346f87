#include "pilot/inject/admission_review.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace keel::pilot::inject {

absl::StatusOr<AdmissionRequest> ParseAdmissionReview(absl::string_view content_type, absl::string_view body) {
  if (body.empty()) return absl::InvalidArgumentError("no body found");
  if (!absl::StartsWith(content_type, "application/json")) {
    return absl::FailedPreconditionError(
        absl::StrCat("invalid Content-Type \"", content_type, "\", want application/json"));
  }
  auto review = ParseObject(body);
  if (!review.ok()) return absl::InvalidArgumentError(absl::StrCat("AdmissionReview: ", review.status().message()));
  AdmissionRequest out;
  out.api_version = StringAt(*review, "apiVersion");
  if (StringAt(*review, "kind") != "AdmissionReview" ||
      (out.api_version != "admission.k8s.io/v1" && out.api_version != "admission.k8s.io/v1beta1")) {
    return absl::InvalidArgumentError(
        absl::StrCat("kind/apiVersion: want AdmissionReview of admission.k8s.io/v1 or v1beta1, got \"",
                     StringAt(*review, "kind"), "\" of \"", out.api_version, "\""));
  }
  if (Member(*review, "request") == nullptr) return absl::InvalidArgumentError("request: required");
  out.request = ObjectAt(*review, "request");
  return out;
}

std::string AdmissionReviewReply(const AdmissionRequest& review, JsonObject response) {
  JsonObject reply;
  (*reply.mutable_fields())["apiVersion"] = Str(review.api_version);
  (*reply.mutable_fields())["kind"] = Str("AdmissionReview");
  (*reply.mutable_fields())["response"] = Obj(std::move(response));
  return ToJson(reply);
}

}  // namespace keel::pilot::inject
