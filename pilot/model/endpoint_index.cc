#include "pilot/model/endpoint_index.h"

#include "pilot/model/endpoint_builder.h"

namespace keel::pilot::model {
namespace {

std::shared_ptr<const EndpointIndex::PortEndpoints> BuildHost(const EndpointBuilder& builder, const ConfigMap& configs,
                                                              const Service& svc) {
  auto out = std::make_shared<EndpointIndex::PortEndpoints>();
  auto config = configs.find(svc.source);
  if (config == configs.end()) return out;
  for (const auto& port : svc.ports) (*out)[port.port] = builder.Build(*config->second, svc, port);
  return out;
}

}  // namespace

std::shared_ptr<const EndpointIndex> EndpointIndex::Build(const ConfigMap& configs,
                                                          const std::vector<const Service*>& services) {
  auto index = std::make_shared<EndpointIndex>();
  EndpointBuilder builder(configs);
  for (const Service* svc : services) index->by_host_[svc->hostname] = BuildHost(builder, configs, *svc);
  return index;
}

std::shared_ptr<const EndpointIndex> EndpointIndex::Update(const EndpointIndex& previous, const ConfigMap& configs,
                                                           const std::vector<const Service*>& services) {
  auto index = std::make_shared<EndpointIndex>(previous);  // shares every host's endpoints
  std::set<std::string> namespaces;
  for (const Service* svc : services) namespaces.insert(svc->ns);
  EndpointBuilder builder(configs, namespaces);
  for (const Service* svc : services) index->by_host_[svc->hostname] = BuildHost(builder, configs, *svc);
  return index;
}

const std::vector<Endpoint>& EndpointIndex::Endpoints(absl::string_view hostname, int port) const {
  static const std::vector<Endpoint> kNone;
  auto host = by_host_.find(hostname);
  if (host == by_host_.end()) return kNone;
  auto it = host->second->find(port);
  return it == host->second->end() ? kNone : it->second;
}

bool EndpointIndex::SharesHost(const EndpointIndex& other, absl::string_view hostname) const {
  auto mine = by_host_.find(hostname);
  auto theirs = other.by_host_.find(hostname);
  return mine != by_host_.end() && theirs != other.by_host_.end() && mine->second == theirs->second;
}

}  // namespace keel::pilot::model
