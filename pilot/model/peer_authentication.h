// PeerAuthentication (security.istio.io) as istiod composes it
// (pilot/pkg/security/authn ComposePeerAuthentication, and PushContext's
// GetNamespaceMutualTLSMode / BestEffortInferServiceMTLSMode):
//  - a workload's policy is the oldest without selector in the root namespace
//    (mesh-wide), then the oldest without selector in its namespace, then the
//    oldest in its namespace whose selector matches its labels, each overriding
//    the one before unless its mode is UNSET (inherit); nothing set: PERMISSIVE;
//  - portLevelMtls counts only in the workload (selector) policy, an UNSET port
//    inheriting the workload's mode; ports are the workload's (container) ports;
//  - selector policies in the root namespace are ignored, as by istiod.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pilot/model/config_store.h"

namespace keel::pilot::model {

enum class MtlsMode {
  kUnknown,  // nothing says (namespace-level lookups only)
  kDisable,
  kPermissive,
  kStrict,
};
const char* MtlsModeName(MtlsMode mode);  // "UNKNOWN", "DISABLE", "PERMISSIVE", "STRICT"

// What applies to one workload.
struct WorkloadMtls {
  MtlsMode mode = MtlsMode::kPermissive;
  std::map<uint32_t, MtlsMode> per_port;  // from the workload policy's portLevelMtls

  MtlsMode ForPort(uint32_t port) const;
};

class PeerAuthenticationIndex {
 public:
  PeerAuthenticationIndex() = default;
  // Indexes the PeerAuthentications of `configs`.
  PeerAuthenticationIndex(const ConfigSnapshot& configs, std::string root_namespace);

  // The composed policy of a workload in `ns` with `labels`.
  WorkloadMtls ForWorkload(const std::string& ns, const std::map<std::string, std::string>& labels) const;
  // The mode of namespace `ns` from its namespace-wide and the mesh-wide policy
  // (UNSET inheriting); kUnknown when neither sets one (callers fall back to
  // PERMISSIVE). What a client assumes of a service's servers (auto mTLS).
  MtlsMode NamespaceMode(const std::string& ns) const;

 private:
  // The oldest policy of `ns` without selector, or null.
  const Config* NamespaceWide(const std::string& ns) const;

  std::string root_namespace_;
  std::map<std::string, std::vector<ConfigPtr>> by_namespace_;  // oldest first
};

}  // namespace keel::pilot::model
