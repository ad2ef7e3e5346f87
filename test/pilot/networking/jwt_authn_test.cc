// RequestAuthentication -> jwt_authn: the filter in istiod's shape, and what it
// does with AuthorizationPolicy's request.auth.* once Envoy runs both
// (test/pilot/testing/security_filter_evaluator.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "envoy/extensions/filters/http/jwt_authn/v3/config.pb.h"
#include "envoy/extensions/filters/http/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "pilot/config/config_parser.h"
#include "pilot/networking/core/jwt_authn_builder.h"
#include "pilot/networking/core/security_filters.h"
#include "pilot/networking/core/well_known_names.h"
#include "pilot/networking/sidecar/listener_builder.h"
#include "pilot/networking/sidecar/proxy_instances.h"
#include "pkg/yaml/yaml_json.h"
#include "test/pilot/testing/configs.h"
#include "test/pilot/testing/security_filter_evaluator.h"

namespace keel::pilot::networking {
namespace {

namespace jwt = ::envoy::extensions::filters::http::jwt_authn::v3;
namespace hcm = ::envoy::extensions::filters::network::http_connection_manager::v3;
using ::keel::pilot::testing::BuildPush;
using ::keel::pilot::testing::Claim;
using ::keel::pilot::testing::Decision;
using ::keel::pilot::testing::HttpDecision;
using ::keel::pilot::testing::List;
using ::keel::pilot::testing::Request;
using ::keel::pilot::testing::Str;
using ::keel::pilot::testing::Token;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kIssuer[] = "https://issuer.example.com";
constexpr char kKeys[] = R"({"keys": [{"kty": "RSA", "kid": "k1", "e": "AQAB", "n": "xyz"}]})";

std::string RequestAuthentication(const std::string& name, const std::string& ns, const std::string& spec) {
  return "---\napiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec: " + spec + "\n";
}
std::string AuthorizationPolicy(const std::string& name, const std::string& spec) {
  return "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name +
         ", namespace: default}\nspec: " + spec + "\n";
}
std::string RuleWithKeys(const std::string& issuer, const std::string& extra = "") {
  return "{issuer: \"" + issuer + "\", jwks: '" + kKeys + "'" + extra + "}";
}

model::Proxy Reviews() {
  model::Proxy p;
  p.id = "sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local";
  p.ip = "10.0.0.1";
  p.ns = "default";
  p.labels = {{"app", "reviews"}, {"version", "v1"}};
  return p;
}

AuthzFilters For(const std::string& yaml, const model::Proxy& proxy = Reviews()) {
  return BuildSecurityFilters(proxy, *BuildPush(yaml));
}

jwt::JwtAuthentication JwtConfigOf(const AuthzFilters& f) {
  for (const auto& filter : f.http) {
    if (filter.name() != kJwtAuthnFilter) continue;
    jwt::JwtAuthentication config;
    EXPECT_TRUE(filter.typed_config().UnpackTo(&config));
    return config;
  }
  ADD_FAILURE() << "no jwt_authn filter";
  return {};
}

Request WithToken(const std::string& kid, const std::string& sub, std::map<std::string, Claim> claims = {},
                  const std::string& iss = kIssuer) {
  Request r;
  r.token = Token{iss, kid, std::move(claims)};
  r.token->claims["sub"] = Str(sub);
  return r;
}

TEST(JwtAuthnTest, OneRuleIsIstiodsShape) {
  const AuthzFilters f = For(RequestAuthentication("jwt", "default", R"({selector: {matchLabels: {app: reviews}},
    jwtRules: [{issuer: "https://issuer.example.com", jwks: '{"keys": []}', audiences: [bookinfo],
                fromHeaders: [{name: x-jwt, prefix: "Bearer "}], fromParams: [token], fromCookies: [session],
                outputPayloadToHeader: x-payload, forwardOriginalToken: true,
                outputClaimToHeaders: [{header: x-sub, claim: sub}], spaceDelimitedClaims: [roles, scope]}]})"));
  ASSERT_EQ(f.http.size(), 1u);
  const jwt::JwtAuthentication config = JwtConfigOf(f);
  ASSERT_EQ(config.providers_size(), 1);
  const jwt::JwtProvider& p = config.providers().at("origins-0");
  EXPECT_EQ(p.issuer(), kIssuer);
  EXPECT_THAT(p.audiences(), ElementsAre("bookinfo"));
  EXPECT_EQ(p.local_jwks().inline_string(), R"({"keys": []})");
  ASSERT_EQ(p.from_headers_size(), 1);
  EXPECT_EQ(p.from_headers(0).name(), "x-jwt");
  EXPECT_EQ(p.from_headers(0).value_prefix(), "Bearer ");
  EXPECT_THAT(p.from_params(), ElementsAre("token"));
  EXPECT_THAT(p.from_cookies(), ElementsAre("session"));
  EXPECT_EQ(p.forward_payload_header(), "x-payload");
  EXPECT_TRUE(p.forward());
  EXPECT_EQ(p.payload_in_metadata(), "payload");
  EXPECT_THAT(p.normalize_payload_in_metadata().space_delimited_claims(), ElementsAre("permission", "roles", "scope"));
  ASSERT_EQ(p.claim_to_headers_size(), 1);
  EXPECT_EQ(p.claim_to_headers(0).header_name(), "x-sub");
  EXPECT_FALSE(p.clear_route_cache()) << "istiod clears it on routers only";
  ASSERT_EQ(config.rules_size(), 1);
  EXPECT_EQ(config.rules(0).match().prefix(), "/");
  const auto& any = config.rules(0).requires().requires_any().requirements();
  ASSERT_EQ(any.size(), 2);
  EXPECT_EQ(any[0].provider_name(), "origins-0");
  EXPECT_TRUE(any[1].has_allow_missing());
  EXPECT_TRUE(config.bypass_cors_preflight());
}

TEST(JwtAuthnTest, ATokenMustVerifyAndAuthorizationDecidesWhatItMayDo) {
  const AuthzFilters f = For(RequestAuthentication("jwt", "default", "{jwtRules: [" + RuleWithKeys(kIssuer) + "]}") +
                             AuthorizationPolicy("users-only", R"({rules: [{
    from: [{source: {requestPrincipals: ["https://issuer.example.com/*"]}}],
    when: [{key: "request.auth.claims[groups]", values: [readers]}]}]})"));
  ASSERT_EQ(f.http.size(), 2u);
  EXPECT_EQ(f.http[0].name(), kJwtAuthnFilter) << "authentication before authorization";
  EXPECT_EQ(HttpDecision(f, Request{}), Decision::kForbidden) << "no token: no principal, the ALLOW refuses";
  EXPECT_EQ(HttpDecision(f, WithToken("k1", "alice", {{"groups", List({"dev", "readers"})}})), Decision::kAllowed);
  EXPECT_EQ(HttpDecision(f, WithToken("k1", "alice", {{"groups", Str("readers")}})), Decision::kAllowed)
      << "a claim may be a string or a list";
  EXPECT_EQ(HttpDecision(f, WithToken("k1", "alice", {{"groups", List({"dev"})}})), Decision::kForbidden);
  EXPECT_EQ(HttpDecision(f, WithToken("k2", "alice", {{"groups", List({"readers"})}})), Decision::kUnauthorized)
      << "signed with a key the set does not hold";
}

