#include "pilot/networking/core/telemetry.h"

#include <optional>

#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "pilot/model/deterministic.h"
#include "pilot/networking/core/access_log.h"
#include "pilot/networking/core/istio_filters.h"
#include "pilot/networking/core/tracing.h"
#include "pilot/networking/core/well_known_names.h"

namespace keel::pilot::networking {
namespace {

namespace hcm = ::envoy::extensions::filters::network::http_connection_manager::v3;
namespace tcp = ::envoy::extensions::filters::network::tcp_proxy::v3;
namespace listener = ::envoy::config::listener::v3;

// A TCP chain's proxy filters, istio.stats goes before the first (istiod's
// buildCompleteNetworkFilters: metadata exchange, RBAC, stats, then these).
bool IsProxyFilter(const std::string& name) { return name == kMongoProxy || name == kTcpProxy; }

HttpListenerClass ListenerClassOf(const model::Proxy& proxy, const listener::Listener& l) {
  if (proxy.type == model::ProxyType::kRouter) return HttpListenerClass::kGateway;
  return l.traffic_direction() == envoy::config::core::v3::INBOUND ? HttpListenerClass::kSidecarInbound
                                                                   : HttpListenerClass::kSidecarOutbound;
}

struct MeshTelemetry {
  std::optional<envoy::config::accesslog::v3::AccessLog> log;
  std::optional<hcm::HttpConnectionManager::Tracing> tracing;
  bool metrics = false;
  HttpListenerClass where = HttpListenerClass::kSidecarOutbound;

  void ApplyTo(hcm::HttpConnectionManager* m) const {
    if (log) *m->add_access_log() = *log;
    if (tracing) *m->mutable_tracing() = *tracing;
    *m->mutable_request_id_extension() = UuidRequestId();
    if (!metrics) return;
    auto* filters = m->mutable_http_filters();
    int router = filters->size();
    for (int i = 0; i < filters->size(); ++i) {
      if (filters->Get(i).name() == kRouterFilter) router = i;
    }
    *filters->Add() = StatsHttpFilter(where);
    for (int i = filters->size() - 1; i > router; --i) filters->SwapElements(i, i - 1);
  }

  void ApplyTo(listener::FilterChain* chain) const {
    auto* filters = chain->mutable_filters();
    bool http = false;
    int proxy = -1;
    for (int i = 0; i < filters->size(); ++i) {
      listener::Filter& f = *filters->Mutable(i);
      if (f.name() == kHttpConnectionManager) {
        http = true;
        hcm::HttpConnectionManager m;
        if (!f.typed_config().UnpackTo(&m)) continue;
        ApplyTo(&m);
        model::PackDeterministic(m, f.mutable_typed_config());
      } else if (IsProxyFilter(f.name())) {
        if (proxy < 0) proxy = i;
        tcp::TcpProxy p;
        if (log && f.name() == kTcpProxy && f.typed_config().UnpackTo(&p)) {
          *p.add_access_log() = *log;
          model::PackDeterministic(p, f.mutable_typed_config());
        }
      }
    }
    if (!metrics || http || proxy < 0) return;
    *filters->Add() = StatsNetworkFilter(where);
    for (int i = filters->size() - 1; i > proxy; --i) filters->SwapElements(i, i - 1);
  }
};

}  // namespace

bool MeshPrometheusMetrics(const model::MeshConfig& mesh) {
  for (const std::string& name : mesh.default_providers().metrics()) {
    const model::MeshConfig::ExtensionProvider* provider = nullptr;
    for (const auto& p : mesh.extension_providers()) {
      if (p.name() == name) provider = &p;
    }
    if (provider ? provider->has_prometheus() : name == "prometheus") return true;
  }
  return false;
}

listener::Listener WithMeshTelemetry(const model::MeshConfig& mesh, const model::Proxy& proxy,
                                     listener::Listener listener) {
  MeshTelemetry t;
  t.log = MeshAccessLog(mesh);
  t.tracing = MeshTracing(mesh, proxy);
  t.metrics = MeshPrometheusMetrics(mesh);
  t.where = ListenerClassOf(proxy, listener);
  for (auto& chain : *listener.mutable_filter_chains()) t.ApplyTo(&chain);
  if (listener.has_default_filter_chain()) t.ApplyTo(listener.mutable_default_filter_chain());
  return listener;
}

}  // namespace keel::pilot::networking
