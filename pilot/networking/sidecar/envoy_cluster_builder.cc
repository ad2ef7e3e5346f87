#include "pilot/networking/sidecar/envoy_cluster_builder.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <limits>
#include <cstring>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "networking/v1alpha3/destination_rule.pb.h"
#include "networking/v1alpha3/service_entry.pb.h"
#include "pilot/networking/core/cluster_builder.h"
#include "pilot/networking/core/istio_filters.h"
#include "pilot/networking/core/istio_metadata.h"
#include "pilot/networking/sidecar/common.h"

namespace keel::pilot::networking::sidecar {
namespace {

namespace networking = ::istio::networking::v1alpha3;
namespace cluster = ::envoy::config::cluster::v3;
namespace tls = ::envoy::extensions::transport_sockets::tls::v3;
namespace upstream_http = ::envoy::extensions::upstreams::http::v3;
using google::protobuf::util::TimeUtil;

constexpr int64_t kConnectTimeoutMs = 10000;        // MeshConfig.connectTimeout default
constexpr int64_t kDnsRefreshRateSeconds = 60;      // MeshConfig.dnsRefreshRate default
constexpr int64_t kPassthroughIdleTimeoutSeconds = 300;
// Istio's maxSecondsValue: the largest duration Envoy accepts, so inbound
// ORIGINAL_DST hosts are never cleaned up.
constexpr int64_t kMaxCleanupSeconds = 9223372035;
constexpr char kInboundPassthroughBindV4[] = "127.0.0.6";
constexpr char kInboundPassthroughBindV6[] = "::6";

bool IsIpv6(const model::Proxy& proxy) { return proxy.ip.find(':') != std::string::npos; }

// A cluster being built plus the HttpProtocolOptions that go into
// typed_extension_protocol_options at the end (Istio's clusterWrapper).
struct ClusterWrapper {
  cluster::Cluster c;
  std::optional<upstream_http::HttpProtocolOptions> http;

