#include "pilot/xds/xds_stream.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "pilot/xds/ads_server.h"
#include "pilot/xds/monitoring.h"
#include "pilot/xds/resource_types.h"

namespace keel::pilot::xds {
namespace {

// Istio's push order: clusters before the endpoints and listeners that use them.
constexpr const char* kPushOrder[] = {kClusterType, kEndpointType, kListenerType, kRouteType, kSecretType};

}  // namespace

template <typename Request, typename Response>
XdsStream<Request, Response>::XdsStream(AdsServer* server, std::string connection_id, std::string peer, bool delta)
    : server_(server), connection_id_(std::move(connection_id)), peer_(std::move(peer)), delta_(delta) {}

template <typename Request, typename Response>
void XdsStream<Request, Response>::RequireAuthentication(std::multimap<std::string, std::string> metadata) {
  auth_metadata_ = std::move(metadata);
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::Start() {
  this->StartRead(&reading_);
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::OnReadDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ok) {  // the proxy closed its side, or the stream broke
    FinishLocked(grpc::Status::OK);
    return;
  }
  request_.Clear();
  if (!grpc::SerializationTraits<Request>::Deserialize(&reading_, &request_).ok()) {
    const std::string why = absl::StrCat("the message is not a ", Request::descriptor()->full_name());
    spdlog::warn("ADS: connection {} from {}: {}", connection_id_, peer_, why);
    FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why));
    return;
  }
  if (!proxy_ && auth_metadata_ && !identity_) {
    AuthenticateThenHandleLocked(request_);
    return;
  }
  if (proxy_ || IdentifyLocked(request_)) HandleRequestLocked(request_);
  if (!finishing_) this->StartRead(&reading_);
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::AuthenticateThenHandleLocked(const Request& first) {
  std::shared_ptr<XdsConnection> self = shared_from_this();  // alive until the review is done
  auto review = [this, self, first] {
    auto identity = server_->authenticator()(*auth_metadata_);
    std::lock_guard<std::mutex> lock(mu_);
    if (finishing_) return;
    if (!identity.ok()) {
      spdlog::warn("ADS: connection {} from {} not authenticated: {}", connection_id_, peer_,
                   std::string(identity.status().message()));
      const auto code = absl::IsUnavailable(identity.status()) ? grpc::StatusCode::UNAVAILABLE
                                                                : grpc::StatusCode::UNAUTHENTICATED;
      FinishLocked(grpc::Status(code, std::string(identity.status().message())));
      return;
    }
    identity_ = *identity;
    if (!IdentifyLocked(first) || !AuthorizeLocked()) return;
    HandleRequestLocked(first);
    if (!finishing_) this->StartRead(&reading_);
  };
  auto cancel = [this, self] {
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
  };
  if (!server_->auth_executor().Submit(std::move(review), std::move(cancel))) {
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "too many xDS streams waiting for authentication"));
  }
}

template <typename Request, typename Response>
bool XdsStream<Request, Response>::AuthorizeLocked() {
  if (!identity_ || identity_->ns == proxy_->ns) return true;
  const std::string why =
      absl::StrCat("authorization failed: the token is for ", identity_->ns, "/", identity_->service_account,
                   " but proxy ", proxy_->id, " is in namespace ", proxy_->ns);
  spdlog::warn("ADS: connection {} from {}: {}", connection_id_, peer_, why);
  FinishLocked(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, why));
  return false;
}

template <typename Request, typename Response>
bool XdsStream<Request, Response>::IdentifyLocked(const Request& request) {
  if (!request.has_node()) {
    FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first request must carry node"));
    return false;
  }
  auto proxy = model::ParseProxy(request.node());
  if (!proxy.ok()) {
    spdlog::warn("ADS connection {} from {} rejected: {}", connection_id_, peer_, std::string(proxy.status().message()));
    FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(proxy.status().message())));
    return false;
  }
  proxy_ = std::move(*proxy);
  node_metadata_ = request.node().metadata();
  monitoring::RecordXdsClient(proxy_->istio_version, +1);
  spdlog::info("ADS: new {}connection {} for {} from {}{}", delta_ ? "delta " : "", connection_id_, proxy_->id, peer_,
               proxy_->proxyless_grpc ? " (proxyless gRPC)" : "");
  return true;
}

