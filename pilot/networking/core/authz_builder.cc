#include "pilot/networking/core/authz_builder.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "envoy/config/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/http/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/network/rbac/v3/rbac.pb.h"
#include "pilot/networking/core/well_known_names.h"
#include "re2/re2.h"
#include "security/v1beta1/authorization_policy.pb.h"

namespace keel::pilot::networking {
namespace {

namespace rbac = ::envoy::config::rbac::v3;
namespace matcher = ::envoy::type::matcher::v3;
namespace hcm = ::envoy::extensions::filters::network::http_connection_manager::v3;
using AuthorizationPolicy = istio::security::v1beta1::AuthorizationPolicy;
using Status = absl::Status;

constexpr char kDryRunAnnotation[] = "istio.io/dry-run";
constexpr char kSpiffePrefix[] = "spiffe://";

// --- matchers, as istiod's pilot/pkg/security/authz/matcher -----------------

matcher::StringMatcher Regex(const std::string& regex) {
  matcher::StringMatcher m;
  m.mutable_safe_regex()->set_regex(regex);
  return m;
}

// StringMatcherWithPrefix: "*" any non-empty, "*x" suffix, "x*" prefix, else exact.
matcher::StringMatcher StringMatch(const std::string& v, const std::string& prefix = "") {
  matcher::StringMatcher m;
  if (v == "*") return Regex(".+");
  if (absl::StartsWith(v, "*")) {
    if (prefix.empty()) {
      m.set_suffix(v.substr(1));
    } else {
      return Regex(prefix + ".*" + RE2::QuoteMeta(v.substr(1)));
    }
  } else if (absl::EndsWith(v, "*")) {
    m.set_prefix(prefix + v.substr(0, v.size() - 1));
  } else {
    m.set_exact(prefix + v);
  }
  return m;
}

// HeaderMatcher / HostMatcher: "*" present, "*x" suffix, "x*" prefix, else exact.
envoy::config::route::v3::HeaderMatcher Header(const std::string& name, const std::string& v, bool ignore_case) {
  envoy::config::route::v3::HeaderMatcher h;
  h.set_name(name);
  if (v == "*") {
    h.set_present_match(true);
    return h;
  }
  auto* m = h.mutable_string_match();
  m->set_ignore_case(ignore_case);
  if (absl::StartsWith(v, "*")) {
    m->set_suffix(v.substr(1));
  } else if (absl::EndsWith(v, "*")) {
    m->set_prefix(v.substr(0, v.size() - 1));
  } else {
    m->set_exact(v);
  }
  return h;
}

absl::StatusOr<envoy::config::core::v3::CidrRange> Cidr(const std::string& v) {
  std::vector<std::string> parts = absl::StrSplit(v, '/');
  envoy::config::core::v3::CidrRange out;
  const bool v6 = absl::StrContains(parts[0], ':');
  int len = v6 ? 128 : 32;
  if (parts.size() > 2 || parts[0].empty() || (parts.size() == 2 && (!absl::SimpleAtoi(parts[1], &len) || len < 0 ||
                                                                      len > (v6 ? 128 : 32)))) {
    return absl::InvalidArgumentError(absl::StrCat("\"", v, "\" is not an IP or CIDR"));
  }
  out.set_address_prefix(parts[0]);
  out.mutable_prefix_len()->set_value(len);
  return out;
}

// --- request.auth.*: the payload jwt_authn verified, in its dynamic metadata --

matcher::ValueMatcher StringValue(const matcher::StringMatcher& m) {
  matcher::ValueMatcher v;
  *v.mutable_string_match() = m;
  return v;
}

// The claim at `path` under the payload is `value`; `list_too`: or a list holding
// it (istiod's MetadataListValueMatcher with extended JWT matching: "aud" and
// other claims may be a string or a list of strings).
rbac::Principal PayloadClaim(const std::vector<std::string>& path, const matcher::StringMatcher& value, bool list_too) {
  rbac::Principal p;
  auto* m = p.mutable_metadata();
  m->set_filter(kJwtAuthnFilter);
  m->add_path()->set_key(kJwtPayloadMetadataKey);
  for (const auto& k : path) m->add_path()->set_key(k);
  if (!list_too) {
    *m->mutable_value() = StringValue(value);
    return p;
  }
  auto* either = m->mutable_value()->mutable_or_match();
  *either->add_value_matchers()->mutable_list_match()->mutable_one_of() = StringValue(value);
  *either->add_value_matchers() = StringValue(value);
  return p;
}

rbac::Principal ClaimIs(const std::vector<std::string>& path, const std::string& value) {
  return PayloadClaim(path, StringMatch(value), /*list_too=*/true);
}

// istiod's requestPrincipalGenerator: "ISS/SUB" split at the last "/" (issuers
// are URLs); "*" any; "*x" and "x*" as suffix and prefix of the side they touch.
absl::StatusOr<rbac::Principal> RequestPrincipal(const std::string& value) {
  const size_t slash = value.rfind('/');
  const bool split = slash != std::string::npos;
  const std::string iss = split ? value.substr(0, slash) : value;
  const std::string sub = split ? value.substr(slash + 1) : "";
  const matcher::StringMatcher any = Regex(".+");
  matcher::StringMatcher match_iss, match_sub;
  auto exact = [](const std::string& v) { matcher::StringMatcher m; m.set_exact(v); return m; };
  if (value == "*") {
    match_iss = match_sub = any;
  } else if (absl::StartsWith(value, "*")) {
    if (split) {
      if (iss == "*") match_iss = any; else match_iss.set_suffix(iss.substr(1));
      match_sub = exact(sub);
    } else {
      match_iss = any;
      match_sub.set_suffix(value.substr(1));
    }
  } else if (absl::EndsWith(value, "*")) {
    if (split) {
      match_iss = exact(iss);
      if (sub == "*") match_sub = any; else match_sub.set_prefix(sub.substr(0, sub.size() - 1));
    } else {
      match_iss.set_prefix(value.substr(0, value.size() - 1));
      match_sub = any;
    }
  } else {
    match_iss = exact(iss);
    match_sub = exact(sub);
  }
  rbac::Principal p;
  *p.mutable_and_ids()->add_ids() = PayloadClaim({"iss"}, match_iss, /*list_too=*/false);
  *p.mutable_and_ids()->add_ids() = PayloadClaim({"sub"}, match_sub, /*list_too=*/false);
  return p;
}

// "[a][b]" -> {a, b}; "[a.b]" -> {a.b} (istiod's extractNameInNestedBrackets).
absl::StatusOr<std::vector<std::string>> NestedClaimNames(absl::string_view s) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin < s.size()) {
    const size_t end = s.find(']', begin);
    if (s[begin] != '[' || end == absl::string_view::npos || s.substr(begin + 1, end - begin - 1).find('[') != absl::string_view::npos) {
      out.clear();
      break;
    }
    out.emplace_back(s.substr(begin + 1, end - begin - 1));
    begin = end + 1;
  }
  if (!out.empty()) return out;
  if (s.size() < 2 || s.front() != '[' || s.back() != ']') {
    return absl::InvalidArgumentError(absl::StrCat("request.auth.claims", s, ": expecting [<NAME>]"));
  }
  return std::vector<std::string>{std::string(s.substr(1, s.size() - 2))};
}

