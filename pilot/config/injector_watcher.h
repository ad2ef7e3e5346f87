// The sidecar injector's configuration at runtime, as istiod's injection webhook
// watches it: ConfigMap istio-sidecar-injector (istio-sidecar-injector-<rev>) in the
// system namespace, keys `values` and `config` (inject/injector_values.h), over what
// the flags and the mesh config give. Absent: the flags' and the mesh's alone.
#pragma once

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "pilot/inject/injection_config.h"
#include "pilot/model/config.h"

namespace keel::pilot::config {

class InjectorWatcher {
 public:
  explicit InjectorWatcher(model::ConfigKey configmap);

  const model::ConfigKey& key() const { return key_; }

  // `base` with the ConfigMap `object` (null: none) applied: the last good one's
  // values and config when `object` does not parse (Error() says why). An object
  // already seen is not parsed again: each call applies the parsed keys. Called on the webhook's threads.
  inject::InjectionConfig Apply(const model::ConfigPtr& object, inject::InjectionConfig base)
      ABSL_LOCKS_EXCLUDED(mu_);

  // "" or why the ConfigMap in the store is not the one in force.
  std::string Error() const ABSL_LOCKS_EXCLUDED(mu_);

  // The ConfigMap's `values` and `config`, parsed (empty when absent).
  struct Data {
    inject::JsonObject values, config;
  };

 private:
  const model::ConfigKey key_;
  mutable absl::Mutex mu_;
  model::ConfigPtr last_seen_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Data> good_ ABSL_GUARDED_BY(mu_);  // null: no ConfigMap (or none good yet)
  std::string error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keel::pilot::config
