// Authenticator: who is calling the CA. KubeJwtAuthenticator checks the
// caller's Kubernetes service-account JWT (`authorization: Bearer <jwt>`) with
// the TokenReview API, as istiod's default authenticator does.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pkg/kube/kube_client.h"

namespace keel::citadel::server {

struct Caller {
  std::string ns;
  std::string service_account;
  // spiffe://TRUST_DOMAIN/ns/NS/sa/SA
  std::string SpiffeId(const std::string& trust_domain) const;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // `metadata` holds the request's headers (lower-case names).
  // Errors: Unauthenticated with the reason (no token, rejected, wrong audience,
  // not a service account); Unavailable when the reviewer cannot be reached.
  // May block (a call to the API server): run it off event-loop threads.
  virtual absl::StatusOr<Caller> Authenticate(const std::multimap<std::string, std::string>& metadata) = 0;
  // The caller, when it is known without blocking (a token accepted a moment
  // ago); nullopt otherwise (then Authenticate decides). Never blocks.
  virtual std::optional<Caller> Cached(const std::multimap<std::string, std::string>& /*metadata*/) {
    return std::nullopt;
  }
};

using AuthenticatorPtr = std::unique_ptr<Authenticator>;

// Positive TokenReview results are cached (see token_cache.h): `cache_ttl`
// (zero: no cache) for at most `cache_entries` tokens.
struct TokenReviewCacheOptions {
  absl::Duration ttl = absl::Seconds(5);
  size_t max_entries = 10000;
};

// `client` must outlive it. `audiences`: what the token must be issued for
// (istiod's default: istio-ca).
AuthenticatorPtr MakeKubeJwtAuthenticator(kube::KubeClient* client, std::vector<std::string> audiences,
                                          TokenReviewCacheOptions cache = {});

}  // namespace keel::citadel::server

namespace keel::citadel::server {
// An authenticator that rejects every caller with `reason` (a CA without a
// Kubernetes API server has no way to review tokens).
AuthenticatorPtr MakeRejectingAuthenticator(std::string reason);
}  // namespace keel::citadel::server
