// TokenCache: the identities of tokens the API server accepted a moment ago,
// so a caller's next call (a reconnecting proxy, a retrying CSR) costs no
// TokenReview. Positive results only: a rejected token is reviewed every time.
// Keyed by the token's SHA-256 (no token is kept). An entry lives until
// min(cached + ttl, the token's own exp claim); a revoked token (deleted
// ServiceAccount or bound object) is thus honoured at most `ttl` longer than
// the API server's own cache would. Bounded: at most `max_entries`; when full,
// expired entries are dropped and, if none were, nothing new is cached.
// Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "citadel/server/authenticator.h"

namespace keel::citadel::server {

class TokenCache {
 public:
  TokenCache(absl::Duration ttl, size_t max_entries) : ttl_(ttl), max_entries_(max_entries) {}

  std::optional<Caller> Get(const std::string& token, absl::Time now);
  void Put(const std::string& token, const Caller& caller, absl::Time now);
  size_t size() const;

 private:
  struct Entry {
    Caller caller;
    absl::Time expires;
  };
  const absl::Duration ttl_;
  const size_t max_entries_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);  // by SHA-256 of the token
};

// The `exp` claim of a JWT (not verified: only to shorten a cache entry), or
// nullopt when the token is not a JWT or has none.
std::optional<absl::Time> JwtExpiry(const std::string& token);

}  // namespace keel::citadel::server