  upstream_http::HttpProtocolOptions& Http() {
    if (!http) http.emplace();
    return *http;
  }
  bool IsHttp2() const {
    return http && http->has_explicit_http_config() && http->explicit_http_config().has_http2_protocol_options();
  }
  void SetHttp2() {
    auto& options = Http();
    if (!options.has_explicit_http_config() || !options.explicit_http_config().has_http2_protocol_options()) {
      options.mutable_explicit_http_config()->mutable_http2_protocol_options();
    }
  }
  void SetUseDownstreamProtocol() {
    auto* config = Http().mutable_use_downstream_protocol_config();
    config->mutable_http_protocol_options();
    config->mutable_http2_protocol_options();
  }
  cluster::Cluster Build() && {
    if (http) {
      if (http->upstream_protocol_options_case() ==
          upstream_http::HttpProtocolOptions::UPSTREAM_PROTOCOL_OPTIONS_NOT_SET) {
        http->mutable_explicit_http_config()->mutable_http_protocol_options();
      }
      (*c.mutable_typed_extension_protocol_options())[kHttpProtocolOptionsKey].PackFrom(*http);
    }
    return std::move(c);
  }
};

cluster::CircuitBreakers::Thresholds DefaultThresholds() {
  cluster::CircuitBreakers::Thresholds t;
  const uint32_t max = std::numeric_limits<uint32_t>::max();
  t.mutable_max_connections()->set_value(max);
  t.mutable_max_pending_requests()->set_value(max);
  t.mutable_max_requests()->set_value(max);
  t.mutable_max_retries()->set_value(max);
  return t;
}

// Istio's applyConnectionPool (also called with an empty pool for the defaults).
void ApplyConnectionPool(const networking::ConnectionPoolSettings& pool, ClusterWrapper* w) {
  cluster::CircuitBreakers::Thresholds t = DefaultThresholds();
  const google::protobuf::Duration* idle_timeout = nullptr;
  uint32_t max_requests_per_connection = 0, max_concurrent_streams = 0;
  const google::protobuf::Duration* max_connection_duration = nullptr;
  if (pool.has_http()) {
    const auto& http = pool.http();
    if (http.http2_max_requests() > 0) t.mutable_max_requests()->set_value(http.http2_max_requests());
    if (http.http1_max_pending_requests() > 0) {
      t.mutable_max_pending_requests()->set_value(http.http1_max_pending_requests());
    }
    if (http.max_retries() > 0) t.mutable_max_retries()->set_value(http.max_retries());
    if (http.has_idle_timeout()) idle_timeout = &http.idle_timeout();
    max_requests_per_connection = static_cast<uint32_t>(std::max(0, http.max_requests_per_connection()));
    max_concurrent_streams = static_cast<uint32_t>(std::max(0, http.max_concurrent_streams()));
  }
  *w->c.mutable_connect_timeout() = TimeUtil::MillisecondsToDuration(kConnectTimeoutMs);
  if (pool.has_tcp()) {
    const auto& tcp = pool.tcp();
    if (tcp.has_connect_timeout()) *w->c.mutable_connect_timeout() = tcp.connect_timeout();
    if (tcp.max_connections() > 0) t.mutable_max_connections()->set_value(tcp.max_connections());
    if (tcp.has_max_connection_duration()) max_connection_duration = &tcp.max_connection_duration();
    if (!idle_timeout && tcp.has_idle_timeout()) idle_timeout = &tcp.idle_timeout();
    if (tcp.has_tcp_keepalive()) {
      const auto& ka = tcp.tcp_keepalive();
      auto* out = w->c.mutable_upstream_connection_options()->mutable_tcp_keepalive();
      if (ka.probes() > 0) out->mutable_keepalive_probes()->set_value(ka.probes());
      if (ka.has_time()) out->mutable_keepalive_time()->set_value(static_cast<uint32_t>(ka.time().seconds()));
      if (ka.has_interval()) {
        out->mutable_keepalive_interval()->set_value(static_cast<uint32_t>(ka.interval().seconds()));
      }
    }
  }
  *w->c.mutable_circuit_breakers()->add_thresholds() = t;
  if (max_connection_duration || idle_timeout || max_requests_per_connection > 0 || max_concurrent_streams > 0) {
    auto* common = w->Http().mutable_common_http_protocol_options();
    if (idle_timeout) *common->mutable_idle_timeout() = *idle_timeout;
    if (max_requests_per_connection > 0) {
      common->mutable_max_requests_per_connection()->set_value(max_requests_per_connection);
    }
    if (max_connection_duration) *common->mutable_max_connection_duration() = *max_connection_duration;
    if (w->IsHttp2() && max_concurrent_streams > 0) {
      w->http->mutable_explicit_http_config()
          ->mutable_http2_protocol_options()
          ->mutable_max_concurrent_streams()
          ->set_value(max_concurrent_streams);
    }
  }
  if (pool.has_http() && pool.http().use_client_protocol()) w->SetUseDownstreamProtocol();
}

// Istio setUpstreamProtocol: HTTP/2 for HTTP2 and gRPC ports; a sidecar's
// sniffed port speaks what the downstream spoke (HTTP/1.1 or HTTP/2). Gateways
// do not (clients negotiate h2 by ALPN, which the upstream may not speak).
void SetUpstreamProtocol(const std::string& protocol, const model::Proxy& proxy, ClusterWrapper* w) {
  if (IsHttp2(protocol)) {
    w->SetHttp2();
  } else if (ClassOf(protocol) == PortClass::kAuto && proxy.type == model::ProxyType::kSidecar) {
    w->SetUseDownstreamProtocol();
  }
}

// Istio's applyOutlierDetection: the shared detectors (core), plus the
// local-origin split and the panic threshold Envoy honours.
void ApplyEnvoyOutlierDetection(const networking::OutlierDetection& od, cluster::Cluster* c) {
  ::keel::pilot::networking::ApplyOutlierDetection(od, c);
  auto* out = c->mutable_outlier_detection();
  if (od.split_external_local_origin_errors()) {
    out->set_split_external_local_origin_errors(true);
    if (od.consecutive_local_origin_failures().value() > 0) {
      out->mutable_consecutive_local_origin_failure()->set_value(od.consecutive_local_origin_failures().value());
      out->mutable_enforcing_consecutive_local_origin_failure()->set_value(100);
    }
    out->mutable_enforcing_local_origin_success_rate()->set_value(0);
  }
  // Istio disables the panic threshold unless minHealthPercent says otherwise.
  if (od.min_health_percent() >= 0) {
    c->mutable_common_lb_config()->mutable_healthy_panic_threshold()->set_value(od.min_health_percent());
  }
}

// Istio's applyLoadBalancer (locality settings are not applied, see README).
void ApplyLoadBalancer(const networking::LoadBalancerSettings& lb, cluster::Cluster* c) {
  if (c->type() == cluster::Cluster::ORIGINAL_DST) {
    c->set_lb_policy(cluster::Cluster::CLUSTER_PROVIDED);
    return;
  }
  auto slow_start = [&](cluster::Cluster::SlowStartConfig* s) {
    *s->mutable_slow_start_window() = lb.warmup_duration_secs();
  };
  switch (lb.simple()) {
    case networking::LoadBalancerSettings::RANDOM: c->set_lb_policy(cluster::Cluster::RANDOM); break;
    case networking::LoadBalancerSettings::ROUND_ROBIN:
      c->set_lb_policy(cluster::Cluster::ROUND_ROBIN);
      if (lb.has_warmup_duration_secs()) slow_start(c->mutable_round_robin_lb_config()->mutable_slow_start_config());
      break;
    case networking::LoadBalancerSettings::PASSTHROUGH:
      c->set_lb_policy(cluster::Cluster::CLUSTER_PROVIDED);
      c->set_type(cluster::Cluster::ORIGINAL_DST);
      c->clear_load_assignment();
      break;
    default:  // LEAST_CONN, LEAST_REQUEST, unset: Istio's default is LEAST_REQUEST
      c->set_lb_policy(cluster::Cluster::LEAST_REQUEST);
      if (lb.has_warmup_duration_secs()) slow_start(c->mutable_least_request_lb_config()->mutable_slow_start_config());
  }
  if (!lb.has_consistent_hash()) return;
  const auto& ch = lb.consistent_hash();
  c->clear_round_robin_lb_config();
  c->clear_least_request_lb_config();
  if (ch.has_maglev()) {
    c->set_lb_policy(cluster::Cluster::MAGLEV);
    if (ch.maglev().table_size() != 0) {
      c->mutable_maglev_lb_config()->mutable_table_size()->set_value(ch.maglev().table_size());
    }
  } else if (ch.has_ring_hash()) {
    c->set_lb_policy(cluster::Cluster::RING_HASH);
    if (ch.ring_hash().minimum_ring_size() != 0) {
      c->mutable_ring_hash_lb_config()->mutable_minimum_ring_size()->set_value(ch.ring_hash().minimum_ring_size());
    }
  } else {
    c->set_lb_policy(cluster::Cluster::RING_HASH);
    c->mutable_ring_hash_lb_config()->mutable_minimum_ring_size()->set_value(
        ch.minimum_ring_size() != 0 ? ch.minimum_ring_size() : 1024);
  }
}

void AddSanMatchers(const std::vector<std::string>& sans, tls::CertificateValidationContext* v) {
  for (const auto& san : sans) v->add_match_subject_alt_names()->set_exact(san);
}

tls::CommonTlsContext DefaultUpstreamCommonTlsContext() {
  tls::CommonTlsContext common;
  common.mutable_tls_params()->set_tls_minimum_protocol_version(tls::TlsParameters::TLSv1_2);
  common.mutable_tls_params()->set_tls_maximum_protocol_version(tls::TlsParameters::TLSv1_3);
  return common;
}

// The service accounts of a service's workloads, as SPIFFE ids in the mesh's
// trust domain (Istio PushContext.ServiceAccounts), plus a ServiceEntry's subjectAltNames.
std::vector<std::string> ServiceAccounts(const model::Service& svc, const model::PushContext& push) {
  std::set<std::string> out;
  if (svc.source.kind == model::Kind::kServiceEntry) {
    if (auto it = push.configs()->find(svc.source); it != push.configs()->end()) {
      for (const auto& san : it->second->As<networking::ServiceEntry>().subject_alt_names()) out.insert(san);
    }
  }
  for (const auto& port : svc.ports) {
    for (const auto& ep : push.Endpoints(svc.hostname, port.port)) {
      if (ep.service_account.empty()) continue;
      if (absl::StartsWith(ep.service_account, "spiffe://")) {
        out.insert(ep.service_account);
      } else {
        out.insert(absl::StrCat("spiffe://", push.mesh().trust_domain(), "/ns/", svc.ns, "/sa/", ep.service_account));
      }
    }
  }
  return std::vector<std::string>(out.begin(), out.end());
}

// Istio's buildUpstreamClusterTLSContext for the resolved settings `settings`;
// nullopt means plaintext. ISTIO_MUTUAL accepts the SANs in every trustDomainAliases domain too.
std::optional<tls::UpstreamTlsContext> UpstreamTlsContext(const networking::ClientTLSSettings& settings,
                                                          const model::Proxy& proxy, const model::MeshOptions& mesh,
                                                          bool dr_has_selector, bool external,
                                                          const std::vector<std::string>& sas, ClusterWrapper* w) {
  const bool credential = !settings.credential_name().empty() &&
                          !absl::StartsWith(settings.credential_name(), "configmap://");
  const bool simple_or_mutual = settings.mode() == networking::ClientTLSSettings::SIMPLE ||
                                settings.mode() == networking::ClientTLSSettings::MUTUAL;
  // Istio does not hand credentialName secrets to every sidecar a DestinationRule
  // without workloadSelector reaches: such sidecars get no TLS at all.
  if (credential && simple_or_mutual && proxy.type == model::ProxyType::kSidecar && !dr_has_selector) {
    return std::nullopt;
  }
  tls::UpstreamTlsContext ctx;
  switch (settings.mode()) {
    case networking::ClientTLSSettings::ISTIO_MUTUAL: {
      *ctx.mutable_common_tls_context() = DefaultUpstreamCommonTlsContext();
      auto* common = ctx.mutable_common_tls_context();
      ctx.set_sni(settings.sni());
      *common->add_tls_certificate_sds_secret_configs() = AgentSdsSecret(kSdsDefault);
      auto* combined = common->mutable_combined_validation_context();
      AddSanMatchers(mesh.WithTrustDomainAliases({settings.subject_alt_names().begin(), settings.subject_alt_names().end()}),
                     combined->mutable_default_validation_context());
      *combined->mutable_validation_context_sds_secret_config() = AgentSdsSecret(kSdsRoot);
      if (ctx.sni().empty()) ctx.set_sni(w->c.name());
      common->add_alpn_protocols(kAlpnPeerExchange);
      common->add_alpn_protocols(kAlpnIstio);
      if (w->IsHttp2()) common->add_alpn_protocols("h2");
      return ctx;
    }
    case networking::ClientTLSSettings::SIMPLE:
    case networking::ClientTLSSettings::MUTUAL: {
      const bool mutual = settings.mode() == networking::ClientTLSSettings::MUTUAL;
      *ctx.mutable_common_tls_context() = DefaultUpstreamCommonTlsContext();
      auto* common = ctx.mutable_common_tls_context();
      ctx.set_sni(settings.sni());
      const bool insecure = settings.insecure_skip_verify().value();
      // Envoy derives SNI and the SAN check from the request's host when unset.
      const bool auto_sni = settings.sni().empty();
      const bool auto_san = auto_sni && settings.subject_alt_names().empty() && !insecure;
      if (auto_sni || auto_san) {
        auto* upstream = w->Http().mutable_upstream_http_protocol_options();
        if (auto_sni) upstream->set_auto_sni(true);
        if (auto_san) upstream->set_auto_san_validation(true);
      }
      std::vector<std::string> sans(settings.subject_alt_names().begin(), settings.subject_alt_names().end());
      if (external && sans.empty()) sans = sas;
      if (credential) {
        *common->add_tls_certificate_sds_secret_configs() = CredentialSdsSecret(settings.credential_name());
        if (!insecure) {
          auto* combined = common->mutable_combined_validation_context();
          AddSanMatchers(sans, combined->mutable_default_validation_context());
          *combined->mutable_validation_context_sds_secret_config() =
              CredentialSdsSecret(settings.credential_name() + "-cacert");
        }
      } else {
        // Files mounted in the proxy's pod, served by the agent over SDS.
        const std::string ca = settings.ca_certificates().empty() ? "system" : settings.ca_certificates();
        if (mutual) {
          if (settings.client_certificate().empty() || settings.private_key().empty()) {
            return std::nullopt;  // Istio logs and builds the cluster without TLS
          }
          *common->add_tls_certificate_sds_secret_configs() = AgentSdsSecret(
              absl::StrCat("file-cert:", settings.client_certificate(), "~", settings.private_key()));
        }
        if (insecure) {
          common->mutable_validation_context();
        } else {
          auto* combined = common->mutable_combined_validation_context();
          auto* validation = combined->mutable_default_validation_context();
          AddSanMatchers(sans, validation);
          if (!settings.ca_crl().empty()) validation->mutable_crl()->set_filename(settings.ca_crl());
          *combined->mutable_validation_context_sds_secret_config() = AgentSdsSecret(absl::StrCat("file-root:", ca));
        }
      }
      if (w->IsHttp2()) common->add_alpn_protocols("h2");
      return ctx;
    }
    default:
      return std::nullopt;
  }
}

// Istio's BestEffortInferServiceMTLSMode, whether auto mTLS sends mTLS: not to
// services outside the mesh; to original-destination ones only when every
// endpoint runs a sidecar (label security.istio.io/tlsMode=istio); and not when
// the service's namespace (or the mesh) PeerAuthentication is DISABLE (its
// servers take plaintext only). Workload-selector policies are not consulted.
bool AutoMtlsApplies(const model::Service& svc, const ClusterName& name, const model::PushContext& push,
                     bool passthrough) {
  if (svc.mesh_external) return false;
  if (passthrough) {
    const auto& endpoints = push.Endpoints(svc.hostname, name.port);
    if (endpoints.empty()) return false;
    for (const auto& ep : endpoints) {
      if (ep.tls_mode != kTlsModeIstio) return false;
    }
  }
  return push.NamespaceMtlsMode(svc.ns) != model::MtlsMode::kDisable;
}

// Istio's buildUpstreamTLSSettings + applyUpstreamTLSSettings.
void ApplyTls(const networking::TrafficPolicy& policy, const ClusterName& name, const model::Service& svc,
              const model::Proxy& proxy, const model::PushContext& push, bool dr_has_selector, ClusterWrapper* w) {
  const bool passthrough = w->c.type() == cluster::Cluster::ORIGINAL_DST;
  const std::vector<std::string> sas = ServiceAccounts(svc, push);
  networking::ClientTLSSettings settings;
  bool auto_detected = false;
  if (policy.has_tls()) {
    settings = policy.tls();
    if (settings.mode() == networking::ClientTLSSettings::ISTIO_MUTUAL) {
      if (settings.sni().empty()) settings.set_sni(IstioMtlsSni(name));
      if (settings.subject_alt_names().empty()) *settings.mutable_subject_alt_names() = {sas.begin(), sas.end()};
    }
  } else {
    if (!push.mesh().auto_mtls() || !AutoMtlsApplies(svc, name, push, passthrough)) return;
    settings.set_mode(networking::ClientTLSSettings::ISTIO_MUTUAL);
    settings.set_sni(IstioMtlsSni(name));
    *settings.mutable_subject_alt_names() = {sas.begin(), sas.end()};
    auto_detected = true;
  }
  auto ctx = UpstreamTlsContext(settings, proxy, push.mesh(), dr_has_selector, svc.mesh_external, sas, w);
  if (!ctx) return;
  if (auto_detected && !passthrough) {
    // mTLS to endpoints that run a sidecar, plaintext to the others.
    auto* istio = w->c.add_transport_socket_matches();
    istio->set_name("tlsMode-istio");
    (*istio->mutable_match()->mutable_fields())["tlsMode"].set_string_value("istio");
    *istio->mutable_transport_socket() = UpstreamTlsSocket(*ctx);
    auto* plain = w->c.add_transport_socket_matches();
    plain->set_name("tlsMode-disabled");
    plain->mutable_match();
    *plain->mutable_transport_socket() = RawBufferSocket();
  } else {
    *w->c.mutable_transport_socket() = UpstreamTlsSocket(*ctx);
  }
}

void SetEdsConfig(cluster::Cluster* c) {
  auto* eds = c->mutable_eds_cluster_config();
  eds->set_service_name(c->name());
  eds->mutable_eds_config()->mutable_ads();
  *eds->mutable_eds_config()->mutable_initial_fetch_timeout() = TimeUtil::SecondsToDuration(0);
  eds->mutable_eds_config()->set_resource_api_version(envoy::config::core::v3::V3);
}

cluster::Cluster::DiscoveryType DiscoveryType(const model::Service& svc, const model::Proxy& proxy,
                                              const model::PushContext& push) {
  switch (svc.resolution) {
    case model::Resolution::kClientSideLb: return cluster::Cluster::EDS;
    case model::Resolution::kDnsLb: {
      if (auto it = push.configs()->find(svc.source); it != push.configs()->end() &&
                                                       svc.source.kind == model::Kind::kServiceEntry &&
                                                       it->second->As<networking::ServiceEntry>().resolution() ==
                                                           networking::ServiceEntry::DNS_ROUND_ROBIN) {
        return cluster::Cluster::LOGICAL_DNS;
      }
      return cluster::Cluster::STRICT_DNS;
    }
    case model::Resolution::kPassthrough:
      // Gateways cannot use original-destination clusters.
      return proxy.type == model::ProxyType::kRouter ? cluster::Cluster::EDS : cluster::Cluster::ORIGINAL_DST;
  }
  return cluster::Cluster::EDS;
}

bool DrHasSelector(const model::DestinationRuleEntry* dr) {
  return dr && dr->spec().has_workload_selector() && !dr->spec().workload_selector().match_labels().empty();
}

}  // namespace

std::string IstioMtlsSni(const ClusterName& name) {
  return absl::StrCat(name.direction, "_.", name.port, "_.", name.subset, "_.", name.host);
}

bool IsInboundClusterName(const std::string& name) {
  return name == kInboundPassthroughCluster || absl::StartsWith(name, "inbound|");
}

std::optional<cluster::Cluster> BuildEnvoyOutboundCluster(const ClusterName& name, const model::Proxy& proxy,
                                                        const model::PushContext& push) {
  if (name.direction != "outbound") return std::nullopt;
  const model::Service* svc = push.ServiceForHost(name.host);
  const model::ServicePort* port = svc ? svc->FindPort(name.port) : nullptr;
  if (!port || ClassOf(port->protocol) == PortClass::kUnsupported) return std::nullopt;
  const model::DestinationRuleEntry* dr = push.ScopeFor(proxy).DestinationRuleForHost(name.host);
  const networking::Subset* subset = FindSubset(dr, name.subset);
  if (!name.subset.empty() && !subset) return std::nullopt;
  const networking::TrafficPolicy policy = EffectiveTrafficPolicy(dr, subset, name.port);

  ClusterWrapper w;
  w.c.set_name(name.ToString());
  w.c.set_type(DiscoveryType(*svc, proxy, push));
  w.c.mutable_common_lb_config();
  if (policy.load_balancer().simple() == networking::LoadBalancerSettings::PASSTHROUGH) {
    w.c.set_type(cluster::Cluster::ORIGINAL_DST);
  }
  if (w.c.type() == cluster::Cluster::STRICT_DNS || w.c.type() == cluster::Cluster::LOGICAL_DNS) {
    w.c.set_dns_lookup_family(IsIpv6(proxy) ? cluster::Cluster::V6_ONLY : cluster::Cluster::V4_ONLY);
    *w.c.mutable_dns_refresh_rate() = TimeUtil::SecondsToDuration(kDnsRefreshRateSeconds);
    w.c.set_respect_dns_ttl(true);
    auto load = BuildLoadAssignment(name, proxy, push);
    if (!load || load->endpoints().empty()) return std::nullopt;  // Istio drops DNS clusters without endpoints
    if (w.c.type() == cluster::Cluster::LOGICAL_DNS) {
      // Envoy accepts exactly one host for LOGICAL_DNS.
      while (load->endpoints_size() > 1) load->mutable_endpoints()->RemoveLast();
      auto* group = load->mutable_endpoints(0);
      while (group->lb_endpoints_size() > 1) group->mutable_lb_endpoints()->RemoveLast();
      group->mutable_load_balancing_weight()->set_value(group->lb_endpoints(0).load_balancing_weight().value());
    }
    *w.c.mutable_load_assignment() = std::move(*load);
  }
  SetUpstreamProtocol(port->protocol, proxy, &w);

  ApplyConnectionPool(policy.connection_pool(), &w);
  const auto& http_pool = policy.connection_pool().http();
  if (http_pool.h2_upgrade_policy() == networking::ConnectionPoolSettings::HTTPSettings::UPGRADE) w.SetHttp2();
  if (policy.has_outlier_detection()) ApplyEnvoyOutlierDetection(policy.outlier_detection(), &w.c);
  ApplyLoadBalancer(policy.load_balancer(), &w.c);
  // istiod's applyLoadBalancer: panic routing off unless outlier detection's
  // minHealthPercent set it (Envoy's default, 50%, would send traffic to ejected
  // hosts once half are out). Not for cluster-provided balancing, except that
  // ORIGINAL_DST clusters get it too, as from istiod.
  const bool cluster_provided =
      w.c.lb_policy() == cluster::Cluster::CLUSTER_PROVIDED && w.c.type() != cluster::Cluster::ORIGINAL_DST;
  if (!cluster_provided && !w.c.common_lb_config().has_healthy_panic_threshold()) {
    w.c.mutable_common_lb_config()->mutable_healthy_panic_threshold()->set_value(0);
  }
  ApplyTls(policy, name, *svc, proxy, push, DrHasSelector(dr), &w);
  if (w.c.type() == cluster::Cluster::ORIGINAL_DST) w.c.set_lb_policy(cluster::Cluster::CLUSTER_PROVIDED);
  if (w.c.type() == cluster::Cluster::EDS) SetEdsConfig(&w.c);
  *w.c.add_filters() = ClusterMetadataExchangeFilter();
  const networking::ClientTLSSettings::TLSmode tls_mode = policy.tls().mode();
  SetIstioMetadata({svc, dr ? dr->config.get() : nullptr, name.subset,
                    tls_mode == networking::ClientTLSSettings::SIMPLE || tls_mode == networking::ClientTLSSettings::MUTUAL},
                   &w.c);
  return std::move(w).Build();
}

namespace {

// Where an ingress listener's defaultEndpoint sends traffic (istiod
// buildInboundClusters): "" (unset) -> nullopt, ORIGINAL_DST back to the
// application; 0.0.0.0 / [::] -> the proxy's IP of that family (else the
// loopback); 127.0.0.1 / [::1] -> the loopback of the proxy's family (a proxy
// has one IP in Keel); unix://PATH -> that socket.
std::optional<envoy::config::core::v3::Address> IngressEndpoint(const model::SidecarScope::Ingress& ingress,
                                                                const model::Proxy& proxy) {
  const std::string& ep = ingress.default_endpoint;
  if (ep.empty()) return std::nullopt;
  envoy::config::core::v3::Address out;
  if (absl::StartsWith(ep, "unix://")) {
    out.mutable_pipe()->set_path(ep.substr(strlen("unix://")));
    return out;
  }
  const size_t colon = ep.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(ep.substr(colon + 1), &port)) return std::nullopt;
  const std::string host = ep.substr(0, colon);
  const std::string loopback = IsIpv6(proxy) ? "::1" : "127.0.0.1";
  std::string address = loopback;
  if (host == "0.0.0.0" && !IsIpv6(proxy) && !proxy.ip.empty()) address = proxy.ip;
  if (host == "[::]" && IsIpv6(proxy)) address = proxy.ip;
  auto* socket = out.mutable_socket_address();
  socket->set_address(address);
  socket->set_port_value(port);
  return out;
}

bool IsLoopback(const envoy::config::core::v3::Address& a) {
  if (!a.has_socket_address()) return false;
  const std::string& ip = a.socket_address().address();
  return ip == "127.0.0.1" || ip == "::1";
}

}  // namespace

