#include "pilot/xds/xds_stream.h"

#include <algorithm>

#include <google/protobuf/arena.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "pilot/xds/ads_server.h"
#include "pilot/xds/monitoring.h"
#include "pilot/xds/push_worker.h"
#include "pilot/xds/resource_types.h"
#include "pkg/log/log_limiter.h"

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
  std::optional<ConnectionRequest> owed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ok) {  // the proxy closed its side, or the stream broke
      if (answers_owed_ > 0) {
        half_closed_ = true;  // Process() finishes once they are served
      } else {
        FinishLocked(grpc::Status::OK);
      }
      return;
    }
    if (proxy_ && HandledAsPlainAckLocked(reading_)) {
      this->StartRead(&reading_);
      return;
    }
    // Parsed into an arena that goes with this call: a few blocks instead of a
    // string per name (an EDS ACK names every watched cluster), and nothing of
    // it stays allocated between requests.
    google::protobuf::ArenaOptions arena_options;
    arena_options.start_block_size = 4096;
    arena_options.max_block_size = 64 * 1024;
    google::protobuf::Arena arena(arena_options);
    Request& request = *google::protobuf::Arena::CreateMessage<Request>(&arena);
    if (!grpc::SerializationTraits<Request>::Deserialize(&reading_, &request).ok()) {
      const std::string why = absl::StrCat("the message is not a ", Request::descriptor()->full_name());
      KEEL_WARN_LIMITED("ADS: connection {} from {}: {}", connection_id_, peer_, why);
      FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why));
      return;
    }
    if (!proxy_ && auth_metadata_) {  // the first request of a stream that must authenticate
      AuthenticateThenHandleLocked(request);
      return;
    }
    if (proxy_ || IdentifyLocked(request)) owed = HandleAndTakeOwedLocked(request);
    if (!finishing_) this->StartRead(&reading_);
  }
  EnqueueOwed(std::move(owed));
}

template <typename Request, typename Response>
std::optional<ConnectionRequest> XdsStream<Request, Response>::HandleAndTakeOwedLocked(const Request& request) {
  HandleRequestLocked(request);
  if (OverSubscribedLocked()) {
    owed_.reset();
    return std::nullopt;
  }
  std::optional<ConnectionRequest> owed = std::move(owed_);
  owed_.reset();
  if (owed) {
    owed->requests_answered = 1;
    ++answers_owed_;
  }
  return owed;
}

