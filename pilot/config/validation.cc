#include "pilot/config/validation.h"

#include <re2/re2.h>

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

#include "absl/strings/str_cat.h"
#include <spdlog/spdlog.h>
#include "networking/v1alpha3/destination_rule.pb.h"
#include "networking/v1alpha3/gateway.pb.h"
#include "networking/v1alpha3/service_entry.pb.h"
#include "networking/v1alpha3/sidecar.pb.h"
#include "networking/v1alpha3/virtual_service.pb.h"
#include "pilot/model/jwks.h"
#include "pilot/model/protocol.h"
#include "security/v1beta1/request_authentication.pb.h"

namespace keel::pilot::config {
namespace {

namespace networking = ::istio::networking::v1alpha3;

absl::Status FieldError(const std::string& field, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

std::string Index(const std::string& field, int i) { return absl::StrCat(field, "[", i, "]"); }

absl::Status ValidateStringMatch(const networking::StringMatch& match, const std::string& field) {
  if (match.match_type_case() == networking::StringMatch::kRegex) {
    if (auto st = ValidateRegex(match.regex()); !st.ok()) {
      return FieldError(absl::StrCat(field, ".regex"), std::string(st.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDestination(const networking::Destination& dest, const std::string& field) {
  if (dest.host().empty()) return FieldError(absl::StrCat(field, ".host"), "host is required");
  if (dest.has_port() && (dest.port().number() == 0 || dest.port().number() > 65535)) {
    return FieldError(absl::StrCat(field, ".port.number"), "port must be 1-65535");
  }
  return absl::OkStatus();
}

template <typename Destinations>
absl::Status ValidateWeights(const Destinations& routes, const std::string& field) {
  int64_t total = 0;
  for (int i = 0; i < routes.size(); ++i) {
    if (routes[i].weight() < 0) {
      return FieldError(absl::StrCat(Index(field, i), ".weight"), "weight must not be negative");
    }
    total += routes[i].weight();
  }
  // istiod's validateHTTPRouteDestinations: weights are relative (Envoy sums them),
  // so only several destinations that all weigh 0 are an error.
  if (routes.size() > 1 && total == 0) {
    return FieldError(field, "total destination weight = 0");
  }
  return absl::OkStatus();
}

absl::Status ValidateHttpMatch(const networking::HTTPMatchRequest& match, const std::string& field) {
  for (const auto* m : {&match.uri(), &match.scheme(), &match.method(), &match.authority()}) {
    if (auto st = ValidateStringMatch(*m, field); !st.ok()) return st;
  }
  for (const auto* headers : {&match.headers(), &match.without_headers(), &match.query_params()}) {
    for (const auto& [name, m] : *headers) {
      if (name.empty()) return FieldError(field, "header and query parameter names must not be empty");
      if (auto st = ValidateStringMatch(m, absl::StrCat(field, "[", name, "]")); !st.ok()) return st;
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateVirtualService(const networking::VirtualService& vs) {
  const bool delegate = vs.hosts().empty();
  for (int i = 0; i < vs.hosts().size(); ++i) {
    if (vs.hosts(i).empty()) return FieldError(Index("spec.hosts", i), "host must not be empty");
  }
  if (delegate && vs.gateways().size() > 0) {
    return FieldError("spec.gateways", "a delegate VirtualService (no hosts) must not set gateways");
  }
  if (vs.http().empty() && vs.tcp().empty() && vs.tls().empty()) {
    return FieldError("spec", "http, tcp or tls must be provided in a VirtualService");
  }
  for (int i = 0; i < vs.http().size(); ++i) {
    const auto& route = vs.http(i);
    const std::string field = Index("spec.http", i);
    const int actions = (route.route().empty() ? 0 : 1) + (route.has_redirect() ? 1 : 0) +
                        (route.has_direct_response() ? 1 : 0) + (route.has_delegate() ? 1 : 0);
    if (actions == 0) return FieldError(field, "one of route, redirect, directResponse or delegate is required");
    if (actions > 1 && !(route.has_redirect() && route.route().empty())) {
      return FieldError(field, "only one of route, redirect, directResponse or delegate may be set");
    }
    if (route.has_delegate() && delegate) {
      return FieldError(absl::StrCat(field, ".delegate"), "a delegate VirtualService cannot delegate again");
    }
    for (int j = 0; j < route.match().size(); ++j) {
      if (auto st = ValidateHttpMatch(route.match(j), Index(absl::StrCat(field, ".match"), j)); !st.ok()) {
        return st;
      }
    }
    for (int j = 0; j < route.route().size(); ++j) {
      auto st = ValidateDestination(route.route(j).destination(),
                                    absl::StrCat(Index(absl::StrCat(field, ".route"), j), ".destination"));
      if (!st.ok()) return st;
    }
    if (auto st = ValidateWeights(route.route(), absl::StrCat(field, ".route")); !st.ok()) return st;
    if (route.has_fault()) {
      const auto& fault = route.fault();
      if (fault.has_abort() && fault.abort().has_percentage() &&
          (fault.abort().percentage().value() < 0 || fault.abort().percentage().value() > 100)) {
        return FieldError(absl::StrCat(field, ".fault.abort.percentage"), "must be between 0 and 100");
      }
      if (fault.has_delay() && fault.delay().has_percentage() &&
          (fault.delay().percentage().value() < 0 || fault.delay().percentage().value() > 100)) {
        return FieldError(absl::StrCat(field, ".fault.delay.percentage"), "must be between 0 and 100");
      }
    }
    if (route.has_rewrite() && route.rewrite().has_uri_regex_rewrite()) {
      if (auto st = ValidateRegex(route.rewrite().uri_regex_rewrite().match()); !st.ok()) {
        return FieldError(absl::StrCat(field, ".rewrite.uriRegexRewrite.match"), std::string(st.message()));
      }
    }
  }
  for (int i = 0; i < vs.tcp().size(); ++i) {
    const std::string field = Index("spec.tcp", i);
    if (vs.tcp(i).route().empty()) return FieldError(absl::StrCat(field, ".route"), "route is required");
    if (auto st = ValidateWeights(vs.tcp(i).route(), absl::StrCat(field, ".route")); !st.ok()) return st;
  }
  for (int i = 0; i < vs.tls().size(); ++i) {
    const std::string field = Index("spec.tls", i);
    if (vs.tls(i).match().empty()) return FieldError(absl::StrCat(field, ".match"), "TLS route must have at least one match");
    if (vs.tls(i).route().empty()) return FieldError(absl::StrCat(field, ".route"), "route is required");
    if (auto st = ValidateWeights(vs.tls(i).route(), absl::StrCat(field, ".route")); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status ValidateDestinationRule(const networking::DestinationRule& dr) {
  if (dr.host().empty()) return FieldError("spec.host", "host is required");
  std::set<std::string> names;
  for (int i = 0; i < dr.subsets().size(); ++i) {
    const auto& subset = dr.subsets(i);
    const std::string field = Index("spec.subsets", i);
    if (subset.name().empty()) return FieldError(absl::StrCat(field, ".name"), "subset name is required");
    if (!names.insert(subset.name()).second) {
      return FieldError(absl::StrCat(field, ".name"), absl::StrCat("duplicate subset name \"", subset.name(), "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateGateway(const networking::Gateway& gw) {
  if (gw.servers().empty()) return FieldError("spec.servers", "gateway must have at least one server");
  for (int i = 0; i < gw.servers().size(); ++i) {
    const auto& server = gw.servers(i);
    const std::string field = Index("spec.servers", i);
    if (!server.has_port() || server.port().number() == 0 || server.port().number() > 65535) {
      return FieldError(absl::StrCat(field, ".port.number"), "port must be 1-65535");
    }
    if (server.hosts().empty()) return FieldError(absl::StrCat(field, ".hosts"), "at least one host is required");
  }
  return absl::OkStatus();
}

absl::Status ValidateServiceEntry(const networking::ServiceEntry& se) {
  if (se.hosts().empty()) return FieldError("spec.hosts", "at least one host is required");
  if (se.ports().empty()) return FieldError("spec.ports", "at least one port is required");
  for (int i = 0; i < se.ports().size(); ++i) {
    if (se.ports(i).number() == 0 || se.ports(i).number() > 65535) {
      return FieldError(absl::StrCat(Index("spec.ports", i), ".number"), "port must be 1-65535");
    }
  }
  return absl::OkStatus();
}

// Istio's DNS-1123 label (letters of either case, digits, inner hyphens; at most 63).
bool IsDnsLabel(absl::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alnum = absl::ascii_isalnum(static_cast<unsigned char>(c));
    if (!alnum && !(c == '-' && i > 0 && i + 1 < s.size())) return false;
  }
  return true;
}

// Istio ValidateWildcardDomain: "*", "*.example.com" or a DNS name.
absl::Status ValidateWildcardDomain(absl::string_view host) {
  if (host.size() > 255) return absl::InvalidArgumentError("domain name too long (max 255)");
  if (host == "*") return absl::OkStatus();
  absl::string_view rest = absl::StartsWith(host, "*.") ? host.substr(2) : host;
  for (absl::string_view label : absl::StrSplit(rest, '.')) {
    if (!IsDnsLabel(label)) return absl::InvalidArgumentError(absl::StrCat("invalid domain \"", host, "\""));
  }
  return absl::OkStatus();
}

// Istio protocol.Parse: a protocol Keel's (and Istio's) listeners know.
bool IsKnownProtocol(absl::string_view protocol) {
  return model::ParseProtocol(protocol) != model::kUnsupportedProtocol;
}

// Istio validateSidecarEgressPortBindAndCaptureMode / validateSidecarIngressPortAndBind.
absl::Status ValidateSidecarPort(const networking::SidecarPort& port, const std::string& bind, bool ingress,
                                 const std::string& field) {
  if (!port.name().empty() && !IsDnsLabel(port.name())) {
    return FieldError(absl::StrCat(field, ".port.name"), absl::StrCat("invalid port name \"", port.name(), "\""));
  }
  if (!IsKnownProtocol(port.protocol())) {
    return FieldError(absl::StrCat(field, ".port.protocol"),
                      absl::StrCat("unrecognized protocol \"", port.protocol(), "\""));
  }
  if (port.number() == 0) {
    if (ingress) return FieldError(absl::StrCat(field, ".port.number"), "port must be 1-65535");
    if (!absl::StartsWith(bind, "unix://")) {
      return FieldError(absl::StrCat(field, ".bind"), "ports with 0 value must have a unix domain socket bind address");
    }
    return absl::OkStatus();
  }
  if (port.number() > 65535) return FieldError(absl::StrCat(field, ".port.number"), "port must be 1-65535");
  return absl::OkStatus();
}

// Istio validateNamespaceSlashWildcardHostname for sidecars: "ns/dnsName", where
// ns is "*", ".", "~" or a DNS label and dnsName "*", "*.suffix" or a DNS name.
absl::Status ValidateEgressHost(const std::string& host, const std::string& field) {
  const size_t slash = host.find('/');
  if (slash == std::string::npos) return FieldError(field, absl::StrCat("host \"", host, "\" must be of form namespace/dnsName"));
  const absl::string_view ns = absl::string_view(host).substr(0, slash);
  const absl::string_view name = absl::string_view(host).substr(slash + 1);
  if (ns.empty() || name.empty()) {
    return FieldError(field, absl::StrCat("host \"", host, "\": config namespace and dnsName in host entry cannot be empty"));
  }
  if (ns != "*" && ns != "." && ns != "~" && !IsDnsLabel(ns)) {
    return FieldError(field, absl::StrCat("host \"", host, "\": invalid namespace \"", ns, "\""));
  }
  if (auto st = ValidateWildcardDomain(name); !st.ok()) {
    return FieldError(field, absl::StrCat("host \"", host, "\": ", st.message()));
  }
  return absl::OkStatus();
}

// Istio ValidateSidecar, for the fields Keel reads (sidecar.proto).
absl::Status ValidateSidecar(const networking::Sidecar& sc) {
  if (sc.egress().empty() && sc.ingress().empty() && !sc.has_outbound_traffic_policy()) {
    return FieldError("spec", "sidecar: empty configuration provided");
  }
  if (sc.has_workload_selector()) {
    for (const auto& [k, v] : sc.workload_selector().labels()) {
      if (k.empty()) return FieldError("spec.workloadSelector.labels", "empty key is not supported in selector");
      if (absl::StrContains(k, "*") || absl::StrContains(v, "*")) {
        return FieldError(absl::StrCat("spec.workloadSelector.labels[", k, "]"), "wildcard is not supported in selector");
      }
    }
  }
  for (const auto& in : sc.ingress()) {
    if (!in.bind().empty() || in.capture_mode() != networking::CaptureMode::DEFAULT) {
      spdlog::warn("Sidecar: spec.ingress bind and captureMode are accepted but not applied by Keel (inbound traffic "
                   "is captured by iptables to virtualInbound)");
      break;
    }
  }
  std::set<uint32_t> ports;
  for (int i = 0; i < sc.ingress().size(); ++i) {
    const auto& in = sc.ingress(i);
    const std::string field = Index("spec.ingress", i);
    if (!in.has_port()) return FieldError(absl::StrCat(field, ".port"), "sidecar: port is required for ingress listeners");
    if (auto st = ValidateSidecarPort(in.port(), in.bind(), /*ingress=*/true, field); !st.ok()) return st;
    if (!ports.insert(in.port().number()).second) {
      return FieldError(absl::StrCat(field, ".port.number"), "sidecar: ports on IP bound listeners must be unique");
    }
    const std::string& ep = in.default_endpoint();
    if (!ep.empty() && !absl::StartsWith(ep, "unix://")) {
      const size_t colon = ep.rfind(':');
      int port = 0;
      std::string host = colon == std::string::npos ? "" : ep.substr(0, colon);
      if (colon == std::string::npos || !absl::SimpleAtoi(ep.substr(colon + 1), &port) || port < 1 || port > 65535 ||
          (host != "" && host != "127.0.0.1" && host != "0.0.0.0" && host != "[::1]" && host != "[::]")) {
        return FieldError(absl::StrCat(field, ".defaultEndpoint"),
                          "sidecar: defaultEndpoint must be of form 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:port, "
                          "[::]:port, unix://filepath, or unset");
      }
    }
  }
  ports.clear();
  std::set<std::string> sockets;
  for (int i = 0; i < sc.egress().size(); ++i) {
    const auto& eg = sc.egress(i);
    const std::string field = Index("spec.egress", i);
    if (!eg.has_port()) {
      // Only one catch-all (port-less) egress listener, and it comes last.
      if (i != sc.egress().size() - 1) {
        return FieldError(absl::StrCat(field, ".port"),
                          "sidecar: the egress listener with empty port should be the last listener in the list");
      }
    } else {
      if (auto st = ValidateSidecarPort(eg.port(), eg.bind(), /*ingress=*/false, field); !st.ok()) return st;
      const bool unique = eg.port().number() == 0 ? sockets.insert(eg.bind()).second
                                                  : ports.insert(eg.port().number()).second;
      if (!unique) {
        return FieldError(absl::StrCat(field, ".port"),
                          eg.port().number() == 0 ? "sidecar: unix domain socket values for listeners must be unique"
                                                  : "sidecar: ports on IP bound listeners must be unique");
      }
    }
    if (eg.hosts().empty()) {
      return FieldError(absl::StrCat(field, ".hosts"), "sidecar: egress listener must contain at least one host");
    }
    for (int j = 0; j < eg.hosts().size(); ++j) {
      if (auto st = ValidateEgressHost(eg.hosts(j), Index(absl::StrCat(field, ".hosts"), j)); !st.ok()) return st;
    }
  }
  return absl::OkStatus();
}

// istiod's validateJwtRule, per rule of spec.jwtRules.
absl::Status ValidateRequestAuthentication(const istio::security::v1beta1::RequestAuthentication& ra) {
  for (int i = 0; i < ra.jwt_rules_size(); ++i) {
    const auto& rule = ra.jwt_rules(i);
    const std::string field = Index("spec.jwtRules", i);
    for (int a = 0; a < rule.audiences_size(); ++a) {
      if (rule.audiences(a).empty()) return FieldError(Index(field + ".audiences", a), "must be a non-empty string");
    }
    if (rule.issuer().empty() && rule.jwks_uri().empty()) {
      return FieldError(field, "issuer or jwksUri must be a non-empty string");
    }
    if (!rule.jwks_uri().empty()) {
      if (auto st = model::CheckJwksUri(rule.jwks_uri()); !st.ok()) return FieldError(field + ".jwksUri", std::string(st.message()));
    }
    if (!rule.jwks().empty()) {
      if (auto st = model::CheckJwks(rule.jwks()); !st.ok()) return FieldError(field + ".jwks", std::string(st.message()));
    }
    for (int h = 0; h < rule.from_headers_size(); ++h) {
      if (rule.from_headers(h).name().empty()) return FieldError(Index(field + ".fromHeaders", h) + ".name", "must be a non-empty string");
    }
    for (int q = 0; q < rule.from_params_size(); ++q) {
      if (rule.from_params(q).empty()) return FieldError(Index(field + ".fromParams", q), "must be a non-empty string");
    }
    for (int c = 0; c < rule.from_cookies_size(); ++c) {
      if (rule.from_cookies(c).empty()) return FieldError(Index(field + ".fromCookies", c), "must be a non-empty string");
    }
    for (int c = 0; c < rule.output_claim_to_headers_size(); ++c) {
      const auto& ch = rule.output_claim_to_headers(c);
      const std::string at = Index(field + ".outputClaimToHeaders", c);
      if (ch.claim().empty() || ch.header().empty()) return FieldError(at, "header and claim must be non-empty strings");
      if (!RE2::FullMatch(ch.header(), "[-!#$%&'*+.^_`|~0-9A-Za-z]+")) {
        return FieldError(at + ".header", absl::StrCat("\"", ch.header(), "\" is not an HTTP header name"));
      }
    }
    if (rule.has_timeout() && (rule.timeout().seconds() < 0 || rule.timeout().nanos() < 0 ||
                               (rule.timeout().seconds() == 0 && rule.timeout().nanos() < 1000000))) {
      return FieldError(field + ".timeout", "must be at least 1ms");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRegex(const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(pattern, options);
  if (!re.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid regex \"", pattern, "\": ", re.error()));
  }
  return absl::OkStatus();
}

absl::Status Validate(const model::Config& config) {
  switch (config.key.kind) {
    case model::Kind::kVirtualService:
      return ValidateVirtualService(config.As<networking::VirtualService>());
    case model::Kind::kDestinationRule:
      return ValidateDestinationRule(config.As<networking::DestinationRule>());
    case model::Kind::kGateway:
      return ValidateGateway(config.As<networking::Gateway>());
    case model::Kind::kServiceEntry:
      return ValidateServiceEntry(config.As<networking::ServiceEntry>());
    case model::Kind::kSidecar:
      return ValidateSidecar(config.As<networking::Sidecar>());
    case model::Kind::kRequestAuthentication:
      return ValidateRequestAuthentication(config.As<istio::security::v1beta1::RequestAuthentication>());
    default:
      return absl::OkStatus();
  }
}

}  // namespace keel::pilot::config
