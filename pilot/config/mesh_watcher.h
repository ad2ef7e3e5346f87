// MeshConfig at runtime, as istiod's mesh watcher: ConfigMap `istio` (or
// `istio-<revision>`) in the system namespace, key `mesh`, YAML of
// istio.mesh.v1alpha1.MeshConfig over the defaults.
//
// Keel honours rootNamespace, trustDomain, trustDomainAliases,
// outboundTrafficPolicy, enableAutoMtls, the access log, tracing, the metrics
// provider and discoverySelectors (kMeshFieldsUsed); every other field
// set is accepted, kept, and reported by Unused() (/debug/push_status).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pilot/model/config.h"
#include "pilot/model/config_store.h"
#include "pilot/model/mesh.h"

namespace keel::pilot::config {

// The MeshConfig fields (JSON paths) Keel translates; the rest are read, not used.
inline constexpr absl::string_view kMeshFieldsUsed[] = {
    "rootNamespace", "trustDomain", "trustDomainAliases", "outboundTrafficPolicy", "enableAutoMtls",
    "accessLogFile", "accessLogEncoding", "accessLogFormat", "enableTracing", "defaultConfig.tracing.sampling",
    "defaultConfig.tracing.enableIstioTags", "defaultConfig.tracing.maxPathTagLength", "defaultProviders.metrics",
    "extensionProviders.name", "extensionProviders.prometheus", "discoverySelectors"};

struct AppliedMesh {
  model::MeshConfig mesh;            // `defaults` with the YAML applied
  std::vector<std::string> unused;   // fields the YAML sets that Keel does not use (UncoveredFields)
  std::string unknown_fields;        // "" or the paths of keys MeshConfig has no field for, comma-separated
};

// The YAML `yaml` applied over `defaults` as istiod's mesh.ApplyMeshConfig: each
// top-level field the YAML sets replaces the default's, except defaultConfig,
// which is merged field by field. Keys that name no field are ignored (istiod
// retries with AllowUnknownFields, for version skew) and named in `unknown_fields`;
// a bad value of a known field (an unknown enum name too) is an error.
// Errors (InvalidArgument, naming the field): YAML syntax, more than one
// document, a value of the wrong type, an invalid trustDomain or alias, a
// discoverySelectors requirement with an unknown operator or the wrong values.
absl::StatusOr<AppliedMesh> ApplyMeshConfig(const std::string& yaml, const model::MeshConfig& defaults);

// The name of the ConfigMap istiod reads for `revision` ("" and "default": istio).
std::string MeshConfigMapName(const std::string& revision);

// Holds the mesh of the last good ConfigMap. Update runs on the push thread;
// the readers (the CA's trust domain, /debug) on any thread.
class MeshWatcher {
 public:
  MeshWatcher(model::ConfigKey configmap, model::MeshConfig defaults);

  const model::ConfigKey& key() const { return key_; }

  // Reads the ConfigMap from `configs` (absent: the defaults). An unchanged
  // object is not parsed again. A bad one keeps the mesh in force and sets
  // Error(). Returns the mesh in force.
  std::shared_ptr<const model::MeshConfig> Update(const model::ConfigMap& configs) ABSL_LOCKS_EXCLUDED(mu_);

  std::shared_ptr<const model::MeshConfig> Current() const ABSL_LOCKS_EXCLUDED(mu_);
  // "" or why the ConfigMap in the store is not the mesh in force.
  std::string Error() const ABSL_LOCKS_EXCLUDED(mu_);
  // What the mesh in force sets that Keel does not use, one line ("" for nothing).
  std::string Unused() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const model::ConfigKey key_;
  const model::MeshConfig defaults_;
  mutable absl::Mutex mu_;
  model::ConfigPtr last_seen_ ABSL_GUARDED_BY(mu_);  // the object last parsed (null: none in the store)
  std::shared_ptr<const model::MeshConfig> current_ ABSL_GUARDED_BY(mu_);
  std::string error_ ABSL_GUARDED_BY(mu_);
  std::string unused_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keel::pilot::config
