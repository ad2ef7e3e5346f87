// Authenticator: who is calling the CA. KubeJwtAuthenticator checks the
// caller's Kubernetes service-account JWT (`authorization: Bearer <jwt>`) with
// the TokenReview API, as istiod's default authenticator does.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
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
  virtual absl::StatusOr<Caller> Authenticate(const std::multimap<std::string, std::string>& metadata) = 0;
};

using AuthenticatorPtr = std::unique_ptr<Authenticator>;

// `client` must outlive it. `audiences`: what the token must be issued for
// (istiod's default: istio-ca).
AuthenticatorPtr MakeKubeJwtAuthenticator(kube::KubeClient* client, std::vector<std::string> audiences);

}  // namespace keel::citadel::server

namespace keel::citadel::server {
// An authenticator that rejects every caller with `reason` (a CA without a
// Kubernetes API server has no way to review tokens).
AuthenticatorPtr MakeRejectingAuthenticator(std::string reason);
}  // namespace keel::citadel::server
