// Where a push finds the JSON Web Key Sets of RequestAuthentication rules that
// name a `jwksUri` (or only an `issuer`: OpenID discovery) instead of inline
// `jwks`. istiod fetches them itself and inlines them in the jwt_authn filter
// (PILOT_JWT_ENABLE_REMOTE_JWKS=false, its default); so does Keel
// (pilot/config/jwks_resolver.h is the implementation, held by MeshOptions).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace keel::pilot::model {

// A JWKS whose private key was never kept (istiod's PublicOnlyJwks): no token
// verifies against it. Served in place of a key set that is not fetched (yet),
// so a rule whose keys are unknown rejects every token instead of accepting any.
extern const char kPublicOnlyJwks[];

// OK when `json` is a JSON Web Key Set (an object whose "keys" is a list of
// keys) or one key (an object with "kty"), each key an object with a string
// "kty"; else InvalidArgument saying what is wrong. (istiod: jwk.Parse.)
absl::Status CheckJwks(absl::string_view json);

// OK when `uri` is an absolute http or https URL with a host (istiod:
// security.ParseJwksURI); else InvalidArgument.
absl::Status CheckJwksUri(absl::string_view uri);

class JwksSource {
 public:
  virtual ~JwksSource() = default;
  // The key set to inline for a rule: the last one fetched for (issuer,
  // jwks_uri), or kPublicOnlyJwks while none is. Thread-safe; never blocks on
  // the network (a first lookup starts a fetch, and the source asks for a push
  // when what it serves changes). `timeout` bounds each fetch for this rule.
  virtual std::string Lookup(const std::string& issuer, const std::string& jwks_uri,
                             absl::Duration timeout) const = 0;
};

}  // namespace keel::pilot::model
