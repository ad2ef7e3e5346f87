#include "pilot/networking/core/istio_metadata.h"

#include <google/protobuf/struct.pb.h>

#include <initializer_list>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "pilot/model/kind_schema.h"
#include "pilot/networking/core/well_known_names.h"

namespace keel::pilot::networking {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// "DestinationRule" -> "destination-rule" (gvk.KebabKind).
std::string KebabCase(absl::string_view kind) {
  std::string out;
  for (size_t i = 0; i < kind.size(); ++i) {
    const char c = kind[i];
    if (absl::ascii_isupper(static_cast<unsigned char>(c)) && i > 0) out.push_back('-');
    out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

Struct& IstioMetadataOf(envoy::config::cluster::v3::Cluster* c) {
  return (*c->mutable_metadata()->mutable_filter_metadata())[kIstioMetadataKey];
}

// buildServiceMetadata. ServiceAttributes.Name is a Kubernetes Service's name and
// a ServiceEntry host's hostname.
Value ServiceMetadata(const model::Service& svc) {
  Value v;
  auto& f = *v.mutable_struct_value()->mutable_fields();
  f["host"].set_string_value(svc.hostname);
  f["name"].set_string_value(svc.source.kind == model::Kind::kServiceEntry ? svc.hostname : svc.name);
  f["namespace"].set_string_value(svc.ns);
  return v;
}

// The first of `keys` among `labels`, else `fallback` (kubelabels lookupLabelValue).
std::string FirstLabel(const std::map<std::string, std::string>& labels, std::initializer_list<const char*> keys,
                       const std::string& fallback) {
  for (const char* key : keys) {
    if (auto it = labels.find(key); it != labels.end()) return it->second;
  }
  return fallback;
}

}  // namespace

std::string ConfigPath(const model::ConfigKey& key) {
  const model::KindSchema& schema = model::SchemaOf(key.kind);
  return absl::StrCat("/apis/", schema.group, "/", schema.versions.front(), "/namespaces/", key.ns, "/",
                      KebabCase(schema.name), "/", key.name);
}

void SetIstioConfigMetadata(const model::ConfigKey& key, envoy::config::core::v3::Metadata* metadata) {
  (*(*metadata->mutable_filter_metadata())[kIstioMetadataKey].mutable_fields())["config"].set_string_value(
      ConfigPath(key));
}

void SetIstioMetadata(const OutboundClusterMetadata& m, envoy::config::cluster::v3::Cluster* c) {
  auto& f = *IstioMetadataOf(c).mutable_fields();
  *f["services"].mutable_list_value()->add_values() = ServiceMetadata(*m.service);
  if (m.service->mesh_external) f["external"].set_bool_value(true);
  if (m.destination_rule) {
    f["config"].set_string_value(ConfigPath(m.destination_rule->key));
    if (!m.subset.empty()) f["subset"].set_string_value(m.subset);
    if (m.tls_originated) f["alpn_override"].set_string_value("false");
  }
}

void SetInboundIstioMetadata(const std::vector<const model::Service*>& services,
                             const model::Config* destination_rule, envoy::config::cluster::v3::Cluster* c) {
  if (services.empty() || services.front()->mesh_external) return;
  auto& f = *IstioMetadataOf(c).mutable_fields();
  if (destination_rule) f["config"].set_string_value(ConfigPath(destination_rule->key));
  auto& list = *f["services"].mutable_list_value();
  std::set<std::string> seen;
  for (const model::Service* svc : services) {
    if (seen.insert(svc->hostname).second) *list.add_values() = ServiceMetadata(*svc);
  }
}

std::string WorkloadMetadata(const model::Endpoint& ep) {
  const std::string name =
      FirstLabel(ep.labels, {"service.istio.io/canonical-name", "app.kubernetes.io/name", "app"}, ep.workload_name);
  std::string revision =
      FirstLabel(ep.labels, {"service.istio.io/canonical-revision", "app.kubernetes.io/version", "version"}, "");
  if (revision == "latest") revision.clear();
  return absl::StrCat(ep.workload_name, ";", ep.workload_namespace, ";", name, ";", revision, ";", model::kClusterId);
}

}  // namespace keel::pilot::networking
