// ConfigMap istio-sidecar-injector (istio-sidecar-injector-<rev> for a revision), as
// istiod reads it: key `values` (Istio's injection values, JSON or YAML, values.yaml
// names) and key `config` (YAML: policy, alwaysInjectSelector, neverInjectSelector,
// injectedAnnotations, defaultTemplates, templates). Keel's templates are C++
// (templates.cc), so `templates` is not read; every value the templates read is
// (kInjectorValueFields). Values Keel's templates do not read are ignored, as istiod's
// Go templates ignore values they do not name.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pilot/inject/injection_config.h"

namespace keel::pilot::inject {

inline constexpr char kInjectorConfigMapName[] = "istio-sidecar-injector";

// The name of the ConfigMap istiod reads for `revision` ("" and "default":
// istio-sidecar-injector).
std::string InjectorConfigMapName(const std::string& revision);

// The `values` (a JSON or YAML mapping) over `config`: each value present replaces the
// field's default; an empty string where istiod's template has a default
// (valueOrDefault: clusterName, caAddress, meshID) leaves the default.
// Errors: InvalidArgument "values: <path>: <what>" (a value of the wrong type, a
// negative port or count, a resource quantity that does not parse), or the syntax.
absl::Status ApplyInjectorValues(absl::string_view values, InjectionConfig& config);
// The same for values already parsed (ParseInjectorKey): no parse per call.
absl::Status ApplyInjectorValues(const JsonObject& values, InjectionConfig& config);

// The `config` YAML over `config`: policy (enabled | disabled), the never/always
// selectors, injectedAnnotations. defaultTemplates must name Keel's templates
// (sidecar, gateway, grpc-agent). Errors: InvalidArgument "config: <field>: <what>".
absl::Status ApplyInjectorConfig(absl::string_view config_yaml, InjectionConfig& config);
absl::Status ApplyInjectorConfig(const JsonObject& config_object, InjectionConfig& config);

// One key of the ConfigMap (`key` names it in errors) as a mapping; blank text is an
// empty one. Errors: InvalidArgument "<key>: <syntax>", or not a mapping.
absl::StatusOr<JsonObject> ParseInjectorKey(absl::string_view key, absl::string_view text);

}  // namespace keel::pilot::inject
