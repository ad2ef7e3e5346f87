// What the ADS server and /debug know of one xDS stream, whichever protocol
// variant (state of the world or delta) it speaks.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/struct.pb.h>

#include "absl/status/statusor.h"
#include "pilot/model/proxy.h"
#include "pilot/model/push_context.h"
#include "pilot/xds/generator.h"
#include "pilot/xds/push_request.h"

namespace keel::pilot::xds {

// Per type URL: what the proxy asked for, and what we sent and it answered.
struct WatchState {
  WatchedResource watch;
  std::string version_sent;
  std::string nonce_sent;
  std::string nonce_acked;
  std::string version_acked;
  std::string last_nack;          // error_detail of the last NACK, cleared by an ACK
  size_t fingerprint = 0;         // hash of the names and bytes last sent (state of the world)
  bool sent = false;
  std::vector<NamedResource> resources_sent;  // what the proxy holds after our last response
};

// Who a proxy is by the credential on its stream (the Kubernetes service account
// its token was issued to).
struct ProxyIdentity {
  std::string ns;
  std::string service_account;
};

// Reviews a stream's request metadata (lower-case names): the identity, or
// Unauthenticated with the reason (Unavailable when the reviewer cannot be
// reached). Blocking: runs on the server's authentication workers.
using StreamAuthenticator =
    std::function<absl::StatusOr<ProxyIdentity>(const std::multimap<std::string, std::string>& metadata)>;

// A consistent copy of a connection's state, for /debug.
struct ConnectionSnapshot {
  std::string connection_id;
  std::string peer;
  std::optional<model::Proxy> proxy;
  std::map<std::string, WatchState> watches;
  std::chrono::system_clock::time_point connected_at;
  google::protobuf::Struct node_metadata;  // as the proxy sent it in its first request
  bool delta = false;                      // a DeltaAggregatedResources stream
  std::optional<ProxyIdentity> identity;   // authenticated streams (the TLS port)
};

// One live stream, as the server drives it (owned by a shared_ptr: work that
// outlives a gRPC callback holds one).
class XdsConnection : public std::enable_shared_from_this<XdsConnection> {
 public:
  virtual ~XdsConnection() = default;
  // Sends what changed for every watched type under `push` (everything when
  // `request.forced`). Thread-safe; called by the push thread. A no-op once the
  // stream is finishing. `request.start` is when convergence time starts.
  virtual void Push(const model::PushContextPtr& push, const PushRequest& request) = 0;
  virtual ConnectionSnapshot Snapshot() const = 0;
};

}  // namespace keel::pilot::xds