// --- one field of a rule: values ORed, not-values NOTed --------------------

// A key's value as a permission or principal, or why it cannot apply.
using PermissionOf = std::function<absl::StatusOr<rbac::Permission>(const std::string& value)>;
using PrincipalOf = std::function<absl::StatusOr<rbac::Principal>(const std::string& value)>;

Status HttpOnly(const std::string& key, bool tcp) {
  return tcp ? absl::FailedPreconditionError(absl::StrCat(key, " is HTTP only (a TCP chain)")) : absl::OkStatus();
}
Status Untranslated(const std::string& key) {
  return absl::UnimplementedError(absl::StrCat(key, " is not translated by Keel"));
}

PermissionOf PermissionGenerator(const std::string& key, bool tcp) {
  if (key == "host" || key == "method" || key == "path") {
    if (Status st = HttpOnly(key == "host" ? "hosts" : key == "method" ? "methods" : "paths", tcp); !st.ok()) {
      return [st](const std::string&) -> absl::StatusOr<rbac::Permission> { return st; };
    }
  }
  if (key == "host") {
    return [](const std::string& v) -> absl::StatusOr<rbac::Permission> {
      rbac::Permission p;
      *p.mutable_header() = Header(":authority", v, /*ignore_case=*/true);
      return p;
    };
  }
  if (key == "method") {
    return [](const std::string& v) -> absl::StatusOr<rbac::Permission> {
      rbac::Permission p;
      *p.mutable_header() = Header(":method", v, false);
      return p;
    };
  }
  if (key == "path") {
    return [](const std::string& v) -> absl::StatusOr<rbac::Permission> {
      rbac::Permission p;
      *p.mutable_url_path()->mutable_path() = StringMatch(v);
      return p;
    };
  }
  if (key == "destination.port") {
    return [](const std::string& v) -> absl::StatusOr<rbac::Permission> {
      int port = 0;
      if (!absl::SimpleAtoi(v, &port) || port < 0 || port > 65535) {
        return absl::InvalidArgumentError(absl::StrCat("port \"", v, "\" is not a number 0..65535"));
      }
      rbac::Permission p;
      p.set_destination_port(port);
      return p;
    };
  }
  if (key == "destination.ip") {
    return [](const std::string& v) -> absl::StatusOr<rbac::Permission> {
      auto cidr = Cidr(v);
      if (!cidr.ok()) return cidr.status();
      rbac::Permission p;
      *p.mutable_destination_ip() = *cidr;
      return p;
    };
  }
  if (key == "connection.sni") {
    return [](const std::string& v) -> absl::StatusOr<rbac::Permission> {
      rbac::Permission p;
      *p.mutable_requested_server_name() = StringMatch(v);
      return p;
    };
  }
  return [key](const std::string&) -> absl::StatusOr<rbac::Permission> { return Untranslated(key); };
}

