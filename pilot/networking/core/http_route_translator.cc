#include "pilot/networking/core/http_route_translator.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "networking/v1alpha3/virtual_service.pb.h"
#include "pilot/networking/core/cluster_name.h"

namespace keel::pilot::networking {
namespace {

namespace networking = ::istio::networking::v1alpha3;
namespace route = ::envoy::config::route::v3;
using google::protobuf::util::TimeUtil;

void SetStringMatcher(const networking::StringMatch& m, bool ignore_case,
                      envoy::type::matcher::v3::StringMatcher* out) {
  switch (m.match_type_case()) {
    case networking::StringMatch::kExact: out->set_exact(m.exact()); break;
    case networking::StringMatch::kPrefix: out->set_prefix(m.prefix()); break;
    case networking::StringMatch::kRegex: out->mutable_safe_regex()->set_regex(m.regex()); break;
    default: break;
  }
  if (ignore_case && m.match_type_case() != networking::StringMatch::kRegex) out->set_ignore_case(true);
}

route::HeaderMatcher HeaderMatch(const std::string& name, const networking::StringMatch& m, bool invert) {
  route::HeaderMatcher h;
  h.set_name(name);
  if (m.match_type_case() == networking::StringMatch::MATCH_TYPE_NOT_SET) {
    h.set_present_match(true);
  } else {
    SetStringMatcher(m, false, h.mutable_string_match());
  }
  if (invert) h.set_invert_match(true);
  return h;
}

// False when the match cannot apply to this proxy (port, source, gateway).
bool MatchApplies(const networking::HTTPMatchRequest& m, absl::string_view vs_ns, const RouteContext& ctx) {
  if (m.port() != 0 && static_cast<int>(m.port()) != ctx.listener_port) return false;
  if (!m.source_labels().empty()) {
    std::map<std::string, std::string> want(m.source_labels().begin(), m.source_labels().end());
    if (!model::LabelsMatch(want, ctx.proxy->labels)) return false;
  }
  if (!m.source_namespace().empty() && m.source_namespace() != ctx.proxy->ns) return false;
  if (!m.gateways().empty()) {
    bool found = false;
    for (const auto& g : m.gateways()) found = found || ResolveGatewayName(g, vs_ns) == ctx.gateway;
    if (!found) return false;
  }
  return true;
}

route::RouteMatch TranslateMatch(const networking::HTTPMatchRequest& m) {
  route::RouteMatch out;
  switch (m.uri().match_type_case()) {
    case networking::StringMatch::kExact: out.set_path(m.uri().exact()); break;
    case networking::StringMatch::kPrefix: out.set_prefix(m.uri().prefix()); break;
    case networking::StringMatch::kRegex: out.mutable_safe_regex()->set_regex(m.uri().regex()); break;
    default: out.set_prefix("/");
  }
  // istiod writes it either way (translateRouteMatch), true being Envoy's default.
  out.mutable_case_sensitive()->set_value(!m.ignore_uri_case());
  for (const auto& [name, sm] : m.headers()) *out.add_headers() = HeaderMatch(name, sm, false);
  for (const auto& [name, sm] : m.without_headers()) *out.add_headers() = HeaderMatch(name, sm, true);
  if (m.has_method()) *out.add_headers() = HeaderMatch(":method", m.method(), false);
  if (m.has_authority()) *out.add_headers() = HeaderMatch(":authority", m.authority(), false);
  if (m.has_scheme()) *out.add_headers() = HeaderMatch(":scheme", m.scheme(), false);
  for (const auto& [name, sm] : m.query_params()) {
    auto* q = out.add_query_parameters();
    q->set_name(name);
    if (sm.match_type_case() == networking::StringMatch::MATCH_TYPE_NOT_SET) {
      q->set_present_match(true);
    } else {
      SetStringMatcher(sm, false, q->mutable_string_match());
    }
  }
  return out;
}

// Istio: FractionalPercent with denominator MILLION from a percentage in [0,100];
// without one, the deprecated integer percent (so an unset percentage is 0%).
envoy::type::v3::FractionalPercent Fraction(const networking::Percent* percentage, int legacy_percent) {
  envoy::type::v3::FractionalPercent out;
  if (percentage) {
    out.set_numerator(static_cast<uint32_t>(percentage->value() * 10000));
    out.set_denominator(envoy::type::v3::FractionalPercent::MILLION);
  } else {
    out.set_numerator(legacy_percent > 0 ? legacy_percent : 0);
    out.set_denominator(envoy::type::v3::FractionalPercent::HUNDRED);
  }
  return out;
}

int DestinationPort(const networking::Destination& d, const std::string& host, const RouteContext& ctx) {
  if (d.has_port() && d.port().number() != 0) return static_cast<int>(d.port().number());
  const model::Service* svc = ctx.push->ServiceForHost(host);
  if (svc && svc->ports.size() == 1) return svc->ports[0].port;
  return ctx.listener_port;
}

std::string DestinationCluster(const networking::Destination& d, const model::VirtualServiceEntry& vs,
                               const RouteContext& ctx) {
  const std::string host = ctx.push->ResolveHost(d.host(), vs.config->key.ns);
  return OutboundClusterName(DestinationPort(d, host, ctx), d.subset(), host);
}

void AddHeaderOps(const networking::Headers::HeaderOperations& ops,
                  google::protobuf::RepeatedPtrField<envoy::config::core::v3::HeaderValueOption>* add,
                  google::protobuf::RepeatedPtrField<std::string>* remove) {
  for (const auto& [k, v] : ops.set()) {
    auto* h = add->Add();
    h->mutable_header()->set_key(k);
    h->mutable_header()->set_value(v);
    h->set_append_action(envoy::config::core::v3::HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD);
  }
  for (const auto& [k, v] : ops.add()) {
    auto* h = add->Add();
    h->mutable_header()->set_key(k);
    h->mutable_header()->set_value(v);
    h->set_append_action(envoy::config::core::v3::HeaderValueOption::APPEND_IF_EXISTS_OR_ADD);
  }
  for (const auto& r : ops.remove()) remove->Add(std::string(r));
}

void TranslateFault(const networking::HTTPFaultInjection& fault, route::Route* out) {
  envoy::extensions::filters::http::fault::v3::HTTPFault f;
  if (fault.has_delay()) {
    const auto& d = fault.delay();
    auto* delay = f.mutable_delay();
    if (d.has_fixed_delay()) *delay->mutable_fixed_delay() = d.fixed_delay();
    *delay->mutable_percentage() = Fraction(d.has_percentage() ? &d.percentage() : nullptr, d.percent());
  }
  if (fault.has_abort()) {
    const auto& a = fault.abort();
    auto* abort = f.mutable_abort();
    if (a.grpc_status().empty()) {
      abort->set_http_status(a.http_status());
    } else {
      static const std::map<std::string, uint32_t> kCodes = {
          {"OK", 0}, {"CANCELLED", 1}, {"UNKNOWN", 2}, {"INVALID_ARGUMENT", 3}, {"DEADLINE_EXCEEDED", 4},
          {"NOT_FOUND", 5}, {"ALREADY_EXISTS", 6}, {"PERMISSION_DENIED", 7}, {"RESOURCE_EXHAUSTED", 8},
          {"FAILED_PRECONDITION", 9}, {"ABORTED", 10}, {"OUT_OF_RANGE", 11}, {"UNIMPLEMENTED", 12},
          {"INTERNAL", 13}, {"UNAVAILABLE", 14}, {"DATA_LOSS", 15}, {"UNAUTHENTICATED", 16}};
      auto it = kCodes.find(a.grpc_status());
      abort->set_grpc_status(it == kCodes.end() ? 2 : it->second);
    }
    *abort->mutable_percentage() = Fraction(a.has_percentage() ? &a.percentage() : nullptr, 0);
  }
  (*out->mutable_typed_per_filter_config())[kFaultFilter].PackFrom(f);
}

// gRPC clients honour only these retry conditions (gRFC A44); others are dropped.
std::string GrpcRetryOn(const std::string& retry_on) {
  std::vector<std::string> kept;
  for (absl::string_view c : absl::StrSplit(retry_on, ',', absl::SkipWhitespace())) {
    if (c == "cancelled" || c == "deadline-exceeded" || c == "internal" || c == "resource-exhausted" ||
        c == "unavailable") {
      kept.emplace_back(c);
    }
  }
  return absl::StrJoin(kept, ",");
}

void TranslateRouteAction(const networking::HTTPRoute& http, const model::VirtualServiceEntry& vs,
                          const RouteContext& ctx, route::Route* out) {
  auto* action = out->mutable_route();
  std::vector<const networking::HTTPRouteDestination*> dests;
  for (const auto& d : http.route()) {
    if (http.route().size() == 1 || d.weight() > 0) dests.push_back(&d);
  }
  if (dests.size() == 1) {
    action->set_cluster(DestinationCluster(dests[0]->destination(), vs, ctx));
    if (dests[0]->has_headers()) {
      AddHeaderOps(dests[0]->headers().request(), out->mutable_request_headers_to_add(),
                   out->mutable_request_headers_to_remove());
      AddHeaderOps(dests[0]->headers().response(), out->mutable_response_headers_to_add(),
                   out->mutable_response_headers_to_remove());
    }
  } else {
    auto* weighted = action->mutable_weighted_clusters();
    for (const auto* d : dests) {
      auto* c = weighted->add_clusters();
      c->set_name(DestinationCluster(d->destination(), vs, ctx));
      c->mutable_weight()->set_value(d->weight());
      if (d->has_headers()) {
        AddHeaderOps(d->headers().request(), c->mutable_request_headers_to_add(),
                     c->mutable_request_headers_to_remove());
        AddHeaderOps(d->headers().response(), c->mutable_response_headers_to_add(),
                     c->mutable_response_headers_to_remove());
      }
    }
  }
  const bool grpc = ctx.proxy->proxyless_grpc;
  // Istio setTimeout: the VirtualService's timeout, else none (0); gRPC reads it as
  // max_stream_duration, which proxyless clients get too.
  *action->mutable_timeout() = http.has_timeout() ? http.timeout() : TimeUtil::SecondsToDuration(0);
  if (grpc) *action->mutable_max_stream_duration()->mutable_max_stream_duration() = action->timeout();
  if (http.has_retries() && http.retries().attempts() > 0) {
    const auto& r = http.retries();
    std::string retry_on = r.retry_on().empty() ? "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
                                                : r.retry_on();
    if (grpc) retry_on = GrpcRetryOn(retry_on);
    if (!retry_on.empty()) {
      auto* policy = action->mutable_retry_policy();
      policy->set_retry_on(retry_on);
      policy->mutable_num_retries()->set_value(r.attempts());
      if (r.has_per_try_timeout() && !grpc) *policy->mutable_per_try_timeout() = r.per_try_timeout();
    }
  }
  if (http.has_rewrite()) {
    if (!http.rewrite().uri().empty()) action->set_prefix_rewrite(http.rewrite().uri());
    if (!http.rewrite().authority().empty()) action->set_host_rewrite_literal(http.rewrite().authority());
  }
  auto add_mirror = [&](const networking::Destination& d, const networking::Percent* pct) {
    auto* m = action->add_request_mirror_policies();
    m->set_cluster(DestinationCluster(d, vs, ctx));
    // Istio mirrors 100% when no mirrorPercentage is given.
    if (pct) *m->mutable_runtime_fraction()->mutable_default_value() = Fraction(pct, 0);
  };
  if (http.has_mirror()) add_mirror(http.mirror(), http.has_mirror_percentage() ? &http.mirror_percentage() : nullptr);
  for (const auto& m : http.mirrors()) add_mirror(m.destination(), m.has_percentage() ? &m.percentage() : nullptr);
}

void TranslateRedirect(const networking::HTTPRedirect& r, route::Route* out) {
  auto* redirect = out->mutable_redirect();
  if (!r.uri().empty()) redirect->set_path_redirect(r.uri());
  if (!r.authority().empty()) redirect->set_host_redirect(r.authority());
  if (r.port() != 0) redirect->set_port_redirect(r.port());
  if (!r.scheme().empty()) redirect->set_scheme_redirect(r.scheme());
  switch (r.redirect_code()) {
    case 302: redirect->set_response_code(route::RedirectAction::FOUND); break;
    case 303: redirect->set_response_code(route::RedirectAction::SEE_OTHER); break;
    case 307: redirect->set_response_code(route::RedirectAction::TEMPORARY_REDIRECT); break;
    case 308: redirect->set_response_code(route::RedirectAction::PERMANENT_REDIRECT); break;
    default: redirect->set_response_code(route::RedirectAction::MOVED_PERMANENTLY);
  }
}

void TranslateCors(const networking::CorsPolicy& c, route::Route* out) {
  envoy::extensions::filters::http::cors::v3::CorsPolicy cors;
  for (const auto& o : c.allow_origins()) SetStringMatcher(o, false, cors.add_allow_origin_string_match());
  cors.set_allow_methods(absl::StrJoin(c.allow_methods(), ","));
  cors.set_allow_headers(absl::StrJoin(c.allow_headers(), ","));
  cors.set_expose_headers(absl::StrJoin(c.expose_headers(), ","));
  if (c.has_max_age()) cors.set_max_age(absl::StrCat(c.max_age().seconds()));
  if (c.has_allow_credentials()) cors.mutable_allow_credentials()->set_value(c.allow_credentials().value());
  (*out->mutable_typed_per_filter_config())[kCorsFilter].PackFrom(cors);
}

// One Envoy route per applicable match (or one catch-all when there is no match).
void TranslateHttpRoute(const networking::HTTPRoute& http, const model::VirtualServiceEntry& vs,
                        const RouteContext& ctx, std::vector<route::Route>* out) {
  std::vector<route::RouteMatch> matches;
  if (http.match().empty()) {
    matches.emplace_back().set_prefix("/");
  } else {
    for (const auto& m : http.match()) {
      if (MatchApplies(m, vs.config->key.ns, ctx)) matches.push_back(TranslateMatch(m));
    }
  }
  for (auto& match : matches) {
    route::Route r;
    r.set_name(http.name());
    *r.mutable_match() = std::move(match);
    if (http.has_redirect()) {
      TranslateRedirect(http.redirect(), &r);
    } else if (http.has_direct_response()) {
      auto* direct = r.mutable_direct_response();
      direct->set_status(http.direct_response().status());
      const auto& body = http.direct_response().body();
      if (!body.string().empty()) direct->mutable_body()->set_inline_string(body.string());
    } else {
      TranslateRouteAction(http, vs, ctx, &r);
    }
    if (http.has_headers()) {
      AddHeaderOps(http.headers().request(), r.mutable_request_headers_to_add(), r.mutable_request_headers_to_remove());
      AddHeaderOps(http.headers().response(), r.mutable_response_headers_to_add(),
                   r.mutable_response_headers_to_remove());
    }
    if (http.has_fault()) TranslateFault(http.fault(), &r);
    if (http.has_cors_policy() && !ctx.proxy->proxyless_grpc) TranslateCors(http.cors_policy(), &r);
    out->push_back(std::move(r));
  }
}

// A delegate route's match inside its root's: the delegate's conditions win
// where both set one (Istio checks they are compatible; Keel does not), the
// root's fill in the rest.
networking::HTTPMatchRequest MergeMatch(const networking::HTTPMatchRequest& root,
                                        const networking::HTTPMatchRequest& delegate) {
  networking::HTTPMatchRequest out = root;
  out.MergeFrom(delegate);  // scalars and messages the delegate sets override; maps merge
  if (delegate.has_uri()) *out.mutable_uri() = delegate.uri();
  return out;
}

// What a delegate route takes from its root where it sets nothing itself (Istio
// mergeHTTPRoute): the name ("ROOT-DELEGATE" when both have one), rewrite, direct
// response, timeout, retries, fault, mirrors, CORS and header operations.
void InheritFromRoot(const networking::HTTPRoute& root, networking::HTTPRoute* merged) {
  if (merged->name().empty()) {
    merged->set_name(root.name());
  } else if (!root.name().empty()) {
    merged->set_name(absl::StrCat(root.name(), "-", merged->name()));
  }
  if (!merged->has_rewrite() && root.has_rewrite()) *merged->mutable_rewrite() = root.rewrite();
  if (!merged->has_direct_response() && root.has_direct_response()) {
    *merged->mutable_direct_response() = root.direct_response();
  }
  if (!merged->has_timeout() && root.has_timeout()) *merged->mutable_timeout() = root.timeout();
  if (!merged->has_retries() && root.has_retries()) *merged->mutable_retries() = root.retries();
  if (!merged->has_fault() && root.has_fault()) *merged->mutable_fault() = root.fault();
  if (!merged->has_mirror() && root.has_mirror()) *merged->mutable_mirror() = root.mirror();
  if (!merged->has_mirror_percentage() && root.has_mirror_percentage()) {
    *merged->mutable_mirror_percentage() = root.mirror_percentage();
  }
  if (merged->mirrors().empty()) *merged->mutable_mirrors() = root.mirrors();
  if (!merged->has_cors_policy() && root.has_cors_policy()) *merged->mutable_cors_policy() = root.cors_policy();
  if (!merged->has_headers() && root.has_headers()) *merged->mutable_headers() = root.headers();
}

// The delegate's routes, each match merged with the root route's matches and the
// rest inherited from the root route.
std::vector<networking::HTTPRoute> ExpandDelegate(const networking::HTTPRoute& root,
                                                  const networking::VirtualService& delegate) {
  std::vector<networking::HTTPRoute> out;
  for (const auto& d : delegate.http()) {
    networking::HTTPRoute merged = d;
    InheritFromRoot(root, &merged);
    merged.clear_match();
    if (root.match().empty()) {
      *merged.mutable_match() = d.match();
    } else if (d.match().empty()) {
      *merged.mutable_match() = root.match();
    } else {
      for (const auto& rm : root.match()) {
        for (const auto& dm : d.match()) *merged.add_match() = MergeMatch(rm, dm);
      }
    }
    out.push_back(std::move(merged));
  }
  return out;
}

}  // namespace

std::string ResolveGatewayName(absl::string_view gateway, absl::string_view ns) {
  if (gateway == "mesh" || gateway.find('/') != absl::string_view::npos) return std::string(gateway);
  return absl::StrCat(ns, "/", gateway);
}

std::vector<route::Route> TranslateHttpRoutes(const model::VirtualServiceEntry& vs, const RouteContext& ctx) {
  std::vector<route::Route> out;
  for (const auto& http : vs.spec().http()) {
    if (!http.has_delegate()) {
      TranslateHttpRoute(http, vs, ctx, &out);
      continue;
    }
    // Delegation (Istio's VirtualService chaining): the named VirtualService's routes
    // stand in for this one; its destinations resolve in its own namespace.
    const std::string ns = http.delegate().namespace_().empty() ? vs.config->key.ns : http.delegate().namespace_();
    model::ConfigPtr config =
        ctx.push->FindConfig(model::ConfigKey{model::Kind::kVirtualService, ns, http.delegate().name()});
    if (!config) continue;  // a missing delegate routes nothing, as in Istio
    model::VirtualServiceEntry delegate{config, {}, {}};
    if (!delegate.spec().hosts().empty()) continue;  // Istio: a delegate must not set hosts; it is ignored
    for (const auto& expanded : ExpandDelegate(http, delegate.spec())) {
      TranslateHttpRoute(expanded, delegate, ctx, &out);
    }
  }
  return out;
}

}  // namespace keel::pilot::networking