template <typename Request, typename Response>
bool XdsStream<Request, Response>::OverSubscribedLocked() {
  size_t names = 0;
  for (const auto& [type, w] : watches_) names += w.watch.names.size();
  const size_t max = server_->limits().max_subscribed_names;
  if (names <= max) return false;
  FinishOverLimitLocked("subscribed_names", absl::StrCat("subscribed to ", names, " resource names, more than the ",
                                                         max, " a stream may (--max-subscribed-names)"));
  return true;
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::FinishOverLimitLocked(const char* bound, const std::string& why) {
  monitoring::RecordStreamOverLimit(bound);
  KEEL_WARN_LIMITED("ADS: connection {} for {} from {} closed: {}", connection_id_, proxy_ ? proxy_->id : "?", peer_,
                    why);
  FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, why));
  // Nothing of it is read again: free it now rather than when gRPC is done.
  std::map<std::string, WatchState>().swap(watches_);
  ForgetSubscriptionsLocked();
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::OweAnswerLocked(const std::string& type_url, ConnectionRequest::Answer answer) {
  if (!owed_) owed_.emplace();
  ConnectionRequest one;
  one.answers[type_url] = std::move(answer);
  owed_->Merge(one);
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::EnqueueOwed(std::optional<ConnectionRequest> owed) {
  if (owed) server_->Enqueue(shared_from_this(), std::move(*owed));
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::AuthenticateThenHandleLocked(const Request& first) {
  std::shared_ptr<XdsConnection> self = shared_from_this();  // alive until the review is done
  auto review = [this, self, first] {
    auto identity = server_->authenticator()(*auth_metadata_);
    std::optional<ConnectionRequest> owed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finishing_) return;
      if (!identity.ok()) {
        KEEL_WARN_LIMITED("ADS: connection {} from {} not authenticated: {}", connection_id_, peer_,
                     std::string(identity.status().message()));
        const auto code = absl::IsUnavailable(identity.status()) ? grpc::StatusCode::UNAVAILABLE
                                                                  : grpc::StatusCode::UNAUTHENTICATED;
        FinishLocked(grpc::Status(code, std::string(identity.status().message())));
        return;
      }
      if (!IdentifyLocked(first)) return;
      proxy_->verified_identity = *identity;
      if (!AuthorizeLocked()) return;
      owed = HandleAndTakeOwedLocked(first);
      if (!finishing_) this->StartRead(&reading_);
    }
    EnqueueOwed(std::move(owed));
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
  const std::optional<ProxyIdentity>& identity = proxy_->verified_identity;
  if (!identity || identity->ns == proxy_->ns) return true;
  const std::string why =
      absl::StrCat("authorization failed: the token is for ", identity->ns, "/", identity->service_account,
                   " but proxy ", proxy_->id, " is in namespace ", proxy_->ns);
  KEEL_WARN_LIMITED("ADS: connection {} from {}: {}", connection_id_, peer_, why);
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
    KEEL_WARN_LIMITED("ADS connection {} from {} rejected: {}", connection_id_, peer_, std::string(proxy.status().message()));
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
  // A nonce for a type this stream never answered comes from an earlier stream
  // (Envoy reconnecting to another instance; adsc sends one on its first
  // request): a new request, as istiod's shouldRespond treats it.
  if (auto it = watches_.find(type); it == watches_.end() || it->second.nonce_sent.empty()) return Answer::kNone;
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
    KEEL_WARN_LIMITED("ADS: {} NACK from {} (connection {}), version {} nonce {}: {}", ShortTypeName(type), proxy_->id,
                 connection_id_, w.version_sent, request.response_nonce(), w.last_nack);
    return Answer::kNack;
  }
  RecordAckLocked(type, request.response_nonce(), version);
  return Answer::kAck;
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::RecordAckLocked(const std::string& type_url, absl::string_view nonce,
                                                   absl::string_view version) {
  WatchState& w = watches_[type_url];
  w.nonce_acked = std::string(nonce);
  w.version_acked = std::string(version);
  w.last_nack.clear();
  spdlog::debug("ADS: {} ACK from {} version {}", ShortTypeName(type_url), proxy_->id, w.version_acked);
  OnAckLocked(type_url);
}

template <typename Request, typename Response>
bool XdsStream<Request, Response>::MaySubscribeLocked(const std::string& type_url) {
  if (!server_->generators().at(type_url)->RequiresVerifiedIdentity() || proxy_->verified_identity) return true;
  KEEL_WARN_LIMITED("ADS: connection {} asked for {} without authenticating: closed", connection_id_, type_url);
  FinishLocked(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                            type_url + " needs an authenticated stream: the TLS port with a token (or --xds-auth-plaintext)"));
  return false;
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
void XdsStream<Request, Response>::Process(const ConnectionRequest& request) {
  Serve(request);
  std::lock_guard<std::mutex> lock(mu_);
  answers_owed_ -= request.requests_answered;
  if (half_closed_ && answers_owed_ <= 0) FinishLocked(grpc::Status::OK);
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::Serve(const ConnectionRequest& request) {
  const model::PushContextPtr push = server_->CurrentPush();
  if (!push) return;  // nothing to serve yet: the first push queues every connection
  const PushRequest* config_push = request.push ? &*request.push : nullptr;
  std::optional<model::Proxy> proxy;
  std::vector<TypeWork> work;
  {  // What to generate, copied under the lock.
    std::lock_guard<std::mutex> lock(mu_);
    if (finishing_ || !proxy_) return;
    proxy = proxy_;
    // What one watched type owes: nothing, a push, an answer, or both.
    auto consider = [&](const std::string& type) {
      if (!WatchingLocked(type)) return;
      auto answer = request.answers.find(type);
      const bool answered = answer != request.answers.end();
      // An EDS-only push concerns EDS, and only streams watching an affected host:
      // only the assignments of those hosts, in both variants. EDS is not a
      // state-of-the-world type (a SotW response need not list every watched
      // ClusterLoadAssignment; Envoy and gRPC keep the ones left out), so istiod's
      // incremental EDS sends just those on SotW streams too.
      SubscribedNames affected;
      if (config_push && !config_push->full && type == kEndpointType) {
        affected = watches_.at(type).watch.names.NamesOfHosts(config_push->endpoints_updated);
      }
      const bool pushed = config_push && (config_push->full || !affected.empty());
      if (!pushed && !answered) return;
      TypeWork t;
      t.type_url = type;
      t.pushed = pushed;
      t.forced = answered || (pushed && config_push->forced);
      if (answered) t.answer = answer->second;
      if (pushed && !config_push->full && !answered) {
        t.watch.names = std::move(affected);
        t.partial = true;
      } else {
        t.watch = watches_.at(type).watch;
      }
      work.push_back(std::move(t));
    };
    // Istio's order, then the other types watched (istio.io/debug/*) in type URL order.
    for (const char* type : kPushOrder) consider(type);
    for (const auto& entry : watches_) {  // not a structured binding: lambdas capture it only from C++20
      const std::string& type = entry.first;
      if (std::none_of(std::begin(kPushOrder), std::end(kPushOrder), [&](const char* t) { return type == t; })) {
        consider(type);
      }
    }
  }
  for (TypeWork& t : work) {  // No lock held.
    const auto begin = std::chrono::steady_clock::now();
    t.resources = GenerateOnPushWorker(t.type_url, *server_->generators().at(t.type_url), *proxy, *push, t.watch);
    t.generate_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (finishing_) return;
  bool sent = false;
  for (const TypeWork& t : work) {
    if (SendLocked(t, *push) && t.pushed) {
      converging_types_.insert(t.type_url);
      sent = true;
    }
  }
  // Pushes that overlap merge, as istiod's merged PushRequests do: the earliest start wins.
  if (sent && (!converging_since_ || config_push->start < *converging_since_)) converging_since_ = config_push->start;
}

template <typename Request, typename Response>
bool XdsStream<Request, Response>::WatchChangedLocked(const TypeWork& work) const {
  auto it = watches_.find(work.type_url);
  if (it == watches_.end()) return true;
  return it->second.watch.wildcard != work.watch.wildcard || (!work.partial && it->second.watch.names != work.watch.names);
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::RecordHeldLocked(const TypeWork& work, const std::vector<NamedResource>& sent) {
  WatchState& w = watches_[work.type_url];
  HeldResources& held = w.resources_sent;
  if (!work.partial && !WatchChangedLocked(work)) {  // the whole subscription, answered
    held = HeldOf(sent);
    return;
  }
  if (work.partial && !work.watch.wildcard) {
    // Few names (an EDS-only push): each is replaced, added or dropped in place,
    // by binary search; the rest stay as held.
    for (const std::string& name : work.watch.names) {
      if (!InScopeLocked(work, name)) continue;
      auto fresh = std::lower_bound(sent.begin(), sent.end(), name,
                                    [](const NamedResource& r, const std::string& n) { return r.name < n; });
      const bool generated = fresh != sent.end() && fresh->name == name;
      auto at = FindHeld(held, name);
      if (at != held.end() && (*at)->name == name) {
        if (generated) {
          *at = fresh->resource;
        } else {
          held.erase(at);
        }
      } else if (generated) {
        held.insert(at, fresh->resource);
      }
    }
    return;
  }
  // The subscription changed meanwhile: keep what is still subscribed and outside
  // what `work` answered, plus what it sent (in scope: the callers send nothing
  // else, so the two parts share no name).
  HeldResources merged;
  for (auto& r : held) {
    const bool subscribed = w.watch.wildcard || w.watch.names.count(r->name);
    if (subscribed && !InScopeLocked(work, r->name)) merged.push_back(std::move(r));
  }
  for (const auto& r : sent) merged.push_back(r.resource);
  std::sort(merged.begin(), merged.end(), ByName);
  held = std::move(merged);
}

template <typename Request, typename Response>
bool XdsStream<Request, Response>::InScopeLocked(const TypeWork& work, const std::string& name) const {
  if (!work.watch.wildcard && !work.watch.names.count(name)) return false;
  auto it = watches_.find(work.type_url);
  if (it == watches_.end()) return false;
  return it->second.watch.wildcard || it->second.watch.names.count(name) > 0;
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::RecordSent(const TypeWork& work, std::chrono::steady_clock::time_point send_begin,
                                              size_t bytes) {
  const double send = std::chrono::duration<double>(std::chrono::steady_clock::now() - send_begin).count();
  monitoring::RecordPush(work.type_url, work.generate_seconds + send, bytes);
}

template <typename Request, typename Response>
std::optional<model::Proxy> XdsStream<Request, Response>::IdentifiedProxy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return proxy_;
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
  const size_t size = bytes.Length();
  const size_t max = server_->limits().max_queued_bytes;
  if (!queue_.empty() && queued_bytes_ + size > max) {
    FinishOverLimitLocked("queued_bytes", absl::StrCat("the proxy reads too slowly: ", queued_bytes_ + size,
                                                       " response bytes would wait, more than the ", max,
                                                       " a stream may (--max-queued-bytes)"));
    return;
  }
  queued_bytes_ += size;
  queue_.push_back(std::move(bytes));
  MaybeWriteLocked();
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::MaybeWriteLocked() {
  if (write_in_flight_ || finishing_ || queue_.empty()) return;
  writing_ = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= writing_.Length();
  write_in_flight_ = true;
  this->StartWrite(&writing_);
}

template <typename Request, typename Response>
void XdsStream<Request, Response>::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  write_in_flight_ = false;
  writing_.Clear();  // the response is out: hold none of its bytes until the next
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
    queued_bytes_ = 0;
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
  return ConnectionSnapshot{connection_id_, peer_, proxy_, watches_, connected_at_, node_metadata_, delta_};
}

template class XdsStream<envoy::service::discovery::v3::DiscoveryRequest,
                         envoy::service::discovery::v3::DiscoveryResponse>;
template class XdsStream<envoy::service::discovery::v3::DeltaDiscoveryRequest,
                         envoy::service::discovery::v3::DeltaDiscoveryResponse>;

}  // namespace keel::pilot::xds