PrincipalOf PrincipalGenerator(const std::string& key, bool tcp) {
  if (key == "source.principal") {
    return [](const std::string& v) -> absl::StatusOr<rbac::Principal> {
      rbac::Principal p;
      *p.mutable_authenticated()->mutable_principal_name() = StringMatch(v, kSpiffePrefix);
      return p;
    };
  }
  if (key == "source.namespace") {
    return [](const std::string& v) -> absl::StatusOr<rbac::Principal> {
      std::vector<std::string> literal = absl::StrSplit(v, '*');
      for (auto& part : literal) part = RE2::QuoteMeta(part);
      rbac::Principal p;
      *p.mutable_authenticated()->mutable_principal_name() = Regex(absl::StrCat(".*/ns/", absl::StrJoin(literal, ".*"), "/.*"));
      return p;
    };
  }
  if (key == "source.ip" || key == "remote.ip") {
    const bool direct = key == "source.ip";
    return [direct](const std::string& v) -> absl::StatusOr<rbac::Principal> {
      auto cidr = Cidr(v);
      if (!cidr.ok()) return cidr.status();
      rbac::Principal p;
      *(direct ? p.mutable_direct_remote_ip() : p.mutable_remote_ip()) = *cidr;
      return p;
    };
  }
  if (absl::StartsWith(key, "request.auth.")) {
    if (Status st = HttpOnly(key, tcp); !st.ok()) {
      return [st](const std::string&) -> absl::StatusOr<rbac::Principal> { return st; };
    }
    if (key == "request.auth.principal") return RequestPrincipal;
    std::vector<std::string> claim_path;
    if (key == "request.auth.audiences") claim_path = {"aud"};
    if (key == "request.auth.presenter") claim_path = {"azp"};
    if (absl::StartsWith(key, "request.auth.claims")) {
      auto claims = NestedClaimNames(key.substr(strlen("request.auth.claims")));
      if (!claims.ok()) {
        return [st = claims.status()](const std::string&) -> absl::StatusOr<rbac::Principal> { return st; };
      }
      claim_path = *std::move(claims);
    }
    if (!claim_path.empty()) {
      return [claim_path](const std::string& v) -> absl::StatusOr<rbac::Principal> { return ClaimIs(claim_path, v); };
    }
  }
  if (absl::StartsWith(key, "request.headers[") && absl::EndsWith(key, "]") && key.size() > 17) {
    if (Status st = HttpOnly(key, tcp); !st.ok()) {
      return [st](const std::string&) -> absl::StatusOr<rbac::Principal> { return st; };
    }
    const std::string name = key.substr(16, key.size() - 17);
    return [name](const std::string& v) -> absl::StatusOr<rbac::Principal> {
      rbac::Principal p;
      *p.mutable_header() = Header(name, v, false);
      return p;
    };
  }
  return [key](const std::string&) -> absl::StatusOr<rbac::Principal> { return Untranslated(key); };
}

