// AccessReviewer's request and memory of answers, with a scripted API server:
// what the real one answers (allowed, denied by RBAC) is tested against the
// harness kube-apiserver in test/integration/ca_test.py; here also the answers it
// cannot give on demand (a 500, a broken connection).
#include "pkg/kube/access_review.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <thread>

namespace keel::kube {
namespace {

using ::testing::HasSubstr;

class ScriptedClient final : public KubeClient {
 public:
  absl::StatusOr<KubeResponse> Request(const std::string& method, const std::string& path, const std::string& body,
                                       const std::string&) override {
    requests.push_back(method + " " + path + " " + body);
    if (answers.empty()) return absl::UnavailableError("no answer scripted");
    auto a = answers.front();
    answers.pop_front();
    return a;
  }
  absl::StatusOr<std::unique_ptr<WatchStream>> Watch(const std::string&) override {
    return absl::UnimplementedError("no watches");
  }
  const std::string& server() const override { return server_; }

  std::deque<absl::StatusOr<KubeResponse>> answers;
  std::vector<std::string> requests;

 private:
  std::string server_ = "https://127.0.0.1:6443";
};

KubeResponse Review(bool allowed, const std::string& reason = "") {
  return KubeResponse{201, "{\"kind\":\"SubjectAccessReview\",\"status\":{\"allowed\":" +
                               std::string(allowed ? "true" : "false") +
                               (reason.empty() ? "" : ",\"reason\":\"" + reason + "\"") + "}}"};
}

const ResourceAccess kListSecrets{"list", "secrets", "shop"};

TEST(AccessReviewerTest, AsksForTheUserVerbResourceAndNamespace) {
  ScriptedClient client;
  client.answers.push_back(Review(true));
  AccessReviewer reviewer(&client, {});
  EXPECT_TRUE(reviewer.Check(ServiceAccountUser("shop", "gw"), kListSecrets).ok());
  ASSERT_EQ(client.requests.size(), 1u);
  const std::string& r = client.requests[0];
  EXPECT_THAT(r, HasSubstr("POST /apis/authorization.k8s.io/v1/subjectaccessreviews "));
  EXPECT_THAT(r, HasSubstr("\"user\":\"system:serviceaccount:shop:gw\""));
  EXPECT_THAT(r, HasSubstr("\"resourceAttributes\":{"));
  EXPECT_THAT(r, HasSubstr("\"verb\":\"list\""));
  EXPECT_THAT(r, HasSubstr("\"resource\":\"secrets\""));
  EXPECT_THAT(r, HasSubstr("\"namespace\":\"shop\""));
}

TEST(AccessReviewerTest, AllowedAndDeniedAreRememberedForTheTtl) {
  ScriptedClient client;
  client.answers = {Review(true), Review(false, "no RBAC policy matched"), Review(false)};
  AccessReviewer reviewer(&client, {absl::Milliseconds(200), 100});
  const std::string gw = ServiceAccountUser("shop", "gw"), app = ServiceAccountUser("shop", "app");
  EXPECT_TRUE(reviewer.Check(gw, kListSecrets).ok());
  absl::Status denied = reviewer.Check(app, kListSecrets);
  EXPECT_TRUE(absl::IsPermissionDenied(denied)) << denied;
  EXPECT_EQ(denied.message(),
            "system:serviceaccount:shop:app may not list secrets in namespace shop: no RBAC policy matched");
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(reviewer.Check(gw, kListSecrets).ok());
    EXPECT_EQ(reviewer.Check(app, kListSecrets), denied);
  }
  EXPECT_EQ(client.requests.size(), 2u) << "remembered";
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_TRUE(absl::IsPermissionDenied(reviewer.Check(gw, kListSecrets))) << "asked again after the ttl";
  EXPECT_EQ(client.requests.size(), 3u);
}

TEST(AccessReviewerTest, NoAnswerIsUnavailableAndNotRemembered) {
  ScriptedClient client;
  client.answers = {KubeResponse{500, "etcd is down"}, absl::UnavailableError("connection refused"), Review(true)};
  AccessReviewer reviewer(&client, {});
  const std::string gw = ServiceAccountUser("shop", "gw");
  absl::Status first = reviewer.Check(gw, kListSecrets);
  EXPECT_TRUE(absl::IsUnavailable(first)) << first;
  EXPECT_THAT(first.message(), HasSubstr("HTTP 500"));
  EXPECT_TRUE(absl::IsUnavailable(reviewer.Check(gw, kListSecrets)));
  EXPECT_TRUE(reviewer.Check(gw, kListSecrets).ok());
  EXPECT_EQ(client.requests.size(), 3u);
}

TEST(AccessReviewerTest, BoundedWhenFull) {
  ScriptedClient client;
  for (int i = 0; i < 6; ++i) client.answers.push_back(Review(true));
  AccessReviewer reviewer(&client, {absl::Minutes(1), 2});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(reviewer.Check(ServiceAccountUser("ns", std::to_string(i)), kListSecrets).ok());
  EXPECT_EQ(reviewer.remembered(), 2u) << "the third answer is not kept: nothing had expired";
  EXPECT_TRUE(reviewer.Check(ServiceAccountUser("ns", "2"), kListSecrets).ok());
  EXPECT_EQ(client.requests.size(), 4u);
}

}  // namespace
}  // namespace keel::kube
