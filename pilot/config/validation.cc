#include "pilot/config/validation.h"

#include <re2/re2.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "istio/networking/v1alpha3/destination_rule.pb.h"
#include "istio/networking/v1alpha3/gateway.pb.h"
#include "istio/networking/v1alpha3/service_entry.pb.h"
#include "istio/networking/v1alpha3/virtual_service.pb.h"

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
  if (routes.size() > 1 && total != 100) {
    return FieldError(field, absl::StrCat("total destination weight ", total, " != 100"));
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
    default:
      return absl::OkStatus();
  }
}

}  // namespace keel::pilot::config
