#include "pilot/model/peer_authentication.h"

#include <algorithm>

#include "pilot/model/push_context.h"
#include "security/v1beta1/peer_authentication.pb.h"

namespace keel::pilot::model {
namespace {

using PeerAuthentication = istio::security::v1beta1::PeerAuthentication;
using MutualTls = istio::security::v1beta1::PeerAuthentication::MutualTLS;

bool HasSelector(const PeerAuthentication& spec) {
  return spec.has_selector() && !spec.selector().match_labels().empty();
}

// The mode `mtls` sets, or nullopt for UNSET (inherit).
std::optional<MtlsMode> SetMode(const MutualTls& mtls) {
  switch (mtls.mode()) {
    case MutualTls::DISABLE: return MtlsMode::kDisable;
    case MutualTls::PERMISSIVE: return MtlsMode::kPermissive;
    case MutualTls::STRICT: return MtlsMode::kStrict;
    default: return std::nullopt;
  }
}

// `mode` overridden by the policy's own when it sets one.
MtlsMode Override(MtlsMode mode, const Config* policy) {
  if (!policy) return mode;
  const auto& spec = policy->As<PeerAuthentication>();
  if (!spec.has_mtls()) return mode;
  return SetMode(spec.mtls()).value_or(mode);
}

}  // namespace

const char* MtlsModeName(MtlsMode mode) {
  switch (mode) {
    case MtlsMode::kDisable: return "DISABLE";
    case MtlsMode::kPermissive: return "PERMISSIVE";
    case MtlsMode::kStrict: return "STRICT";
    default: return "UNKNOWN";
  }
}

MtlsMode WorkloadMtls::ForPort(uint32_t port) const {
  auto it = per_port.find(port);
  return it == per_port.end() ? mode : it->second;
}

PeerAuthenticationIndex::PeerAuthenticationIndex(const ConfigSnapshot& configs, std::string root_namespace)
    : root_namespace_(std::move(root_namespace)) {
  for (auto it = configs->lower_bound(ConfigKey{Kind::kPeerAuthentication, "", ""});
       it != configs->end() && it->first.kind == Kind::kPeerAuthentication; ++it) {
    by_namespace_[it->first.ns].push_back(it->second);
  }
  for (auto& [ns, policies] : by_namespace_) std::stable_sort(policies.begin(), policies.end(), OlderThan);
}

const Config* PeerAuthenticationIndex::NamespaceWide(const std::string& ns) const {
  auto it = by_namespace_.find(ns);
  if (it == by_namespace_.end()) return nullptr;
  for (const auto& c : it->second) {
    if (!HasSelector(c->As<PeerAuthentication>())) return c.get();
  }
  return nullptr;
}

WorkloadMtls PeerAuthenticationIndex::ForWorkload(const std::string& ns,
                                                  const std::map<std::string, std::string>& labels) const {
  WorkloadMtls out;
  out.mode = Override(out.mode, NamespaceWide(root_namespace_));
  if (ns == root_namespace_) return out;  // its namespace-wide policy is the mesh's; selectors there are ignored
  out.mode = Override(out.mode, NamespaceWide(ns));
  const Config* workload = nullptr;
  if (auto it = by_namespace_.find(ns); it != by_namespace_.end()) {
    for (const auto& c : it->second) {
      const auto& spec = c->As<PeerAuthentication>();
      if (!HasSelector(spec)) continue;
      const auto& sel = spec.selector().match_labels();
      if (LabelsMatch(std::map<std::string, std::string>(sel.begin(), sel.end()), labels)) {
        workload = c.get();
        break;  // oldest first
      }
    }
  }
  if (!workload) return out;
  out.mode = Override(out.mode, workload);
  for (const auto& [port, mtls] : workload->As<PeerAuthentication>().port_level_mtls()) {
    out.per_port[port] = SetMode(mtls).value_or(out.mode);
  }
  return out;
}

MtlsMode PeerAuthenticationIndex::NamespaceMode(const std::string& ns) const {
  MtlsMode mode = Override(MtlsMode::kUnknown, NamespaceWide(root_namespace_));
  if (ns != root_namespace_) mode = Override(mode, NamespaceWide(ns));
  return mode;
}

}  // namespace keel::pilot::model
