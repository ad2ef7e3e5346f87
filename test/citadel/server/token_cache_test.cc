// TokenCache: positive TokenReview results for a short while, never past the
// token's own exp, bounded in size; JwtExpiry reads exp from real-shaped JWTs.
#include "citadel/server/token_cache.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace keel::citadel::server {
namespace {

std::string Jwt(const std::string& claims_json) {
  return absl::StrCat(absl::WebSafeBase64Escape(R"({"alg":"RS256","kid":"k"})"), ".",
                      absl::WebSafeBase64Escape(claims_json), ".c2lnbmF0dXJl");
}

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

TEST(TokenCache, RemembersACallerForTheTtl) {
  TokenCache cache(absl::Seconds(5), 100);
  const std::string token = Jwt(R"({"sub":"system:serviceaccount:ns:a","exp":1900000000})");
  EXPECT_FALSE(cache.Get(token, kNow));
  cache.Put(token, Caller{"ns", "a"}, kNow);
  auto hit = cache.Get(token, kNow + absl::Seconds(4));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->ns, "ns");
  EXPECT_EQ(hit->service_account, "a");
  EXPECT_FALSE(cache.Get(token + "x", kNow)) << "another token";
  EXPECT_FALSE(cache.Get(token, kNow + absl::Seconds(5))) << "expired";
  EXPECT_EQ(cache.size(), 0u) << "an expired entry is dropped when seen";
}

TEST(TokenCache, NeverPastTheTokensExp) {
  TokenCache cache(absl::Minutes(1), 100);
  const std::string soon = Jwt(absl::StrCat(R"({"exp":)", absl::ToUnixSeconds(kNow) + 2, "}"));
  cache.Put(soon, Caller{"ns", "a"}, kNow);
  EXPECT_TRUE(cache.Get(soon, kNow + absl::Seconds(1)));
  EXPECT_FALSE(cache.Get(soon, kNow + absl::Seconds(2)));
  const std::string expired = Jwt(absl::StrCat(R"({"exp":)", absl::ToUnixSeconds(kNow) - 1, "}"));
  cache.Put(expired, Caller{"ns", "a"}, kNow);
  EXPECT_FALSE(cache.Get(expired, kNow));
  // Not a JWT (a legacy or opaque token): the TTL alone.
  cache.Put("opaque", Caller{"ns", "b"}, kNow);
  EXPECT_TRUE(cache.Get("opaque", kNow + absl::Seconds(59)));
}

TEST(TokenCache, BoundedAndOffWithZeroTtl) {
  TokenCache cache(absl::Seconds(5), 3);
  for (int i = 0; i < 10; ++i) cache.Put(absl::StrCat("t", i), Caller{"ns", "a"}, kNow);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_TRUE(cache.Get("t2", kNow));
  EXPECT_FALSE(cache.Get("t3", kNow)) << "full: not cached";
  // Once the old entries expire, new ones get their places.
  cache.Put("late", Caller{"ns", "a"}, kNow + absl::Seconds(6));
  EXPECT_TRUE(cache.Get("late", kNow + absl::Seconds(6)));
  EXPECT_EQ(cache.size(), 1u);

  TokenCache off(absl::ZeroDuration(), 100);
  off.Put("t", Caller{"ns", "a"}, kNow);
  EXPECT_FALSE(off.Get("t", kNow));
}

TEST(JwtExpiry, ReadsExpOrNothing) {
  EXPECT_EQ(JwtExpiry(Jwt(R"({"exp":1900000000})")), absl::FromUnixSeconds(1900000000));
  EXPECT_FALSE(JwtExpiry(Jwt(R"({"sub":"x"})")));
  EXPECT_FALSE(JwtExpiry(Jwt(R"({"exp":"soon"})")));
  EXPECT_FALSE(JwtExpiry(Jwt("not json")));
  EXPECT_FALSE(JwtExpiry("garbage"));
  EXPECT_FALSE(JwtExpiry("a.b.c.d"));
  EXPECT_FALSE(JwtExpiry("a.!!!.c"));
}

}  // namespace
}  // namespace keel::citadel::server
