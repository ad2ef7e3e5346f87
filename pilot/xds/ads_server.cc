#include "pilot/xds/ads_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "pilot/xds/delta_connection.h"
#include "pilot/xds/monitoring.h"
#include "pilot/xds/sotw_connection.h"
#include "pkg/grpc/server_context.h"

namespace keel::pilot::xds {

AdsServer::AdsServer(GeneratorMap generators, int push_workers, std::shared_ptr<XdsCache> cache)
    : generators_(std::move(generators)),
      cache_(std::move(cache)),
      push_queue_(std::make_unique<PushQueue>(push_workers)) {}

int AdsServer::DefaultPushWorkers() { return std::max(2, static_cast<int>(std::thread::hardware_concurrency())); }

void AdsServer::StopPushes() { push_queue_->Shutdown(); }

void AdsServer::Enqueue(const std::shared_ptr<XdsConnection>& connection, ConnectionRequest request) {
  push_queue_->Enqueue(connection, std::move(request));
}

void AdsServer::RequireAuthentication(StreamAuthenticator authenticator, AuthenticatedPorts ports) {
  authenticator_ = std::move(authenticator);
  authenticated_ports_ = ports;
  // Token reviews are calls to the API server: two at a time; a burst of new
  // streams beyond the queue is refused (UNAVAILABLE: the proxy retries).
  auth_executor_ = std::make_unique<concurrency::BoundedExecutor>(/*workers=*/2, /*max_queued=*/4096);
}

template <typename Stream>
Stream* AdsServer::Open(grpc::CallbackServerContext* context) {
  const uint64_t n = ++streams_opened_;
  auto connection = std::make_shared<Stream>(this, absl::StrCat("ads-", n), context->peer());
  Stream* raw = connection.get();
  if (authenticator_ && (authenticated_ports_ == AuthenticatedPorts::kAll || grpcutil::ArrivedOverTls(*context))) {
    raw->RequireAuthentication(grpcutil::ClientMetadata(*context));
  }
  {
    std::lock_guard<std::mutex> lock(connections_mu_);
    connections_.emplace(raw, std::move(connection));
  }
  raw->Start();
  return raw;
}

void AdsServer::StopAuthentication() {
  if (auth_executor_) auth_executor_->Shutdown();
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* AdsServer::StreamAggregatedResources(
    grpc::CallbackServerContext* context) {
  return Open<SotwConnection>(context);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* AdsServer::DeltaAggregatedResources(
    grpc::CallbackServerContext* context) {
  return Open<DeltaConnection>(context);
}

void AdsServer::Remove(XdsConnection* connection) {
  std::shared_ptr<XdsConnection> keep;  // destroyed after the lock is released
  std::lock_guard<std::mutex> lock(connections_mu_);
  auto it = connections_.find(connection);
  if (it != connections_.end()) {
    keep = std::move(it->second);
    connections_.erase(it);
  }
}

namespace {

// The addresses of the endpoints of `hosts` in `push` (any port).
void AddEndpointAddresses(const model::PushContext* push, const model::HostSet& hosts,
                          std::set<std::string>* out) {
  if (!push) return;
  for (const auto& host : hosts) {
    const model::Service* svc = push->ServiceForHost(host);
    if (!svc) continue;
    for (const auto& port : svc->ports) {
      for (const auto& ep : push->Endpoints(host, port.port)) out->insert(ep.address);
    }
  }
}

}  // namespace

void AdsServer::Push(model::PushContextPtr push, const PushRequest& request) {
  if (cache_) cache_->BeginPush(*push, request);  // before any generation against `push`
  model::PushContextPtr previous;
  {
    std::lock_guard<std::mutex> lock(push_mu_);
    previous = std::move(push_);
    push_ = push;
  }
  std::vector<std::shared_ptr<XdsConnection>> targets;
  {
    std::lock_guard<std::mutex> lock(connections_mu_);
    for (const auto& [raw, connection] : connections_) targets.push_back(connection);
  }
  size_t virtual_services = 0;
  for (const auto& [key, config] : *push->configs()) virtual_services += key.kind == model::Kind::kVirtualService;
  monitoring::RecordServices(push->services().size(), virtual_services);
  monitoring::RecordPushTriggers(request.reasons);
  std::set<std::string> moved_addresses;  // EDS-only: workloads whose own endpoints may have changed
  if (!request.full) {
    AddEndpointAddresses(previous.get(), request.endpoints_updated, &moved_addresses);
    AddEndpointAddresses(push.get(), request.endpoints_updated, &moved_addresses);
  }
  for (const auto& connection : targets) {
    ConnectionRequest queued;
    queued.push = request;
    if (!request.full) {
      const std::optional<model::Proxy> proxy = connection->IdentifiedProxy();
      if (!proxy) continue;  // its first request is answered with the current PushContext
      const bool own_pod = request.configs_updated.count(model::ConfigKey{model::Kind::kPod, proxy->ns, proxy->pod_name});
      if (own_pod || moved_addresses.count(proxy->ip)) queued.push->full = true;
    }
    push_queue_->Enqueue(connection, std::move(queued));
  }
  spdlog::debug("push version {} ({}) queued for {} connections ({} config changes)", push->version(),
                request.full ? "full" : "endpoints", targets.size(), request.configs_updated.size());
}

model::PushContextPtr AdsServer::CurrentPush() const {
  std::lock_guard<std::mutex> lock(push_mu_);
  return push_;
}

std::vector<ConnectionSnapshot> AdsServer::Connections() const {
  std::vector<std::shared_ptr<XdsConnection>> all;
  {
    std::lock_guard<std::mutex> lock(connections_mu_);
    for (const auto& [raw, connection] : connections_) all.push_back(connection);
  }
  std::vector<ConnectionSnapshot> out;
  for (const auto& c : all) out.push_back(c->Snapshot());
  return out;
}

absl::StatusOr<ConnectionSnapshot> AdsServer::ConnectionForProxy(const std::string& proxy_id) const {
  for (auto& snapshot : Connections()) {
    if (snapshot.proxy && snapshot.proxy->id == proxy_id) return std::move(snapshot);
  }
  return absl::NotFoundError(absl::StrCat("proxy ", proxy_id, " is not connected to this instance"));
}

}  // namespace keel::pilot::xds
