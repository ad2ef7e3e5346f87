#include "pilot/inject/injector_values.h"

#include <cmath>
#include <variant>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "pilot/inject/quantity.h"

namespace keel::pilot::inject {
namespace {

// A value's path in Istio's values and the InjectionConfig field it sets.
struct ValueField {
  const char* path;
  std::variant<std::string InjectionConfig::*, int InjectionConfig::*, bool InjectionConfig::*,
               JsonObject InjectionConfig::*>
      field;
  bool empty_keeps_default = false;  // the template's valueOrDefault
};

// Every value Keel's templates read, one row each.
const std::vector<ValueField>& InjectorValueFields() {
  using C = InjectionConfig;
  static const auto* kFields = new std::vector<ValueField>{
      {"revision", &C::revision, true},
      {"global.hub", &C::hub, true},
      {"global.tag", &C::tag, true},
      {"global.imagePullPolicy", &C::image_pull_policy},
      {"global.istioNamespace", &C::istio_namespace, true},
      {"global.caAddress", &C::ca_address, true},
      {"global.network", &C::network},
      {"global.meshID", &C::mesh_id, true},
      {"global.multiCluster.clusterName", &C::cluster_name, true},
      {"global.sds.token.aud", &C::token_audience},
      {"global.logging.level", &C::agent_log_level},
      {"global.proxy_init.image", &C::proxy_init_image},
      {"global.proxy.image", &C::proxy_image},
      {"global.proxy.clusterDomain", &C::cluster_domain},
      {"global.proxy.logLevel", &C::log_level},
      {"global.proxy.componentLogLevel", &C::component_log_level},
      {"global.proxy.statusPort", &C::status_port},
      {"global.proxy.readinessInitialDelaySeconds", &C::readiness_initial_delay_seconds},
      {"global.proxy.readinessPeriodSeconds", &C::readiness_period_seconds},
      {"global.proxy.readinessFailureThreshold", &C::readiness_failure_threshold},
      {"global.proxy.startupProbe.enabled", &C::startup_probe_enabled},
      {"global.proxy.startupProbe.failureThreshold", &C::startup_probe_failure_threshold},
      {"global.proxy.includeIPRanges", &C::include_ip_ranges},
      {"global.proxy.excludeIPRanges", &C::exclude_ip_ranges},
      {"global.proxy.includeInboundPorts", &C::include_inbound_ports},
      {"global.proxy.excludeInboundPorts", &C::exclude_inbound_ports},
      {"global.proxy.includeOutboundPorts", &C::include_outbound_ports},
      {"global.proxy.excludeOutboundPorts", &C::exclude_outbound_ports},
      {"global.proxy.privileged", &C::privileged},
      {"global.proxy.holdApplicationUntilProxyStarts", &C::hold_application_until_proxy_starts},
      {"global.proxy.resources", &C::proxy_resources},
      {"sidecarInjectorWebhook.rewriteAppHTTPProbe", &C::rewrite_app_http_probe},
  };
  return *kFields;
}

const JsonValue* At(const JsonObject& root, const std::string& path) {
  const JsonObject* object = &root;
  const std::vector<std::string> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const JsonValue* v = Member(*object, parts[i]);
    if (v == nullptr || i + 1 == parts.size()) return v;
    if (!v->has_struct_value()) return nullptr;
    object = &v->struct_value();
  }
  return nullptr;
}

absl::Status Wrong(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("values: ", path, ": ", what));
}

// global.proxy.resources: a ResourceRequirements whose quantities are written as
// istiod's patch writes them (canonical).
absl::StatusOr<JsonObject> Resources(const std::string& path, const JsonValue& v) {
  if (v.has_null_value()) return JsonObject();
  if (!v.has_struct_value()) return Wrong(path, "want an object (requests, limits)");
  JsonObject out = v.struct_value();
  for (auto& [group, quantities] : *out.mutable_fields()) {
    if (quantities.has_null_value()) continue;
    if (!quantities.has_struct_value()) return Wrong(absl::StrCat(path, ".", group), "want an object");
    for (auto& [name, q] : *quantities.mutable_struct_value()->mutable_fields()) {
      const std::string text = q.has_number_value() ? absl::StrCat(q.number_value()) : q.string_value();
      auto canonical = CanonicalQuantity(text);
      if (!canonical) return Wrong(absl::StrCat(path, ".", group, ".", name), absl::StrCat("not a quantity: \"", text, "\""));
      q = Str(*canonical);
    }
  }
  return out;
}

