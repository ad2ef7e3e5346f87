// AdsConnection: one ADS stream (state of the world) from one proxy, on gRPC's
// callback API: no thread of its own, one read and at most one write in flight.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "pilot/model/proxy.h"
#include "pilot/model/push_context.h"
#include "pilot/xds/generator.h"
#include "pilot/xds/push_request.h"

namespace keel::pilot::xds {

class AdsServer;

// Per type URL: what the proxy asked for, and what we sent and it answered.
struct WatchState {
  WatchedResource watch;
  std::string version_sent;
  std::string nonce_sent;
  std::string nonce_acked;
  std::string version_acked;
  std::string last_nack;          // error_detail of the last NACK, cleared by an ACK
  size_t fingerprint = 0;         // hash of the names and bytes last sent
  bool sent = false;
  std::vector<NamedResource> resources_sent;
};

// A consistent copy of a connection's state, for /debug.
struct ConnectionSnapshot {
  std::string connection_id;
  std::string peer;
  std::optional<model::Proxy> proxy;
  std::map<std::string, WatchState> watches;
  std::chrono::system_clock::time_point connected_at;
  google::protobuf::Struct node_metadata;  // as the proxy sent it in its first request
};

class AdsConnection final
    : public grpc::ServerBidiReactor<envoy::service::discovery::v3::DiscoveryRequest,
                                     envoy::service::discovery::v3::DiscoveryResponse> {
 public:
  AdsConnection(AdsServer* server, std::string connection_id, std::string peer);

  // Sends what changed for every watched type under `push` (everything when
  // `request.forced`). Thread-safe; called by the push thread. A no-op once the
  // stream is finishing. `request.start` is when convergence time starts.
  void Push(const model::PushContextPtr& push, const PushRequest& request);

  ConnectionSnapshot Snapshot() const;
  const std::string& id() const { return connection_id_; }

  // gRPC reactor callbacks.
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void HandleRequestLocked(const envoy::service::discovery::v3::DiscoveryRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Generates and queues the response for `type_url`; with `only_if_changed`,
  // skips it when the resources are the ones last sent. True if it queued one.
  bool RespondLocked(const std::string& type_url, const model::PushContext& push, bool only_if_changed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // An ACK of the last response of `type_url`: ends convergence when it was the
  // last type a push is waiting for.
  void OnAckLocked(const std::string& type_url) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  AdsServer* const server_;
  const std::string connection_id_;
  const std::string peer_;
  const std::chrono::system_clock::time_point connected_at_ = std::chrono::system_clock::now();

  mutable std::mutex mu_;
  envoy::service::discovery::v3::DiscoveryRequest request_;  // the read in flight (reactor-owned)
  envoy::service::discovery::v3::DiscoveryResponse writing_ ABSL_GUARDED_BY(mu_);
  std::deque<envoy::service::discovery::v3::DiscoveryResponse> queue_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_status_ ABSL_GUARDED_BY(mu_);
  std::optional<model::Proxy> proxy_ ABSL_GUARDED_BY(mu_);
  google::protobuf::Struct node_metadata_ ABSL_GUARDED_BY(mu_);
  // Pushes sent and not yet fully ACKed (pilot_proxy_convergence_time): when the
  // earliest of them started, and the types whose last response awaits an ACK.
  // A NACK abandons the measurement: that proxy did not converge.
  std::optional<std::chrono::steady_clock::time_point> converging_since_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> converging_types_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, WatchState> watches_ ABSL_GUARDED_BY(mu_);
  uint64_t nonce_counter_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace keel::pilot::xds