template <typename Request, typename Response>
typename XdsStream<Request, Response>::Answer XdsStream<Request, Response>::AnswerLocked(const Request& request,
                                                                                         const std::string& version) {
  if (request.response_nonce().empty()) return Answer::kNone;
  const std::string& type = request.type_url();
  WatchState& w = watches_[type];
  if (request.response_nonce() != w.nonce_sent) {
    monitoring::RecordExpiredNonce(type);
    spdlog::debug("ADS: {} {} stale nonce {} (sent {})", connection_id_, ShortTypeName(type), request.response_nonce(),
                  w.nonce_sent);
    return Answer::kStale;
  }
  if (request.has_error_detail()) {
    w.last_nack = request.error_detail().message();
    monitoring::RecordReject(type, request.error_detail().code());
    converging_since_.reset();  // this push will not converge on this proxy
    converging_types_.clear();
    spdlog::warn("ADS: {} NACK from {} (connection {}), version {} nonce {}: {}", ShortTypeName(type), proxy_->id,
                 connection_id_, w.version_sent, request.response_nonce(), w.last_nack);
    return Answer::kNack;
  }
  w.nonce_acked = request.response_nonce();
  w.version_acked = version;
  w.last_nack.clear();
  spdlog::debug("ADS: {} ACK from {} version {}", ShortTypeName(type), proxy_->id, w.version_acked);
  OnAckLocked(type);
  return Answer::kAck;
}

template <typename Request, typename Response>
bool XdsStream<Request, Response>::WatchingLocked(const std::string& type_url) const {
  auto it = watches_.find(type_url);
  return it != watches_.end() && (it->second.watch.wildcard || !it->second.watch.names.empty());
}

template <typename Request, typename Response>
std::string XdsStream<Request, Response>::NextNonceLocked() {
  return absl::StrCat(connection_id_, "-", ++nonce_counter_);
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::Push(const model::PushContextPtr& push, const PushRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finishing_ || !proxy_) return;
  bool sent = false;
  for (const char* type : kPushOrder) {
    if (!WatchingLocked(type)) continue;
    if (PushTypeLocked(type, *push, request.forced)) {
      converging_types_.insert(type);
      sent = true;
    }
  }
  // Pushes that overlap merge, as istiod's merged PushRequests do: the earliest start wins.
  if (sent && (!converging_since_ || request.start < *converging_since_)) converging_since_ = request.start;
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::OnAckLocked(const std::string& type_url) {
  if (!converging_since_ || converging_types_.erase(type_url) == 0 || !converging_types_.empty()) return;
  monitoring::RecordConvergence(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - *converging_since_).count());
  converging_since_.reset();
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::QueueLocked(Response response) {
  grpc::ByteBuffer bytes;
  bool own = false;
  if (auto st = grpc::SerializationTraits<Response>::Serialize(response, &bytes, &own); !st.ok()) {
    spdlog::error("ADS: connection {}: cannot serialize a response: {}", connection_id_, st.error_message());
    FinishLocked(grpc::Status(grpc::StatusCode::INTERNAL, "cannot serialize a response"));
    return;
  }
  queue_.push_back(std::move(bytes));
  MaybeWriteLocked();
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::MaybeWriteLocked() {
  if (write_in_flight_ || finishing_ || queue_.empty()) return;
  writing_ = std::move(queue_.front());
  queue_.pop_front();
  write_in_flight_ = true;
  this->StartWrite(&writing_);
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  write_in_flight_ = false;
  // A failed write means the stream is gone (cancelled, reset, shut down); it
  // may already be finishing (OnCancel came first), in which case the status
  // chosen then stands. Either way nothing is in flight now: finish.
  if (!ok) FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
  if (finishing_) {
    FinishNowLocked();
    return;
  }
  MaybeWriteLocked();
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::FinishLocked(const grpc::Status& status) {
  if (!finishing_) {
    finishing_ = true;
    finish_status_ = status;
    queue_.clear();
  }
  if (!write_in_flight_) FinishNowLocked();  // else OnWriteDone finishes
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::FinishNowLocked() {
  if (finished_) return;
  finished_ = true;
  this->Finish(*finish_status_);
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::OnCancel() {
  std::lock_guard<std::mutex> lock(mu_);
  FinishLocked(grpc::Status::CANCELLED);
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::OnDone() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (proxy_) monitoring::RecordXdsClient(proxy_->istio_version, -1);
    spdlog::info("ADS: connection {} for {} closed", connection_id_, proxy_ ? proxy_->id : "(unidentified)");
  }
  server_->Remove(this);  // may destroy this object: nothing after this line
}

template <typename Request, typename Response>
ConnectionSnapshot XdsStream<Request, Response>::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ConnectionSnapshot{connection_id_, peer_, proxy_, watches_, connected_at_, node_metadata_, delta_, identity_};
}

template class XdsStream<envoy::service::discovery::v3::DiscoveryRequest,
                         envoy::service::discovery::v3::DiscoveryResponse>;
template class XdsStream<envoy::service::discovery::v3::DeltaDiscoveryRequest,
                         envoy::service::discovery::v3::DeltaDiscoveryResponse>;

}  // namespace keel::pilot::xds
