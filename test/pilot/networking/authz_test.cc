// AuthorizationPolicy on a sidecar's inbound chains, judged by what Envoy would
// decide: `Evaluate` applies the generated RBAC filters to a request as Envoy's
// RBAC filter documents it (filters in order; an ALLOW filter admits a request
// some policy matches, a DENY filter refuses one some policy matches, LOG and
// shadow rules decide nothing; a policy matches when one of its permissions and
// one of its principals do; and/or/not/any as named; `authenticated` needs a
// peer certificate, matched on its URI SAN).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "envoy/config/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/http/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/rbac/v3/rbac.pb.h"
#include "pilot/networking/core/authz_builder.h"
#include "pilot/networking/core/well_known_names.h"
#include "pilot/networking/sidecar/listener_builder.h"
#include "pilot/networking/sidecar/proxy_instances.h"
#include "re2/re2.h"
#include "test/pilot/testing/configs.h"

namespace keel::pilot::networking {
namespace {

namespace rbac = ::envoy::config::rbac::v3;
namespace matcher = ::envoy::type::matcher::v3;
namespace hcm = ::envoy::extensions::filters::network::http_connection_manager::v3;
using ::keel::pilot::testing::BuildPush;
using ::testing::HasSubstr;

struct Request {
  std::string principal;  // the peer certificate's URI SAN; "" for plaintext
  std::string source_ip = "10.0.0.9";
  uint32_t port = 9080;
  std::map<std::string, std::string> headers = {{":method", "GET"}, {":path", "/"}, {":authority", "reviews"}};
};

Request From(const std::string& ns, const std::string& sa, const std::string& method = "GET",
             const std::string& path = "/") {
  Request r;
  r.principal = "spiffe://cluster.local/ns/" + ns + "/sa/" + sa;
  r.headers[":method"] = method;
  r.headers[":path"] = path;
  return r;
}

bool Lower(std::string* s) {
  for (auto& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return true;
}

bool StringMatches(const matcher::StringMatcher& m, std::string v) {
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

bool HeaderMatches(const envoy::config::route::v3::HeaderMatcher& h, const Request& r) {
  auto it = r.headers.find(h.name());
  if (h.has_present_match()) return (it != r.headers.end()) == h.present_match();
  return it != r.headers.end() && StringMatches(h.string_match(), it->second);
}

bool CidrMatches(const envoy::config::core::v3::CidrRange& c, const std::string& ip) {
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

bool PermissionMatches(const rbac::Permission& p, const Request& r, bool http) {
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

bool PrincipalMatches(const rbac::Principal& p, const Request& r, bool http) {
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
    default: ADD_FAILURE() << "unexpected principal " << p.DebugString(); return false;
  }
}

// One filter's decision: true unless its enforced rules refuse the request.
bool RbacAllows(const rbac::RBAC& rules, const Request& r, bool http) {
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

bool HttpAllowed(const AuthzFilters& f, const Request& r) {
  for (const auto& filter : f.http) {
    envoy::extensions::filters::http::rbac::v3::RBAC config;
    EXPECT_EQ(filter.name(), kHttpRbacFilter);
    EXPECT_TRUE(filter.typed_config().UnpackTo(&config));
    if (config.has_rules() && !RbacAllows(config.rules(), r, /*http=*/true)) return false;
  }
  return true;
}

bool TcpAllowed(const AuthzFilters& f, const Request& r) {
  for (const auto& filter : f.tcp) {
    envoy::extensions::filters::network::rbac::v3::RBAC config;
    EXPECT_EQ(filter.name(), kNetworkRbacFilter);
    EXPECT_TRUE(filter.typed_config().UnpackTo(&config));
    if (config.has_rules() && !RbacAllows(config.rules(), r, /*http=*/false)) return false;
  }
  return true;
}

std::string Policy(const std::string& name, const std::string& ns, const std::string& spec,
                   const std::string& annotations = "{}") {
  return "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name +
         ", namespace: " + ns + ", annotations: " + annotations + "}\nspec: " + spec + "\n";
}

model::Proxy Reviews() {
  model::Proxy p;
  p.id = "sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local";
  p.ip = "10.0.0.1";
  p.ns = "default";
  p.pod_name = "reviews-v1";
  p.labels = {{"app", "reviews"}, {"version", "v1"}};
  return p;
}

AuthzFilters For(const std::string& yaml) {
  auto push = BuildPush(yaml);
  return BuildAuthzFilters(push->AuthorizationPoliciesFor(Reviews()));
}

TEST(AuthzTest, NoPolicyNoFilter) {
  const AuthzFilters f = For("");
  EXPECT_TRUE(f.http.empty());
  EXPECT_TRUE(f.tcp.empty());
}

TEST(AuthzTest, AllowAdmitsTheRightPrincipalMethodAndPathOnly) {
  const AuthzFilters f = For(Policy("reviews-viewer", "default", R"({selector: {matchLabels: {app: reviews}},
    action: ALLOW, rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/productpage]}}],
                           to: [{operation: {methods: [GET, HEAD], paths: ["/reviews/*"]}}]}]})"));
  ASSERT_EQ(f.http.size(), 1u);
  EXPECT_TRUE(HttpAllowed(f, From("default", "productpage", "GET", "/reviews/0?x=1")));
  EXPECT_TRUE(HttpAllowed(f, From("default", "productpage", "HEAD", "/reviews/1")));
  EXPECT_FALSE(HttpAllowed(f, From("default", "productpage", "POST", "/reviews/0")));
  EXPECT_FALSE(HttpAllowed(f, From("default", "productpage", "GET", "/ratings/0")));
  EXPECT_FALSE(HttpAllowed(f, From("default", "ratings", "GET", "/reviews/0")));
  Request plaintext;
  plaintext.headers[":path"] = "/reviews/0";
  EXPECT_FALSE(HttpAllowed(f, plaintext)) << "no peer certificate, no principal";
  // The policy as istiod names and shapes it.
  envoy::extensions::filters::http::rbac::v3::RBAC config;
  ASSERT_TRUE(f.http[0].typed_config().UnpackTo(&config));
  ASSERT_TRUE(config.rules().policies().contains("ns[default]-policy[reviews-viewer]-rule[0]"));
  const auto& principal = config.rules().policies().at("ns[default]-policy[reviews-viewer]-rule[0]").principals(0);
  EXPECT_EQ(principal.and_ids().ids(0).or_ids().ids(0).authenticated().principal_name().exact(),
            "spiffe://cluster.local/ns/default/sa/productpage");
  // On TCP chains the HTTP-only rule is dropped: the ALLOW filter admits nothing.
  ASSERT_EQ(f.tcp.size(), 1u);
  EXPECT_FALSE(TcpAllowed(f, From("default", "productpage")));
  EXPECT_THAT(f.notes, ::testing::Contains(HasSubstr("rule 0 skipped on TCP chains: methods is HTTP only")));
}