std::optional<cluster::Cluster> BuildInboundCluster(int target_port, const model::Proxy& proxy,
                                                  const model::PushContext& push,
                                                  const std::vector<ProxyInstance>& instances) {
  const ProxyInstance* instance = nullptr;
  for (const auto& i : instances) {
    if (i.target_port == target_port) {
      instance = &i;  // the first (oldest) service wins, as in Istio
      break;
    }
  }
  // The Sidecar's ingress listeners, when it has any, replace the instances' ports.
  const model::ProxyScope& scope = push.ScopeFor(proxy);
  const model::SidecarScope::Ingress* ingress = nullptr;
  if (!scope.sidecar().ingress().empty()) {
    ingress = scope.sidecar().IngressFor(target_port);
    if (!ingress) return std::nullopt;
  } else if (!instance) {
    return std::nullopt;
  }
  const std::optional<envoy::config::core::v3::Address> endpoint =
      ingress ? IngressEndpoint(*ingress, proxy) : std::nullopt;
  ClusterWrapper w;
  const std::string name = ClusterName{"inbound", target_port, "", ""}.ToString();
  w.c.set_name(name);
  w.c.set_type(endpoint ? cluster::Cluster::STATIC : cluster::Cluster::ORIGINAL_DST);
  w.c.mutable_common_lb_config();
  SetUpstreamProtocol(ingress ? ingress->protocol : instance->port.protocol, proxy, &w);
  if (endpoint) {
    auto* load = w.c.mutable_load_assignment();
    load->set_cluster_name(name);
    *load->add_endpoints()->add_lb_endpoints()->mutable_endpoint()->mutable_address() = *endpoint;
  } else {
    *w.c.mutable_cleanup_interval() = TimeUtil::SecondsToDuration(kMaxCleanupSeconds);
  }
  // Circuit breakers have to hold on the server side too: the connection pool of
  // the service's DestinationRule (as seen from the proxy) applies inbound. For an
  // ingress listener, the service whose target port it is (istiod
  // findOrCreateServiceTarget), at the listener's port.
  if (instance) {
    // The services at the instance's service port (istiod addTelemetryMetadata).
    std::vector<const model::Service*> services;
    for (const auto& i : instances) {
      if (i.port.port == instance->port.port) services.push_back(i.service);
    }
    const model::DestinationRuleEntry* dr = push.ScopeFor(proxy).DestinationRuleForHost(instance->service->hostname);
    SetInboundIstioMetadata(services, dr && dr->spec().has_traffic_policy() ? dr->config.get() : nullptr, &w.c);
    const networking::TrafficPolicy policy =
        EffectiveTrafficPolicy(dr, nullptr, ingress ? ingress->port : instance->port.port);
    ApplyConnectionPool(policy.connection_pool(), &w);
  } else {
    ApplyConnectionPool(networking::ConnectionPoolSettings(), &w);
  }
  if (!endpoint) w.c.set_lb_policy(cluster::Cluster::CLUSTER_PROVIDED);
  // Not for the loopback: iptables lets the proxy's own traffic to it through.
  if (!endpoint || !IsLoopback(*endpoint)) {
    auto* source = w.c.mutable_upstream_bind_config()->mutable_source_address();
    source->set_address(IsIpv6(proxy) ? kInboundPassthroughBindV6 : kInboundPassthroughBindV4);
    source->set_port_value(0);
  }
  return std::move(w).Build();
}

