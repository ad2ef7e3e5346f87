// ConfigSource: where config objects come from (a directory of YAML, or the
// Kubernetes API server). Translation code never knows which one it was.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "pilot/model/config.h"

namespace keel::pilot::model {

class ConfigSource {
 public:
  // Receives batches of changes. Called from the source's own thread, one batch
  // at a time (never concurrently).
  using EventHandler = std::function<void(const std::vector<ConfigEvent>& events)>;

  virtual ~ConfigSource() = default;

  // Delivers the current state as one batch, then keeps delivering changes until
  // Stop(). HasSynced() is true once the first complete batch was delivered.
  virtual absl::Status Start(EventHandler handler) = 0;
  virtual bool HasSynced() const = 0;
  virtual void Stop() = 0;
};

using ConfigSourcePtr = std::unique_ptr<ConfigSource>;

}  // namespace keel::pilot::model
