#include "pilot/inject/proxy_config.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "mesh/v1alpha1/proxy.pb.h"
#include "pilot/inject/json_value.h"
#include "pilot/inject/names.h"

namespace keel::pilot::inject {
namespace {

using ::istio::mesh::v1alpha1::ProxyConfig;

absl::StatusOr<ProxyConfig> ToProxyConfig(const JsonObject& tree, absl::string_view what) {
  ProxyConfig out;
  auto status = google::protobuf::util::JsonStringToMessage(ToJson(tree), &out);
  if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", std::string(status.message())));
  return out;
}

// istiod's inject.cleanProxyConfig: drops what equals mesh.DefaultProxyConfig().
void DropBuiltInDefaults(ProxyConfig& pc) {
  if (pc.config_path() == "./etc/istio/proxy") pc.clear_config_path();
  if (pc.binary_path() == "/usr/local/bin/envoy") pc.clear_binary_path();
  if (pc.control_plane_auth_policy() == ::istio::mesh::v1alpha1::MUTUAL_TLS) pc.clear_control_plane_auth_policy();
  if (pc.has_service_cluster() && pc.service_cluster() == "istio-proxy") pc.clear_service_cluster();
  auto is_seconds = [](const google::protobuf::Duration& d, int64_t s) { return d.seconds() == s && d.nanos() == 0; };
  if (pc.has_drain_duration() && is_seconds(pc.drain_duration(), 45)) pc.clear_drain_duration();
  if (pc.has_termination_drain_duration() && is_seconds(pc.termination_drain_duration(), 5)) {
    pc.clear_termination_drain_duration();
  }
  if (pc.discovery_address() == "istiod.istio-system.svc:15012") pc.clear_discovery_address();
  if (pc.proxy_admin_port() == 15000) pc.clear_proxy_admin_port();
  if (pc.stat_name_length() == 189) pc.clear_stat_name_length();
  if (pc.status_port() == 15020) pc.clear_status_port();
}

}  // namespace

absl::StatusOr<MergedProxyConfig> MergeProxyConfig(absl::string_view mesh_default_json, absl::string_view annotation,
                                                   const std::string& discovery_address) {
  auto mesh = ParseObject(mesh_default_json);
  if (!mesh.ok()) return absl::InvalidArgumentError(absl::StrCat("meshConfig.defaultConfig: ", mesh.status().message()));
  auto base = ToProxyConfig(*mesh, "meshConfig.defaultConfig");
  if (!base.ok()) return base.status();
  ProxyConfig merged = *base;
  if (!annotation.empty()) {
    const std::string what = absl::StrCat("annotation ", kProxyConfigAnnotation);
    auto tree = ParseYamlObject(annotation);
    if (!tree.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", tree.status().message()));
    auto pod = ToProxyConfig(*tree, what);
    if (!pod.ok()) return pod.status();
    // The fields the annotation sets replace the mesh's; proxyMetadata entries merge.
    const auto* reflection = merged.GetReflection();
    const auto* descriptor = ProxyConfig::descriptor();
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const auto* field = descriptor->field(i);
      const bool set = tree->fields().count(field->json_name()) > 0 || tree->fields().count(field->name()) > 0;
      if (set && field->name() != "proxy_metadata") reflection->ClearField(&merged, field);
    }
    merged.MergeFrom(*pod);
  }
  if (merged.discovery_address().empty()) merged.set_discovery_address(discovery_address);
  DropBuiltInDefaults(merged);
  MergedProxyConfig out;
  for (const auto& [key, value] : merged.proxy_metadata()) out.proxy_metadata.emplace(key, value);
  out.hold_application_until_proxy_starts = merged.hold_application_until_proxy_starts().value();
  (void)google::protobuf::util::MessageToJsonString(merged, &out.json);
  out.json += "\n";
  return out;
}

}  // namespace keel::pilot::inject