cluster::Cluster BuildBlackHoleCluster() {
  cluster::Cluster c;
  c.set_name(kBlackHoleCluster);
  c.set_type(cluster::Cluster::STATIC);
  *c.mutable_connect_timeout() = TimeUtil::MillisecondsToDuration(kConnectTimeoutMs);
  c.set_lb_policy(cluster::Cluster::ROUND_ROBIN);
  return c;
}

cluster::Cluster BuildPassthroughCluster() {
  ClusterWrapper w;
  w.c.set_name(kPassthroughCluster);
  w.c.set_type(cluster::Cluster::ORIGINAL_DST);
  w.c.set_lb_policy(cluster::Cluster::CLUSTER_PROVIDED);
  ApplyConnectionPool(networking::ConnectionPoolSettings(), &w);
  *w.Http().mutable_common_http_protocol_options()->mutable_idle_timeout() =
      TimeUtil::SecondsToDuration(kPassthroughIdleTimeoutSeconds);
  w.SetUseDownstreamProtocol();
  *w.c.add_filters() = ClusterMetadataExchangeFilter();
  return std::move(w).Build();
}

cluster::Cluster BuildInboundPassthroughCluster(const model::Proxy& proxy) {
  cluster::Cluster c = BuildPassthroughCluster();
  c.set_name(kInboundPassthroughCluster);
  c.clear_filters();  // metadata exchange is outbound only
  auto* source = c.mutable_upstream_bind_config()->mutable_source_address();
  source->set_address(IsIpv6(proxy) ? kInboundPassthroughBindV6 : kInboundPassthroughBindV4);
  source->set_port_value(0);
  return c;
}

