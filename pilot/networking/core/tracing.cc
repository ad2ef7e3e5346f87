#include "pilot/networking/core/tracing.h"

#include <algorithm>
#include <string>
#include <vector>

#include "envoy/extensions/request_id/uuid/v3/uuid.pb.h"
#include "pilot/model/deterministic.h"
#include "pilot/model/service.h"
#include "pilot/networking/core/well_known_names.h"

namespace keel::pilot::networking {
namespace {

namespace hcm = ::envoy::extensions::filters::network::http_connection_manager::v3;
using CustomTag = ::envoy::type::tracing::v3::CustomTag;

constexpr double kDefaultTraceSamplingPercent = 1.0;  // PILOT_TRACE_SAMPLING

CustomTag Literal(const std::string& tag, const std::string& value) {
  CustomTag t;
  t.set_tag(tag);
  t.mutable_literal()->set_value(value);
  return t;
}

// A tag read from the RBAC filter's dynamic metadata (istiod's optionalPolicyTags).
CustomTag RbacMetadata(const std::string& tag, const std::string& key) {
  CustomTag t;
  t.set_tag(tag);
  auto* md = t.mutable_metadata();
  md->mutable_kind()->mutable_request();
  md->mutable_metadata_key()->set_key(kHttpRbacFilter);
  md->mutable_metadata_key()->add_path()->set_key(key);
  return t;
}

std::string OrDefault(const std::string& value, const std::string& fallback) {
  return value.empty() ? fallback : value;
}

std::string Label(const model::Proxy& proxy, const char* key) {
  auto it = proxy.labels.find(key);
  return it == proxy.labels.end() ? "" : it->second;
}

// buildServiceTags + optionalPolicyTags, sorted by tag as istiod sorts them.
std::vector<CustomTag> IstioTags(const model::Proxy& proxy) {
  std::vector<CustomTag> tags = {
      Literal("istio.canonical_revision", OrDefault(Label(proxy, "service.istio.io/canonical-revision"), "latest")),
      Literal("istio.canonical_service", OrDefault(Label(proxy, "service.istio.io/canonical-name"), "unknown")),
      Literal("istio.mesh_id", OrDefault(proxy.mesh_id, "unknown")),
      Literal("istio.namespace", OrDefault(proxy.ns, "default")),
      // Keel serves one cluster; pilot-agent always names it (CLUSTER_ID).
      Literal("istio.cluster_id", OrDefault(proxy.cluster_id, model::kClusterId)),
  };
  for (const char* action : {"allow", "deny"}) {
    const std::string prefix = std::string("istio_dry_run_") + action + "_shadow_";
    const std::string tag = std::string("istio.authorization.dry_run.") + action + "_policy.";
    tags.push_back(RbacMetadata(tag + "name", prefix + "effective_policy_id"));
    tags.push_back(RbacMetadata(tag + "result", prefix + "engine_result"));
  }
  std::sort(tags.begin(), tags.end(), [](const CustomTag& a, const CustomTag& b) { return a.tag() < b.tag(); });
  return tags;
}


}  // namespace

const hcm::RequestIDExtension& UuidRequestId() {
  static const hcm::RequestIDExtension* const ext = [] {
    envoy::extensions::request_id::uuid::v3::UuidRequestIdConfig config;
    config.mutable_use_request_id_for_trace_sampling()->set_value(true);
    auto* e = new hcm::RequestIDExtension;
    e->mutable_typed_config()->PackFrom(config);
    return e;
  }();
  return *ext;
}

std::optional<hcm::HttpConnectionManager::Tracing> MeshTracing(const model::MeshConfig& mesh,
                                                               const model::Proxy& proxy) {
  if (!mesh.enable_tracing()) return std::nullopt;
  const auto& config = mesh.default_config().tracing();
  hcm::HttpConnectionManager::Tracing out;
  out.mutable_client_sampling()->set_value(100);
  out.mutable_overall_sampling()->set_value(100);
  // proxyConfigSamplingValue: a sampling above 100 is taken as 1.
  const double sampling = config.sampling() == 0 ? kDefaultTraceSamplingPercent
                          : config.sampling() > 100 ? 1.0 : config.sampling();
  out.mutable_random_sampling()->set_value(sampling);
  if (!config.has_enable_istio_tags() || config.enable_istio_tags().value()) {
    for (auto& t : IstioTags(proxy)) *out.add_custom_tags() = std::move(t);
  }
  if (config.max_path_tag_length() != 0) out.mutable_max_path_tag_length()->set_value(config.max_path_tag_length());
  return out;
}

}  // namespace keel::pilot::networking