// What the `when` keys are: a permission (destination side) or a principal (source side).
bool IsPermissionKey(const std::string& key) {
  return key == "destination.ip" || key == "destination.port" || key == "connection.sni" ||
         absl::StartsWith(key, "experimental.envoy.filters.");
}

struct Field {
  std::string key;
  std::vector<std::string> values, not_values;
};

// Appends the field's conditions to `and_list`. A value that cannot apply is an
// error when `strict` (ALLOW: the caller drops the whole rule), else it is left
// out (DENY, AUDIT: the field, and so the rule, matches more), noted in `notes`.
template <typename Message, typename Gen, typename AddOr, typename SetNot>
Status AppendField(const Field& f, Gen gen, bool strict, std::vector<Message>* and_list,
                   std::vector<std::string>* notes, AddOr add_or, SetNot set_not) {
  auto collect = [&](const std::vector<std::string>& values, std::vector<Message>* out) -> Status {
    for (const auto& v : values) {
      auto m = gen(v);
      if (!m.ok()) {
        if (strict) return m.status();
        notes->push_back(absl::StrCat(m.status().message(), ": ignored (matches more)"));
        continue;
      }
      out->push_back(*std::move(m));
    }
    return absl::OkStatus();
  };
  std::vector<Message> any_of, none_of;
  if (Status st = collect(f.values, &any_of); !st.ok()) return st;
  if (Status st = collect(f.not_values, &none_of); !st.ok()) return st;
  if (!any_of.empty()) and_list->push_back(add_or(any_of));
  if (!none_of.empty()) and_list->push_back(set_not(add_or(none_of)));
  return absl::OkStatus();
}

// The RBAC message a rule's fields make, by side: permissions (destination)
// and principals (source) are built alike from their own generators and set
// operations.
struct PermissionSide {
  using Message = rbac::Permission;
  static PermissionOf Generator(const std::string& key, bool tcp) { return PermissionGenerator(key, tcp); }
  static Message Or(const std::vector<Message>& list) {
    Message m;
    for (const auto& x : list) *m.mutable_or_rules()->add_rules() = x;
    return m;
  }
  static Message Not(const Message& x) {
    Message m;
    *m.mutable_not_rule() = x;
    return m;
  }
  static Message And(std::vector<Message> list) {
    Message m;
    auto* rules = m.mutable_and_rules();
    if (list.empty()) rules->add_rules()->set_any(true);
    for (auto& x : list) *rules->add_rules() = std::move(x);
    return m;
  }
};

struct PrincipalSide {
  using Message = rbac::Principal;
  static PrincipalOf Generator(const std::string& key, bool tcp) { return PrincipalGenerator(key, tcp); }
  static Message Or(const std::vector<Message>& list) {
    Message m;
    for (const auto& x : list) *m.mutable_or_ids()->add_ids() = x;
    return m;
  }
  static Message Not(const Message& x) {
    Message m;
    *m.mutable_not_id() = x;
    return m;
  }
  static Message And(std::vector<Message> list) {
    Message m;
    auto* ids = m.mutable_and_ids();
    if (list.empty()) ids->add_ids()->set_any(true);
    for (auto& x : list) *ids->add_ids() = std::move(x);
    return m;
  }
};

// istiod's generatePermission / generatePrincipal: the AND of `fields` (any if none).
template <typename Side>
absl::StatusOr<typename Side::Message> AndOfFields(const std::vector<Field>& fields, bool tcp, bool strict,
                                                   std::vector<std::string>* notes) {
  std::vector<typename Side::Message> and_list;
  for (const auto& f : fields) {
    if (Status st = AppendField(f, Side::Generator(f.key, tcp), strict, &and_list, notes, Side::Or, Side::Not);
        !st.ok()) {
      return st;
    }
  }
  return Side::And(std::move(and_list));
}

std::vector<std::string> Strings(const google::protobuf::RepeatedPtrField<std::string>& r) { return {r.begin(), r.end()}; }

