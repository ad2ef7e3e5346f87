// JwksResolver against a real HTTP server on 127.0.0.1 (Keel's own), fetching
// with the real client keel-discovery uses (http::HttpGet).
#include "pilot/config/jwks_resolver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "pkg/http/http_get.h"
#include "pkg/http/http_server.h"

namespace keel::pilot::config {
namespace {

constexpr char kKeysV1[] = R"({"keys": [{"kty": "RSA", "kid": "v1", "e": "AQAB", "n": "abc"}]})";
constexpr char kKeysV2[] = R"({"keys": [{"kty": "RSA", "kid": "v2", "e": "AQAB", "n": "def"}]})";

class JwksServer {
 public:
  JwksServer() {
    server_ = *http::CreateHttpServer("127.0.0.1", 0);
    server_->Handle("/keys", [this](const http::HttpRequest&) {
      std::lock_guard<std::mutex> lock(mu_);
      ++fetches_;
      return http::HttpResponse{status_, "application/json", keys_};
    });
    server_->Handle("/.well-known/openid-configuration", [this](const http::HttpRequest&) {
      return http::HttpResponse{200, "application/json", absl::StrCat(R"({"jwks_uri": ")", Url("/keys"), R"("})")};
    });
    server_->Handle("/big", [](const http::HttpRequest&) {
      return http::HttpResponse{200, "application/json", absl::StrCat(R"({"keys": [], "pad": ")", std::string(5000, 'x'), "\"}")};
    });
    server_->Handle("/not-keys", [](const http::HttpRequest&) {
      return http::HttpResponse{200, "application/json", R"({"keys": "none"})"};
    });
    EXPECT_TRUE(server_->Start().ok());
  }
  ~JwksServer() { server_->Stop(); }

  std::string Url(const std::string& path) const { return absl::StrCat("http://127.0.0.1:", server_->port(), path); }
  void Serve(int status, const std::string& keys) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    keys_ = keys;
  }
  int fetches() {
    std::lock_guard<std::mutex> lock(mu_);
    return fetches_;
  }

 private:
  http::HttpServerPtr server_;
  std::mutex mu_;
  int status_ = 200;
  std::string keys_ = kKeysV1;
  int fetches_ = 0;
};

JwksFetch RealFetch() {
  return [](const std::string& url, absl::Duration timeout, size_t max_bytes) {
    return http::HttpGet(url, {timeout, max_bytes});
  };
}

struct Fixture {
  explicit Fixture(JwksResolverOptions options = {})
      : resolver(options, RealFetch(), [this] { ++changes; }) {}
  std::atomic<int> changes{0};
  JwksResolver resolver;
};

constexpr absl::Duration kTimeout = absl::Seconds(2);

TEST(JwksResolverTest, AFirstLookupFailsClosedThenTheFetchedSetIsServedAndAPushAskedFor) {
  JwksServer server;
  Fixture f;
  EXPECT_EQ(f.resolver.Lookup("https://issuer", server.Url("/keys"), kTimeout), model::kPublicOnlyJwks)
      << "never waits for the network";
  ASSERT_TRUE(f.resolver.WaitIdle(absl::Seconds(10)));
  EXPECT_EQ(f.changes.load(), 1);
  EXPECT_EQ(f.resolver.Lookup("https://issuer", server.Url("/keys"), kTimeout), kKeysV1);
  EXPECT_EQ(server.fetches(), 1) << "a held set is not fetched again before its refresh";
}

TEST(JwksResolverTest, ARefreshThatChangesTheSetAsksForAPushAndAFailedOneKeepsTheLastGoodSet) {
  JwksServer server;
  JwksResolverOptions options;
  options.refresh_interval = absl::Milliseconds(50);
  options.retry_interval = absl::Milliseconds(50);
  Fixture f(options);
  f.resolver.Lookup("https://issuer", server.Url("/keys"), kTimeout);
  for (int i = 0; i < 200 && f.changes.load() < 1; ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_EQ(f.changes.load(), 1);
  server.Serve(200, kKeysV2);
  for (int i = 0; i < 200 && f.changes.load() < 2; ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_EQ(f.changes.load(), 2);
  EXPECT_EQ(f.resolver.Lookup("https://issuer", server.Url("/keys"), kTimeout), kKeysV2);
  // The server fails: refetched (and failing) several times, the last good set stays, no push.
  server.Serve(500, "down");
  const int before = server.fetches();
  for (int i = 0; i < 200 && server.fetches() < before + 3; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_GE(server.fetches(), before + 3);
  EXPECT_EQ(f.resolver.Lookup("https://issuer", server.Url("/keys"), kTimeout), kKeysV2);
  EXPECT_EQ(f.changes.load(), 2);
}

TEST(JwksResolverTest, AnIssuerAloneIsResolvedByOpenIdDiscovery) {
  JwksServer server;
  Fixture f;
  const std::string issuer = server.Url("");
  f.resolver.Lookup(issuer, "", kTimeout);
  ASSERT_TRUE(f.resolver.WaitIdle(absl::Seconds(10)));
  EXPECT_EQ(f.resolver.Lookup(issuer, "", kTimeout), kKeysV1);
}

TEST(JwksResolverTest, WhatIsTooBigNotAKeySetOrUnreachableStaysPublicOnly) {
  JwksServer server;
  JwksResolverOptions options;
  options.max_document_bytes = 1000;
  Fixture f(options);
  const std::vector<std::string> uris = {server.Url("/big"), server.Url("/not-keys"), server.Url("/missing"),
                                         "http://127.0.0.1:1/keys"};
  for (const auto& uri : uris) f.resolver.Lookup("i", uri, kTimeout);
  ASSERT_TRUE(f.resolver.WaitIdle(absl::Seconds(20)));
  for (const auto& uri : uris) EXPECT_EQ(f.resolver.Lookup("i", uri, kTimeout), model::kPublicOnlyJwks) << uri;
  EXPECT_EQ(f.changes.load(), 0);
}

TEST(JwksResolverTest, AtMostMaxEntriesAreHeldTheLeastRecentlyUsedGoesFirst) {
  JwksServer server;
  JwksResolverOptions options;
  options.max_entries = 2;
  Fixture f(options);
  f.resolver.Lookup("a", server.Url("/keys"), kTimeout);
  absl::SleepFor(absl::Milliseconds(2));
  f.resolver.Lookup("b", server.Url("/keys"), kTimeout);
  ASSERT_TRUE(f.resolver.WaitIdle(absl::Seconds(10)));
  f.resolver.Lookup("a", server.Url("/keys"), kTimeout);  // "a" is now the more recent
  absl::SleepFor(absl::Milliseconds(2));
  f.resolver.Lookup("c", server.Url("/keys"), kTimeout);
  EXPECT_EQ(f.resolver.size(), 2u);
  ASSERT_TRUE(f.resolver.WaitIdle(absl::Seconds(10)));
  EXPECT_EQ(f.resolver.Lookup("a", server.Url("/keys"), kTimeout), kKeysV1) << "kept";
  EXPECT_EQ(f.resolver.Lookup("b", server.Url("/keys"), kTimeout), model::kPublicOnlyJwks) << "evicted: fetched anew";
}

}  // namespace
}  // namespace keel::pilot::config
