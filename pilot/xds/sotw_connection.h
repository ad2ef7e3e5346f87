// SotwConnection: one StreamAggregatedResources stream (state of the world):
// every response of a type carries all the resources the proxy subscribed to.
#pragma once

#include <string>

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "pilot/xds/xds_stream.h"

namespace keel::pilot::xds {

class SotwConnection final : public XdsStream<envoy::service::discovery::v3::DiscoveryRequest,
                                              envoy::service::discovery::v3::DiscoveryResponse> {
 public:
  SotwConnection(AdsServer* server, std::string connection_id, std::string peer)
      : XdsStream(server, std::move(connection_id), std::move(peer), /*delta=*/false) {}

 private:
  void HandleRequestLocked(const envoy::service::discovery::v3::DiscoveryRequest& request) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A request with only version, type, the nonce of our last response of that
  // type and exactly the subscribed names, read in place (DiscoveryRequestView).
  bool HandledAsPlainAckLocked(const grpc::ByteBuffer& bytes) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends the type's resources (those still subscribed); unless `work.forced`,
  // only when they differ from the ones last sent.
  bool SendLocked(const TypeWork& work, const model::PushContext& push) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
};

}  // namespace keel::pilot::xds
