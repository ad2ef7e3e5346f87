// The AdmissionReview envelope both webhooks speak (admission.k8s.io/v1 or
// v1beta1): the request out of a body, and a response back into a review of the
// same apiVersion. Transport-free.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pilot/inject/json_value.h"

namespace keel::pilot::inject {

struct AdmissionRequest {
  std::string api_version;  // of the review, echoed in the reply
  JsonObject request;       // its "request" member
};

// The review in `body`. Errors: FailedPrecondition (HTTP 415) for a content type
// other than application/json; InvalidArgument (HTTP 400) for an empty body, a
// body that is not an AdmissionReview of those versions, or no request.
absl::StatusOr<AdmissionRequest> ParseAdmissionReview(absl::string_view content_type, absl::string_view body);

// The review answering `review` with `response` (uid, allowed, status, patch ...).
std::string AdmissionReviewReply(const AdmissionRequest& review, JsonObject response);

}  // namespace keel::pilot::inject
