#include "pilot/config/validation_webhook.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "pilot/config/config_parser.h"
#include "pilot/inject/admission_review.h"
#include "pkg/metrics/registry.h"

namespace keel::pilot::config {
namespace {

void CountVerdict(const char* reason) {
  auto& r = metrics::DefaultRegistry();
  if (reason == nullptr) {
    static metrics::Counter& passed = r.GetCounter("galley_validation_passed", "Resource is valid.");
    passed.Inc();
    return;
  }
  r.GetCounter("galley_validation_failed", "Resource validation failed.", {{"reason", reason}}).Inc();
}

}  // namespace

inject::WebhookReply HandleValidationReview(absl::string_view content_type, absl::string_view body) {
  auto review = inject::ParseAdmissionReview(content_type, body);
  if (!review.ok()) {
    const std::string why(review.status().message());
    return {absl::IsFailedPrecondition(review.status()) ? 415 : 400, why + "\n", "bad request: " + why};
  }
  const inject::JsonObject& request = review->request;
  inject::JsonObject response;
  auto& fields = *response.mutable_fields();
  fields["uid"] = inject::Str(inject::StringAt(request, "uid"));
  const std::string operation = inject::StringAt(request, "operation");
  const inject::JsonValue* object = inject::Member(request, "object");
  std::string outcome;
  if (operation != "CREATE" && operation != "UPDATE") {
    fields["allowed"] = inject::Bool(true);  // istiod: unsupported operations pass
    outcome = "allowed: operation " + operation;
    CountVerdict("unsupported_operation");
  } else if (object == nullptr || !object->has_struct_value()) {
    fields["allowed"] = inject::Bool(false);
    fields["status"] = inject::Obj({{"message", inject::Str("cannot decode configuration: request.object is not an object")}});
    outcome = "denied: no object";
    CountVerdict("yaml_decode_error");
  } else if (auto config = ParseConfigObject(object->struct_value(), "admission review"); !config.ok()) {
    const bool unknown = absl::IsUnimplemented(config.status());
    const std::string message = absl::StrCat(unknown ? "unrecognized type: " : "configuration is invalid: ",
                                             config.status().message());
    fields["allowed"] = inject::Bool(false);
    fields["status"] = inject::Obj({{"message", inject::Str(message)}});
    outcome = "denied: " + message;
    CountVerdict(unknown ? "unknown_type" : "invalid_resource");
  } else {
    fields["allowed"] = inject::Bool(true);
    outcome = "allowed";
    CountVerdict(nullptr);
  }
  return {200, inject::AdmissionReviewReply(*review, std::move(response)), outcome};
}

}  // namespace keel::pilot::config
