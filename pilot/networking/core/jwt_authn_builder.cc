#include "pilot/networking/core/jwt_authn_builder.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "envoy/extensions/filters/http/jwt_authn/v3/config.pb.h"
#include "pilot/networking/core/well_known_names.h"
#include "security/v1beta1/request_authentication.pb.h"

namespace keel::pilot::networking {
namespace {

namespace jwt = ::envoy::extensions::filters::http::jwt_authn::v3;
using JwtRule = istio::security::v1beta1::JWTRule;
using RequestAuthentication = istio::security::v1beta1::RequestAuthentication;

constexpr absl::Duration kDefaultFetchTimeout = absl::Seconds(5);  // istiod's, when the rule sets none

std::string KeysOf(const JwtRule& rule, const model::JwksSource* jwks) {
  if (!rule.jwks().empty()) return rule.jwks();
  if (!jwks) return model::kPublicOnlyJwks;
  absl::Duration timeout = kDefaultFetchTimeout;
  if (rule.has_timeout()) timeout = absl::Seconds(rule.timeout().seconds()) + absl::Nanoseconds(rule.timeout().nanos());
  return jwks->Lookup(rule.issuer(), rule.jwks_uri(), timeout);
}

jwt::JwtProvider Provider(const JwtRule& rule, const model::JwksSource* jwks, bool clear_route_cache) {
  jwt::JwtProvider p;
  p.set_issuer(rule.issuer());
  *p.mutable_audiences() = rule.audiences();
  p.set_forward(rule.forward_original_token());
  p.set_forward_payload_header(rule.output_payload_to_header());
  p.set_payload_in_metadata(kJwtPayloadMetadataKey);
  // istiod's buildSpaceDelimitedClaims: "permission" and "scope" always, sorted, each once.
  std::set<std::string> claims(rule.space_delimited_claims().begin(), rule.space_delimited_claims().end());
  claims.insert({"permission", "scope"});
  for (const auto& c : claims) p.mutable_normalize_payload_in_metadata()->add_space_delimited_claims(c);
  p.set_clear_route_cache(clear_route_cache);
  for (const auto& ch : rule.output_claim_to_headers()) {
    auto* out = p.add_claim_to_headers();
    out->set_header_name(ch.header());
    out->set_claim_name(ch.claim());
  }
  for (const auto& h : rule.from_headers()) {
    auto* out = p.add_from_headers();
    out->set_name(h.name());
    out->set_value_prefix(h.prefix());
  }
  *p.mutable_from_params() = rule.from_params();
  *p.mutable_from_cookies() = rule.from_cookies();
  p.mutable_local_jwks()->set_inline_string(KeysOf(rule, jwks));
  return p;
}

jwt::JwtRequirement ProviderName(const std::string& name) {
  jwt::JwtRequirement r;
  r.set_provider_name(name);
  return r;
}

}  // namespace

std::optional<envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter> BuildJwtAuthnFilter(
    const std::vector<model::ConfigPtr>& request_authentications, const model::JwksSource* jwks,
    bool clear_route_cache) {
  std::vector<const JwtRule*> rules;
  for (const auto& c : request_authentications) {
    for (const auto& r : c->As<RequestAuthentication>().jwt_rules()) rules.push_back(&r);
  }
  if (rules.empty()) return std::nullopt;
  std::stable_sort(rules.begin(), rules.end(), [](const JwtRule* a, const JwtRule* b) { return a->issuer() < b->issuer(); });

  jwt::JwtAuthentication config;
  std::vector<jwt::JwtRequirement> each_or_missing;  // {Pi OR allow_missing}
  jwt::JwtRequirement any_of;                       // P1 OR P2 ... (OR the AND of each_or_missing)
  for (size_t i = 0; i < rules.size(); ++i) {
    const std::string name = absl::StrCat("origins-", i);
    (*config.mutable_providers())[name] = Provider(*rules[i], jwks, clear_route_cache);
    auto& one = each_or_missing.emplace_back();
    auto* either = one.mutable_requires_any();
    *either->add_requirements() = ProviderName(name);
    either->add_requirements()->mutable_allow_missing();
    *any_of.mutable_requires_any()->add_requirements() = ProviderName(name);
  }
  auto* rule = config.add_rules();
  rule->mutable_match()->set_prefix("/");
  if (each_or_missing.size() == 1) {
    *rule->mutable_requires() = std::move(each_or_missing[0]);
  } else {
    // The outer OR admits tokens of providers sharing a location, which the AND alone would refuse.
    auto* all = any_of.mutable_requires_any()->add_requirements()->mutable_requires_all();
    for (auto& r : each_or_missing) *all->add_requirements() = std::move(r);
    *rule->mutable_requires() = std::move(any_of);
  }
  config.set_bypass_cors_preflight(true);

  envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter filter;
  filter.set_name(kJwtAuthnFilter);
  filter.mutable_typed_config()->PackFrom(config);
  return filter;
}

}  // namespace keel::pilot::networking