TEST(JwtAuthnTest, RequestPrincipalsMatchIssuerAndSubjectAsIstiod) {
  const std::string ra = RequestAuthentication("jwt", "default", "{jwtRules: [" + RuleWithKeys(kIssuer) + "]}");
  auto decide = [&](const std::string& principals, const Request& r) {
    return HttpDecision(For(ra + AuthorizationPolicy("p", "{rules: [{from: [{source: {requestPrincipals: [" +
                                                              principals + "]}}]}]}")),
                        r);
  };
  const Request alice = WithToken("k1", "alice");
  EXPECT_EQ(decide("\"https://issuer.example.com/alice\"", alice), Decision::kAllowed);
  EXPECT_EQ(decide("\"https://issuer.example.com/bob\"", alice), Decision::kForbidden);
  EXPECT_EQ(decide("\"*\"", alice), Decision::kAllowed);
  EXPECT_EQ(decide("\"*/alice\"", alice), Decision::kAllowed);
  EXPECT_EQ(decide("\"https://issuer.example.com/al*\"", alice), Decision::kAllowed);
  EXPECT_EQ(decide("\"https://other.example.com/*\"", alice), Decision::kForbidden);
  EXPECT_EQ(decide("\"*\"", Request{}), Decision::kForbidden);
  // notRequestPrincipals ["*"] in a DENY: refuses requests without a token.
  const AuthzFilters deny = For(ra + AuthorizationPolicy("need-jwt", R"({action: DENY,
    rules: [{from: [{source: {notRequestPrincipals: ["*"]}}]}]})"));
  EXPECT_EQ(HttpDecision(deny, Request{}), Decision::kForbidden);
  EXPECT_EQ(HttpDecision(deny, alice), Decision::kAllowed);
}

