// PushRequest: why a push happens and what it covers; requests merge, so a
// burst of changes becomes one push (Istio's model.PushRequest).
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>

#include "pilot/model/config.h"
#include "pilot/model/service.h"

namespace keel::pilot::xds {

struct PushRequest {
  bool full = true;                             // every watched type; false: endpoints only (EDS of endpoints_updated)
  bool forced = false;                          // resend every watched type, changed or not (/debug/adsz?push=true)
  std::set<model::ConfigKey> configs_updated;   // what changed; empty on a forced push
  model::HostSet endpoints_updated;  // FQDN hostnames whose endpoints may have changed (full and EDS-only pushes)
  std::map<std::string, int> reasons;           // trigger -> count ("config", "debug", ...)
  std::chrono::steady_clock::time_point start;  // when the first merged change arrived

  // Folds `other` into this one; the earliest start wins.
  void Merge(const PushRequest& other) {
    full = full || other.full;
    forced = forced || other.forced;
    configs_updated.insert(other.configs_updated.begin(), other.configs_updated.end());
    endpoints_updated.insert(other.endpoints_updated.begin(), other.endpoints_updated.end());
    for (const auto& [reason, n] : other.reasons) reasons[reason] += n;
    if (other.start < start) start = other.start;
  }
};

}  // namespace keel::pilot::xds
