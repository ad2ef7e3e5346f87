// XdsStream: what an ADS stream does whichever variant it speaks (state of the
// world or delta), on gRPC's callback API: no thread of its own, one read and at
// most one write in flight; the proxy identified from the first request's node;
// ACK/NACK bookkeeping by nonce; pilot_proxy_convergence_time. The variants
// (sotw_connection.h, delta_connection.h) decide what to send. Messages travel
// as raw bytes (gRPC's raw callback methods): requests are parsed here, so one
// that does not parse ends its stream with INVALID_ARGUMENT naming the type, and
// responses are serialized once, when queued.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/base/thread_annotations.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "pilot/xds/xds_connection.h"

namespace keel::pilot::xds {

class AdsServer;

template <typename Request, typename Response>
class XdsStream : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>, public XdsConnection {
 public:
  XdsStream(AdsServer* server, std::string connection_id, std::string peer, bool delta);

  // The stream must authenticate: `metadata` (its request headers, lower-case
  // names) is reviewed by the server's authenticator before the first request
  // is handled, and the proxy's namespace must be the identity's. Before Start().
  void RequireAuthentication(std::multimap<std::string, std::string> metadata);

  // Starts reading. Called once, after construction (a read may complete at
  // once, and its handler is virtual).
  void Start();

  void Push(const model::PushContextPtr& push, const PushRequest& request) final;
  ConnectionSnapshot Snapshot() const final;

  // gRPC reactor callbacks.
  void OnReadDone(bool ok) final;
  void OnWriteDone(bool ok) final;
  void OnCancel() final;
  void OnDone() final;

 protected:
  // One request from the identified proxy (`proxy_` is set).
  virtual void HandleRequestLocked(const Request& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // Queues what the proxy lacks of `type_url` under `push`; `forced` asks for a
  // response even if nothing changed where the variant can say so. True if a
  // response was queued.
  virtual bool PushTypeLocked(const std::string& type_url, const model::PushContext& push, bool forced)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;

  // What a request says about our last response of its type.
  enum class Answer {
    kNone,   // no response_nonce: not an answer (a first request or a new subscription)
    kStale,  // the nonce of an older response: ignore the request
    kNack,   // rejected: the proxy keeps its previous config, and so do we
    kAck,
  };
  // Classifies `request`, records ACKs and NACKs in watches_[type] (`version`:
  // what an ACK accepted), logs NACKs and counts them.
  Answer AnswerLocked(const Request& request, const std::string& version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the proxy subscribed to anything of `type_url`.
  bool WatchingLocked(const std::string& type_url) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NextNonceLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueueLocked(Response response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the stream with `status` (the first status given wins): Finish() is
  // called exactly once, now or, while a write is in flight, when it completes
  // (it always does: a cancelled stream's write completes with ok=false).
  // Idempotent; safe from any reaction.
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  AdsServer* const server_;
  const std::string connection_id_;
  mutable std::mutex mu_;
  std::optional<model::Proxy> proxy_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, WatchState> watches_ ABSL_GUARDED_BY(mu_);

 private:
  // Sets proxy_ from the first request's node; false (stream finished) if it cannot.
  bool IdentifyLocked(const Request& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reviews the credential on a worker, then identifies, authorizes and handles
  // `first` and resumes reading; no read is in flight meanwhile.
  void AuthenticateThenHandleLocked(const Request& first) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // An authenticated stream's proxy must be in its identity's namespace (istiod's
  // authorize); false (stream finished) if not.
  bool AuthorizeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // An ACK of the last response of `type_url`: ends convergence when it was the
  // last type a push is waiting for.
  void OnAckLocked(const std::string& type_url) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls Finish(finish_status_) unless it was called already; no write in flight.
  void FinishNowLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string peer_;
  const bool delta_;
  const std::chrono::system_clock::time_point connected_at_ = std::chrono::system_clock::now();
  grpc::ByteBuffer reading_;  // the read in flight (reactor-owned)
  Request request_;           // reading_, parsed
  grpc::ByteBuffer writing_ ABSL_GUARDED_BY(mu_);
  std::deque<grpc::ByteBuffer> queue_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_status_ ABSL_GUARDED_BY(mu_);
  std::optional<std::multimap<std::string, std::string>> auth_metadata_;  // set before Start(), then read-only
  std::optional<ProxyIdentity> identity_ ABSL_GUARDED_BY(mu_);
  google::protobuf::Struct node_metadata_ ABSL_GUARDED_BY(mu_);
  // Pushes sent and not yet fully ACKed (pilot_proxy_convergence_time): when the
  // earliest of them started, and the types whose last response awaits an ACK.
  // A NACK abandons the measurement: that proxy did not converge.
  std::optional<std::chrono::steady_clock::time_point> converging_since_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> converging_types_ ABSL_GUARDED_BY(mu_);
  uint64_t nonce_counter_ ABSL_GUARDED_BY(mu_) = 0;
};

extern template class XdsStream<envoy::service::discovery::v3::DiscoveryRequest,
                                envoy::service::discovery::v3::DiscoveryResponse>;
extern template class XdsStream<envoy::service::discovery::v3::DeltaDiscoveryRequest,
                                envoy::service::discovery::v3::DeltaDiscoveryResponse>;

}  // namespace keel::pilot::xds
