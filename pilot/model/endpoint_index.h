// EndpointIndex: the endpoints behind every service port (Istio's
// EndpointIndex), immutable once built and shared by pointer between
// PushContexts. Each host's endpoints are held by their own shared_ptr, so an
// endpoint-only change makes a new index that shares every host with the
// previous one except the hosts it recomputes.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "pilot/model/config_store.h"
#include "pilot/model/service.h"

namespace keel::pilot::model {

class EndpointIndex {
 public:
  // Service port -> its endpoints.
  using PortEndpoints = std::map<int, std::vector<Endpoint>>;

  // The endpoints of every service in `services` from `configs` (the Pods,
  // EndpointSlices and ServiceEntries there). `services` holds one entry per
  // hostname (the one PushContext::ServiceForHost returns).
  static std::shared_ptr<const EndpointIndex> Build(const ConfigMap& configs,
                                                    const std::vector<const Service*>& services);

  // `previous`, with the endpoints of `services` recomputed from `configs` and
  // every other host shared with it. Reads only the Pods and EndpointSlices of
  // the namespaces of `services`.
  static std::shared_ptr<const EndpointIndex> Update(const EndpointIndex& previous, const ConfigMap& configs,
                                                     const std::vector<const Service*>& services);

  // Endpoints of `hostname` at service port `port`; empty if none.
  const std::vector<Endpoint>& Endpoints(absl::string_view hostname, int port) const;

  // The same object when `other` shares this host's endpoints (for tests and
  // benchmarks: what an update recomputed).
  bool SharesHost(const EndpointIndex& other, absl::string_view hostname) const;

 private:
  std::map<std::string, std::shared_ptr<const PortEndpoints>, std::less<>> by_host_;
};

using EndpointIndexPtr = std::shared_ptr<const EndpointIndex>;

}  // namespace keel::pilot::model