std::vector<std::string> EnvoyClusterNames(const model::Proxy& proxy, const model::PushContext& push,
                                           const std::vector<ProxyInstance>& instances) {
  std::vector<std::string> out;
  const model::ProxyScope& scope = push.ScopeFor(proxy);
  for (auto& name : AllOutboundClusterNames(proxy, push)) {
    ClusterName parsed;
    if (!ClusterName::Parse(name, &parsed)) continue;
    const model::Service* svc = push.ServiceForHost(parsed.host);
    const model::ServicePort* port = svc ? svc->FindPort(parsed.port) : nullptr;
    if (!port || ClassOf(port->protocol) == PortClass::kUnsupported) continue;
    if (!scope.ServicePortVisible(*svc, parsed.port)) continue;
    out.push_back(std::move(name));
  }
  out.push_back(kBlackHoleCluster);
  if (proxy.type == model::ProxyType::kSidecar) {
    out.push_back(kPassthroughCluster);
    out.push_back(kInboundPassthroughCluster);
    const auto& ingress = scope.sidecar().ingress();  // when any, they replace the instances' ports
    for (const auto& i : ingress) out.push_back(ClusterName{"inbound", i.port, "", ""}.ToString());
    if (ingress.empty()) {
      for (const auto& i : instances) out.push_back(ClusterName{"inbound", i.target_port, "", ""}.ToString());
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

std::optional<cluster::Cluster> BuildEnvoyClusterOfName(const std::string& name, const model::Proxy& proxy,
                                                      const model::PushContext& push,
                                                      const std::vector<ProxyInstance>& instances) {
  if (name == kBlackHoleCluster) return BuildBlackHoleCluster();
  const bool sidecar = proxy.type == model::ProxyType::kSidecar;
  if (name == kPassthroughCluster) return sidecar ? std::optional(BuildPassthroughCluster()) : std::nullopt;
  if (name == kInboundPassthroughCluster) {
    return sidecar ? std::optional(BuildInboundPassthroughCluster(proxy)) : std::nullopt;
  }
  if (absl::StartsWith(name, "inbound|")) {
    // inbound|PORT|| (ClusterName::Parse wants a host).
    int port = 0;
    if (!sidecar || !absl::EndsWith(name, "||") ||
        !absl::SimpleAtoi(absl::string_view(name).substr(8, name.size() - 10), &port)) {
      return std::nullopt;
    }
    return BuildInboundCluster(port, proxy, push, instances);
  }
  ClusterName parsed;
  if (!ClusterName::Parse(name, &parsed)) return std::nullopt;
  return BuildEnvoyOutboundCluster(parsed, proxy, push);
}

}  // namespace

std::optional<cluster::Cluster> BuildEnvoyCluster(const std::string& name, const model::Proxy& proxy,
                                                const model::PushContext& push,
                                                const std::vector<ProxyInstance>& instances) {
  std::optional<cluster::Cluster> c = BuildEnvoyClusterOfName(name, proxy, push, instances);
  // istiod names every cluster's stats so (its outboundClusterStatName and
  // inboundClusterStatName templates, which Keel does not read, default to the name).
  // InboundPassthroughCluster is istiod's PassthroughCluster renamed, stat name kept.
  if (c) {
    c->set_alt_stat_name(DelimitedStatPrefix(name == kInboundPassthroughCluster ? kPassthroughCluster : c->name()));
  }
  return c;
}

}  // namespace keel::pilot::networking::sidecar
