// Service and endpoint model shared by every generator: a Kubernetes Service or
// a ServiceEntry host, its ports, and the endpoints behind each port.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "pilot/model/config.h"

namespace keel::pilot::model {

// The cluster id istiod uses when none is configured (CLUSTER_ID); Keel serves one cluster.
inline constexpr char kClusterId[] = "Kubernetes";

// A set of FQDN hostnames, searchable by string_view.
using HostSet = std::set<std::string, std::less<>>;

struct ServicePort {
  std::string name;
  int port = 0;
  std::string protocol;  // Istio's name, parsed (model/protocol.h): "HTTP", "TCP", ..., "UNSUPPORTED"
};

// How a client finds the endpoints of a service (Istio's model.Resolution).
enum class Resolution { kClientSideLb, kDnsLb, kPassthrough };

struct Service {
  std::string hostname;    // FQDN: reviews.default.svc.cluster.local
  std::string name;        // Kubernetes name (or the ServiceEntry's)
  std::string ns;          // namespace
  std::string vip;         // cluster IP; empty for headless / none
  std::vector<ServicePort> ports;
  Resolution resolution = Resolution::kClientSideLb;
  bool mesh_external = false;
  ConfigKey source;        // the Service or ServiceEntry it came from

  const ServicePort* FindPort(int port) const {
    for (const auto& p : ports) {
      if (p.port == port) return &p;
    }
    return nullptr;
  }
};

// An endpoint's health as Envoy's HealthStatus reads it: a ServiceEntry's
// endpoints are kUnknown (istiod sets none), Kubernetes' ready ones kHealthy.
enum class EndpointHealth { kUnknown, kHealthy, kUnhealthy };

// One address:port that serves a service port.
struct Endpoint {
  std::string address;  // IP literal (or a DNS name for kDnsLb services)
  int port = 0;
  std::map<std::string, std::string> labels;  // the workload's labels (for subsets)
  std::string region, zone, sub_zone;
  EndpointHealth health = EndpointHealth::kHealthy;
  int weight = 1;
  std::string service_account;
  // istiod's IstioEndpoint.TLSMode: the workload's security.istio.io/tlsMode
  // label, "istio" for a ServiceEntry endpoint with a service account, else
  // "disabled".
  std::string tls_mode = "disabled";
  // istiod's WorkloadName / Namespace (telemetry metadata): a pod's controller
  // (kube.GetDeployMetaFromPod), a ServiceEntry endpoint's "<entry>-<index>",
  // a DNS ServiceEntry's own name.
  std::string workload_name;
  std::string workload_namespace;
};

}  // namespace keel::pilot::model
