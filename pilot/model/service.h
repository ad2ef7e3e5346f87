// Service and endpoint model shared by every generator: a Kubernetes Service or
// a ServiceEntry host, its ports, and the endpoints behind each port.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "pilot/model/config.h"

namespace keel::pilot::model {

// A set of FQDN hostnames, searchable by string_view.
using HostSet = std::set<std::string, std::less<>>;

struct ServicePort {
  std::string name;
  int port = 0;
  std::string protocol;  // "TCP", "UDP", "HTTP", "GRPC", ... as written
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

// One address:port that serves a service port.
struct Endpoint {
  std::string address;  // IP literal (or a DNS name for kDnsLb services)
  int port = 0;
  std::map<std::string, std::string> labels;  // the workload's labels (for subsets)
  std::string region, zone, sub_zone;
  bool healthy = true;
  int weight = 1;
  std::string service_account;
  std::string workload;  // "pod-name.ns" or "" when unknown
};

}  // namespace keel::pilot::model
