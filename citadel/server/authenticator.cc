#include "citadel/server/authenticator.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "citadel/server/token_cache.h"

namespace keel::citadel::server {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

const Value* Path(const Struct& s, std::initializer_list<const char*> keys) {
  const Struct* cur = &s;
  const Value* v = nullptr;
  for (const char* k : keys) {
    auto it = cur->fields().find(k);
    if (it == cur->fields().end()) return nullptr;
    v = &it->second;
    if (v->has_struct_value()) cur = &v->struct_value();
  }
  return v;
}

class KubeJwtAuthenticator final : public Authenticator {
 public:
  KubeJwtAuthenticator(kube::KubeClient* client, std::vector<std::string> audiences, TokenReviewCacheOptions cache)
      : client_(client), audiences_(std::move(audiences)), cache_(cache.ttl, cache.max_entries) {}

  std::optional<Caller> Cached(const std::multimap<std::string, std::string>& metadata) override {
    auto token = BearerToken(metadata);
    if (!token.ok()) return std::nullopt;
    return cache_.Get(*token, absl::Now());
  }

  absl::StatusOr<Caller> Authenticate(const std::multimap<std::string, std::string>& metadata) override {
    auto token = BearerToken(metadata);
    if (!token.ok()) return token.status();
    if (auto cached = cache_.Get(*token, absl::Now())) return *cached;
    auto caller = Review(*token);
    if (caller.ok()) cache_.Put(*token, *caller, absl::Now());
    return caller;
  }

 private:
  static absl::StatusOr<std::string> BearerToken(const std::multimap<std::string, std::string>& metadata) {
    auto it = metadata.find("authorization");
    if (it == metadata.end()) return absl::UnauthenticatedError("no authorization header (want \"Bearer <token>\")");
    const std::string& value = it->second;
    if (!absl::StartsWithIgnoreCase(value, "bearer ")) {
      return absl::UnauthenticatedError("authorization header is not a Bearer token");
    }
    std::string token = value.substr(7);
    if (token.empty()) return absl::UnauthenticatedError("empty bearer token");
    return token;
  }

  absl::StatusOr<Caller> Review(const std::string& token) {
    Struct review;
    auto* f = review.mutable_fields();
    (*f)["apiVersion"].set_string_value("authentication.k8s.io/v1");
    (*f)["kind"].set_string_value("TokenReview");
    auto* spec = (*f)["spec"].mutable_struct_value()->mutable_fields();
    (*spec)["token"].set_string_value(token);
    for (const auto& a : audiences_) *(*spec)["audiences"].mutable_list_value()->add_values() = [&] {
      Value v;
      v.set_string_value(a);
      return v;
    }();
    std::string body;
    (void)google::protobuf::util::MessageToJsonString(review, &body);
    auto resp = client_->Request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body);
    if (!resp.ok()) return absl::UnavailableError(absl::StrCat("TokenReview: ", resp.status().message()));
    if (resp->status != 201 && resp->status != 200) {
      return absl::UnavailableError(absl::StrCat("TokenReview: HTTP ", resp->status, ": ", resp->body));
    }
    Struct result;
    if (!google::protobuf::util::JsonStringToMessage(resp->body, &result).ok()) {
      return absl::UnavailableError("TokenReview: bad JSON in the response");
    }
    const Value* authenticated = Path(result, {"status", "authenticated"});
    if (!authenticated || !authenticated->bool_value()) {
      const Value* error = Path(result, {"status", "error"});
      return absl::UnauthenticatedError(
          absl::StrCat("token rejected: ", error ? error->string_value() : "not authenticated"));
    }
    if (const Value* auds = Path(result, {"status", "audiences"}); auds && !audiences_.empty()) {
      bool match = false;
      for (const auto& a : auds->list_value().values()) {
        match = match || std::find(audiences_.begin(), audiences_.end(), a.string_value()) != audiences_.end();
      }
      if (!match) return absl::UnauthenticatedError("token audience does not include the CA's audience");
    }
    const Value* username = Path(result, {"status", "user", "username"});
    std::vector<std::string> parts = absl::StrSplit(username ? username->string_value() : "", ':');
    if (parts.size() != 4 || parts[0] != "system" || parts[1] != "serviceaccount" || parts[2].empty() || parts[3].empty()) {
      return absl::UnauthenticatedError(
          absl::StrCat("\"", username ? username->string_value() : "", "\" is not a service account"));
    }
    return Caller{parts[2], parts[3]};
  }

  kube::KubeClient* const client_;
  const std::vector<std::string> audiences_;
  TokenCache cache_;
};

}  // namespace

std::string Caller::SpiffeId(const std::string& trust_domain) const {
  return absl::StrCat("spiffe://", trust_domain, "/ns/", ns, "/sa/", service_account);
}

AuthenticatorPtr MakeKubeJwtAuthenticator(kube::KubeClient* client, std::vector<std::string> audiences,
                                          TokenReviewCacheOptions cache) {
  return std::make_unique<KubeJwtAuthenticator>(client, std::move(audiences), cache);
}

}  // namespace keel::citadel::server

namespace keel::citadel::server {
namespace {
class RejectingAuthenticator final : public Authenticator {
 public:
  explicit RejectingAuthenticator(std::string reason) : reason_(std::move(reason)) {}
  absl::StatusOr<Caller> Authenticate(const std::multimap<std::string, std::string>&) override {
    return absl::UnauthenticatedError(reason_);
  }
 private:
  const std::string reason_;
};
}  // namespace

AuthenticatorPtr MakeRejectingAuthenticator(std::string reason) {
  return std::make_unique<RejectingAuthenticator>(std::move(reason));
}
}  // namespace keel::citadel::server
