// /validate: AdmissionReviews of Istio objects judged by ingestion's validation.
#include "pilot/config/validation_webhook.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pilot/inject/json_value.h"

namespace keel::pilot::config {
namespace {

using ::testing::HasSubstr;

constexpr char kZeroWeights[] = R"({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
  "metadata": {"name": "reviews", "namespace": "shop", "uid": "u1", "resourceVersion": "7"},
  "spec": {"hosts": ["reviews"], "http": [{"route": [
    {"destination": {"host": "reviews", "subset": "v1"}, "weight": 0},
    {"destination": {"host": "reviews", "subset": "v2"}, "weight": 0}]}]}})";
constexpr char kValid[] = R"({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
  "metadata": {"name": "reviews", "namespace": "shop"},
  "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]}})";

std::string Review(const std::string& operation, const std::string& object) {
  return R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "abc",
    "kind": {"group": "networking.istio.io", "version": "v1", "kind": "VirtualService"}, "namespace": "shop",
    "operation": ")" + operation + R"(", "object": )" + object + "}}";
}

inject::JsonObject ResponseOf(const inject::WebhookReply& reply) {
  EXPECT_EQ(reply.http_status, 200) << reply.body;
  auto review = inject::ParseObject(reply.body);
  EXPECT_TRUE(review.ok());
  EXPECT_EQ(inject::StringAt(*review, "apiVersion"), "admission.k8s.io/v1");
  return inject::ObjectAt(*review, "response");
}

bool Allowed(const inject::JsonObject& response) {
  const inject::JsonValue* a = inject::Member(response, "allowed");
  return a && a->bool_value();
}

TEST(ValidationWebhookTest, AnInvalidObjectIsDeniedNamingTheObjectAndTheField) {
  const auto response = ResponseOf(HandleValidationReview("application/json", Review("CREATE", kZeroWeights)));
  EXPECT_FALSE(Allowed(response));
  EXPECT_EQ(inject::StringAt(response, "uid"), "abc");
  EXPECT_THAT(inject::StringAt(inject::ObjectAt(response, "status"), "message"),
              HasSubstr("configuration is invalid: VirtualService shop/reviews: spec.http[0].route: total destination weight = 0"));
}

TEST(ValidationWebhookTest, AValidObjectAndOtherOperationsPass) {
  EXPECT_TRUE(Allowed(ResponseOf(HandleValidationReview("application/json", Review("UPDATE", kValid)))));
  EXPECT_TRUE(Allowed(ResponseOf(HandleValidationReview("application/json", Review("DELETE", kZeroWeights)))));
}

TEST(ValidationWebhookTest, UnknownFieldsAndKindsAreDenied) {
  const std::string unknown_field = R"({"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
    "metadata": {"name": "g", "namespace": "shop"}, "spec": {"selector": {"istio": "ingressgateway"}, "servrs": []}})";
  const auto response = ResponseOf(HandleValidationReview("application/json", Review("CREATE", unknown_field)));
  EXPECT_FALSE(Allowed(response));
  EXPECT_THAT(inject::StringAt(inject::ObjectAt(response, "status"), "message"), HasSubstr("servrs"));
}

TEST(ValidationWebhookTest, WhatIsNotAReviewIsABadRequest) {
  EXPECT_EQ(HandleValidationReview("text/plain", Review("CREATE", kValid)).http_status, 415);
  EXPECT_EQ(HandleValidationReview("application/json", "{}").http_status, 400);
  EXPECT_EQ(HandleValidationReview("application/json", "").http_status, 400);
}

}  // namespace
}  // namespace keel::pilot::config
