// AuthorizationPolicy on a sidecar's inbound chains, judged by what Envoy would
// decide (test/pilot/testing/security_filter_evaluator.h).
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
#include "test/pilot/testing/security_filter_evaluator.h"

namespace keel::pilot::networking {
namespace {

namespace rbac = ::envoy::config::rbac::v3;
namespace matcher = ::envoy::type::matcher::v3;
namespace hcm = ::envoy::extensions::filters::network::http_connection_manager::v3;
using ::keel::pilot::testing::BuildPush;
using ::testing::HasSubstr;
using ::keel::pilot::testing::From;
using ::keel::pilot::testing::HttpAllowed;
using ::keel::pilot::testing::Request;
using ::keel::pilot::testing::TcpAllowed;


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
  AuthzFilters f = For(Policy("by-account", "default",
                              "{rules: [{from: [{source: {serviceAccounts: [\"default/productpage\"]}}]}]}"));
  EXPECT_FALSE(HttpAllowed(f, From("default", "productpage")));
  EXPECT_THAT(f.notes, ::testing::Contains(HasSubstr("source.serviceAccount is not translated by Keel")));
  // DENY with one: that field is dropped, so the rest denies more (here: /admin for everyone).
  f = For(Policy("no-admin-by-account", "default", R"({action: DENY,
    rules: [{from: [{source: {notServiceAccounts: ["default/admin"]}}], to: [{operation: {paths: ["/admin"]}}]}]})"));
  EXPECT_FALSE(HttpAllowed(f, From("default", "admin", "GET", "/admin")));
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
      EXPECT_EQ(m.http_filters(0).name(), kMetadataExchangeFilter) << fc.name();  // istiod: before RBAC
      EXPECT_EQ(m.http_filters(1).name(), kHttpRbacFilter) << fc.name();
      ++http;
    } else {
      ASSERT_GE(fc.filters_size(), 3) << fc.name();
      EXPECT_EQ(fc.filters(0).name(), kMetadataExchangeFilter) << fc.name();
      EXPECT_EQ(fc.filters(1).name(), kNetworkRbacFilter) << fc.name();
      ++tcp;
    }
  }
  EXPECT_GT(http, 0);
  EXPECT_GT(tcp, 0);
}

}  // namespace
}  // namespace keel::pilot::networking
