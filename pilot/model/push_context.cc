#include "pilot/model/push_context.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "istio/networking/v1alpha3/destination_rule.pb.h"
#include "istio/networking/v1alpha3/service_entry.pb.h"
#include "istio/networking/v1alpha3/virtual_service.pb.h"
#include "keel/k8s/v1/objects.pb.h"
#include "pilot/model/endpoint_builder.h"

namespace keel::pilot::model {
namespace networking = ::istio::networking::v1alpha3;
namespace k8s = ::keel::k8s::v1;

const networking::VirtualService& VirtualServiceEntry::spec() const {
  return config->As<networking::VirtualService>();
}
const networking::DestinationRule& DestinationRuleEntry::spec() const {
  return config->As<networking::DestinationRule>();
}

ResourcePtr MakeResource(const google::protobuf::Message& message) {
  auto r = std::make_shared<BuiltResource>();
  r->any.PackFrom(message);
  r->hash = std::hash<std::string>()(r->any.value());
  r->version = absl::StrCat(absl::Hex(r->hash));
  return r;
}

bool HostMatches(absl::string_view pattern, absl::string_view name) {
  if (pattern == "*") return true;
  if (absl::StartsWith(pattern, "*.")) return absl::EndsWith(name, pattern.substr(1));
  return pattern == name;
}

bool LabelsMatch(const std::map<std::string, std::string>& selector,
                 const std::map<std::string, std::string>& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

namespace {

// Istio's protocol for a Kubernetes service port: appProtocol, else the port name's
// prefix ("http-web" -> HTTP), else TCP (Istio would sniff; Keel does not).
std::string PortProtocol(const k8s::ServicePort& port) {
  std::string hint =
      port.app_protocol().empty() ? port.name().substr(0, port.name().find('-')) : port.app_protocol();
  std::string lower = absl::AsciiStrToLower(hint);
  for (const char* known : {"http", "http2", "grpc", "grpc-web", "https", "tls", "tcp", "mongo", "redis", "mysql"}) {
    if (lower == known) return absl::AsciiStrToUpper(lower);
  }
  if (port.protocol() == "UDP" || port.protocol() == "SCTP") return port.protocol();
  return "TCP";
}

// Sort key: oldest first, then namespace/name (Istio's conflict resolution).
bool OlderThan(const ConfigPtr& a, const ConfigPtr& b) {
  return std::tie(a->meta.creation_timestamp, a->key.ns, a->key.name) <
         std::tie(b->meta.creation_timestamp, b->key.ns, b->key.name);
}

// Specificity of a host pattern that matched: exact beats longer wildcard beats shorter.
int Specificity(absl::string_view pattern) {
  if (!absl::StartsWith(pattern, "*")) return 1 << 20;
  return static_cast<int>(pattern.size());
}

}  // namespace

std::shared_ptr<const PushContext> PushContext::Build(ConfigSnapshot configs, const MeshOptions& mesh,
                                                      uint64_t version) {
  std::shared_ptr<PushContext> push(new PushContext());
  push->version_ = version;
  push->mesh_ = mesh;
  push->configs_ = std::move(configs);
  push->BuildServices();
  push->BuildEndpoints();
  push->BuildVirtualServices();
  push->BuildDestinationRules();
  return push;
}

std::string PushContext::ResolveHost(absl::string_view host, absl::string_view ns) const {
  if (host.empty() || absl::StartsWith(host, "*") || absl::StrContains(host, ".")) return std::string(host);
  return absl::StrCat(host, ".", ns, ".svc.", mesh_.domain);
}

const Service* PushContext::ServiceForDnsName(absl::string_view host, absl::string_view ns) const {
  for (const std::string& candidate : {std::string(host), absl::StrCat(host, ".", ns, ".svc.", mesh_.domain),
                                       absl::StrCat(host, ".svc.", mesh_.domain), absl::StrCat(host, ".", mesh_.domain)}) {
    if (const Service* svc = ServiceForHost(candidate)) return svc;
  }
  return nullptr;
}

void PushContext::BuildServices() {
  for (const auto& [key, config] : *configs_) {
    if (key.kind == Kind::kService) {
      const auto& svc = config->As<k8s::Service>();
      if (svc.spec().type() == "ExternalName") continue;  // not modelled yet (README)
      Service s;
      s.name = key.name;
      s.ns = key.ns;
      s.hostname = absl::StrCat(key.name, ".", key.ns, ".svc.", mesh_.domain);
      s.vip = svc.spec().cluster_ip() == "None" ? "" : svc.spec().cluster_ip();
      if (s.vip.empty()) s.resolution = Resolution::kPassthrough;  // headless
      for (const auto& p : svc.spec().ports()) s.ports.push_back({p.name(), p.port(), PortProtocol(p)});
      s.source = key;
      services_.push_back(std::move(s));
    } else if (key.kind == Kind::kServiceEntry) {
      const auto& se = config->As<networking::ServiceEntry>();
      for (const auto& host : se.hosts()) {
        Service s;
        s.name = key.name;
        s.ns = key.ns;
        s.hostname = host;
        if (!se.addresses().empty()) s.vip = se.addresses(0);
        for (const auto& p : se.ports()) s.ports.push_back({p.name(), static_cast<int>(p.number()), p.protocol()});
        s.mesh_external = se.location() != networking::ServiceEntry::MESH_INTERNAL;
        switch (se.resolution()) {
          case networking::ServiceEntry::DNS:
          case networking::ServiceEntry::DNS_ROUND_ROBIN: s.resolution = Resolution::kDnsLb; break;
          case networking::ServiceEntry::STATIC: s.resolution = Resolution::kClientSideLb; break;
          default: s.resolution = Resolution::kPassthrough;
        }
        s.source = key;
        services_.push_back(std::move(s));
      }
    }
  }
  // Kubernetes Services first (they come first in key order); a ServiceEntry for
  // the same host does not replace one.
  for (size_t i = 0; i < services_.size(); ++i) service_by_host_.emplace(services_[i].hostname, i);
}

const Service* PushContext::ServiceForHost(absl::string_view hostname) const {
  auto it = service_by_host_.find(hostname);
  return it == service_by_host_.end() ? nullptr : &services_[it->second];
}

void PushContext::BuildEndpoints() {
  EndpointBuilder builder(*configs_);
  for (const auto& svc : services_) {
    if (ServiceForHost(svc.hostname) != &svc) continue;  // shadowed duplicate
    auto config = configs_->find(svc.source);
    if (config == configs_->end()) continue;
    for (const auto& port : svc.ports) {
      endpoints_[{svc.hostname, port.port}] = builder.Build(*config->second, svc, port);
    }
  }
}

const std::vector<Endpoint>& PushContext::Endpoints(absl::string_view hostname, int port) const {
  static const std::vector<Endpoint> kNone;
  auto it = endpoints_.find(std::make_pair(std::string(hostname), port));
  return it == endpoints_.end() ? kNone : it->second;
}

void PushContext::BuildVirtualServices() {
  for (const auto& [key, config] : *configs_) {
    if (key.kind != Kind::kVirtualService) continue;
    VirtualServiceEntry entry;
    entry.config = config;
    const auto& spec = entry.spec();
    for (const auto& h : spec.hosts()) entry.hosts.push_back(ResolveHost(h, key.ns));
    for (const auto& g : spec.gateways()) {
      entry.gateways.push_back(g == "mesh" || absl::StrContains(g, "/") ? g : absl::StrCat(key.ns, "/", g));
    }
    virtual_services_.push_back(std::move(entry));
  }
  std::stable_sort(virtual_services_.begin(), virtual_services_.end(),
                   [](const auto& a, const auto& b) { return OlderThan(a.config, b.config); });
}

const VirtualServiceEntry* PushContext::VirtualServiceForHost(absl::string_view hostname,
                                                              absl::string_view gateway,
                                                              absl::string_view proxy_ns,
                                                              const SidecarScope* scope) const {
  const VirtualServiceEntry* best = nullptr;
  int best_specificity = -1;
  for (const auto& vs : virtual_services_) {
    if (scope && !scope->VirtualServiceVisible(vs.config->key.ns, vs.hosts)) continue;
    const bool bound = vs.gateways.empty() ? gateway == "mesh"
                                           : std::find(vs.gateways.begin(), vs.gateways.end(), gateway) !=
                                                 vs.gateways.end();
    if (!bound) continue;
    const auto& export_to = vs.spec().export_to();
    if (!export_to.empty()) {
      bool visible = false;
      for (const auto& e : export_to) {
        if (e == "*" || (e == "." && vs.config->key.ns == proxy_ns) || e == proxy_ns) visible = true;
      }
      if (!visible) continue;
    }
    for (const auto& host : vs.hosts) {
      if (!HostMatches(host, hostname)) continue;
      int specificity = Specificity(host);
      if (specificity > best_specificity) {  // strictly better: older wins ties
        best = &vs;
        best_specificity = specificity;
      }
    }
  }
  return best;
}

std::vector<const VirtualServiceEntry*> PushContext::VirtualServicesForGateway(absl::string_view gateway,
                                                                              absl::string_view proxy_ns) const {
  // Istio's three visibility groups; exportTo "~" hides a VirtualService from everyone.
  std::vector<const VirtualServiceEntry*> groups[3];
  for (const auto& vs : virtual_services_) {
    if (std::find(vs.gateways.begin(), vs.gateways.end(), gateway) == vs.gateways.end()) continue;
    const auto& export_to = vs.spec().export_to();
    const std::string& ns = vs.config->key.ns;
    if (export_to.empty() || std::find(export_to.begin(), export_to.end(), "*") != export_to.end()) {
      groups[2].push_back(&vs);
      continue;
    }
    if (std::find(export_to.begin(), export_to.end(), "~") != export_to.end()) continue;
    bool is_private = false, exported = false;
    for (const auto& e : export_to) {
      if (e == "." || e == ns) {
        is_private = is_private || ns == proxy_ns;
      } else if (e == proxy_ns) {
        exported = true;
      }
    }
    if (is_private) groups[0].push_back(&vs);
    if (exported) groups[1].push_back(&vs);
  }
  std::vector<const VirtualServiceEntry*> out;
  for (auto& g : groups) out.insert(out.end(), g.begin(), g.end());
  return out;
}

std::shared_ptr<const SidecarScope> PushContext::SidecarScopeFor(const Proxy& proxy) const {
  static const auto* kEverything = new std::shared_ptr<const SidecarScope>(std::make_shared<SidecarScope>());
  if (proxy.type != ProxyType::kSidecar) return *kEverything;
  ConfigPtr sidecar = SelectSidecar(configs_, proxy.ns, proxy.labels, mesh_.root_namespace);
  if (!sidecar) return *kEverything;
  auto key = std::make_pair(proxy.ns, sidecar->key);
  {
    std::lock_guard<std::mutex> lock(scope_mu_);
    auto it = scopes_.find(key);
    if (it != scopes_.end()) return it->second;
  }
  auto built = std::make_shared<const SidecarScope>(SidecarScope::Build(sidecar, proxy.ns, *this));
  std::lock_guard<std::mutex> lock(scope_mu_);
  return scopes_.emplace(std::move(key), std::move(built)).first->second;
}

void PushContext::BuildDestinationRules() {
  for (const auto& [key, config] : *configs_) {
    if (key.kind != Kind::kDestinationRule) continue;
    DestinationRuleEntry entry;
    entry.config = config;
    entry.host = ResolveHost(entry.spec().host(), key.ns);
    destination_rules_.push_back(std::move(entry));
  }
  std::stable_sort(destination_rules_.begin(), destination_rules_.end(),
                   [](const auto& a, const auto& b) { return OlderThan(a.config, b.config); });
}

const DestinationRuleEntry* PushContext::DestinationRuleForHost(absl::string_view hostname,
                                                                absl::string_view proxy_ns) const {
  const Service* svc = ServiceForHost(hostname);
  const DestinationRuleEntry* best = nullptr;
  std::tuple<int, int> best_rank{-1, -1};
  for (const auto& dr : destination_rules_) {
    if (!HostMatches(dr.host, hostname)) continue;
    const std::string& ns = dr.config->key.ns;
    int ns_rank = ns == proxy_ns ? 2 : (svc && ns == svc->ns) ? 1 : 0;
    std::tuple<int, int> rank{ns_rank, Specificity(dr.host)};
    if (rank > best_rank) {
      best = &dr;
      best_rank = rank;
    }
  }
  return best;
}

}  // namespace keel::pilot::model
