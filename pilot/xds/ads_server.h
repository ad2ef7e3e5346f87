// AdsServer: the AggregatedDiscoveryService, state of the world and delta, on
// gRPC's callback API. Holds the current PushContext and every live connection; a push
// installs a new PushContext and queues every connection on the PushQueue, whose
// workers generate and send (push_queue.h).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "pilot/xds/xds_connection.h"
#include "pilot/xds/generator.h"
#include "pilot/xds/push_queue.h"
#include "pilot/xds/push_request.h"
#include "pkg/concurrency/bounded_executor.h"

namespace keel::pilot::xds {

// Both methods as raw callback methods: the streams parse and serialize
// themselves (xds_stream.h).
using RawAdsService = envoy::service::discovery::v3::AggregatedDiscoveryService::
    WithRawCallbackMethod_StreamAggregatedResources<envoy::service::discovery::v3::AggregatedDiscoveryService::
                                                        WithRawCallbackMethod_DeltaAggregatedResources<
                                                            envoy::service::discovery::v3::AggregatedDiscoveryService::Service>>;

class AdsServer final : public RawAdsService {
 public:
  // `push_workers`: the PushQueue's threads (--push-throttle). `cache`, when
  // given, is the cross-push cache `generators` build through
  // (MakeGenerators(cache.get())); each Push begins it first (xds_cache.h).
  explicit AdsServer(GeneratorMap generators, int push_workers = DefaultPushWorkers(),
                     std::shared_ptr<XdsCache> cache = nullptr);

  // The cores of this machine, at least 2: generation is CPU-bound, so more
  // threads than cores only add contention (istiod's PILOT_PUSH_THROTTLE is 100
  // goroutines; Keel's unit is a thread).
  static int DefaultPushWorkers();

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StreamAggregatedResources(
      grpc::CallbackServerContext* context) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* DeltaAggregatedResources(
      grpc::CallbackServerContext* context) override;

  // Which streams must authenticate.
  enum class AuthenticatedPorts {
    kTls,  // istiod's XDS_AUTH: plaintext streams are trusted by their node id (15010)
    kAll,  // istiod's XDS_AUTH_PLAINTEXT too: every stream
  };
  // Those streams must authenticate: `authenticator` reviews their metadata
  // before their first request is handled, on this server's own workers; the
  // identity becomes the proxy's verified_identity. Call before serving.
  void RequireAuthentication(StreamAuthenticator authenticator, AuthenticatedPorts ports = AuthenticatedPorts::kTls);
  // Bounds every stream opened from now on. Call before serving.
  void SetStreamLimits(const StreamLimits& limits) { limits_ = limits; }
  const StreamLimits& limits() const { return limits_; }
  // Finishes the reviews in progress and drops the queued ones (after the gRPC
  // server has shut down). Idempotent.
  void StopAuthentication();

  // Drops what `request` changed from the cache, makes `push` current and queues
  // every connection for it, then returns: the PushQueue's workers generate and
  // send. An EDS-only request (!full) is
  // served, as a full one, to the connection of a workload the change concerns
  // itself (its Pod among configs_updated, or its IP among the old or new
  // endpoints of endpoints_updated): its inbound listeners read its own Pod and
  // endpoints. Called from one thread at a time (the debouncer's).
  void Push(model::PushContextPtr push, const PushRequest& request);

  // Drops queued pushes and joins the push workers (after the gRPC server has
  // shut down). Idempotent.
  void StopPushes();

  // The current PushContext; null before the first push.
  model::PushContextPtr CurrentPush() const;

  // State of every live connection (for /debug).
  std::vector<ConnectionSnapshot> Connections() const;
  // The connection of the proxy with node id `proxy_id`; NotFound if none is here.
  absl::StatusOr<ConnectionSnapshot> ConnectionForProxy(const std::string& proxy_id) const;

  // Used by connections.
  const GeneratorMap& generators() const { return generators_; }
  const StreamAuthenticator& authenticator() const { return authenticator_; }
  concurrency::BoundedExecutor& auth_executor() { return *auth_executor_; }
  void Enqueue(const std::shared_ptr<XdsConnection>& connection, ConnectionRequest request);
  void Remove(XdsConnection* connection);

  uint64_t streams_opened() const { return streams_opened_.load(); }
  // The cross-push cache; null if this server has none.
  const XdsCache* cache() const { return cache_.get(); }

 private:
  const GeneratorMap generators_;
  const std::shared_ptr<XdsCache> cache_;
  mutable std::mutex push_mu_;
  model::PushContextPtr push_ ABSL_GUARDED_BY(push_mu_);

  mutable std::mutex connections_mu_;
  // Adds a new stream and starts it; returns it as gRPC wants it.
  template <typename Stream>
  Stream* Open(grpc::CallbackServerContext* context);

  std::map<XdsConnection*, std::shared_ptr<XdsConnection>> connections_ ABSL_GUARDED_BY(connections_mu_);
  std::atomic<uint64_t> streams_opened_{0};

  StreamLimits limits_;
  StreamAuthenticator authenticator_;
  AuthenticatedPorts authenticated_ports_ = AuthenticatedPorts::kTls;
  // Destroyed (its workers joined) before what their pushes use.
  std::unique_ptr<PushQueue> push_queue_;
  // Last: destroyed (its workers joined) before what their reviews use (the push queue too).
  std::unique_ptr<concurrency::BoundedExecutor> auth_executor_;
};

}  // namespace keel::pilot::xds