void AddIfSet(std::vector<Field>* fields, const std::string& key, const google::protobuf::RepeatedPtrField<std::string>& v,
              const google::protobuf::RepeatedPtrField<std::string>& not_v) {
  if (v.empty() && not_v.empty()) return;
  fields->push_back({key, Strings(v), Strings(not_v)});
}

// istiod's Model.Generate for one rule: a Policy, or an error (the rule is skipped).
absl::StatusOr<rbac::Policy> PolicyOfRule(const istio::security::v1beta1::Rule& rule, bool tcp, bool strict,
                                          std::vector<std::string>* notes) {
  std::vector<Field> base_permission, base_principal;
  for (const auto& when : rule.when()) {
    (IsPermissionKey(when.key()) ? base_permission : base_principal)
        .push_back({when.key(), Strings(when.values()), Strings(when.not_values())});
  }
  rbac::Policy policy;
  // One principal per `from` (one for none), one permission per `to`, each with the `when` side appended.
  auto add = [&](auto side, std::vector<Field> fields, const std::vector<Field>& base, auto* out) -> Status {
    fields.insert(fields.end(), base.begin(), base.end());
    auto m = AndOfFields<decltype(side)>(fields, tcp, strict, notes);
    if (!m.ok()) return m.status();
    *out->Add() = *std::move(m);
    return absl::OkStatus();
  };
  for (const auto& from : rule.from()) {
    const auto& s = from.source();
    std::vector<Field> fields;
    AddIfSet(&fields, "source.principal", s.principals(), s.not_principals());
    AddIfSet(&fields, "request.auth.principal", s.request_principals(), s.not_request_principals());
    AddIfSet(&fields, "source.serviceAccount", s.service_accounts(), s.not_service_accounts());
    AddIfSet(&fields, "source.trustDomain", s.trust_domains(), s.not_trust_domains());
    AddIfSet(&fields, "source.namespace", s.namespaces(), s.not_namespaces());
    AddIfSet(&fields, "remote.ip", s.remote_ip_blocks(), s.not_remote_ip_blocks());
    AddIfSet(&fields, "source.ip", s.ip_blocks(), s.not_ip_blocks());
    if (Status st = add(PrincipalSide{}, std::move(fields), base_principal, policy.mutable_principals()); !st.ok()) {
      return st;
    }
  }
  if (rule.from().empty()) {
    if (Status st = add(PrincipalSide{}, {}, base_principal, policy.mutable_principals()); !st.ok()) return st;
  }
  for (const auto& to : rule.to()) {
    const auto& o = to.operation();
    std::vector<Field> fields;
    AddIfSet(&fields, "host", o.hosts(), o.not_hosts());
    AddIfSet(&fields, "method", o.methods(), o.not_methods());
    AddIfSet(&fields, "path", o.paths(), o.not_paths());
    AddIfSet(&fields, "destination.port", o.ports(), o.not_ports());
    if (Status st = add(PermissionSide{}, std::move(fields), base_permission, policy.mutable_permissions()); !st.ok()) {
      return st;
    }
  }
  if (rule.to().empty()) {
    if (Status st = add(PermissionSide{}, {}, base_permission, policy.mutable_permissions()); !st.ok()) return st;
  }
  return policy;
}

rbac::Policy MatchNever() {
  rbac::Policy p;
  p.add_permissions()->mutable_not_rule()->set_any(true);
  p.add_principals()->mutable_not_id()->set_any(true);
  return p;
}

bool DryRun(const model::Config& c) {
  auto it = c.meta.annotations.find(kDryRunAnnotation);
  return it != c.meta.annotations.end() && (it->second == "true" || it->second == "True" || it->second == "1");
}

struct Built {
  std::optional<rbac::RBAC> rules, shadow;
};

