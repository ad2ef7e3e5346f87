// EndpointBuilder: the endpoints behind one service port, as Kubernetes' endpoint
// controller (or Istio's ServiceEntry controller) would produce them.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "pilot/model/config_store.h"
#include "pilot/model/service.h"

namespace keel::pilot::model {

class EndpointBuilder {
 public:
  // Indexes the Pods and EndpointSlices of `configs` once; `configs` must outlive it.
  explicit EndpointBuilder(const ConfigMap& configs);
  // Indexes only those of `namespaces` (by key range, not a scan of `configs`):
  // Build() is then right for services of those namespaces only.
  EndpointBuilder(const ConfigMap& configs, const std::set<std::string>& namespaces);

  // `source` is the Service or ServiceEntry `service` came from.
  //  - Kubernetes Service with EndpointSlices (label kubernetes.io/service-name):
  //    their ready endpoints, port matched by the service port's name;
  //  - Kubernetes Service without any: the Running, Ready Pods its selector
  //    matches, the target port resolved per Pod (a named targetPort is looked
  //    up in the Pod's container ports; a Pod without it is skipped);
  //  - ServiceEntry: its endpoints (port by the port's name, else targetPort,
  //    else number), or the Pods its workloadSelector matches, or for DNS
  //    resolution with neither, the host itself.
  std::vector<Endpoint> Build(const Config& source, const Service& service, const ServicePort& port) const;

 private:
  std::vector<Endpoint> FromSlices(const std::vector<const Config*>& slices, const Service& service,
                                   const ServicePort& port) const;
  std::vector<Endpoint> FromPods(const std::string& ns, const std::map<std::string, std::string>& selector,
                                 const Config* service_config, const ServicePort& port) const;

  void Index(const ConfigPtr& config);

  const ConfigMap& configs_;
  std::map<std::pair<std::string, std::string>, std::vector<const Config*>> slices_by_service_;
  std::map<std::string, std::vector<const Config*>> pods_by_ns_;
  std::map<std::pair<std::string, std::string>, const Config*> pod_by_name_;
};

}  // namespace keel::pilot::model
