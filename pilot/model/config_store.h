// ConfigStore: the one in-memory view of every config object, fed by the
// config sources and read (as snapshots) when a PushContext is built.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "pilot/model/config.h"

namespace keel::pilot::model {

using ConfigMap = std::map<ConfigKey, ConfigPtr>;
using ConfigSnapshot = std::shared_ptr<const ConfigMap>;

class ConfigStore {
 public:
  // Called after each Apply() that changed something, with the keys that changed,
  // on the applying thread and without the store's lock held.
  using ChangeHandler = std::function<void(const std::vector<ConfigKey>& changed)>;

  void SetChangeHandler(ChangeHandler handler);

  // Applies events in order. An upsert equal to the stored object (same
  // resource_version and origin, and the same body) is not a change.
  // Returns the keys that changed.
  std::vector<ConfigKey> Apply(const std::vector<ConfigEvent>& events);

  // An immutable view of everything, cheap to take (copy-on-write: the map is
  // copied on the first Apply after a snapshot was taken, not per snapshot).
  ConfigSnapshot Snapshot() const;

  ConfigPtr Get(const ConfigKey& key) const;
  size_t Size() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<ConfigMap> configs_ ABSL_GUARDED_BY(mu_) = std::make_shared<ConfigMap>();
  ChangeHandler on_change_;  // set once before sources start
};

}  // namespace keel::pilot::model