// istiod's Builder.build for one action's policies.
Built BuildAction(const std::vector<model::ConfigPtr>& policies, rbac::RBAC::Action action, bool tcp,
                  std::vector<std::string>* notes) {
  Built out;
  if (policies.empty()) return out;
  for (const auto& c : policies) {
    rbac::RBAC& into = DryRun(*c) ? (out.shadow ? *out.shadow : out.shadow.emplace()) : (out.rules ? *out.rules : out.rules.emplace());
    into.set_action(action);
    const auto& spec = c->As<AuthorizationPolicy>();
    const std::string prefix = absl::StrCat("ns[", c->key.ns, "]-policy[", c->key.name, "]-rule[");
    for (int i = 0; i < spec.rules_size(); ++i) {
      std::vector<std::string> why;
      auto policy = PolicyOfRule(spec.rules(i), tcp, /*strict=*/action == rbac::RBAC::ALLOW, &why);
      for (const auto& w : why) notes->push_back(absl::StrCat(c->key.ns, "/", c->key.name, " rule ", i, ": ", w));
      if (!policy.ok()) {
        notes->push_back(absl::StrCat(c->key.ns, "/", c->key.name, " rule ", i, " skipped on ", tcp ? "TCP" : "HTTP",
                                      " chains: ", policy.status().message()));
        continue;
      }
      (*into.mutable_policies())[absl::StrCat(prefix, i, "]")] = *std::move(policy);
    }
    if (spec.rules().empty()) (*into.mutable_policies())[absl::StrCat(prefix, "0]")] = MatchNever();
  }
  return out;
}

const char* ShadowPrefix(const std::optional<rbac::RBAC>& shadow) {
  // istiod sets the prefix even without shadow rules (an ALLOW action's).
  if (!shadow) return "istio_dry_run_allow_";
  return shadow->action() == rbac::RBAC::ALLOW ? "istio_dry_run_allow_"
         : shadow->action() == rbac::RBAC::DENY ? "istio_dry_run_deny_" : "";
}

}  // namespace

AuthzFilters BuildAuthzFilters(const model::WorkloadAuthorizationPolicies& policies,
                               const std::optional<hcm::HttpFilter>& jwt_authn) {
  AuthzFilters out;
  if (policies.empty()) {
    if (jwt_authn) out.http.push_back(*jwt_authn);
    return out;
  }
  // CUSTOM first: without an ext_authz provider its rules deny (istiod's
  // getBadCustomDenyRules); then AUDIT (LOG), DENY, ALLOW.
  const std::pair<const std::vector<model::ConfigPtr>*, rbac::RBAC::Action> order[] = {
      {&policies.custom, rbac::RBAC::DENY},
      {&policies.audit, rbac::RBAC::LOG},
      {&policies.deny, rbac::RBAC::DENY},
      {&policies.allow, rbac::RBAC::ALLOW}};
  for (const auto& c : policies.custom) {
    out.notes.push_back(absl::StrCat(c->key.ns, "/", c->key.name,
                                     ": CUSTOM needs an ext_authz provider, which Keel does not support: its rules deny"));
  }
  for (const auto& [list, action] : order) {
    // istiod: CUSTOM's ext_authz, then authentication (jwt_authn), then the rest of authorization.
    if (list == &policies.audit && jwt_authn) out.http.push_back(*jwt_authn);
    std::vector<std::string> http_notes;
    Built http = BuildAction(*list, action, /*tcp=*/false, &http_notes);
    if (http.rules || http.shadow) {
      envoy::extensions::filters::http::rbac::v3::RBAC config;
      if (http.rules) *config.mutable_rules() = *http.rules;
      if (http.shadow) *config.mutable_shadow_rules() = *http.shadow;
      config.set_shadow_rules_stat_prefix(ShadowPrefix(http.shadow));
      auto& f = out.http.emplace_back();
      f.set_name(kHttpRbacFilter);
      f.mutable_typed_config()->PackFrom(config);
    }
    Built tcp = BuildAction(*list, action, /*tcp=*/true, &out.notes);
    if (tcp.rules || tcp.shadow) {
      envoy::extensions::filters::network::rbac::v3::RBAC config;
      if (tcp.rules) *config.mutable_rules() = *tcp.rules;
      if (tcp.shadow) *config.mutable_shadow_rules() = *tcp.shadow;
      config.set_stat_prefix("tcp.");
      config.set_shadow_rules_stat_prefix(ShadowPrefix(tcp.shadow));
      auto& f = out.tcp.emplace_back();
      f.set_name(kNetworkRbacFilter);
      f.mutable_typed_config()->PackFrom(config);
    }
    // The HTTP notes that the TCP build does not repeat (it notes more: HTTP-only fields).
    for (auto& n : http_notes) {
      if (std::find(out.notes.begin(), out.notes.end(), n) == out.notes.end()) out.notes.push_back(std::move(n));
    }
  }
  return out;
}

}  // namespace keel::pilot::networking
