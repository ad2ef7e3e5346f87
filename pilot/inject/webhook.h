// The injection webhook's request handling: an AdmissionReview (admission.k8s.io/v1
// or v1beta1) in, an AdmissionReview with a JSONPatch out, as istiod's /inject.
// Transport-free (pkg/http serves it); a pure function of the body and the config.
#pragma once

#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "pilot/inject/injection_config.h"
#include "pilot/inject/json_value.h"

namespace keel::pilot::inject {

struct WebhookReply {
  int http_status = 200;  // 400: not an AdmissionReview of a Pod; 415: not application/json
  std::string body;       // the AdmissionReview response JSON, or the reason for a 400
  // For logs and metrics: "injected", "skipped: <why>", "error: <why>", "bad request: <why>".
  std::string outcome;
};

// A review whose pod cannot be injected (a malformed annotation, an unknown
// template) is answered 200 with allowed=false and the reason, as istiod does, so
// the API server refuses that pod with the reason (failurePolicy only covers a
// webhook that does not answer). A pod that needs no injection: allowed, no patch.
WebhookReply HandleInjectionReview(absl::string_view content_type, absl::string_view body,
                                   const InjectionConfig& config);

// The proxy env a webhook URL's path sets after "/inject" (istiod's parseInjectEnvs):
// "/inject/cluster/c1/net/n1" -> {ISTIO_META_CLUSTER_ID: c1, ISTIO_META_NETWORK: n1};
// other keys are upper-cased into env names; "--slash--" in a value is "/"; a last
// key without a value is ignored; the deprecated ":ENV:K=V" form is read too.
// "/inject" and "/inject/": none.
std::map<std::string, std::string> InjectionPathEnvs(absl::string_view path);

// The RFC 6902 patch turning `original` into `injected`: one "add" (which replaces
// an existing member) per top-level member of metadata and spec that changed.
std::string InjectionPatch(const JsonObject& original, const JsonObject& injected);

}  // namespace keel::pilot::inject