TEST(AuthzTest, DenyComesBeforeAllowAndBlocksItsMatches) {
  const AuthzFilters f = For(Policy("allow-all", "default", "{rules: [{}]}") +
                             Policy("no-admin-from-evil", "default", R"({action: DENY,
    rules: [{from: [{source: {namespaces: ["evil*"]}}], to: [{operation: {paths: ["/admin*"]}}]},
            {from: [{source: {ipBlocks: [192.168.0.0/16], notIpBlocks: [192.168.7.7]}}]}]})"));
  ASSERT_EQ(f.http.size(), 2u);
  envoy::extensions::filters::http::rbac::v3::RBAC first;
  ASSERT_TRUE(f.http[0].typed_config().UnpackTo(&first));
  EXPECT_EQ(first.rules().action(), rbac::RBAC::DENY) << "DENY before ALLOW, as istiod";
  EXPECT_FALSE(HttpAllowed(f, From("evil-corp", "x", "GET", "/admin/users")));
  EXPECT_TRUE(HttpAllowed(f, From("evil-corp", "x", "GET", "/products")));
  EXPECT_TRUE(HttpAllowed(f, From("default", "productpage", "GET", "/admin")));
  Request blocked = From("default", "productpage");
  blocked.source_ip = "192.168.1.1";
  EXPECT_FALSE(HttpAllowed(f, blocked));
  blocked.source_ip = "192.168.7.7";
  EXPECT_TRUE(HttpAllowed(f, blocked)) << "notIpBlocks carves it out";
}

