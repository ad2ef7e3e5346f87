// AdsConnection: one ADS stream (state of the world) from one proxy, on gRPC's
// callback API: no thread of its own, one read and at most one write in flight.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "pilot/model/proxy.h"
#include "pilot/model/push_context.h"
#include "pilot/xds/generator.h"

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
};

class AdsConnection final
    : public grpc::ServerBidiReactor<envoy::service::discovery::v3::DiscoveryRequest,
                                     envoy::service::discovery::v3::DiscoveryResponse> {
 public:
  AdsConnection(AdsServer* server, std::string connection_id, std::string peer);

  // Sends what changed for every watched type under `push`. Thread-safe; called by
  // the push thread. A no-op once the stream is finishing.
  void Push(const model::PushContextPtr& push);

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
  // skips it when the resources are the ones last sent.
  void RespondLocked(const std::string& type_url, const model::PushContext& push, bool only_if_changed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  AdsServer* const server_;
  const std::string connection_id_;
  const std::string peer_;

  mutable std::mutex mu_;
  envoy::service::discovery::v3::DiscoveryRequest request_;  // the read in flight (reactor-owned)
  envoy::service::discovery::v3::DiscoveryResponse writing_ ABSL_GUARDED_BY(mu_);
  std::deque<envoy::service::discovery::v3::DiscoveryResponse> queue_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_status_ ABSL_GUARDED_BY(mu_);
  std::optional<model::Proxy> proxy_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, WatchState> watches_ ABSL_GUARDED_BY(mu_);
  uint64_t nonce_counter_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace keel::pilot::xds
