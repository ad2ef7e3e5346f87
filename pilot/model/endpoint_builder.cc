#include "pilot/model/endpoint_builder.h"

#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "networking/v1alpha3/service_entry.pb.h"
#include "keel/k8s/v1/objects.pb.h"
#include "pilot/model/push_context.h"
#include "pkg/kube/deploy_meta.h"

namespace keel::pilot::model {
namespace networking = ::istio::networking::v1alpha3;
namespace k8s = ::keel::k8s::v1;

namespace {

constexpr char kServiceNameLabel[] = "kubernetes.io/service-name";
constexpr char kTlsModeLabel[] = "security.istio.io/tlsMode";
constexpr char kWorkloadNameLabel[] = "service.istio.io/workload-name";

bool PodReady(const k8s::Pod& pod) {
  if (pod.status().phase() != "Running" || pod.status().pod_ip().empty()) return false;
  if (!pod.metadata().deletion_timestamp().empty()) return false;
  for (const auto& c : pod.status().conditions()) {
    if (c.type() == "Ready") return c.status() == "True";
  }
  return false;
}

// istiod's GetWorkloadMetaFromPod: the service.istio.io/workload-name label, else
// the pod's controller.
std::string WorkloadName(const Config& pod_config) {
  const auto& labels = pod_config.meta.labels;
  if (auto it = labels.find(kWorkloadNameLabel); it != labels.end()) return it->second;
  const auto& meta = pod_config.As<k8s::Pod>().metadata();
  std::optional<kube::ControllerRef> controller;
  for (const auto& ref : meta.owner_references()) {
    if (!ref.controller()) continue;
    controller = kube::ControllerRef{ref.api_version(), ref.kind(), ref.name()};
    break;
  }
  auto hash = labels.find("pod-template-hash");
  return kube::DeployMetaOf(pod_config.key.name, !meta.generate_name().empty(), controller ? &*controller : nullptr,
                            hash == labels.end() ? "" : hash->second)
      .name;
}

void SetPodFields(const Config& pod_config, Endpoint* ep) {
  const auto& pod = pod_config.As<k8s::Pod>();
  ep->labels = pod_config.meta.labels;
  ep->service_account = pod.spec().service_account_name().empty() ? "default" : pod.spec().service_account_name();
  auto label = [&](const char* k) {
    auto it = pod_config.meta.labels.find(k);
    return it == pod_config.meta.labels.end() ? std::string() : it->second;
  };
  ep->tls_mode = label(kTlsModeLabel).empty() ? "disabled" : label(kTlsModeLabel);
  ep->workload_name = WorkloadName(pod_config);
  ep->workload_namespace = pod_config.key.ns;
  ep->region = label("topology.kubernetes.io/region");
  ep->zone = label("topology.kubernetes.io/zone");
  ep->sub_zone = label("topology.istio.io/subzone");
}

// The Pod port a service port targets: 0 when the Pod does not have it.
int ResolveTargetPort(const k8s::Pod& pod, const k8s::ServicePort* sp, int service_port) {
  if (!sp || sp->target_port().kind_case() == google::protobuf::Value::KIND_NOT_SET) return service_port;
  if (sp->target_port().kind_case() == google::protobuf::Value::kNumberValue) {
    const double n = sp->target_port().number_value();
    return n >= 1 && n <= 65535 ? static_cast<int>(n) : 0;
  }
  const std::string& name = sp->target_port().string_value();
  // A numeric string ("9080") is a number, as Kubernetes' IntOrString parses it.
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
    int n = 0;
    return absl::SimpleAtoi(name, &n) && n >= 1 && n <= 65535 ? n : 0;
  }
  for (const auto& container : pod.spec().containers()) {
    for (const auto& cp : container.ports()) {
      if (cp.name() == name) return cp.container_port();
    }
  }
  return 0;
}

}  // namespace

EndpointBuilder::EndpointBuilder(const ConfigMap& configs) : configs_(configs) {
  for (const auto& [key, config] : configs) Index(config);
}

EndpointBuilder::EndpointBuilder(const ConfigMap& configs, const std::set<std::string>& namespaces)
    : configs_(configs) {
  for (Kind kind : {Kind::kPod, Kind::kEndpointSlice}) {
    for (const auto& ns : namespaces) {
      // ConfigKeys order by (kind, namespace, name): one namespace's objects of a kind are one range.
      for (auto it = configs.lower_bound(ConfigKey{kind, ns, ""});
           it != configs.end() && it->first.kind == kind && it->first.ns == ns; ++it) {
        Index(it->second);
      }
    }
  }
}

void EndpointBuilder::Index(const ConfigPtr& config) {
  const ConfigKey& key = config->key;
  if (key.kind == Kind::kPod) {
    pods_by_ns_[key.ns].push_back(config.get());
    pod_by_name_[{key.ns, key.name}] = config.get();
  } else if (key.kind == Kind::kEndpointSlice) {
    auto it = config->meta.labels.find(kServiceNameLabel);
    if (it != config->meta.labels.end()) slices_by_service_[{key.ns, it->second}].push_back(config.get());
  }
}

