#include "pilot/networking/sidecar/http_connection_manager.h"

#include <google/protobuf/util/time_util.h>

#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "pilot/networking/core/http_route_translator.h"
#include "pilot/networking/core/istio_filters.h"
#include "pilot/networking/sidecar/common.h"

namespace keel::pilot::networking::sidecar {

namespace hcm = ::envoy::extensions::filters::network::http_connection_manager::v3;
using google::protobuf::util::TimeUtil;

envoy::config::listener::v3::Filter BuildHttpConnectionManager(const HcmOptions& options) {
  hcm::HttpConnectionManager m;
  m.set_codec_type(hcm::HttpConnectionManager::AUTO);
  m.set_stat_prefix(DelimitedStatPrefix(options.stat_prefix));
  if (options.route_config) {
    *m.mutable_route_config() = *options.route_config;
  } else {
    auto* rds = m.mutable_rds();
    rds->set_route_config_name(options.rds);
    auto* source = rds->mutable_config_source();
    source->mutable_ads();
    *source->mutable_initial_fetch_timeout() = TimeUtil::SecondsToDuration(0);
    source->set_resource_api_version(envoy::config::core::v3::V3);
  }
  m.mutable_normalize_path()->set_value(true);
  m.set_path_with_escaped_slashes_action(hcm::HttpConnectionManager::KEEP_UNCHANGED);
  m.mutable_use_remote_address()->set_value(false);
  m.add_upgrade_configs()->set_upgrade_type("websocket");
  *m.mutable_stream_idle_timeout() = TimeUtil::SecondsToDuration(0);
  if (options.inbound) {
    m.set_forward_client_cert_details(hcm::HttpConnectionManager::APPEND_FORWARD);
    auto* details = m.mutable_set_current_client_cert_details();
    details->mutable_subject()->set_value(true);
    details->set_dns(true);
    details->set_uri(true);
    m.set_server_name("istio-envoy");
    if (options.http2) m.mutable_http2_protocol_options();
  }
  m.set_proxy_100_continue(true);  // istiod: ENABLE_100_CONTINUE_HEADERS, on by default
  // istiod's order: peer metadata exchange; authentication and authorization;
  // gRPC stats and ALPN; fault and cors (typed_per_filter_config on routes needs
  // them); the router, terminal.
  const IstioHttpFilters& istio =
      IstioHttpFiltersFor(options.inbound ? HttpListenerClass::kSidecarInbound : HttpListenerClass::kSidecarOutbound);
  for (const auto& f : istio.first) *m.add_http_filters() = f;
  for (const auto& f : options.authz_filters) *m.add_http_filters() = f;
  for (const auto& f : istio.after_authz) *m.add_http_filters() = f;
  auto* fault = m.add_http_filters();
  fault->set_name(kFaultFilter);
  fault->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::fault::v3::HTTPFault());
  auto* cors = m.add_http_filters();
  cors->set_name(kCorsFilter);
  cors->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::cors::v3::Cors());
  auto* router = m.add_http_filters();
  router->set_name(kRouterFilter);
  router->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::router::v3::Router());

  envoy::config::listener::v3::Filter filter;
  filter.set_name(kHttpConnectionManager);
  filter.mutable_typed_config()->PackFrom(m);
  return filter;
}

}  // namespace keel::pilot::networking::sidecar
