#include "pilot/networking/grpcgen/grpc_listener_builder.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "pilot/networking/core/cluster_name.h"
#include "pilot/networking/core/domains.h"
#include "pilot/networking/core/http_route_translator.h"

namespace keel::pilot::networking::grpcgen {
namespace {

namespace hcm = ::envoy::extensions::filters::network::http_connection_manager::v3;

bool SplitHostPort(const std::string& name, std::string* host, int* port) {
  size_t colon = name.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = name.substr(0, colon);
  return absl::SimpleAtoi(name.substr(colon + 1), port) && *port > 0 && *port <= 65535;
}

}  // namespace

std::string GrpcTarget::RouteName() const { return absl::StrCat(service->hostname, ":", port); }

std::optional<GrpcTarget> ResolveTarget(const std::string& listener_name, const model::Proxy& proxy,
                                        const model::PushContext& push) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(listener_name, &host, &port)) return std::nullopt;
  const model::Service* svc = push.ServiceForDnsName(host, proxy.ns);
  if (!svc || !svc->FindPort(port)) return std::nullopt;
  return GrpcTarget{svc, port};
}

std::optional<envoy::config::listener::v3::Listener> BuildGrpcListener(const std::string& name,
                                                                     const model::Proxy& proxy,
                                                                     const model::PushContext& push) {
  auto target = ResolveTarget(name, proxy, push);
  if (!target) return std::nullopt;
  hcm::HttpConnectionManager manager;
  manager.set_stat_prefix(name);
  auto* rds = manager.mutable_rds();
  rds->set_route_config_name(target->RouteName());
  rds->mutable_config_source()->mutable_ads();
  rds->mutable_config_source()->set_resource_api_version(envoy::config::core::v3::V3);
  auto* fault = manager.add_http_filters();
  fault->set_name(kFaultFilter);
  fault->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::fault::v3::HTTPFault());
  auto* router = manager.add_http_filters();
  router->set_name(kRouterFilter);
  router->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::router::v3::Router());

  envoy::config::listener::v3::Listener listener;
  listener.set_name(name);
  listener.mutable_api_listener()->mutable_api_listener()->PackFrom(manager);
  return listener;
}

std::vector<std::string> AllGrpcListenerNames(const model::PushContext& push) {
  std::vector<std::string> out;
  for (const auto& svc : push.services()) {
    if (push.ServiceForHost(svc.hostname) != &svc) continue;
    for (const auto& port : svc.ports) out.push_back(absl::StrCat(svc.hostname, ":", port.port));
  }
  return out;
}

std::optional<envoy::config::route::v3::RouteConfiguration> BuildGrpcRouteConfiguration(
    const std::string& name, const model::Proxy& proxy, const model::PushContext& push) {
  auto target = ResolveTarget(name, proxy, push);
  if (!target || target->RouteName() != name) return std::nullopt;
  RouteContext ctx{&push, &proxy, target->port, "mesh"};

  envoy::config::route::v3::RouteConfiguration rc;
  rc.set_name(name);
  auto* vh = rc.add_virtual_hosts();
  vh->set_name(name);
  for (auto& d : DomainAliases(*target->service, target->port, push.mesh().domain)) vh->add_domains(std::move(d));
  if (const auto* vs = push.ScopeFor(proxy).VirtualServiceForHost(target->service->hostname, "mesh")) {
    for (auto& r : TranslateHttpRoutes(*vs, ctx)) *vh->add_routes() = std::move(r);
  } else {
    *vh->add_routes() = DefaultRoute(OutboundClusterName(target->port, "", target->service->hostname), ctx);
  }
  return rc;
}

}  // namespace keel::pilot::networking::grpcgen
