#include "pilot/config/jwks_resolver.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pkg/log/log_limiter.h"
#include "pkg/metrics/registry.h"

namespace keel::pilot::config {
namespace {

// https://openid.net/specs/openid-connect-discovery-1_0.html: the issuer's configuration.
constexpr char kOpenIdConfigurationPath[] = "/.well-known/openid-configuration";

void CountFetch(bool ok) {
  static metrics::Counter& success = metrics::DefaultRegistry().GetCounter(
      "pilot_jwks_resolver_network_fetch_success_total",
      "Key sets (and OpenID configurations) of RequestAuthentication rules fetched.");
  static metrics::Counter& fail = metrics::DefaultRegistry().GetCounter(
      "pilot_jwks_resolver_network_fetch_fail_total",
      "Fetches of RequestAuthentication key sets (or OpenID configurations) that failed.");
  (ok ? success : fail).Inc();
}

absl::StatusOr<std::string> JwksUriOf(const std::string& openid_configuration) {
  google::protobuf::Value doc;
  auto parsed = google::protobuf::util::JsonStringToMessage(openid_configuration, &doc);
  if (!parsed.ok() || !doc.has_struct_value()) return absl::InvalidArgumentError("the OpenID configuration is not a JSON object");
  auto it = doc.struct_value().fields().find("jwks_uri");
  if (it == doc.struct_value().fields().end() || !it->second.has_string_value()) {
    return absl::InvalidArgumentError("the OpenID configuration has no \"jwks_uri\"");
  }
  return it->second.string_value();
}

}  // namespace

JwksResolver::JwksResolver(JwksResolverOptions options, JwksFetch fetch, std::function<void()> on_change)
    : options_(options), fetch_(std::move(fetch)), on_change_(std::move(on_change)) {
  fetcher_ = std::thread([this] { Run(); });
}

JwksResolver::~JwksResolver() { Stop(); }

void JwksResolver::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  wake_.SignalAll();
  if (fetcher_.joinable()) fetcher_.join();
}

std::string JwksResolver::Lookup(const std::string& issuer, const std::string& jwks_uri, absl::Duration timeout) const {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = entries_.try_emplace(Key{issuer, jwks_uri});
  it->second.last_used = now;
  it->second.timeout = timeout;
  if (!inserted) return it->second.jwks.empty() ? model::kPublicOnlyJwks : it->second.jwks;
  it->second.next_fetch = now;
  EvictLocked(now);
  wake_.Signal();
  return model::kPublicOnlyJwks;
}

size_t JwksResolver::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

bool JwksResolver::WaitIdle(absl::Duration limit) const {
  const absl::Time deadline = absl::Now() + limit;
  absl::MutexLock lock(&mu_);
  while (true) {
    bool due = fetching_;
    const absl::Time now = absl::Now();
    for (const auto& [key, e] : entries_) due = due || e.next_fetch <= now;
    if (!due) return true;
    if (now >= deadline) return false;
    mu_.Unlock();
    absl::SleepFor(absl::Milliseconds(10));
    mu_.Lock();
  }
}

void JwksResolver::EvictLocked(absl::Time now) const {
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = now - it->second.last_used > options_.evict_unused_after ? entries_.erase(it) : std::next(it);
  }
  while (entries_.size() > options_.max_entries) {
    auto oldest = entries_.begin();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    }
    entries_.erase(oldest);
  }
}

absl::StatusOr<std::string> JwksResolver::Fetch(const Key& key, absl::Duration timeout) const {
  std::string uri = key.jwks_uri;
  if (uri.empty()) {
    std::string issuer = key.issuer;
    while (absl::EndsWith(issuer, "/")) issuer.pop_back();
    auto config = fetch_(issuer + kOpenIdConfigurationPath, timeout, options_.max_document_bytes);
    CountFetch(config.ok());
    if (!config.ok()) return config.status();
    auto found = JwksUriOf(*config);
    if (!found.ok()) return found.status();
    uri = *std::move(found);
  }
  if (auto st = model::CheckJwksUri(uri); !st.ok()) return st;
  auto jwks = fetch_(uri, timeout, options_.max_document_bytes);
  if (jwks.ok()) {
    if (auto st = model::CheckJwks(*jwks); !st.ok()) jwks = absl::InvalidArgumentError(absl::StrCat(uri, ": ", st.message()));
  }
  CountFetch(jwks.ok());
  return jwks;
}

void JwksResolver::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const absl::Time now = absl::Now();
    EvictLocked(now);
    auto due = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (due == entries_.end() || it->second.next_fetch < due->second.next_fetch) due = it;
    }
    if (due == entries_.end() || due->second.next_fetch > now) {
      // Nothing due: sleep until the next one is, a new key arrives, or we stop.
      const absl::Time until = due == entries_.end() ? now + absl::Minutes(1) : due->second.next_fetch;
      wake_.WaitWithDeadline(&mu_, until);
      continue;
    }
    const Key key = due->first;
    const absl::Duration timeout = due->second.timeout;
    due->second.next_fetch = now + options_.retry_interval;  // unless the fetch succeeds
    fetching_ = true;
    mu_.Unlock();
    auto jwks = Fetch(key, timeout);
    mu_.Lock();
    fetching_ = false;
    bool changed = false;
    auto it = entries_.find(key);
    if (!jwks.ok()) {
      KEEL_WARN_LIMITED("RequestAuthentication key set of issuer \"{}\" ({}): {}; {}", key.issuer,
                        key.jwks_uri.empty() ? "OpenID discovery" : key.jwks_uri, std::string(jwks.status().message()),
                        it != entries_.end() && !it->second.jwks.empty() ? "the last fetched set is kept"
                                                                          : "tokens of this issuer are refused");
    } else if (it != entries_.end()) {
      changed = it->second.jwks != *jwks;
      it->second.jwks = *std::move(jwks);
      it->second.next_fetch = absl::Now() + options_.refresh_interval;
    }
    if (changed && on_change_ && !stopping_) {
      mu_.Unlock();
      on_change_();
      mu_.Lock();
    }
  }
}

}  // namespace keel::pilot::config