TEST(JwtAuthnTest, AudiencesAndPresenterMatchTheirClaims) {
  const AuthzFilters f = For(RequestAuthentication("jwt", "default", "{jwtRules: [" + RuleWithKeys(kIssuer) + "]}") +
                             AuthorizationPolicy("aud", R"({rules: [{when: [
    {key: request.auth.audiences, values: [bookinfo]}, {key: request.auth.presenter, values: ["web*"]}]}]})"));
  EXPECT_EQ(HttpDecision(f, WithToken("k1", "a", {{"aud", List({"x", "bookinfo"})}, {"azp", Str("webapp")}})),
            Decision::kAllowed);
  EXPECT_EQ(HttpDecision(f, WithToken("k1", "a", {{"aud", Str("bookinfo")}, {"azp", Str("cli")}})),
            Decision::kForbidden);
  EXPECT_EQ(HttpDecision(f, WithToken("k1", "a", {{"aud", Str("other")}, {"azp", Str("webapp")}})),
            Decision::kForbidden);
}

TEST(JwtAuthnTest, NestedClaimsNameTheirPathUnderThePayload) {
  const AuthzFilters f = For(AuthorizationPolicy("nested", R"({rules: [{when: [
    {key: "request.auth.claims[realm_access][roles]", values: [admin]},
    {key: "request.auth.claims[groups.all]", values: [dev]}]}]})"));
  ASSERT_EQ(f.http.size(), 1u);
  envoy::extensions::filters::http::rbac::v3::RBAC config;
  ASSERT_TRUE(f.http[0].typed_config().UnpackTo(&config));
  std::vector<std::vector<std::string>> paths;
  for (const auto& id : config.rules().policies().at("ns[default]-policy[nested]-rule[0]").principals(0).and_ids().ids()) {
    const auto& m = id.or_ids().ids(0).metadata();  // one value: an OR of one
    EXPECT_EQ(m.filter(), kJwtAuthnFilter);
    std::vector<std::string> path;
    for (const auto& seg : m.path()) path.push_back(seg.key());
    paths.push_back(path);
  }
  EXPECT_THAT(paths, ::testing::ElementsAre(std::vector<std::string>{"payload", "realm_access", "roles"},
                                            std::vector<std::string>{"payload", "groups.all"}));
}

