#include "pilot/xds/ads_connection.h"

#include <spdlog/spdlog.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "pilot/xds/ads_server.h"
#include "pilot/xds/monitoring.h"
#include "pilot/xds/resource_types.h"

namespace keel::pilot::xds {
namespace {

using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

// Istio's push order: clusters before the endpoints and listeners that use them.
constexpr const char* kPushOrder[] = {kClusterType, kEndpointType, kListenerType, kRouteType, kSecretType};

size_t Fingerprint(const std::vector<NamedResource>& resources) {
  size_t h = resources.size();
  for (const auto& r : resources) {
    h = h * 1000003u ^ std::hash<std::string>()(r.name);
    h = h * 1000003u ^ r.resource->hash;
  }
  return h;
}

}  // namespace

AdsConnection::AdsConnection(AdsServer* server, std::string connection_id, std::string peer)
    : server_(server), connection_id_(std::move(connection_id)), peer_(std::move(peer)) {
  StartRead(&request_);
}

void AdsConnection::OnReadDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ok) {  // the proxy closed its side, or the stream broke
    FinishLocked(grpc::Status::OK);
    return;
  }
  HandleRequestLocked(request_);
  if (!finishing_) StartRead(&request_);
}

void AdsConnection::HandleRequestLocked(const DiscoveryRequest& request) {
  if (!proxy_) {
    if (!request.has_node()) {
      FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first request must carry node"));
      return;
    }
    auto proxy = model::ParseProxy(request.node());
    if (!proxy.ok()) {
      spdlog::warn("ADS connection {} from {} rejected: {}", connection_id_, peer_, std::string(proxy.status().message()));
      FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(proxy.status().message())));
      return;
    }
    proxy_ = std::move(*proxy);
    node_metadata_ = request.node().metadata();
    monitoring::RecordXdsClient(proxy_->istio_version, +1);
    spdlog::info("ADS: new connection {} for {} from {}{}", connection_id_, proxy_->id, peer_,
                 proxy_->proxyless_grpc ? " (proxyless gRPC)" : "");
  }
  const std::string& type = request.type_url();
  if (!server_->generators().count(type)) {
    spdlog::warn("ADS: connection {} asked for unsupported type {}", connection_id_, type);
    return;
  }
  WatchState& w = watches_[type];
  std::set<std::string> names(request.resource_names().begin(), request.resource_names().end());
  if (!request.response_nonce().empty()) {
    if (request.response_nonce() != w.nonce_sent) {
      monitoring::RecordExpiredNonce(type);
      spdlog::debug("ADS: {} {} stale nonce {} (sent {})", connection_id_, ShortTypeName(type),
                    request.response_nonce(), w.nonce_sent);
      return;
    }
    if (request.has_error_detail()) {
      w.last_nack = request.error_detail().message();
      monitoring::RecordReject(type, proxy_->id, request.error_detail().code());
      converging_since_.reset();  // this push will not converge on this proxy
      converging_types_.clear();
      spdlog::warn("ADS: {} NACK from {} (connection {}), version {} nonce {}: {}", ShortTypeName(type),
                   proxy_->id, connection_id_, w.version_sent, request.response_nonce(), w.last_nack);
      return;  // the proxy keeps its previous config; so do we
    }
    w.nonce_acked = request.response_nonce();
    w.version_acked = request.version_info();
    w.last_nack.clear();
    spdlog::debug("ADS: {} ACK from {} version {}", ShortTypeName(type), proxy_->id, w.version_acked);
    OnAckLocked(type);
    if (names == w.watch.names) return;  // a plain ACK
  }
  w.watch.names = std::move(names);
  w.watch.wildcard = w.watch.names.empty() && (type == kListenerType || type == kClusterType);
  if (w.watch.names.empty() && !w.watch.wildcard) return;  // unsubscribed from everything
  model::PushContextPtr push = server_->CurrentPush();
  if (push) RespondLocked(type, *push, /*only_if_changed=*/false);
}

