// Dependencies: what a built resource read from a PushContext, so a cache that
// outlives one push can tell which entries a config change may have affected
// (Istio's XdsCacheEntry.DependentConfigs, made complete by construction).
//
// While a DependencyRecorder is installed on a thread, every lookup the builders
// make through PushContext and ProxyScope adds to it:
//  - configs:   exact objects read or looked up by key (found or not: a lookup
//               of a missing key depends on its creation);
//  - hosts:     "selected the config of class K for host H" (K = kService for
//               Services and ServiceEntries, kVirtualService, kDestinationRule):
//               a change to any K config whose host pattern matches H may change
//               the selection, even if it is new;
//  - gateways:  "listed the VirtualServices bound to gateway G";
//  - kinds:     "listed every config of kind K" (kService covers ServiceEntries);
//  - endpoints: "read the endpoints of host H".
// Lookups outside a recorder (debug handlers, the push's own bookkeeping) cost
// one thread-local load.
#pragma once

#include <set>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "pilot/model/config.h"

namespace keel::pilot::model {

struct Dependencies {
  std::set<ConfigKey> configs;
  std::set<std::pair<Kind, std::string>> hosts;
  std::set<std::string> gateways;
  std::set<Kind> kinds;
  std::set<std::string> endpoints;

  void Merge(const Dependencies& other);
};

// The class a kind's host selection belongs to: ServiceEntries select services
// just as Services do.
inline Kind HostClass(Kind kind) { return kind == Kind::kServiceEntry ? Kind::kService : kind; }

// Installs `deps` as the current thread's recorder for its lifetime; nests (the
// previous recorder is restored, and also receives what was recorded).
class DependencyRecorder {
 public:
  explicit DependencyRecorder(Dependencies* deps);
  ~DependencyRecorder();
  DependencyRecorder(const DependencyRecorder&) = delete;
  DependencyRecorder& operator=(const DependencyRecorder&) = delete;

  // Record into the current thread's recorder, if any.
  static void Config(const ConfigKey& key);
  static void Host(Kind kind, absl::string_view host);
  static void Gateway(absl::string_view gateway);
  static void AllOfKind(Kind kind);
  static void EndpointsOf(absl::string_view host);

 private:
  Dependencies* deps_;
  Dependencies* previous_;
};

}  // namespace keel::pilot::model
