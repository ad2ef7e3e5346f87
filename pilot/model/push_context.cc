#include "pilot/model/push_context.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "networking/v1alpha3/destination_rule.pb.h"
#include "networking/v1alpha3/service_entry.pb.h"
#include "networking/v1alpha3/virtual_service.pb.h"
#include "pilot/model/deterministic.h"
#include "keel/k8s/v1/objects.pb.h"
#include "pilot/model/dependencies.h"
#include "pilot/model/protocol.h"

namespace keel::pilot::model {
namespace networking = ::istio::networking::v1alpha3;
namespace k8s = ::keel::k8s::v1;

const networking::VirtualService& VirtualServiceEntry::spec() const {
  return config->As<networking::VirtualService>();
}
const networking::DestinationRule& DestinationRuleEntry::spec() const {
  return config->As<networking::DestinationRule>();
}

ResourcePtr MakeResource(const std::string& name, const google::protobuf::Message& message) {
  auto r = std::make_shared<BuiltResource>();
  r->name = name;
  PackDeterministic(message, &r->any);
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

bool OlderThan(const ConfigPtr& a, const ConfigPtr& b) {
  return std::tie(a->meta.creation_timestamp, a->key.ns, a->key.name) <
         std::tie(b->meta.creation_timestamp, b->key.ns, b->key.name);
}

std::shared_ptr<const PushContext> PushContext::Build(ConfigSnapshot configs, const MeshOptions& mesh,
                                                      uint64_t version) {
  std::shared_ptr<PushContext> push(new PushContext());
  push->version_ = version;
  push->mesh_ = mesh;
  push->discovery_ = DiscoveryNamespaces(*mesh.config, *configs);
  push->configs_ = push->discovery_.Select(std::move(configs));
  push->BuildServices();
  push->BuildEndpoints();
  push->BuildVirtualServices();
  push->BuildDestinationRules();
  push->BuildSidecarVersions();
  push->peer_authentications_ = PeerAuthenticationIndex(push->configs_, mesh.root_namespace());
  push->authorization_policies_ = AuthorizationPolicyIndex(push->configs_, mesh.root_namespace());
  push->request_authentications_ = WorkloadPolicyIndex<istio::security::v1beta1::RequestAuthentication>(
      push->configs_, Kind::kRequestAuthentication, mesh.root_namespace());
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
      for (const auto& p : svc.spec().ports()) {
        s.ports.push_back({p.name(), p.port(), KubernetesPortProtocol(p.port(), p.name(), p.protocol(), p.app_protocol())});
      }
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
        for (const auto& p : se.ports()) {
          s.ports.push_back({p.name(), static_cast<int>(p.number()), ParseProtocol(p.protocol())});
        }
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

const std::vector<Service>& PushContext::services() const {
  DependencyRecorder::AllOfKind(Kind::kService);
  return services_;
}

const Service* PushContext::ServiceForHostUnrecorded(absl::string_view hostname) const {
  auto it = service_by_host_.find(hostname);
  return it == service_by_host_.end() ? nullptr : &services_[it->second];
}

const Service* PushContext::ServiceForHost(absl::string_view hostname) const {
  DependencyRecorder::Host(Kind::kService, hostname);
  const Service* svc = ServiceForHostUnrecorded(hostname);
  if (svc) DependencyRecorder::Config(svc->source);
  return svc;
}

void PushContext::BuildEndpoints() {
  std::vector<const Service*> served;
  for (const auto& svc : services_) {
    if (ServiceForHost(svc.hostname) == &svc) served.push_back(&svc);  // not a shadowed duplicate
  }
  endpoints_ = EndpointIndex::Build(*configs_, served);
}

std::shared_ptr<const PushContext> PushContext::UpdateEndpoints(const PushContext& previous, ConfigSnapshot configs,
                                                                const HostSet& hosts,
                                                                uint64_t version) {
  std::shared_ptr<PushContext> push(new PushContext());
  push->version_ = version;
  push->mesh_ = previous.mesh_;
  push->discovery_ = previous.discovery_;  // Namespaces and the mesh are not endpoints: unchanged
  push->configs_ = push->discovery_.Select(std::move(configs));
  push->services_ = previous.services_;
  push->service_by_host_ = previous.service_by_host_;
  push->virtual_services_ = previous.virtual_services_;
  push->destination_rules_ = previous.destination_rules_;
  push->IndexDestinationRules();  // the index points into this push's own vector
  push->peer_authentications_ = previous.peer_authentications_;  // config too
  push->authorization_policies_ = previous.authorization_policies_;
  push->request_authentications_ = previous.request_authentications_;
  push->sidecar_versions_ = previous.sidecar_versions_;  // Sidecars are config: unchanged by endpoint changes
  std::vector<const Service*> touched;
  for (const auto& host : hosts) {
    if (const Service* svc = push->ServiceForHost(host)) touched.push_back(svc);
  }
  push->endpoints_ = EndpointIndex::Update(*previous.endpoints_, *push->configs_, touched);
  return push;
}

const std::vector<Endpoint>& PushContext::Endpoints(absl::string_view hostname, int port) const {
  return endpoints_->Endpoints(hostname, port);
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
  IndexDestinationRules();
}

void PushContext::IndexDestinationRules() {
  destination_rules_by_host_.clear();
  for (const auto& dr : destination_rules_) {  // oldest first: emplace keeps the oldest
    DestinationRuleIndex& index = destination_rules_by_host_[dr.host];
    if (!index.oldest) index.oldest = &dr;
    index.oldest_by_ns.emplace(dr.config->key.ns, &dr);
  }
}

const DestinationRuleIndex* PushContext::DestinationRulesWithHost(absl::string_view pattern) const {
  auto it = destination_rules_by_host_.find(pattern);
  return it == destination_rules_by_host_.end() ? nullptr : &it->second;
}

ConfigPtr PushContext::FindConfig(const ConfigKey& key) const {
  DependencyRecorder::Config(key);
  auto it = configs_->find(key);
  return it == configs_->end() ? nullptr : it->second;
}

void PushContext::BuildSidecarVersions() {
  for (auto it = configs_->lower_bound(ConfigKey{Kind::kSidecar, "", ""});
       it != configs_->end() && it->first.kind == Kind::kSidecar; ++it) {
    sidecar_versions_.emplace(it->first, SidecarVersion(*it->second));
  }
}

const ProxyScope& PushContext::ScopeFor(const Proxy& proxy) const {
  ScopeKey key{proxy.ns, {}, ""};
  if (proxy.type == ProxyType::kSidecar && !proxy.proxyless_grpc) {
    if (ConfigPtr sidecar = SelectSidecar(configs_, proxy.ns, proxy.labels, mesh_.root_namespace())) {
      key.sidecar = sidecar->key;
      key.sidecar_version = sidecar_versions_.at(sidecar->key);
    }
  }
  return Scope(key);
}

const ProxyScope& PushContext::Scope(const ScopeKey& key) const {
  {
    std::lock_guard<std::mutex> lock(scopes_mu_);
    if (auto it = scopes_.find(key); it != scopes_.end()) return *it->second;
  }
  ConfigPtr sidecar;
  if (key.has_sidecar()) {
    auto it = configs_->find(key.sidecar);
    if (it != configs_->end()) sidecar = it->second;
  }
  auto built = std::make_unique<const ProxyScope>(*this, key, sidecar);  // outside the lock: scopes build in parallel
  std::lock_guard<std::mutex> lock(scopes_mu_);
  return *scopes_.emplace(key, std::move(built)).first->second;
}

}  // namespace keel::pilot::model

namespace keel::pilot::model {

WorkloadMtls PushContext::PeerAuthenticationFor(const Proxy& proxy) const {
  DependencyRecorder::AllOfKind(Kind::kPeerAuthentication);
  return peer_authentications_.ForWorkload(proxy.ns, proxy.labels);
}

WorkloadAuthorizationPolicies PushContext::AuthorizationPoliciesFor(const Proxy& proxy) const {
  DependencyRecorder::AllOfKind(Kind::kAuthorizationPolicy);
  return authorization_policies_.ForWorkload(proxy.ns, proxy.labels);
}

std::vector<ConfigPtr> PushContext::RequestAuthenticationsFor(const Proxy& proxy) const {
  DependencyRecorder::AllOfKind(Kind::kRequestAuthentication);
  return request_authentications_.ForWorkload(proxy.ns, proxy.labels);
}

MtlsMode PushContext::NamespaceMtlsMode(const std::string& ns) const {
  DependencyRecorder::AllOfKind(Kind::kPeerAuthentication);
  return peer_authentications_.NamespaceMode(ns);
}

}  // namespace keel::pilot::model