bool AdsConnection::RespondLocked(const std::string& type_url, const model::PushContext& push,
                                  bool only_if_changed) {
  const auto begin = std::chrono::steady_clock::now();
  WatchState& w = watches_[type_url];
  const XdsGenerator& generator = *server_->generators().at(type_url);
  std::vector<NamedResource> resources = generator.Generate(*proxy_, push, w.watch);
  const size_t fingerprint = Fingerprint(resources);
  if (only_if_changed && w.sent && fingerprint == w.fingerprint) return false;

  DiscoveryResponse response;
  response.set_version_info(absl::StrCat(push.version()));
  response.set_type_url(type_url);
  response.set_nonce(absl::StrCat(connection_id_, "-", ++nonce_counter_));
  size_t bytes = 0;
  for (const auto& r : resources) {
    *response.add_resources() = r.resource->any;
    bytes += r.resource->any.value().size();
  }
  w.version_sent = response.version_info();
  w.nonce_sent = response.nonce();
  w.fingerprint = fingerprint;
  w.sent = true;
  w.resources_sent = std::move(resources);
  spdlog::debug("ADS: {} push to {}: {} resources, version {}", ShortTypeName(type_url), proxy_->id,
                response.resources_size(), response.version_info());
  queue_.push_back(std::move(response));
  MaybeWriteLocked();
  monitoring::RecordPush(type_url, std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count(),
                         bytes);
  return true;
}

void AdsConnection::Push(const model::PushContextPtr& push, const PushRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finishing_ || !proxy_) return;
  bool sent = false;
  for (const char* type : kPushOrder) {
    auto it = watches_.find(type);
    if (it == watches_.end() || (!it->second.watch.wildcard && it->second.watch.names.empty())) continue;
    if (RespondLocked(type, *push, /*only_if_changed=*/!request.forced)) {
      converging_types_.insert(type);
      sent = true;
    }
  }
  // Pushes that overlap merge, as istiod's merged PushRequests do: the earliest start wins.
  if (sent && (!converging_since_ || request.start < *converging_since_)) converging_since_ = request.start;
}

void AdsConnection::OnAckLocked(const std::string& type_url) {
  if (!converging_since_ || converging_types_.erase(type_url) == 0 || !converging_types_.empty()) return;
  monitoring::RecordConvergence(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - *converging_since_).count());
  converging_since_.reset();
}

void AdsConnection::MaybeWriteLocked() {
  if (write_in_flight_ || finishing_ || queue_.empty()) return;
  writing_ = std::move(queue_.front());
  queue_.pop_front();
  write_in_flight_ = true;
  StartWrite(&writing_);
}

void AdsConnection::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  write_in_flight_ = false;
  if (!ok) {
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
    return;
  }
  if (finishing_ && !finished_) {
    finished_ = true;
    Finish(*finish_status_);
    return;
  }
  MaybeWriteLocked();
}

void AdsConnection::FinishLocked(const grpc::Status& status) {
  if (finishing_) return;
  finishing_ = true;
  finish_status_ = status;
  queue_.clear();
  if (!write_in_flight_) {  // else OnWriteDone finishes
    finished_ = true;
    Finish(status);
  }
}

void AdsConnection::OnCancel() {
  std::lock_guard<std::mutex> lock(mu_);
  FinishLocked(grpc::Status::CANCELLED);
}

void AdsConnection::OnDone() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (proxy_) monitoring::RecordXdsClient(proxy_->istio_version, -1);
    spdlog::info("ADS: connection {} for {} closed", connection_id_, proxy_ ? proxy_->id : "(unidentified)");
  }
  server_->Remove(this);  // may destroy this object: nothing after this line
}

ConnectionSnapshot AdsConnection::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ConnectionSnapshot{connection_id_, peer_, proxy_, watches_, connected_at_, node_metadata_};
}

}  // namespace keel::pilot::xds
