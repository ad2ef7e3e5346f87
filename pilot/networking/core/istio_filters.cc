#include "pilot/networking/core/istio_filters.h"

#include <google/protobuf/struct.pb.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "envoy/config/filter/http/alpn/v2alpha1/config.pb.h"
#include "envoy/extensions/filters/http/grpc_stats/v3/config.pb.h"
#include "pilot/model/deterministic.h"
#include "envoy/extensions/stats/config.pb.h"
#include "pilot/networking/core/well_known_names.h"
#include "udpa/type/v1/typed_struct.pb.h"

namespace keel::pilot::networking {
namespace {

namespace hcm = ::envoy::extensions::filters::network::http_connection_manager::v3;
namespace alpn = ::istio::envoy::config::filter::http::alpn::v2alpha1;
using google::protobuf::Struct;
using google::protobuf::Value;

constexpr char kMetadataExchangeTypeUrl[] = "type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange";
constexpr char kPeerMetadataTypeUrl[] = "type.googleapis.com/io.istio.http.peer_metadata.Config";

// istiod's protoconv.TypedStructWithFields: a config whose proto only Istio's
// Envoy build has, as a udpa TypedStruct.
google::protobuf::Any TypedStruct(const char* type_url, Struct fields) {
  udpa::type::v1::TypedStruct typed;
  typed.set_type_url(type_url);
  *typed.mutable_value() = std::move(fields);
  google::protobuf::Any any;
  model::PackDeterministic(typed, &any);
  return any;
}

// One T per listener class, built on first use and kept for the process: every
// HttpConnectionManager of every push copies it.
template <typename T>
const T& PerClass(HttpListenerClass where, T (*build)(HttpListenerClass)) {
  switch (where) {
    case HttpListenerClass::kSidecarInbound: {
      static const T* const inbound = new T(build(HttpListenerClass::kSidecarInbound));
      return *inbound;
    }
    case HttpListenerClass::kSidecarOutbound: {
      static const T* const outbound = new T(build(HttpListenerClass::kSidecarOutbound));
      return *outbound;
    }
    case HttpListenerClass::kGateway: break;
  }
  static const T* const gateway = new T(build(HttpListenerClass::kGateway));
  return *gateway;
}

Struct MetadataExchangeConfig() {
  Struct s;
  (*s.mutable_fields())["protocol"].set_string_value(kAlpnPeerExchange);
  (*s.mutable_fields())["enable_discovery"].set_bool_value(true);
  return s;
}

// [{<first>: {}}, {<second>: {}}, ...]: a list of one-key objects naming discovery methods.
Value MethodList(std::initializer_list<const char*> methods) {
  Value list;
  for (const char* m : methods) {
    Value entry;
    (*entry.mutable_struct_value()->mutable_fields())[m].mutable_struct_value();
    *list.mutable_list_value()->add_values() = std::move(entry);
  }
  return list;
}

}  // namespace

// Built once: every cluster and chain of every push gets a copy of the same bytes.
const envoy::config::cluster::v3::Filter& ClusterMetadataExchangeFilter() {
  static const envoy::config::cluster::v3::Filter* const filter = [] {
    auto* f = new envoy::config::cluster::v3::Filter;
    f->set_name(kMetadataExchangeFilter);
    *f->mutable_typed_config() = TypedStruct(kMetadataExchangeTypeUrl, MetadataExchangeConfig());
    return f;
  }();
  return *filter;
}

const envoy::config::listener::v3::Filter& NetworkMetadataExchangeFilter() {
  static const envoy::config::listener::v3::Filter* const filter = [] {
    auto* f = new envoy::config::listener::v3::Filter;
    f->set_name(kMetadataExchangeFilter);
    *f->mutable_typed_config() = TypedStruct(kMetadataExchangeTypeUrl, MetadataExchangeConfig());
    return f;
  }();
  return *filter;
}

hcm::HttpFilter PeerMetadataFilter(HttpListenerClass where) {
  // Inbound learns the downstream peer and tells it who we are; outbound (and
  // gateways) the same toward the upstream.
  const bool inbound = where == HttpListenerClass::kSidecarInbound;
  Struct config;
  auto& fields = *config.mutable_fields();
  fields[inbound ? "downstream_discovery" : "upstream_discovery"] = MethodList({"istio_headers", "workload_discovery"});
  fields[inbound ? "downstream_propagation" : "upstream_propagation"] = MethodList({"istio_headers"});
  hcm::HttpFilter f;
  f.set_name(kMetadataExchangeFilter);
  *f.mutable_typed_config() = TypedStruct(kPeerMetadataTypeUrl, std::move(config));
  return f;
}

hcm::HttpFilter GrpcStatsFilter() {
  envoy::extensions::filters::http::grpc_stats::v3::FilterConfig config;
  config.set_emit_filter_state(true);
  config.mutable_stats_for_all_methods()->set_value(false);
  hcm::HttpFilter f;
  f.set_name(kGrpcStatsFilter);
  f.mutable_typed_config()->PackFrom(config);
  return f;
}

hcm::HttpFilter AlpnFilter() {
  alpn::FilterConfig config;
  const std::pair<alpn::FilterConfig::Protocol, std::vector<const char*>> overrides[] = {
      {alpn::FilterConfig::HTTP10, {"istio-http/1.0", kAlpnIstio, "http/1.0"}},
      {alpn::FilterConfig::HTTP11, {"istio-http/1.1", kAlpnIstio, "http/1.1"}},
      {alpn::FilterConfig::HTTP2, {"istio-h2", kAlpnIstio, "h2"}}};
  for (const auto& [protocol, values] : overrides) {
    auto* o = config.add_alpn_override();
    o->set_upstream_protocol(protocol);
    for (const char* v : values) o->add_alpn_override(v);
  }
  hcm::HttpFilter f;
  f.set_name(kAlpnFilter);
  f.mutable_typed_config()->PackFrom(config);
  return f;
}

namespace {

IstioHttpFilters BuildIstioHttpFilters(HttpListenerClass where) {
  IstioHttpFilters out;
  out.first.push_back(PeerMetadataFilter(where));
  out.after_authz.push_back(GrpcStatsFilter());
  if (where != HttpListenerClass::kSidecarInbound) out.after_authz.push_back(AlpnFilter());
  return out;
}

stats::PluginConfig StatsConfig(HttpListenerClass where) {
  stats::PluginConfig config;
  config.set_disable_host_header_fallback(where != HttpListenerClass::kSidecarOutbound);
  return config;
}

hcm::HttpFilter BuildStatsHttpFilter(HttpListenerClass where) {
  hcm::HttpFilter f;
  f.set_name(kStatsFilter);
  f.mutable_typed_config()->PackFrom(StatsConfig(where));
  return f;
}

envoy::config::listener::v3::Filter BuildStatsNetworkFilter(HttpListenerClass where) {
  envoy::config::listener::v3::Filter f;
  f.set_name(kStatsFilter);
  f.mutable_typed_config()->PackFrom(StatsConfig(where));
  return f;
}

}  // namespace

const IstioHttpFilters& IstioHttpFiltersFor(HttpListenerClass where) { return PerClass(where, &BuildIstioHttpFilters); }

const hcm::HttpFilter& StatsHttpFilter(HttpListenerClass where) { return PerClass(where, &BuildStatsHttpFilter); }

const envoy::config::listener::v3::Filter& StatsNetworkFilter(HttpListenerClass where) {
  return PerClass(where, &BuildStatsNetworkFilter);
}

}  // namespace keel::pilot::networking
