#include "pilot/model/proxy_scope.h"

#include <algorithm>
#include <array>
#include <set>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "networking/v1alpha3/virtual_service.pb.h"
#include "pilot/model/dependencies.h"
#include "pilot/model/push_context.h"

namespace keel::pilot::model {
namespace {

// Specificity of a host pattern that matched: exact beats longer wildcard beats shorter.
int Specificity(absl::string_view pattern) {
  if (!absl::StartsWith(pattern, "*")) return 1 << 20;
  return static_cast<int>(pattern.size());
}

bool Contains(const google::protobuf::RepeatedPtrField<std::string>& list, absl::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// VirtualServiceForHost's visibility: exportTo empty, "*", "." from its own
// namespace, or the namespace by name.
bool VisibleTo(const VirtualServiceEntry& vs, absl::string_view ns) {
  const auto& export_to = vs.spec().export_to();
  if (export_to.empty()) return true;
  for (const auto& e : export_to) {
    if (e == "*" || (e == "." && vs.config->key.ns == ns) || e == ns) return true;
  }
  return false;
}

// Whether any route of `vs` matches on the calling workload's labels.
bool MatchesSourceLabels(const istio::networking::v1alpha3::VirtualService& vs) {
  for (const auto& http : vs.http()) {
    for (const auto& m : http.match()) {
      if (!m.source_labels().empty()) return true;
    }
  }
  for (const auto& tls : vs.tls()) {
    for (const auto& m : tls.match()) {
      if (!m.source_labels().empty()) return true;
    }
  }
  for (const auto& tcp : vs.tcp()) {
    for (const auto& m : tcp.match()) {
      if (!m.source_labels().empty()) return true;
    }
  }
  return false;
}

}  // namespace

std::string ScopeKey::ToString() const {
  if (!has_sidecar()) return ns;
  return absl::StrCat(ns, "|sidecar=", sidecar.ns, "/", sidecar.name, "@", sidecar_version);
}

std::vector<std::string> CandidatePatterns(absl::string_view hostname) {
  std::vector<std::string> out{std::string(hostname)};
  for (size_t i = hostname.find('.'); i != absl::string_view::npos; i = hostname.find('.', i + 1)) {
    out.push_back(absl::StrCat("*", hostname.substr(i)));
  }
  out.push_back("*");
  return out;
}

ProxyScope::ProxyScope(const PushContext& push, ScopeKey key, const ConfigPtr& sidecar)
    : push_(push), key_(std::move(key)), sidecar_(SidecarScope::Build(sidecar, key_.ns, push)) {
  for (const auto& svc : push.services_unrecorded()) {
    if (push.ServiceForHostUnrecorded(svc.hostname) != &svc) continue;  // shadowed
    if (sidecar_.ServiceVisible(svc)) services_.push_back(&svc);
  }
  // Oldest first, so the first VirtualService seen for a (binding, pattern) wins
  // ties, and each gateway's groups come out oldest first.
  std::map<std::string, std::array<std::vector<const VirtualServiceEntry*>, 3>, std::less<>> groups;
  for (const auto& vs : push.virtual_services()) {
    std::set<absl::string_view> bindings;
    if (vs.gateways.empty()) bindings.insert("mesh");
    bindings.insert(vs.gateways.begin(), vs.gateways.end());
    if (VisibleTo(vs, key_.ns) && sidecar_.VirtualServiceVisible(vs.config->key.ns, vs.hosts)) {
      for (absl::string_view binding : bindings) {
        auto& patterns = vs_by_binding_[std::string(binding)];
        for (const auto& host : vs.hosts) patterns.emplace(host, &vs);
      }
      if (bindings.count("mesh")) {
        mesh_virtual_services_.push_back(&vs);
        if (MatchesSourceLabels(vs.spec())) matches_source_labels_ = true;
      }
    }
    // VirtualServicesForGateway's groups (only VirtualServices naming the
    // gateway): exportTo empty or "*" is public; "~" hides it from everyone; "."
    // or its own namespace makes it private to that namespace; another namespace
    // by name exports it there.
    const auto& export_to = vs.spec().export_to();
    const std::string& ns = vs.config->key.ns;
    bool is_public = false, is_private = false, exported = false;
    if (export_to.empty() || Contains(export_to, "*")) {
      is_public = true;
    } else if (!Contains(export_to, "~")) {
      for (const auto& e : export_to) {
        if (e == "." || e == ns) {
          is_private = is_private || ns == key_.ns;
        } else if (e == key_.ns) {
          exported = true;
        }
      }
    }
    for (const auto& g : std::set<std::string>(vs.gateways.begin(), vs.gateways.end())) {
      auto& group = groups[g];
      if (is_public) group[2].push_back(&vs);
      if (is_private) group[0].push_back(&vs);
      if (exported) group[1].push_back(&vs);
    }
  }
  for (auto& [gateway, group] : groups) {
    auto& out = vs_for_gateway_[gateway];
    for (auto& g : group) out.insert(out.end(), g.begin(), g.end());
  }
}

void ProxyScope::RecordSidecar() const {
  if (!key_.has_sidecar()) return;
  DependencyRecorder::Config(key_.sidecar);
  DependencyRecorder::AllOfKind(Kind::kVirtualService);
}

const std::vector<const Service*>& ProxyScope::services() const {
  DependencyRecorder::AllOfKind(Kind::kService);
  RecordSidecar();
  return services_;
}

bool ProxyScope::ServicePortVisible(const Service& service, int port) const {
  RecordSidecar();
  return sidecar_.ServicePortVisible(service, port);
}

const VirtualServiceEntry* ProxyScope::VirtualServiceForHost(absl::string_view hostname,
                                                             absl::string_view gateway) const {
  DependencyRecorder::Host(Kind::kVirtualService, hostname);
  RecordSidecar();
  auto binding = vs_by_binding_.find(gateway);
  if (binding == vs_by_binding_.end()) return nullptr;
  const VirtualServiceEntry* best = nullptr;
  int best_specificity = -1;
  for (const std::string& pattern : CandidatePatterns(hostname)) {
    auto it = binding->second.find(pattern);
    if (it == binding->second.end()) continue;
    const int specificity = Specificity(pattern);
    // Entries point into the PushContext's oldest-first vector: a lower address is older.
    if (specificity > best_specificity || (specificity == best_specificity && it->second < best)) {
      best = it->second;
      best_specificity = specificity;
    }
  }
  if (best) DependencyRecorder::Config(best->config->key);
  return best;
}

const std::vector<const VirtualServiceEntry*>& ProxyScope::VirtualServicesForGateway(absl::string_view gateway) const {
  static const std::vector<const VirtualServiceEntry*> kNone;
  DependencyRecorder::Gateway(gateway);
  auto it = vs_for_gateway_.find(gateway);
  if (it == vs_for_gateway_.end()) return kNone;
  for (const auto* vs : it->second) DependencyRecorder::Config(vs->config->key);
  return it->second;
}

const std::vector<const VirtualServiceEntry*>& ProxyScope::MeshVirtualServices() const {
  DependencyRecorder::AllOfKind(Kind::kVirtualService);
  RecordSidecar();
  return mesh_virtual_services_;
}

const DestinationRuleEntry* ProxyScope::DestinationRuleForHost(absl::string_view hostname) const {
  DependencyRecorder::Host(Kind::kDestinationRule, hostname);
  const Service* svc = push_.ServiceForHost(hostname);
  const DestinationRuleEntry* best = nullptr;
  std::tuple<int, int> best_rank{-1, -1};
  for (const std::string& pattern : CandidatePatterns(hostname)) {
    const DestinationRuleIndex* index = push_.DestinationRulesWithHost(pattern);
    if (!index) continue;
    // The oldest in the best namespace rank for this pattern.
    const DestinationRuleEntry* candidate = nullptr;
    int ns_rank = 0;
    if (auto it = index->oldest_by_ns.find(key_.ns); it != index->oldest_by_ns.end()) {
      candidate = it->second;
      ns_rank = 2;
    } else if (auto it = svc ? index->oldest_by_ns.find(svc->ns) : index->oldest_by_ns.end();
               it != index->oldest_by_ns.end()) {
      candidate = it->second;
      ns_rank = 1;
    } else {
      candidate = index->oldest;
    }
    std::tuple<int, int> rank{ns_rank, Specificity(pattern)};
    if (rank > best_rank || (rank == best_rank && candidate < best)) {
      best = candidate;
      best_rank = rank;
    }
  }
  if (best) DependencyRecorder::Config(best->config->key);
  return best;
}

}  // namespace keel::pilot::model
