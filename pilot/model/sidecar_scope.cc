#include "pilot/model/sidecar_scope.h"

#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "networking/v1alpha3/sidecar.pb.h"
#include "networking/v1alpha3/virtual_service.pb.h"
#include "pilot/model/deterministic.h"
#include "pilot/model/push_context.h"

namespace keel::pilot::model {
namespace {

namespace networking = ::istio::networking::v1alpha3;

// Either pattern matches the other: "*.example.com" imports "a.example.com" and
// a VirtualService for "*.example.com" is imported by "a.example.com" (istiod
// host.Name.Matches both ways when selecting VirtualServices).
bool HostsOverlap(absl::string_view a, absl::string_view b) { return HostMatches(a, b) || HostMatches(b, a); }

// The Sidecars of `ns`, in key (name) order.
std::vector<ConfigPtr> SidecarsIn(const ConfigMap& configs, absl::string_view ns) {
  std::vector<ConfigPtr> out;
  for (auto it = configs.lower_bound(ConfigKey{Kind::kSidecar, std::string(ns), ""});
       it != configs.end() && it->first.kind == Kind::kSidecar && it->first.ns == ns; ++it) {
    out.push_back(it->second);
  }
  return out;
}

bool Older(const ConfigPtr& a, const ConfigPtr& b) {
  return std::tie(a->meta.creation_timestamp, a->key.name) < std::tie(b->meta.creation_timestamp, b->key.name);
}

// The oldest Sidecar of `candidates` without a selector (with_selector false) or
// with one matching `labels` (true); null if none.
ConfigPtr Oldest(const std::vector<ConfigPtr>& candidates, bool with_selector,
                 const std::map<std::string, std::string>& labels) {
  ConfigPtr best;
  for (const auto& c : candidates) {
    const auto& spec = c->As<networking::Sidecar>();
    if (spec.has_workload_selector() != with_selector) continue;
    if (with_selector) {
      const auto& sel = spec.workload_selector().labels();
      if (!LabelsMatch(std::map<std::string, std::string>(sel.begin(), sel.end()), labels)) continue;
    }
    if (!best || Older(c, best)) best = c;
  }
  return best;
}

}  // namespace

// The object's resourceVersion; objects from files have none, so then a hash of
// the spec (deterministic serialization) stands in.
std::string SidecarVersion(const Config& config) {
  if (!config.meta.resource_version.empty()) return config.meta.resource_version;
  const std::string bytes = SerializeDeterministic(*config.body);
  return absl::StrCat("spec-", absl::Hex(std::hash<std::string>()(bytes)));
}

ConfigPtr SelectSidecar(const ConfigSnapshot& configs, absl::string_view ns,
                        const std::map<std::string, std::string>& labels, absl::string_view root_ns) {
  if (!configs) return nullptr;
  const std::vector<ConfigPtr> local = SidecarsIn(*configs, ns);
  if (ConfigPtr c = Oldest(local, /*with_selector=*/true, labels)) return c;
  if (ConfigPtr c = Oldest(local, /*with_selector=*/false, labels)) return c;
  if (root_ns.empty() || root_ns == ns) return nullptr;
  return Oldest(SidecarsIn(*configs, root_ns), /*with_selector=*/false, labels);
}

SidecarScope SidecarScope::Build(const ConfigPtr& sidecar, absl::string_view ns, const PushContext& push) {
  SidecarScope out;
  out.policy_ = push.mesh().outbound_traffic_policy();
  if (!sidecar) return out;
  const auto& spec = sidecar->As<networking::Sidecar>();
  out.sidecar_ = sidecar;
  out.everything_ = false;
  out.cache_key_ = absl::StrCat("sidecar=", sidecar->key.ns, "/", sidecar->key.name, "@", SidecarVersion(*sidecar), "|", ns);
  if (spec.has_outbound_traffic_policy()) {
    out.policy_ = spec.outbound_traffic_policy().mode() == networking::OutboundTrafficPolicy::ALLOW_ANY
                      ? OutboundTrafficPolicy::kAllowAny
                      : OutboundTrafficPolicy::kRegistryOnly;
  }
  for (const auto& listener : spec.ingress()) {
    out.ingress_.push_back(
        {static_cast<int>(listener.port().number()), listener.port().protocol(), listener.default_endpoint(),
         listener.bind()});
  }
  for (const auto& listener : spec.egress()) {
    Egress e;
    e.port = listener.has_port() ? static_cast<int>(listener.port().number()) : 0;
    for (const auto& h : listener.hosts()) {
      const size_t slash = h.find('/');
      if (slash == std::string::npos) continue;  // validation refuses these
      std::string host_ns = h.substr(0, slash);
      if (host_ns == "~") continue;
      if (host_ns == ".") host_ns = std::string(ns);
      e.hosts.push_back({std::move(host_ns), h.substr(slash + 1)});
    }
    out.egress_.push_back(std::move(e));
  }
  // No egress: istiod's implicit catch-all listener for "*/*".
  if (spec.egress().empty()) out.egress_.push_back({0, {{"*", "*"}}});

  // Services a visible VirtualService routes to are imported too (all ports).
  for (auto it = push.configs()->lower_bound(ConfigKey{Kind::kVirtualService, "", ""});
       it != push.configs()->end() && it->first.kind == Kind::kVirtualService; ++it) {
    const auto& vs = it->second->As<networking::VirtualService>();
    const std::string& vs_ns = it->first.ns;
    std::vector<std::string> hosts;
    for (const auto& h : vs.hosts()) hosts.push_back(push.ResolveHost(h, vs_ns));
    if (hosts.empty() || !out.VirtualServiceVisible(vs_ns, hosts)) continue;
    auto add = [&](const networking::Destination& d) {
      if (const Service* svc = push.ServiceForHostUnrecorded(push.ResolveHost(d.host(), vs_ns))) {
        out.destination_hosts_.insert(svc->hostname);
      }
    };
    for (const auto& r : vs.http()) {
      for (const auto& d : r.route()) add(d.destination());
      if (r.has_mirror()) add(r.mirror());
    }
    for (const auto& r : vs.tcp()) {
      for (const auto& d : r.route()) add(d.destination());
    }
    for (const auto& r : vs.tls()) {
      for (const auto& d : r.route()) add(d.destination());
    }
  }
  return out;
}

bool SidecarScope::Imports(const Egress& egress, const Service& service) {
  for (const auto& h : egress.hosts) {
    if ((h.ns == "*" || h.ns == service.ns) && HostMatches(h.pattern, service.hostname)) return true;
  }
  return false;
}

bool SidecarScope::ServicePortVisible(const Service& service, int port) const {
  if (everything_ || destination_hosts_.count(service.hostname)) return true;
  for (const auto& e : egress_) {
    if (e.port != 0) {
      // A port-specific listener imports only that port of its hosts.
      if (port != 0 && port != e.port) continue;
      if (!service.FindPort(e.port)) continue;
    }
    if (Imports(e, service)) return true;
  }
  return false;
}

const SidecarScope::Ingress* SidecarScope::IngressFor(int port) const {
  for (const auto& i : ingress_) {
    if (i.port == port) return &i;
  }
  return nullptr;
}

std::string SidecarScope::IngressHostname() const {
  return sidecar_ ? absl::StrCat(sidecar_->key.name, ".", sidecar_->key.ns) : "";
}

bool SidecarScope::VirtualServiceVisible(absl::string_view vs_ns, const std::vector<std::string>& hosts) const {
  if (everything_) return true;
  for (const auto& e : egress_) {
    for (const auto& h : e.hosts) {
      if (h.ns != "*" && h.ns != vs_ns) continue;
      for (const auto& vh : hosts) {
        if (HostsOverlap(h.pattern, vh)) return true;
      }
    }
  }
  return false;
}

}  // namespace keel::pilot::model
