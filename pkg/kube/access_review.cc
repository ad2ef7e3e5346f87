#include "pkg/kube/access_review.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"

namespace keel::kube {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

const Value* Field(const Struct& s, const char* name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? nullptr : &it->second;
}

std::string Describe(const std::string& user, const ResourceAccess& access) {
  return absl::StrCat(user, " may not ", access.verb, " ", access.resource, " in namespace ", access.ns);
}

}  // namespace

std::string ServiceAccountUser(const std::string& ns, const std::string& service_account) {
  return absl::StrCat("system:serviceaccount:", ns, ":", service_account);
}

AccessReviewer::AccessReviewer(KubeClient* client, Options options) : client_(client), options_(options) {}

absl::Status AccessReviewer::Check(const std::string& user, const ResourceAccess& access) {
  const std::string key = absl::StrCat(user, "\n", access.verb, "\n", access.resource, "\n", access.ns);
  {
    absl::MutexLock lock(&mu_);
    auto it = answers_.find(key);
    if (it != answers_.end() && it->second.expires > absl::Now()) return it->second.status;
  }
  absl::Status status = Review(user, access);
  if (absl::IsUnavailable(status)) return status;
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  if (answers_.size() >= options_.max_entries && !answers_.count(key)) {
    for (auto it = answers_.begin(); it != answers_.end();) {
      it = it->second.expires <= now ? answers_.erase(it) : std::next(it);
    }
    if (answers_.size() >= options_.max_entries) return status;
  }
  answers_[key] = Answer{status, now + options_.ttl};
  return status;
}

size_t AccessReviewer::remembered() const {
  absl::MutexLock lock(&mu_);
  return answers_.size();
}

absl::Status AccessReviewer::Review(const std::string& user, const ResourceAccess& access) {
  Struct review;
  auto& f = *review.mutable_fields();
  f["apiVersion"].set_string_value("authorization.k8s.io/v1");
  f["kind"].set_string_value("SubjectAccessReview");
  auto& spec = *f["spec"].mutable_struct_value()->mutable_fields();
  spec["user"].set_string_value(user);
  auto& attributes = *spec["resourceAttributes"].mutable_struct_value()->mutable_fields();
  attributes["namespace"].set_string_value(access.ns);
  attributes["verb"].set_string_value(access.verb);
  attributes["resource"].set_string_value(access.resource);
  std::string body;
  (void)google::protobuf::util::MessageToJsonString(review, &body);
  auto response = client_->Request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body);
  if (!response.ok()) return absl::UnavailableError(absl::StrCat("SubjectAccessReview: ", response.status().message()));
  if (response->status != 201 && response->status != 200) {
    return absl::UnavailableError(absl::StrCat("SubjectAccessReview: HTTP ", response->status, ": ",
                                               response->body.substr(0, 512)));
  }
  Struct result;
  if (!google::protobuf::util::JsonStringToMessage(response->body, &result).ok()) {
    return absl::UnavailableError("SubjectAccessReview: the answer is not JSON");
  }
  const Value* status = Field(result, "status");
  const Struct empty;
  const Struct& s = status && status->has_struct_value() ? status->struct_value() : empty;
  const Value* allowed = Field(s, "allowed");
  if (allowed && allowed->bool_value()) return absl::OkStatus();
  const Value* reason = Field(s, "reason");
  const Value* error = Field(s, "evaluationError");
  std::string why = reason && !reason->string_value().empty() ? reason->string_value() : "no RBAC rule allows it";
  if (error && !error->string_value().empty()) absl::StrAppend(&why, " (", error->string_value(), ")");
  return absl::PermissionDeniedError(absl::StrCat(Describe(user, access), ": ", why));
}

}  // namespace keel::kube