TEST(JwtAuthnTest, SeveralRulesSortByIssuerAndATokenOfEitherVerifies) {
  const AuthzFilters f = For(RequestAuthentication("b", "default", "{jwtRules: [" + RuleWithKeys("https://z.example") + "]}") +
                             RequestAuthentication("mesh", "istio-system", "{jwtRules: [" + RuleWithKeys("https://a.example") + "]}"));
  const jwt::JwtAuthentication config = JwtConfigOf(f);
  ASSERT_EQ(config.providers_size(), 2);
  EXPECT_EQ(config.providers().at("origins-0").issuer(), "https://a.example");
  EXPECT_EQ(config.providers().at("origins-1").issuer(), "https://z.example");
  // istiod's shape: P0 OR P1 OR AND{P0 OR allow_missing, P1 OR allow_missing}.
  const auto& any = config.rules(0).requires().requires_any().requirements();
  ASSERT_EQ(any.size(), 3);
  EXPECT_EQ(any[0].provider_name(), "origins-0");
  EXPECT_EQ(any[1].provider_name(), "origins-1");
  EXPECT_EQ(any[2].requires_all().requirements_size(), 2);
  EXPECT_EQ(HttpDecision(f, Request{}), Decision::kAllowed) << "no token: passes authentication";
  EXPECT_EQ(HttpDecision(f, WithToken("k1", "s", {}, "https://a.example")), Decision::kAllowed);
  EXPECT_EQ(HttpDecision(f, WithToken("k1", "s", {}, "https://z.example")), Decision::kAllowed);
  EXPECT_EQ(HttpDecision(f, WithToken("bad", "s", {}, "https://z.example")), Decision::kUnauthorized);
}

