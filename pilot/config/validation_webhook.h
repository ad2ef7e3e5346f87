// The validating webhook's request handling (/validate on the webhook port), as
// istiod's pkg/webhooks/validation/server: an AdmissionReview of an Istio object
// in, allowed or denied out. CREATE and UPDATE are validated with what ingestion
// runs (ParseConfigObject: Istio's proto strictly, then validation.h), so the
// API server refuses what Keel would drop, with the same message naming the
// object and the field ("configuration is invalid: VirtualService shop/reviews:
// spec.http[0].route: total destination weight = 0"); other operations are
// allowed. Transport-free; counted in istiod's galley_validation_passed and
// galley_validation_failed{reason}.
#pragma once

#include "absl/strings/string_view.h"
#include "pilot/inject/webhook.h"

namespace keel::pilot::config {

// http_status 400 / 415 for a body that is not an AdmissionReview (as /inject).
inject::WebhookReply HandleValidationReview(absl::string_view content_type, absl::string_view body);

}  // namespace keel::pilot::config
