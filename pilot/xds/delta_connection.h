// DeltaConnection: one DeltaAggregatedResources stream (incremental xDS, the
// protocol Istio's sidecars use by default since 1.22). The proxy subscribes and
// unsubscribes by name ("*" is the wildcard; a first LDS/CDS request with no
// names is the legacy wildcard), may say on reconnect which versions it holds
// (initial_resource_versions), and each response carries only the resources
// whose version differs from what it holds, plus the names it must drop.
// Versions are hashes of the serialized resource, so identical bytes are never
// resent, across pushes and reconnects.
#pragma once

#include <map>
#include <set>
#include <string>

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "pilot/xds/xds_stream.h"

namespace keel::pilot::xds {

class DeltaConnection final : public XdsStream<envoy::service::discovery::v3::DeltaDiscoveryRequest,
                                               envoy::service::discovery::v3::DeltaDiscoveryResponse> {
 public:
  DeltaConnection(AdsServer* server, std::string connection_id, std::string peer)
      : XdsStream(server, std::move(connection_id), std::move(peer), /*delta=*/true) {}

 private:
  void HandleRequestLocked(const envoy::service::discovery::v3::DeltaDiscoveryRequest& request) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends the resources of `work.type_url` the proxy lacks and the names it must
  // drop, if any (within the subscription, and within the generated names for a
  // partial push). Names just subscribed (`work.answer.subscribed`) that do not
  // exist are listed as removed, so the proxy stops waiting for them; with
  // `work.answer.always` a response goes out even when it is empty (the answer
  // to a first request). `work.forced` is ignored: the proxy already holds every
  // unchanged resource.
  bool SendLocked(const TypeWork& work, const model::PushContext& push) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForgetSubscriptionsLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::map<std::string, std::map<std::string, std::string>>().swap(held_);
  }

  // Per type: resource name -> the version the proxy holds.
  std::map<std::string, std::map<std::string, std::string>> held_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> started_types_ ABSL_GUARDED_BY(mu_);  // types with a first request
};

}  // namespace keel::pilot::xds
