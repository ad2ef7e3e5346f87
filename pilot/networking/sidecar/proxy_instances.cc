#include "pilot/networking/sidecar/proxy_instances.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "keel/k8s/v1/objects.pb.h"

namespace keel::pilot::networking::sidecar {
namespace {

namespace k8s = ::keel::k8s::v1;

const k8s::ServicePort* FindSpecPort(const k8s::Service& svc, int port) {
  for (const auto& p : svc.spec().ports()) {
    if (p.port() == port) return &p;
  }
  return nullptr;
}

// The Service's targetPort for `port` without endpoint data: 0 if it names a
// port the proxy's Pod does not declare (or the Pod is unknown).
int SpecTargetPort(const k8s::ServicePort* sp, int port, const k8s::Pod* pod) {
  if (!sp || sp->target_port().kind_case() == google::protobuf::Value::KIND_NOT_SET) return port;
  if (sp->target_port().kind_case() == google::protobuf::Value::kNumberValue) {
    const double n = sp->target_port().number_value();
    return n >= 1 && n <= 65535 ? static_cast<int>(n) : 0;
  }
  const std::string& name = sp->target_port().string_value();
  int n = 0;
  if (absl::SimpleAtoi(name, &n)) return n >= 1 && n <= 65535 ? n : 0;
  if (!pod) return 0;
  for (const auto& c : pod->spec().containers()) {
    for (const auto& cp : c.ports()) {
      if (cp.name() == name) return cp.container_port();
    }
  }
  return 0;
}

}  // namespace

std::vector<ProxyInstance> ProxyServiceInstances(const model::Proxy& proxy, const model::PushContext& push) {
  std::vector<ProxyInstance> out;
  const model::ConfigMap& configs = *push.configs();
  const k8s::Pod* pod = nullptr;
  if (auto it = configs.find(model::ConfigKey{model::Kind::kPod, proxy.ns, proxy.pod_name}); it != configs.end()) {
    pod = &it->second->As<k8s::Pod>();
  }
  for (const auto& svc : push.services()) {
    if (svc.source.kind != model::Kind::kService || svc.ns != proxy.ns) continue;
    if (push.ServiceForHost(svc.hostname) != &svc) continue;
    auto config = configs.find(svc.source);
    if (config == configs.end()) continue;
    const auto& k8s_svc = config->second->As<k8s::Service>();
    const auto& selector = k8s_svc.spec().selector();
    if (selector.empty()) continue;
    if (!model::LabelsMatch(std::map<std::string, std::string>(selector.begin(), selector.end()), proxy.labels)) {
      continue;
    }
    for (const auto& port : svc.ports) {
      int target = 0;
      for (const auto& ep : push.Endpoints(svc.hostname, port.port)) {
        if (ep.address == proxy.ip) {
          target = ep.port;
          break;
        }
      }
      if (target == 0) target = SpecTargetPort(FindSpecPort(k8s_svc, port.port), port.port, pod);
      if (target == 0) continue;
      out.push_back({&svc, port, target});
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const ProxyInstance& a, const ProxyInstance& b) { return a.target_port < b.target_port; });
  return out;
}

std::string InstancesKey(const std::vector<ProxyInstance>& instances) {
  std::string out;
  for (const auto& i : instances) {
    absl::StrAppend(&out, i.service->hostname, ":", i.port.port, ">", i.target_port, "/", i.port.protocol, ";");
  }
  return out;
}

}  // namespace keel::pilot::networking::sidecar
