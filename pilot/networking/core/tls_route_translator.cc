#include "pilot/networking/core/tls_route_translator.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "networking/v1alpha3/virtual_service.pb.h"
#include "pilot/networking/core/tcp_route_translator.h"

namespace keel::pilot::networking {
namespace {

namespace networking = ::istio::networking::v1alpha3;

template <typename Match>
bool L4Applies(const Match& m, absl::string_view vs_ns, const RouteContext& ctx) {
  if (m.port() != 0 && static_cast<int>(m.port()) != ctx.listener_port) return false;
  if (!m.gateways().empty()) {
    bool found = false;
    for (const auto& g : m.gateways()) found = found || ResolveGatewayName(g, vs_ns) == ctx.gateway;
    if (!found) return false;
  }
  if (ctx.gateway == "mesh") {
    if (!m.source_labels().empty()) {
      std::map<std::string, std::string> want(m.source_labels().begin(), m.source_labels().end());
      if (!model::LabelsMatch(want, ctx.proxy->labels)) return false;
    }
    if (!m.source_namespace().empty() && m.source_namespace() != ctx.proxy->ns) return false;
  }
  return true;
}

}  // namespace

bool L4MatchApplies(const networking::L4MatchAttributes& match, absl::string_view vs_ns, const RouteContext& ctx) {
  return L4Applies(match, vs_ns, ctx);
}

bool TlsMatchApplies(const networking::TLSMatchAttributes& match, absl::string_view vs_ns, const RouteContext& ctx) {
  return L4Applies(match, vs_ns, ctx);
}

std::vector<TlsRouteChain> TranslateTlsRoutes(const model::VirtualServiceEntry& vs, const RouteContext& ctx,
                                              absl::string_view protocol) {
  std::vector<TlsRouteChain> out;
  const std::string& ns = vs.config->key.ns;
  const auto& tls_routes = vs.spec().tls();
  for (int i = 0; i < tls_routes.size(); ++i) {
    const auto& route = tls_routes[i];
    if (route.route().empty()) continue;
    for (int j = 0; j < route.match().size(); ++j) {
      const auto& match = route.match(j);
      if (!TlsMatchApplies(match, ns, ctx)) continue;
      TlsRouteChain chain;
      chain.sni_hosts.assign(match.sni_hosts().begin(), match.sni_hosts().end());
      chain.destination_subnets.assign(match.destination_subnets().begin(), match.destination_subnets().end());
      chain.filters = TcpRouteFilters(route.route(), vs, ctx, protocol);
      chain.origin = absl::StrCat(ns, "/", vs.config->key.name, " tls[", i, "].match[", j, "]");
      out.push_back(std::move(chain));
    }
  }
  return out;
}

}  // namespace keel::pilot::networking