TEST(AuthzTest, WhatKeelCannotApplyFailsClosed) {
  // ALLOW with a field Keel does not translate: the rule is dropped, nothing is admitted.
  AuthzFilters f = For(Policy("jwt-only", "default",
                              "{rules: [{from: [{source: {requestPrincipals: [\"issuer/*\"]}}]}]}"));
  EXPECT_FALSE(HttpAllowed(f, From("default", "productpage")));
  EXPECT_THAT(f.notes, ::testing::Contains(HasSubstr("request.auth.principal is not translated by Keel")));
  // DENY with one: that field is dropped, so the rest denies more (here: /admin for everyone).
  f = For(Policy("no-admin-without-jwt", "default", R"({action: DENY,
    rules: [{from: [{source: {notRequestPrincipals: ["*"]}}], to: [{operation: {paths: ["/admin"]}}]}]})"));
  EXPECT_FALSE(HttpAllowed(f, From("default", "productpage", "GET", "/admin")));
  EXPECT_TRUE(HttpAllowed(f, From("default", "productpage", "GET", "/")));
  // On TCP chains a DENY drops its HTTP-only fields: every connection the rest matches is refused.
  EXPECT_FALSE(TcpAllowed(f, From("default", "productpage")));
  // CUSTOM (ext_authz) is not supported: its rules deny.
  f = For(Policy("ext", "default", "{action: CUSTOM, provider: {name: opa}, rules: [{to: [{operation: {paths: [\"/x\"]}}]}]}"));
  EXPECT_FALSE(HttpAllowed(f, From("default", "productpage", "GET", "/x")));
  EXPECT_TRUE(HttpAllowed(f, From("default", "productpage", "GET", "/y")));
  // An ALLOW policy without rules matches nothing: deny all.
  f = For(Policy("deny-all", "default", "{}"));
  EXPECT_FALSE(HttpAllowed(f, From("default", "productpage")));
  EXPECT_FALSE(TcpAllowed(f, From("default", "productpage")));
}

TEST(AuthzTest, DryRunOnlyShadowsAndSelectionIsIstiods) {
  AuthzFilters f = For(Policy("deny-all", "default", "{}", "{istio.io/dry-run: \"true\"}"));
  ASSERT_EQ(f.http.size(), 1u);
  envoy::extensions::filters::http::rbac::v3::RBAC config;
  ASSERT_TRUE(f.http[0].typed_config().UnpackTo(&config));
  EXPECT_FALSE(config.has_rules());
  EXPECT_TRUE(config.has_shadow_rules());
  EXPECT_EQ(config.shadow_rules_stat_prefix(), "istio_dry_run_allow_");
  EXPECT_TRUE(HttpAllowed(f, From("default", "productpage")));
  // Not selected: another namespace, another workload's selector, a targetRef (gateways/waypoints).
  f = For(Policy("a", "other", "{}") + Policy("b", "default", "{selector: {matchLabels: {app: ratings}}}") +
          Policy("c", "default", "{targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]}"));
  EXPECT_TRUE(f.http.empty());
  // Selected: mesh-wide in the root namespace, and root-namespace selectors for any namespace.
  f = For(Policy("mesh", "istio-system", "{action: DENY, rules: [{to: [{operation: {ports: [\"9080\"]}}]}]}") +
          Policy("sel", "istio-system", "{selector: {matchLabels: {app: reviews}}}"));
  ASSERT_EQ(f.http.size(), 2u);
  EXPECT_FALSE(HttpAllowed(f, From("default", "productpage")));
}

TEST(AuthzTest, InboundChainsCarryTheFilters) {
  auto push = BuildPush(testing::ServiceYaml("reviews", 9080, "10.96.0.9") +
                        testing::PodYaml("reviews-v1", "reviews", "10.0.0.1", 9080) +
                        Policy("deny-evil", "default", "{action: DENY, rules: [{from: [{source: {namespaces: [evil]}}]}]}"));
  const model::Proxy proxy = Reviews();
  const auto l = sidecar::BuildVirtualInboundListener(proxy, *push, sidecar::ProxyServiceInstances(proxy, *push));
  int http = 0, tcp = 0;
  for (const auto& fc : l.filter_chains()) {
    if (fc.name() == "virtualInbound-blackhole") continue;
    const auto& last = fc.filters(fc.filters_size() - 1);
    if (last.name() == kHttpConnectionManager) {
      hcm::HttpConnectionManager m;
      ASSERT_TRUE(last.typed_config().UnpackTo(&m));
      EXPECT_EQ(m.http_filters(0).name(), kHttpRbacFilter) << fc.name();
      ++http;
    } else {
      ASSERT_GE(fc.filters_size(), 2) << fc.name();
      EXPECT_EQ(fc.filters(0).name(), kNetworkRbacFilter) << fc.name();
      ++tcp;
    }
  }
  EXPECT_GT(http, 0);
  EXPECT_GT(tcp, 0);
}

}  // namespace
}  // namespace keel::pilot::networking
