#include "pilot/networking/core/cluster_builder.h"

#include <google/protobuf/util/time_util.h>

#include <map>
#include <tuple>

#include "networking/v1alpha3/destination_rule.pb.h"
#include "pilot/networking/core/istio_metadata.h"
#include "pilot/networking/core/well_known_names.h"

namespace keel::pilot::networking {
namespace {

namespace networking = ::istio::networking::v1alpha3;
namespace cluster = ::envoy::config::cluster::v3;
using google::protobuf::util::TimeUtil;

// The traffic policy for (port, subset), as Istio's MergeTrafficPolicy: a subset
// policy's fields override the top-level ones; within each, a matching
// port-level entry replaces the destination-level settings whole (fields it
// omits fall back to the defaults, not to the destination level).
networking::TrafficPolicy EffectivePolicy(const model::DestinationRuleEntry* dr, const networking::Subset* subset,
                                          int port) {
  networking::TrafficPolicy out;
  auto apply = [&](const networking::TrafficPolicy& p) {
    networking::TrafficPolicy effective;
    *effective.mutable_load_balancer() = p.load_balancer();
    *effective.mutable_connection_pool() = p.connection_pool();
    *effective.mutable_outlier_detection() = p.outlier_detection();
    *effective.mutable_tls() = p.tls();
    if (!p.has_load_balancer()) effective.clear_load_balancer();
    if (!p.has_connection_pool()) effective.clear_connection_pool();
    if (!p.has_outlier_detection()) effective.clear_outlier_detection();
    if (!p.has_tls()) effective.clear_tls();
    for (const auto& pl : p.port_level_settings()) {
      if (static_cast<int>(pl.port().number()) != port) continue;
      effective.Clear();
      if (pl.has_load_balancer()) *effective.mutable_load_balancer() = pl.load_balancer();
      if (pl.has_connection_pool()) *effective.mutable_connection_pool() = pl.connection_pool();
      if (pl.has_outlier_detection()) *effective.mutable_outlier_detection() = pl.outlier_detection();
      if (pl.has_tls()) *effective.mutable_tls() = pl.tls();
    }
    if (effective.has_load_balancer()) *out.mutable_load_balancer() = effective.load_balancer();
    if (effective.has_connection_pool()) *out.mutable_connection_pool() = effective.connection_pool();
    if (effective.has_outlier_detection()) *out.mutable_outlier_detection() = effective.outlier_detection();
    if (effective.has_tls()) *out.mutable_tls() = effective.tls();
  };
  if (dr && dr->spec().has_traffic_policy()) apply(dr->spec().traffic_policy());
  if (subset && subset->has_traffic_policy()) apply(subset->traffic_policy());
  return out;
}

void ApplyLoadBalancer(const networking::LoadBalancerSettings& lb, cluster::Cluster* c) {
  if (lb.has_consistent_hash()) {
    c->set_lb_policy(cluster::Cluster::RING_HASH);
    const auto& ch = lb.consistent_hash();
    uint64_t min_ring = ch.has_ring_hash() ? ch.ring_hash().minimum_ring_size() : ch.minimum_ring_size();
    if (min_ring > 0) c->mutable_ring_hash_lb_config()->mutable_minimum_ring_size()->set_value(min_ring);
    return;
  }
  switch (lb.simple()) {
    case networking::LoadBalancerSettings::LEAST_CONN:
    case networking::LoadBalancerSettings::LEAST_REQUEST: c->set_lb_policy(cluster::Cluster::LEAST_REQUEST); break;
    case networking::LoadBalancerSettings::RANDOM: c->set_lb_policy(cluster::Cluster::RANDOM); break;
    case networking::LoadBalancerSettings::PASSTHROUGH: c->set_lb_policy(cluster::Cluster::CLUSTER_PROVIDED); break;
    default: c->set_lb_policy(cluster::Cluster::ROUND_ROBIN);
  }
}

void ApplyConnectionPool(const networking::ConnectionPoolSettings& pool, bool grpc, cluster::Cluster* c) {
  if (pool.has_tcp() && pool.tcp().has_connect_timeout() && !grpc) {
    *c->mutable_connect_timeout() = pool.tcp().connect_timeout();
  }
  auto* thresholds = c->mutable_circuit_breakers()->add_thresholds();
  if (pool.has_http() && pool.http().http2_max_requests() > 0) {
    thresholds->mutable_max_requests()->set_value(pool.http().http2_max_requests());
  }
  if (grpc) return;  // gRPC honours only max_requests (gRFC A32)
  if (pool.has_tcp() && pool.tcp().max_connections() > 0) {
    thresholds->mutable_max_connections()->set_value(pool.tcp().max_connections());
  }
  if (pool.has_http()) {
    if (pool.http().http1_max_pending_requests() > 0) {
      thresholds->mutable_max_pending_requests()->set_value(pool.http().http1_max_pending_requests());
    }
    if (pool.http().max_retries() > 0) thresholds->mutable_max_retries()->set_value(pool.http().max_retries());
  }
}

}  // namespace

// Istio's outlier detection: each consecutive-error detector is enforced (100%)
// exactly when its count is set above 0, and success-rate ejection is always off
// (Envoy enables it by default; gRPC clients choke on it without data). The
// deprecated consecutiveErrors is ignored, as istiod ignores it.
void ApplyOutlierDetection(const networking::OutlierDetection& od, cluster::Cluster* c) {
  auto* out = c->mutable_outlier_detection();
  if (od.has_consecutive_5xx_errors()) {
    const uint32_t v = od.consecutive_5xx_errors().value();
    out->mutable_consecutive_5xx()->set_value(v);
    out->mutable_enforcing_consecutive_5xx()->set_value(v > 0 ? 100 : 0);
  }
  if (od.has_consecutive_gateway_errors()) {
    const uint32_t v = od.consecutive_gateway_errors().value();
    out->mutable_consecutive_gateway_failure()->set_value(v);
    out->mutable_enforcing_consecutive_gateway_failure()->set_value(v > 0 ? 100 : 0);
  }
  if (od.has_interval()) *out->mutable_interval() = od.interval();
  if (od.has_base_ejection_time()) *out->mutable_base_ejection_time() = od.base_ejection_time();
  if (od.max_ejection_percent() > 0) out->mutable_max_ejection_percent()->set_value(od.max_ejection_percent());
  out->mutable_enforcing_success_rate()->set_value(0);
}

const networking::Subset* FindSubset(const model::DestinationRuleEntry* dr, const std::string& subset) {
  if (!dr) return nullptr;
  for (const auto& s : dr->spec().subsets()) {
    if (s.name() == subset) return &s;
  }
  return nullptr;
}

networking::TrafficPolicy EffectiveTrafficPolicy(const model::DestinationRuleEntry* dr,
                                                 const networking::Subset* subset, int port) {
  return EffectivePolicy(dr, subset, port);
}

std::optional<cluster::Cluster> BuildOutboundCluster(const ClusterName& name, const model::Proxy& proxy,
                                                     const model::PushContext& push) {
  const model::Service* svc = push.ServiceForHost(name.host);
  if (!svc || !svc->FindPort(name.port) || name.direction != "outbound") return std::nullopt;
  const model::DestinationRuleEntry* dr = push.ScopeFor(proxy).DestinationRuleForHost(name.host);
  const networking::Subset* subset = FindSubset(dr, name.subset);
  if (!name.subset.empty() && !subset) return std::nullopt;

  cluster::Cluster c;
  c.set_name(name.ToString());
  c.set_alt_stat_name(DelimitedStatPrefix(c.name()));  // as istiod's grpcgen
  const bool grpc = proxy.proxyless_grpc;
  if (svc->resolution == model::Resolution::kDnsLb) {
    c.set_type(cluster::Cluster::LOGICAL_DNS);
    c.set_dns_lookup_family(cluster::Cluster::V4_ONLY);
    auto load = BuildLoadAssignment(name, proxy, push);
    if (load) *c.mutable_load_assignment() = std::move(*load);
  } else {
    c.set_type(cluster::Cluster::EDS);
    auto* eds = c.mutable_eds_cluster_config();
    eds->set_service_name(name.ToString());
    eds->mutable_eds_config()->mutable_ads();
  }
  if (!grpc) *c.mutable_connect_timeout() = TimeUtil::MillisecondsToDuration(10000);  // Istio's default

  networking::TrafficPolicy policy = EffectivePolicy(dr, subset, name.port);
  c.set_lb_policy(cluster::Cluster::ROUND_ROBIN);
  if (policy.has_load_balancer()) ApplyLoadBalancer(policy.load_balancer(), &c);
  if (policy.has_connection_pool()) ApplyConnectionPool(policy.connection_pool(), grpc, &c);
  if (policy.has_outlier_detection()) ApplyOutlierDetection(policy.outlier_detection(), &c);
  return c;
}

std::vector<std::string> AllOutboundClusterNames(const model::Proxy& proxy, const model::PushContext& push) {
  std::vector<std::string> out;
  const model::ProxyScope& scope = push.ScopeFor(proxy);
  for (const model::Service* service : scope.services()) {
    const model::Service& svc = *service;
    const model::DestinationRuleEntry* dr = scope.DestinationRuleForHost(svc.hostname);
    for (const auto& port : svc.ports) {
      out.push_back(OutboundClusterName(port.port, "", svc.hostname));
      if (!dr) continue;
      for (const auto& s : dr->spec().subsets()) out.push_back(OutboundClusterName(port.port, s.name(), svc.hostname));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<envoy::config::endpoint::v3::ClusterLoadAssignment> BuildLoadAssignment(
    const ClusterName& name, const model::Proxy& proxy, const model::PushContext& push) {
  const model::Service* svc = push.ServiceForHost(name.host);
  if (!svc || !svc->FindPort(name.port)) return std::nullopt;
  std::map<std::string, std::string> subset_labels;
  if (!name.subset.empty()) {
    const networking::Subset* subset = FindSubset(push.ScopeFor(proxy).DestinationRuleForHost(name.host), name.subset);
    if (!subset) return std::nullopt;
    subset_labels.insert(subset->labels().begin(), subset->labels().end());
  }
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  cla.set_cluster_name(name.ToString());
  std::map<std::tuple<std::string, std::string, std::string>, envoy::config::endpoint::v3::LocalityLbEndpoints*>
      by_locality;
  for (const auto& ep : push.Endpoints(name.host, name.port)) {
    if (!model::LabelsMatch(subset_labels, ep.labels)) continue;
    auto& group = by_locality[{ep.region, ep.zone, ep.sub_zone}];
    if (!group) {
      group = cla.add_endpoints();
      auto* locality = group->mutable_locality();
      locality->set_region(ep.region);
      locality->set_zone(ep.zone);
      locality->set_sub_zone(ep.sub_zone);
    }
    auto* lb = group->add_lb_endpoints();
    auto* socket = lb->mutable_endpoint()->mutable_address()->mutable_socket_address();
    socket->set_address(ep.address);
    socket->set_port_value(ep.port);
    if (ep.health != model::EndpointHealth::kUnknown) {
      lb->set_health_status(ep.health == model::EndpointHealth::kHealthy ? envoy::config::core::v3::HEALTHY
                                                                         : envoy::config::core::v3::UNHEALTHY);
    }
    lb->mutable_load_balancing_weight()->set_value(ep.weight);
    auto& metadata = *lb->mutable_metadata()->mutable_filter_metadata();
    if (ep.tls_mode != kTlsModeDisabled) {
      (*metadata[kTransportSocketMatch].mutable_fields())["tlsMode"].set_string_value(ep.tls_mode);
    }
    (*metadata[kIstioMetadataKey].mutable_fields())["workload"].set_string_value(WorkloadMetadata(ep));
    // gRPC ignores localities without a weight: give each the sum of its endpoints'.
    group->mutable_load_balancing_weight()->set_value(group->load_balancing_weight().value() + ep.weight);
  }
  return cla;
}

}  // namespace keel::pilot::networking