std::vector<Endpoint> EndpointBuilder::Build(const Config& source, const Service& service,
                                             const ServicePort& port) const {
  if (source.key.kind == Kind::kService) {
    auto slices = slices_by_service_.find({source.key.ns, source.key.name});
    if (slices != slices_by_service_.end()) return FromSlices(slices->second, service, port);
    const auto& svc = source.As<k8s::Service>();
    std::map<std::string, std::string> selector(svc.spec().selector().begin(), svc.spec().selector().end());
    if (selector.empty()) return {};  // endpoints managed by someone else
    return FromPods(source.key.ns, selector, &source, port);
  }
  // ServiceEntry.
  const auto& se = source.As<networking::ServiceEntry>();
  const networking::ServicePort* se_port = nullptr;
  for (const auto& p : se.ports()) {
    if (static_cast<int>(p.number()) == port.port) se_port = &p;
  }
  const int target = se_port && se_port->target_port() ? static_cast<int>(se_port->target_port()) : port.port;
  std::vector<Endpoint> out;
  if (se.has_workload_selector()) {
    std::map<std::string, std::string> selector(se.workload_selector().labels().begin(),
                                                 se.workload_selector().labels().end());
    auto pods = FromPods(source.key.ns, selector, nullptr, port);
    for (auto& ep : pods) ep.port = target;
    return pods;
  }
  for (int i = 0; i < se.endpoints_size(); ++i) {
    const auto& we = se.endpoints(i);
    Endpoint ep;
    ep.health = EndpointHealth::kUnknown;
    ep.address = we.address();
    auto named = we.ports().find(port.name);
    ep.port = named != we.ports().end() ? static_cast<int>(named->second) : target;
    ep.labels.insert(we.labels().begin(), we.labels().end());
    ep.weight = we.weight() > 0 ? static_cast<int>(we.weight()) : 1;
    ep.service_account = we.service_account();
    // istiod's getTLSModeFromWorkloadEntry and WorkloadNameFromWorkloadEntry.
    auto tls_mode = we.labels().find(kTlsModeLabel);
    ep.tls_mode = tls_mode != we.labels().end() ? tls_mode->second : we.service_account().empty() ? "disabled" : "istio";
    auto workload = we.labels().find(kWorkloadNameLabel);
    ep.workload_name = workload != we.labels().end() ? workload->second : absl::StrCat(source.key.name, "-", i);
    ep.workload_namespace = source.key.ns;
    out.push_back(std::move(ep));
  }
  if (out.empty() && service.resolution == Resolution::kDnsLb) {
    Endpoint ep;
    ep.address = service.hostname;
    ep.port = target;
    ep.health = EndpointHealth::kUnknown;
    ep.workload_name = source.key.name;
    ep.workload_namespace = source.key.ns;
    out.push_back(std::move(ep));
  }
  return out;
}

std::vector<Endpoint> EndpointBuilder::FromSlices(const std::vector<const Config*>& slices,
                                                  const Service& service, const ServicePort& port) const {
  std::vector<Endpoint> out;
  for (const Config* slice_config : slices) {
    const auto& slice = slice_config->As<k8s::EndpointSlice>();
    if (slice.address_type() == "FQDN") continue;
    int slice_port = 0;
    for (const auto& p : slice.ports()) {
      if (p.name() == port.name) slice_port = p.port();
    }
    if (slice_port == 0) continue;
    for (const auto& e : slice.endpoints()) {
      if (e.conditions().has_ready() && !e.conditions().ready().value()) continue;
      for (const auto& address : e.addresses()) {
        Endpoint ep;
        ep.address = address;
        ep.port = slice_port;
        ep.zone = e.zone();
        if (e.target_ref().kind() == "Pod") {
          auto pod = pod_by_name_.find({slice_config->key.ns, e.target_ref().name()});
          if (pod != pod_by_name_.end()) SetPodFields(*pod->second, &ep);
          if (ep.zone.empty()) ep.zone = e.zone();
        }
        out.push_back(std::move(ep));
      }
    }
  }
  (void)service;
  return out;
}

std::vector<Endpoint> EndpointBuilder::FromPods(const std::string& ns,
                                                const std::map<std::string, std::string>& selector,
                                                const Config* service_config, const ServicePort& port) const {
  std::vector<Endpoint> out;
  auto pods = pods_by_ns_.find(ns);
  if (pods == pods_by_ns_.end() || selector.empty()) return out;
  const k8s::ServicePort* sp = nullptr;
  if (service_config) {
    for (const auto& p : service_config->As<k8s::Service>().spec().ports()) {
      if (p.port() == port.port) sp = &p;
    }
  }
  for (const Config* pod_config : pods->second) {
    if (!LabelsMatch(selector, pod_config->meta.labels)) continue;
    const auto& pod = pod_config->As<k8s::Pod>();
    if (!PodReady(pod)) continue;
    const int target = ResolveTargetPort(pod, sp, port.port);
    if (target == 0) continue;
    Endpoint ep;
    ep.address = pod.status().pod_ip();
    ep.port = target;
    SetPodFields(*pod_config, &ep);
    out.push_back(std::move(ep));
  }
  return out;
}

}  // namespace keel::pilot::model
