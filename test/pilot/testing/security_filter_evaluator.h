// Envoy's HTTP and network security filters applied to a request as Envoy
// documents them, to judge what Keel generates by its effect:
//  - RBAC: filters in order; an ALLOW filter admits a request some policy
//    matches, a DENY filter refuses one some policy matches, LOG and shadow
//    rules decide nothing; a policy matches when one of its permissions and one
//    of its principals do; and/or/not/any as named; `authenticated` needs a peer
//    certificate, matched on its URI SAN; `metadata` reads jwt_authn's payload;
//  - jwt_authn: the requirement of its rule for "/" (provider_name,
//    allow_missing, requires_any, requires_all); a provider verifies a token of
//    its issuer whose key id its inline JWKS holds and whose audience it allows,
//    and writes the token's claims as the payload.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "envoy/config/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/http/jwt_authn/v3/config.pb.h"
#include "envoy/extensions/filters/http/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/network/rbac/v3/rbac.pb.h"
#include "pilot/networking/core/authz_builder.h"
#include "pilot/networking/core/well_known_names.h"
#include "re2/re2.h"

namespace keel::pilot::testing {

namespace rbac = ::envoy::config::rbac::v3;
namespace matcher = ::envoy::type::matcher::v3;
namespace jwt = ::envoy::extensions::filters::http::jwt_authn::v3;
using networking::AuthzFilters;
using networking::kHttpRbacFilter;
using networking::kJwtAuthnFilter;
using networking::kJwtPayloadMetadataKey;
using networking::kNetworkRbacFilter;

// A JWT claim: a string, or a list of strings.
struct Claim {
  std::vector<std::string> values;
  bool list = false;
};
inline Claim Str(const std::string& v) { return {{v}, false}; }
inline Claim List(std::vector<std::string> v) { return {std::move(v), true}; }

// A JWT in the request's "Authorization: Bearer" header: its issuer, the key
// id it was signed with ("verified" iff a provider's inline JWKS holds that
// kid: the evaluator does no cryptography), and its claims.
struct Token {
  std::string iss, kid;
  std::map<std::string, Claim> claims;  // "sub", "aud", ...
};

struct Request {
  std::string principal;  // the peer certificate's URI SAN; "" for plaintext
  std::optional<Token> token;
  // Set by the jwt_authn filter once a token verified: its payload (iss and claims).
  std::map<std::string, Claim> payload;
  std::string source_ip = "10.0.0.9";
  uint32_t port = 9080;
  std::map<std::string, std::string> headers = {{":method", "GET"}, {":path", "/"}, {":authority", "reviews"}};
};

inline Request From(const std::string& ns, const std::string& sa, const std::string& method = "GET",
             const std::string& path = "/") {
  Request r;
  r.principal = "spiffe://cluster.local/ns/" + ns + "/sa/" + sa;
  r.headers[":method"] = method;
  r.headers[":path"] = path;
  return r;
}

inline bool Lower(std::string* s) {
  for (auto& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return true;
}

inline bool StringMatches(const matcher::StringMatcher& m, std::string v) {
  std::string want;
  if (m.ignore_case()) Lower(&v);
  auto fold = [&](std::string w) { return m.ignore_case() && Lower(&w), w; };
  switch (m.match_pattern_case()) {
    case matcher::StringMatcher::kExact: return v == fold(m.exact());
    case matcher::StringMatcher::kPrefix: return v.rfind(fold(m.prefix()), 0) == 0;
    case matcher::StringMatcher::kSuffix:
      want = fold(m.suffix());
      return v.size() >= want.size() && v.compare(v.size() - want.size(), want.size(), want) == 0;
    case matcher::StringMatcher::kSafeRegex: return RE2::FullMatch(v, m.safe_regex().regex());
    case matcher::StringMatcher::kContains: return v.find(fold(m.contains())) != std::string::npos;
    default: ADD_FAILURE() << "unexpected matcher " << m.DebugString(); return false;
  }
}

inline bool HeaderMatches(const envoy::config::route::v3::HeaderMatcher& h, const Request& r) {
  auto it = r.headers.find(h.name());
  if (h.has_present_match()) return (it != r.headers.end()) == h.present_match();
  return it != r.headers.end() && StringMatches(h.string_match(), it->second);
}

inline bool CidrMatches(const envoy::config::core::v3::CidrRange& c, const std::string& ip) {
  // The tests use /32 and /8 on IPv4 only.
  const uint32_t len = c.prefix_len().value();
  auto bits = [](const std::string& a) {
    uint32_t out = 0, part = 0;
    for (char ch : a + ".") {
      if (ch == '.') {
        out = (out << 8) | part;
        part = 0;
      } else {
        part = part * 10 + (ch - '0');
      }
    }
    return out;
  };
  const uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
  return (bits(ip) & mask) == (bits(c.address_prefix()) & mask);
}

inline bool ValueMatches(const matcher::ValueMatcher& m, const Claim& c) {
  switch (m.match_pattern_case()) {
    case matcher::ValueMatcher::kStringMatch: return !c.list && StringMatches(m.string_match(), c.values[0]);
    case matcher::ValueMatcher::kListMatch:
      if (!c.list) return false;
      for (const auto& v : c.values) if (ValueMatches(m.list_match().one_of(), Str(v))) return true;
      return false;
    case matcher::ValueMatcher::kOrMatch:
      for (const auto& x : m.or_match().value_matchers()) if (ValueMatches(x, c)) return true;
      return false;
    default: ADD_FAILURE() << "unexpected value matcher " << m.DebugString(); return false;
  }
}

// Envoy's metadata matcher over jwt_authn's payload (one claim level, as the tests use).
inline bool MetadataMatches(const matcher::MetadataMatcher& m, const Request& r) {
  EXPECT_EQ(m.filter(), kJwtAuthnFilter);
  if (m.path_size() != 2 || m.path(0).key() != kJwtPayloadMetadataKey) {
    ADD_FAILURE() << "unexpected metadata path " << m.DebugString();
    return false;
  }
  auto it = r.payload.find(m.path(1).key());
  return it != r.payload.end() && ValueMatches(m.value(), it->second) != m.invert();
}

inline bool PermissionMatches(const rbac::Permission& p, const Request& r, bool http) {
  switch (p.rule_case()) {
    case rbac::Permission::kAny: return p.any();
    case rbac::Permission::kAndRules:
      for (const auto& x : p.and_rules().rules()) if (!PermissionMatches(x, r, http)) return false;
      return true;
    case rbac::Permission::kOrRules:
      for (const auto& x : p.or_rules().rules()) if (PermissionMatches(x, r, http)) return true;
      return false;
    case rbac::Permission::kNotRule: return !PermissionMatches(p.not_rule(), r, http);
    case rbac::Permission::kHeader: return http && HeaderMatches(p.header(), r);
    case rbac::Permission::kUrlPath: {
      if (!http) return false;
      std::string path = r.headers.at(":path");
      path = path.substr(0, path.find('?'));
      return StringMatches(p.url_path().path(), path);
    }
    case rbac::Permission::kDestinationPort: return p.destination_port() == r.port;
    default: ADD_FAILURE() << "unexpected permission " << p.DebugString(); return false;
  }
}

inline bool PrincipalMatches(const rbac::Principal& p, const Request& r, bool http) {
  switch (p.identifier_case()) {
    case rbac::Principal::kAny: return p.any();
    case rbac::Principal::kAndIds:
      for (const auto& x : p.and_ids().ids()) if (!PrincipalMatches(x, r, http)) return false;
      return true;
    case rbac::Principal::kOrIds:
      for (const auto& x : p.or_ids().ids()) if (PrincipalMatches(x, r, http)) return true;
      return false;
    case rbac::Principal::kNotId: return !PrincipalMatches(p.not_id(), r, http);
    case rbac::Principal::kAuthenticated:
      return !r.principal.empty() && (!p.authenticated().has_principal_name() ||
                                      StringMatches(p.authenticated().principal_name(), r.principal));
    case rbac::Principal::kDirectRemoteIp: return CidrMatches(p.direct_remote_ip(), r.source_ip);
    case rbac::Principal::kRemoteIp: return CidrMatches(p.remote_ip(), r.source_ip);
    case rbac::Principal::kHeader: return http && HeaderMatches(p.header(), r);
    case rbac::Principal::kMetadata: return http && MetadataMatches(p.metadata(), r);
    default: ADD_FAILURE() << "unexpected principal " << p.DebugString(); return false;
  }
}

// One filter's decision: true unless its enforced rules refuse the request.
inline bool RbacAllows(const rbac::RBAC& rules, const Request& r, bool http) {
  bool matched = false;
  for (const auto& [name, policy] : rules.policies()) {
    bool perm = false, prin = false;
    for (const auto& p : policy.permissions()) perm = perm || PermissionMatches(p, r, http);
    for (const auto& p : policy.principals()) prin = prin || PrincipalMatches(p, r, http);
    matched = matched || (perm && prin);
  }
  switch (rules.action()) {
    case rbac::RBAC::ALLOW: return matched;
    case rbac::RBAC::DENY: return !matched;
    default: return true;  // LOG
  }
}

enum class Decision { kAllowed, kUnauthorized /* 401: jwt_authn */, kForbidden /* 403: RBAC */ };

inline bool KeySetHoldsKid(const std::string& jwks, const std::string& kid) {
  return !kid.empty() && jwks.find("\"kid\": \"" + kid + "\"") != std::string::npos;
}

enum class JwtStatus { kOk, kMissed, kUnknownIssuer, kFailed };

// One provider on `r` (token in the default location only: Authorization: Bearer).
inline JwtStatus VerifyWith(const jwt::JwtProvider& p, Request* r) {
  if (!r->token) return JwtStatus::kMissed;
  if (r->token->iss != p.issuer()) return JwtStatus::kUnknownIssuer;
  if (!KeySetHoldsKid(p.local_jwks().inline_string(), r->token->kid)) return JwtStatus::kFailed;
  if (p.audiences_size() > 0) {
    auto aud = r->token->claims.find("aud");
    bool ok = false;
    for (const auto& want : p.audiences()) {
      if (aud != r->token->claims.end()) {
        for (const auto& v : aud->second.values) ok = ok || v == want;
      }
    }
    if (!ok) return JwtStatus::kFailed;
  }
  r->payload = r->token->claims;
  r->payload["iss"] = Str(r->token->iss);
  return JwtStatus::kOk;
}

// Envoy's JwtRequirement: provider_name verifies; allow_missing passes a missing
// token (or one of an issuer no provider names); requires_any passes if one
// child does; requires_all if every child does.
inline bool RequirementPasses(const jwt::JwtRequirement& q, const jwt::JwtAuthentication& config, Request* r) {
  switch (q.requires_type_case()) {
    case jwt::JwtRequirement::kProviderName:
      return VerifyWith(config.providers().at(q.provider_name()), r) == JwtStatus::kOk;
    case jwt::JwtRequirement::kAllowMissing: {
      if (!r->token) return true;
      for (const auto& [name, p] : config.providers()) if (p.issuer() == r->token->iss) return false;
      return true;
    }
    case jwt::JwtRequirement::kRequiresAny:
      for (const auto& x : q.requires_any().requirements()) if (RequirementPasses(x, config, r)) return true;
      return false;
    case jwt::JwtRequirement::kRequiresAll:
      for (const auto& x : q.requires_all().requirements()) if (!RequirementPasses(x, config, r)) return false;
      return true;
    default: ADD_FAILURE() << "unexpected requirement " << q.DebugString(); return false;
  }
}

// The HTTP filters in order: jwt_authn (its rule for "/"), then RBAC.
inline Decision HttpDecision(const AuthzFilters& f, Request r) {
  for (const auto& filter : f.http) {
    if (filter.name() == kJwtAuthnFilter) {
      jwt::JwtAuthentication config;
      EXPECT_TRUE(filter.typed_config().UnpackTo(&config));
      EXPECT_EQ(config.rules_size(), 1);
      EXPECT_EQ(config.rules(0).match().prefix(), "/");
      if (!RequirementPasses(config.rules(0).requires(), config, &r)) return Decision::kUnauthorized;
      continue;
    }
    envoy::extensions::filters::http::rbac::v3::RBAC config;
    EXPECT_EQ(filter.name(), kHttpRbacFilter);
    EXPECT_TRUE(filter.typed_config().UnpackTo(&config));
    if (config.has_rules() && !RbacAllows(config.rules(), r, /*http=*/true)) return Decision::kForbidden;
  }
  return Decision::kAllowed;
}

inline bool HttpAllowed(const AuthzFilters& f, const Request& r) { return HttpDecision(f, r) == Decision::kAllowed; }

inline bool TcpAllowed(const AuthzFilters& f, const Request& r) {
  for (const auto& filter : f.tcp) {
    envoy::extensions::filters::network::rbac::v3::RBAC config;
    EXPECT_EQ(filter.name(), kNetworkRbacFilter);
    EXPECT_TRUE(filter.typed_config().UnpackTo(&config));
    if (config.has_rules() && !RbacAllows(config.rules(), r, /*http=*/false)) return false;
  }
  return true;
}

}  // namespace keel::pilot::testing