absl::Status Set(const ValueField& f, const JsonValue& v, InjectionConfig& config) {
  const std::string path = f.path;
  if (auto* s = std::get_if<std::string InjectionConfig::*>(&f.field)) {
    if (v.has_null_value()) return absl::OkStatus();
    if (!v.has_string_value()) return Wrong(path, "want a string");
    if (v.string_value().empty() && f.empty_keeps_default) return absl::OkStatus();
    config.*(*s) = v.string_value();
  } else if (auto* i = std::get_if<int InjectionConfig::*>(&f.field)) {
    if (!v.has_number_value() || v.number_value() < 0 || v.number_value() != std::floor(v.number_value()) ||
        v.number_value() > 1e9) {
      return Wrong(path, "want a non-negative integer");
    }
    config.*(*i) = static_cast<int>(v.number_value());
  } else if (auto* b = std::get_if<bool InjectionConfig::*>(&f.field)) {
    if (!v.has_bool_value()) return Wrong(path, "want true or false");
    config.*(*b) = v.bool_value();
  } else if (auto* o = std::get_if<JsonObject InjectionConfig::*>(&f.field)) {
    auto resources = Resources(path, v);
    if (!resources.ok()) return resources.status();
    config.*(*o) = *std::move(resources);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LabelSelector>> Selectors(const JsonObject& root, const std::string& key) {
  std::vector<LabelSelector> out;
  const JsonValue* v = Member(root, key);
  if (v == nullptr || v->has_null_value()) return out;
  if (!v->has_list_value()) return absl::InvalidArgumentError(absl::StrCat("config: ", key, ": want a list of selectors"));
  for (int i = 0; i < v->list_value().values_size(); ++i) {
    const JsonValue& item = v->list_value().values(i);
    const std::string where = absl::StrCat("config: ", key, "[", i, "]");
    if (!item.has_struct_value()) return absl::InvalidArgumentError(absl::StrCat(where, ": want a LabelSelector"));
    auto selector = ParseLabelSelector(item.struct_value());
    if (!selector.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", selector.status().message()));
    out.push_back(*std::move(selector));
  }
  return out;
}

}  // namespace

std::string InjectorConfigMapName(const std::string& revision) {
  if (revision.empty() || revision == "default") return kInjectorConfigMapName;
  return absl::StrCat(kInjectorConfigMapName, "-", revision);
}

absl::StatusOr<JsonObject> ParseInjectorKey(absl::string_view key, absl::string_view text) {
  if (absl::StripAsciiWhitespace(text).empty()) return JsonObject();
  auto root = ParseYamlObject(text);
  if (!root.ok()) return absl::InvalidArgumentError(absl::StrCat(key, ": ", root.status().message()));
  return root;
}

absl::Status ApplyInjectorValues(absl::string_view values, InjectionConfig& config) {
  auto root = ParseInjectorKey("values", values);
  if (!root.ok()) return root.status();
  return ApplyInjectorValues(*root, config);
}

absl::Status ApplyInjectorValues(const JsonObject& root, InjectionConfig& config) {
  InjectionConfig out = config;
  for (const ValueField& f : InjectorValueFields()) {
    if (const JsonValue* v = At(root, f.path)) {
      if (auto st = Set(f, *v, out); !st.ok()) return st;
    }
  }
  config = std::move(out);
  return absl::OkStatus();
}

absl::Status ApplyInjectorConfig(absl::string_view config_yaml, InjectionConfig& config) {
  auto root = ParseInjectorKey("config", config_yaml);
  if (!root.ok()) return root.status();
  return ApplyInjectorConfig(*root, config);
}

absl::Status ApplyInjectorConfig(const JsonObject& root_object, InjectionConfig& config) {
  const JsonObject* root = &root_object;
  InjectionConfig out = config;
  if (const JsonValue* policy = Member(*root, "policy")) {
    if (policy->string_value() != "enabled" && policy->string_value() != "disabled") {
      return absl::InvalidArgumentError("config: policy: want enabled or disabled");
    }
    out.policy_enabled = policy->string_value() == "enabled";
  }
  auto never = Selectors(*root, "neverInjectSelector");
  if (!never.ok()) return never.status();
  out.never_inject_selector = *std::move(never);
  auto always = Selectors(*root, "alwaysInjectSelector");
  if (!always.ok()) return always.status();
  out.always_inject_selector = *std::move(always);
  if (const JsonValue* injected = Member(*root, "injectedAnnotations"); injected && !injected->has_null_value()) {
    if (!injected->has_struct_value()) return absl::InvalidArgumentError("config: injectedAnnotations: want a map");
    out.injected_annotations.clear();
    for (const auto& [k, v] : injected->struct_value().fields()) {
      if (!v.has_string_value()) {
        return absl::InvalidArgumentError(absl::StrCat("config: injectedAnnotations.", k, ": want a string"));
      }
      out.injected_annotations[k] = v.string_value();
    }
  }
  if (const JsonValue* defaults = Member(*root, "defaultTemplates"); defaults && !defaults->has_null_value()) {
    std::vector<std::string> names;  // empty unless a list
    for (const auto& t : defaults->list_value().values()) names.push_back(t.string_value());
    if (names != std::vector<std::string>{"sidecar"}) {
      return absl::InvalidArgumentError(absl::StrCat("config: defaultTemplates: Keel injects [sidecar] by default, got [",
                                                     absl::StrJoin(names, ", "), "]"));
    }
  }
  config = std::move(out);
  return absl::OkStatus();
}

}  // namespace keel::pilot::inject
