// JwksResolver: the key sets of RequestAuthentication rules that name a
// jwksUri (or only an issuer), fetched by Keel and inlined in jwt_authn, as
// istiod's JwksResolver does in its default mode (PILOT_JWT_ENABLE_REMOTE_JWKS
// =false). Unlike istiod, a push never waits on the network: the first Lookup
// of a key set answers model::kPublicOnlyJwks (every token refused) and queues
// a fetch on the resolver's own thread; when the fetched set differs from what
// was served, `on_change` asks for a push.
//
// Bounded as istiod's: key sets are refetched every refresh_interval (a failed
// fetch keeps the last good set and is retried after retry_interval); a set
// not looked up for evict_unused_after is dropped; at most max_entries sets are
// held (the least recently looked up goes first); a document is at most
// max_document_bytes and must be a JWKS (model::CheckJwks), else the fetch
// fails. Counted in pilot_jwks_resolver_network_fetch_{success,fail}_total
// (istiod's names).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pilot/model/jwks.h"

namespace keel::pilot::config {

struct JwksResolverOptions {
  absl::Duration refresh_interval = absl::Minutes(20);      // --jwks-refresh-interval (istiod's default)
  absl::Duration retry_interval = absl::Minutes(1);         // after a failed fetch (istiod's)
  absl::Duration evict_unused_after = absl::Hours(24 * 7);  // istiod's JwtPubKeyEvictionDuration
  size_t max_entries = 1000;                                // --jwks-max-entries
  size_t max_document_bytes = 1 << 20;                      // per fetched document
};

// GETs `url` within `timeout`, answering the body of a 2xx response, at most
// `max_bytes` long (http::HttpGet in keel-discovery).
using JwksFetch =
    std::function<absl::StatusOr<std::string>(const std::string& url, absl::Duration timeout, size_t max_bytes)>;

class JwksResolver final : public model::JwksSource {
 public:
  // Starts the fetcher thread. `on_change` runs on it, without locks held.
  JwksResolver(JwksResolverOptions options, JwksFetch fetch, std::function<void()> on_change);
  ~JwksResolver() override;  // Stop()
  // Stops and joins the fetcher (an ongoing fetch ends within its timeout); no
  // fetch and no on_change after it returns. Lookup still answers what is held.
  // Idempotent.
  void Stop();

  std::string Lookup(const std::string& issuer, const std::string& jwks_uri, absl::Duration timeout) const override;

  size_t size() const;  // key sets held
  // Blocks until no fetch is due or running, at most `limit`; true if so (tests).
  bool WaitIdle(absl::Duration limit) const;

 private:
  struct Key {
    std::string issuer, jwks_uri;
    bool operator<(const Key& o) const { return std::tie(issuer, jwks_uri) < std::tie(o.issuer, o.jwks_uri); }
  };
  struct Entry {
    std::string jwks;  // the last good set; empty: none yet (kPublicOnlyJwks is served)
    absl::Time next_fetch;
    absl::Time last_used;
    absl::Duration timeout;
  };

  void Run();
  // The key set of `key`: jwks_uri, or the issuer's OpenID configuration's jwks_uri.
  absl::StatusOr<std::string> Fetch(const Key& key, absl::Duration timeout) const;
  void EvictLocked(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const JwksResolverOptions options_;
  const JwksFetch fetch_;
  const std::function<void()> on_change_;
  mutable absl::Mutex mu_;
  mutable absl::CondVar wake_;
  mutable std::map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
  mutable bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread fetcher_;
};

}  // namespace keel::pilot::config