TEST(JwtAuthnTest, KeysNamedByUriWithNothingFetchedRefuseEveryToken) {
  // No JwksSource (no fetch): istiod's public-only set, which no token verifies against.
  const AuthzFilters f = For(RequestAuthentication(
      "jwt", "default", R"({jwtRules: [{issuer: "https://issuer.example.com", jwksUri: "https://issuer.example.com/keys"}]})"));
  EXPECT_EQ(JwtConfigOf(f).providers().at("origins-0").local_jwks().inline_string(), model::kPublicOnlyJwks);
  EXPECT_EQ(HttpDecision(f, WithToken("k1", "alice")), Decision::kUnauthorized);
  EXPECT_EQ(HttpDecision(f, Request{}), Decision::kAllowed);
}

TEST(JwtAuthnTest, OrderIsCustomThenAuthenticationThenTheRestAsIstiod) {
  const AuthzFilters f = For(RequestAuthentication("jwt", "default", "{jwtRules: [" + RuleWithKeys(kIssuer) + "]}") +
                             AuthorizationPolicy("ext", "{action: CUSTOM, provider: {name: opa}, rules: [{}]}") +
                             AuthorizationPolicy("deny", "{action: DENY, rules: [{to: [{operation: {paths: [/x]}}]}]}"));
  ASSERT_EQ(f.http.size(), 3u);
  EXPECT_EQ(f.http[0].name(), kHttpRbacFilter);
  EXPECT_EQ(f.http[1].name(), kJwtAuthnFilter);
  EXPECT_EQ(f.http[2].name(), kHttpRbacFilter);
  EXPECT_EQ(f.tcp.size(), 2u) << "TCP chains get the RBAC filters only";
}

TEST(JwtAuthnTest, SelectionIsIstiodsAndOnlyHttpChainsCarryIt) {
  const std::string ra = RequestAuthentication("jwt", "default", "{selector: {matchLabels: {app: ratings}}, jwtRules: [" +
                                                                     RuleWithKeys(kIssuer) + "]}");
  EXPECT_TRUE(For(ra).http.empty()) << "another workload's selector";
  EXPECT_TRUE(For(RequestAuthentication("jwt", "other", "{jwtRules: [" + RuleWithKeys(kIssuer) + "]}")).http.empty());
  EXPECT_EQ(For(RequestAuthentication("jwt", "istio-system", "{jwtRules: [" + RuleWithKeys(kIssuer) + "]}")).http.size(), 1u)
      << "mesh-wide in the root namespace";

  auto push = BuildPush(testing::ServiceYaml("reviews", 9080, "10.96.0.9") +
                        testing::PodYaml("reviews-v1", "reviews", "10.0.0.1", 9080) +
                        RequestAuthentication("jwt", "default", "{jwtRules: [" + RuleWithKeys(kIssuer) + "]}"));
  const model::Proxy proxy = Reviews();
  const auto l = sidecar::BuildVirtualInboundListener(proxy, *push, sidecar::ProxyServiceInstances(proxy, *push));
  int http = 0;
  for (const auto& fc : l.filter_chains()) {
    const auto& last = fc.filters(fc.filters_size() - 1);
    if (last.name() != kHttpConnectionManager) {
      // Istio's metadata exchange, then the proxy: no JWT filter on TCP.
      EXPECT_EQ(fc.filters_size(), 2) << fc.name() << ": no JWT filter on TCP";
      EXPECT_EQ(fc.filters(0).name(), kMetadataExchangeFilter) << fc.name();
      continue;
    }
    hcm::HttpConnectionManager m;
    ASSERT_TRUE(last.typed_config().UnpackTo(&m));
    EXPECT_EQ(m.http_filters(0).name(), kMetadataExchangeFilter) << fc.name();  // istiod: before authn
    EXPECT_EQ(m.http_filters(1).name(), kJwtAuthnFilter) << fc.name();
    ++http;
  }
  EXPECT_GT(http, 0);
}

TEST(JwtAuthnTest, RoutersClearTheRouteCache) {
  model::Proxy gateway;
  gateway.type = model::ProxyType::kRouter;
  gateway.id = "router~10.0.0.7~ingress.istio-system~istio-system.svc.cluster.local";
  gateway.ns = "istio-system";
  gateway.labels = {{"istio", "ingressgateway"}};
  const AuthzFilters f =
      For(RequestAuthentication("jwt", "istio-system", "{selector: {matchLabels: {istio: ingressgateway}}, jwtRules: [" +
                                                           RuleWithKeys(kIssuer) + "]}"),
          gateway);
  EXPECT_TRUE(JwtConfigOf(f).providers().at("origins-0").clear_route_cache());
}

TEST(JwtAuthnTest, ValidationNamesTheField) {
  // Ingestion (ParseConfig) validates: the error names the object and the field.
  auto check = [](const std::string& spec) -> absl::Status {
    auto docs = yaml::YamlToJson(RequestAuthentication("jwt", "default", spec));
    EXPECT_TRUE(docs.ok() && docs->size() == 1u);
    return config::ParseConfig((*docs)[0].json, "ra.yaml").status();
  };
  EXPECT_TRUE(check("{jwtRules: [" + RuleWithKeys(kIssuer) + "]}").ok());
  EXPECT_THAT(check("{jwtRules: [{audiences: [a]}]}").message(), HasSubstr("RequestAuthentication default/jwt: spec.jwtRules[0]: issuer or jwksUri"));
  EXPECT_THAT(check(R"({jwtRules: [{issuer: i, jwksUri: "ftp://x/keys"}]})").message(),
              HasSubstr("spec.jwtRules[0].jwksUri: \"ftp://x/keys\" is not an http or https URL"));
  EXPECT_THAT(check(R"({jwtRules: [{issuer: i, jwks: "{\"keys\": [{\"n\": 1}]}"}]})").message(),
              HasSubstr("spec.jwtRules[0].jwks: keys[0] has no \"kty\""));
  EXPECT_THAT(check(R"({jwtRules: [{issuer: i, jwks: "not json"}]})").message(), HasSubstr("spec.jwtRules[0].jwks: not JSON"));
  EXPECT_THAT(check(R"({jwtRules: [{issuer: i, fromHeaders: [{prefix: x}]}]})").message(),
              HasSubstr("spec.jwtRules[0].fromHeaders[0].name"));
  EXPECT_THAT(check(R"({jwtRules: [{issuer: i, outputClaimToHeaders: [{header: "bad header", claim: sub}]}]})").message(),
              HasSubstr("spec.jwtRules[0].outputClaimToHeaders[0].header"));
}

}  // namespace
}  // namespace keel::pilot::networking
