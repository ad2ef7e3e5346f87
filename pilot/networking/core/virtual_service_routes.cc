#include "pilot/networking/core/virtual_service_routes.h"

#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.pb.h"
#include "networking/v1alpha3/destination_rule.pb.h"
#include "networking/v1alpha3/virtual_service.pb.h"
#include "pilot/networking/core/cluster_name.h"
#include "pilot/networking/core/well_known_names.h"

namespace keel::pilot::networking {
namespace {

namespace networking = ::istio::networking::v1alpha3;
namespace route = ::envoy::config::route::v3;

route::RetryPolicy::RetryHostPredicate PreviousHosts() {
  route::RetryPolicy::RetryHostPredicate p;
  p.set_name(kPreviousHostsRetryPredicate);
  p.mutable_typed_config()->PackFrom(envoy::extensions::retry::host::previous_hosts::v3::PreviousHostsPredicate());
  return p;
}

bool IsHttpStatus(int code) { return code >= 100 && code <= 599; }

// Istio retry.ConvertPolicy: the mesh default (2 attempts on connect failures,
// refused streams, unavailable and cancelled; "retriable-status-codes" with no
// codes, so no status is retried) unless the route says otherwise; attempts 0
// disables retries.
std::optional<route::RetryPolicy> ConvertRetryPolicy(const networking::HTTPRetry* in, bool consistent_hash) {
  route::RetryPolicy out;
  out.mutable_num_retries()->set_value(2);
  out.set_retry_on("connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes");
  out.set_host_selection_retry_max_attempts(5);
  if (!consistent_hash) *out.add_retry_host_predicate() = PreviousHosts();
  if (!in) return out;
  if (in->attempts() <= 0) return std::nullopt;
  out.mutable_num_retries()->set_value(in->attempts());
  if (!in->retry_on().empty()) {
    std::vector<std::string> keep;
    out.clear_retriable_status_codes();
    for (absl::string_view part : absl::StrSplit(in->retry_on(), ',')) {
      part = absl::StripAsciiWhitespace(part);
      if (part.empty()) continue;
      int code = 0;
      if (absl::SimpleAtoi(part, &code) && IsHttpStatus(code)) {
        out.add_retriable_status_codes(code);
      } else {
        keep.emplace_back(part);
      }
    }
    std::string retry_on = absl::StrJoin(keep, ",");
    if (out.retriable_status_codes_size() > 0 && !absl::StrContains(retry_on, "retriable-status-codes")) {
      absl::StrAppend(&retry_on, retry_on.empty() ? "" : ",", "retriable-status-codes");
    }
    out.set_retry_on(retry_on);
  }
  if (in->has_per_try_timeout()) *out.mutable_per_try_timeout() = in->per_try_timeout();
  if (in->has_retry_ignore_previous_hosts()) {
    out.clear_retry_host_predicate();
    if (in->retry_ignore_previous_hosts().value()) *out.add_retry_host_predicate() = PreviousHosts();
  }
  if (in->has_backoff()) *out.mutable_retry_back_off()->mutable_base_interval() = in->backoff();
  return out;
}

// Istio consistentHashToHashPolicy.
std::optional<route::RouteAction::HashPolicy> HashPolicy(const networking::LoadBalancerSettings::ConsistentHashLB* ch) {
  if (!ch) return std::nullopt;
  route::RouteAction::HashPolicy out;
  switch (ch->hash_key_case()) {
    case networking::LoadBalancerSettings::ConsistentHashLB::kHttpHeaderName:
      out.mutable_header()->set_header_name(ch->http_header_name());
      return out;
    case networking::LoadBalancerSettings::ConsistentHashLB::kHttpCookie: {
      auto* cookie = out.mutable_cookie();
      cookie->set_name(ch->http_cookie().name());
      if (ch->http_cookie().has_ttl()) *cookie->mutable_ttl() = ch->http_cookie().ttl();
      cookie->set_path(ch->http_cookie().path());
      return out;
    }
    case networking::LoadBalancerSettings::ConsistentHashLB::kUseSourceIp:
      out.mutable_connection_properties()->set_source_ip(ch->use_source_ip());
      return out;
    case networking::LoadBalancerSettings::ConsistentHashLB::kHttpQueryParameterName:
      out.mutable_query_parameter()->set_name(ch->http_query_parameter_name());
      return out;
    default:
      return std::nullopt;
  }
}

const networking::LoadBalancerSettings::ConsistentHashLB* PortLevelHash(
    const google::protobuf::RepeatedPtrField<networking::TrafficPolicy::PortTrafficPolicy>& settings, int port) {
  for (const auto& s : settings) {
    if (static_cast<int>(s.port().number()) == port) {
      return s.load_balancer().has_consistent_hash() ? &s.load_balancer().consistent_hash() : nullptr;
    }
  }
  return nullptr;
}

// Istio hashForService: the consistent hash of the service's DestinationRule.
const networking::LoadBalancerSettings::ConsistentHashLB* ServiceHash(const model::Service& svc, int port,
                                                                      const model::Proxy& proxy,
                                                                      const model::PushContext& push) {
  const model::DestinationRuleEntry* dr = push.ScopeFor(proxy).DestinationRuleForHost(svc.hostname);
  if (!dr) return nullptr;
  const auto& policy = dr->spec().traffic_policy();
  const auto* ch = policy.load_balancer().has_consistent_hash() ? &policy.load_balancer().consistent_hash() : nullptr;
  for (const auto& s : policy.port_level_settings()) {
    if (static_cast<int>(s.port().number()) == port) {
      if (s.load_balancer().has_consistent_hash()) ch = &s.load_balancer().consistent_hash();
      break;
    }
  }
  return ch;
}

// Istio hashForHTTPDestination: subset port-level, subset, port-level, top level.
const networking::LoadBalancerSettings::ConsistentHashLB* DestinationHash(const networking::Destination& d,
                                                                          const std::string& vs_ns,
                                                                          const model::Proxy& proxy,
                                                                          const model::PushContext& push) {
  const model::DestinationRuleEntry* dr = push.ScopeFor(proxy).DestinationRuleForHost(push.ResolveHost(d.host(), vs_ns));
  if (!dr) return nullptr;
  const auto& policy = dr->spec().traffic_policy();
  const auto* ch = policy.load_balancer().has_consistent_hash() ? &policy.load_balancer().consistent_hash() : nullptr;
  const int port = d.has_port() ? static_cast<int>(d.port().number()) : 0;
  const auto* pls = port ? PortLevelHash(policy.port_level_settings(), port) : nullptr;
  const networking::LoadBalancerSettings::ConsistentHashLB *subset_hash = nullptr, *subset_pls = nullptr;
  for (const auto& s : dr->spec().subsets()) {
    if (s.name() != d.subset()) continue;
    const auto& sp = s.traffic_policy();
    if (sp.load_balancer().has_consistent_hash()) subset_hash = &sp.load_balancer().consistent_hash();
    if (port) subset_pls = PortLevelHash(sp.port_level_settings(), port);
    break;
  }
  if (subset_pls) return subset_pls;
  if (subset_hash) return subset_hash;
  if (pls) return pls;
  return ch;
}

// Istio GetRouteOperation: "host:port/path" for one cluster, else "vsname:port/path".
std::string RouteOperation(const route::Route& r, const std::string& vs_name, int port) {
  std::string path = "/*";
  const auto& m = r.match();
  switch (m.path_specifier_case()) {
    case route::RouteMatch::kPrefix: path = m.prefix() + "*"; break;
    case route::RouteMatch::kPath: path = m.path(); break;
    case route::RouteMatch::kSafeRegex: path = m.safe_regex().regex(); break;
    default: break;
  }
  ClusterName parsed;
  if (r.has_route() && r.route().has_cluster() && ClusterName::Parse(r.route().cluster(), &parsed)) {
    return absl::StrCat(parsed.host, ":", parsed.port, path);
  }
  return absl::StrCat(vs_name, ":", port, path);
}

std::string ConfigPath(const model::Config& config, const char* kind) {
  std::string api = config.meta.api_version.empty() ? "networking.istio.io/v1" : config.meta.api_version;
  return absl::StrCat("/apis/", api, "/namespaces/", config.key.ns, "/", kind, "/", config.key.name);
}

// What istiod sets on VirtualService routes for Envoy beyond the shared
// translation: decorator, retries, max_grpc_timeout, hash policies, CORS
// defaults, and the config metadata.
void CompleteRoute(route::Route* r, const networking::HTTPRoute& http, const model::VirtualServiceEntry& vs, int port,
                   const model::Proxy& proxy, const model::PushContext& push) {
  r->mutable_decorator()->set_operation(RouteOperation(*r, vs.config->key.name, port));
  (*(*r->mutable_metadata()->mutable_filter_metadata())["istio"].mutable_fields())["config"].set_string_value(
      ConfigPath(*vs.config, "virtual-service"));
  if (r->has_route()) {
    auto* action = r->mutable_route();
    // Istio setTimeout: Envoys bound gRPC's grpc-timeout header by the route's timeout.
    if (action->has_timeout() && !proxy.proxyless_grpc) *action->mutable_max_grpc_timeout() = action->timeout();
    std::vector<const networking::HTTPRouteDestination*> dests;
    for (const auto& d : http.route()) {
      if (http.route().size() == 1 || d.weight() > 0) dests.push_back(&d);
    }
    bool consistent_hash = false;
    for (const auto* d : dests) {
      if (auto hash = HashPolicy(DestinationHash(d->destination(), vs.config->key.ns, proxy, push))) {
        *action->add_hash_policy() = *hash;
        consistent_hash = http.route().size() == 1;
      }
    }
    if (http.has_delegate()) {
      // Routes of a delegate VirtualService: their own retries were translated
      // already; the rest get the mesh default.
      if (!action->has_retry_policy()) *action->mutable_retry_policy() = *ConvertRetryPolicy(nullptr, false);
    } else {
      action->clear_retry_policy();
      if (auto retry = ConvertRetryPolicy(http.has_retries() ? &http.retries() : nullptr, consistent_hash)) {
        *action->mutable_retry_policy() = *retry;
      }
    }
  }
  auto cors_it = r->mutable_typed_per_filter_config()->find(kCorsFilter);
  if (cors_it != r->mutable_typed_per_filter_config()->end() && http.has_cors_policy()) {
    envoy::extensions::filters::http::cors::v3::CorsPolicy cors;
    if (cors_it->second.UnpackTo(&cors)) {
      const auto& in = http.cors_policy();
      if (cors.allow_origin_string_match().empty()) {
        for (const auto& o : in.allow_origin()) cors.add_allow_origin_string_match()->set_exact(o);
      }
      auto* enabled = cors.mutable_filter_enabled()->mutable_default_value();
      enabled->set_numerator(100);
      enabled->set_denominator(envoy::type::v3::FractionalPercent::HUNDRED);
      cors.mutable_forward_not_matching_preflights()->set_value(
          in.unmatched_preflights() != networking::CorsPolicy::IGNORE);
      cors_it->second.PackFrom(cors);
    }
  }
}

// One HTTPRoute at a time, so each Envoy route is completed from the HTTPRoute it came from.
}  // namespace

std::vector<route::Route> BuildVirtualServiceRoutes(const model::VirtualServiceEntry& vs, const RouteContext& ctx) {
  std::vector<route::Route> out;
  for (const auto& http : vs.spec().http()) {
    auto spec = std::make_shared<networking::VirtualService>();
    *spec->add_http() = http;
    auto config = std::make_shared<model::Config>(*vs.config);
    config->body = spec;
    model::VirtualServiceEntry single{config, vs.hosts, vs.gateways};
    for (auto& r : TranslateHttpRoutes(single, ctx)) {
      CompleteRoute(&r, http, vs, ctx.listener_port, *ctx.proxy, *ctx.push);
      const bool catch_all = IsCatchAllRoute(r);
      out.push_back(std::move(r));
      if (catch_all) return out;
    }
  }
  return out;
}

bool IsCatchAllRoute(const route::Route& r) {
  const auto& m = r.match();
  const bool all_paths = (m.path_specifier_case() == route::RouteMatch::kPrefix && m.prefix() == "/") ||
                         (m.path_specifier_case() == route::RouteMatch::kPathSeparatedPrefix &&
                          m.path_separated_prefix() == "/") ||
                         (m.path_specifier_case() == route::RouteMatch::kSafeRegex && m.safe_regex().regex() == "*");
  return all_paths && m.headers().empty() && m.query_parameters().empty() && m.dynamic_metadata().empty();
}

route::RetryPolicy DefaultRetryPolicy() { return *ConvertRetryPolicy(nullptr, false); }

std::optional<route::RouteAction::HashPolicy> ServiceHashPolicy(const model::Service& service, int port,
                                                                const model::Proxy& proxy,
                                                                const model::PushContext& push) {
  return HashPolicy(ServiceHash(service, port, proxy, push));
}

}  // namespace keel::pilot::networking
