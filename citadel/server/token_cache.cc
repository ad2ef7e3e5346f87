#include "citadel/server/token_cache.h"

#include <cmath>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/evp.h>

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"

namespace keel::citadel::server {
namespace {

std::string Sha256(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(digest), len);
}

}  // namespace

std::optional<absl::Time> JwtExpiry(const std::string& token) {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3 || parts[1].size() > 64 * 1024) return std::nullopt;
  std::string payload;
  if (!absl::WebSafeBase64Unescape(parts[1], &payload)) return std::nullopt;
  google::protobuf::Struct claims;
  if (!google::protobuf::util::JsonStringToMessage(payload, &claims).ok()) return std::nullopt;
  auto it = claims.fields().find("exp");
  if (it == claims.fields().end() || !it->second.has_number_value()) return std::nullopt;
  const double exp = it->second.number_value();
  if (!std::isfinite(exp) || exp < 0 || exp > 1e15) return std::nullopt;  // not a time: do not cache
  return absl::FromUnixSeconds(static_cast<int64_t>(exp));
}

std::optional<Caller> TokenCache::Get(const std::string& token, absl::Time now) {
  const std::string key = Sha256(token);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.caller;
}

void TokenCache::Put(const std::string& token, const Caller& caller, absl::Time now) {
  if (ttl_ <= absl::ZeroDuration() || max_entries_ == 0) return;
  absl::Time expires = now + ttl_;
  if (auto exp = JwtExpiry(token); exp && *exp < expires) expires = *exp;
  if (expires <= now) return;
  const std::string key = Sha256(token);
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() >= max_entries_ && !entries_.count(key)) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
    }
    if (entries_.size() >= max_entries_) return;
  }
  entries_[key] = Entry{caller, expires};
}

size_t TokenCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace keel::citadel::server
