#include "pilot/networking/grpcgen/grpc_listener_builder.h"

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "pilot/networking/core/cluster_name.h"
#include "pilot/networking/core/http_route_translator.h"
#include "pilot/networking/sidecar/route_builder.h"

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

std::string GrpcTarget::RouteName() const { return OutboundClusterName(port, "", service->hostname); }

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
  auto* rds = manager.mutable_rds();
  rds->set_route_config_name(target->RouteName());
  rds->mutable_config_source()->mutable_ads();
  auto* fault = manager.add_http_filters();
  fault->set_name(kFaultFilter);
  fault->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::fault::v3::HTTPFault());
  auto* router = manager.add_http_filters();
  router->set_name(kRouterFilter);
  router->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::router::v3::Router());

  envoy::config::listener::v3::Listener listener;
  listener.set_name(name);
  // The service's address, as istiod's (gRPC does not read a client listener's address).
  auto* address = listener.mutable_address()->mutable_socket_address();
  address->set_address(target->service->vip.empty() ? "0.0.0.0" : target->service->vip);
  address->set_port_value(target->port);
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
  ClusterName parsed;
  if (!ClusterName::Parse(name, &parsed) || parsed.direction != "outbound" || !parsed.subset.empty()) {
    return std::nullopt;
  }
  const model::Service* svc = push.ServiceForHost(parsed.host);
  if (!svc || !svc->FindPort(parsed.port)) return std::nullopt;
  // istiod's grpcgen: the sidecar's virtual hosts for the port, only this service's.
  std::set<std::string> seen_domains;
  auto vh = sidecar::BuildSidecarVirtualHost(*svc, parsed.port, proxy, push, &seen_domains);
  if (!vh) return std::nullopt;
  envoy::config::route::v3::RouteConfiguration rc;
  rc.set_name(name);
  *rc.add_virtual_hosts() = std::move(*vh);
  return rc;
}

}  // namespace keel::pilot::networking::grpcgen
