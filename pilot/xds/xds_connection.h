// What the ADS server and /debug know of one xDS stream, whichever protocol
// variant (state of the world or delta) it speaks.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/struct.pb.h>

#include "absl/status/statusor.h"
#include "pilot/model/proxy.h"
#include "pilot/model/push_context.h"
#include "pilot/xds/generator.h"
#include "pilot/xds/push_request.h"

namespace keel::pilot::xds {

// What a proxy holds of one type after our responses: one shared pointer per
// resource (its name is the resource's), in name order (FindHeld).
using HeldResources = std::vector<model::ResourcePtr>;
inline bool ByName(const model::ResourcePtr& a, const model::ResourcePtr& b) { return a->name < b->name; }
// The first held resource whose name is not less than `name`.
inline HeldResources::iterator FindHeld(HeldResources& held, const std::string& name) {
  return std::lower_bound(held.begin(), held.end(), name,
                          [](const model::ResourcePtr& r, const std::string& n) { return r->name < n; });
}

// `resources` as held (name order).
inline HeldResources HeldOf(const std::vector<NamedResource>& resources) {
  HeldResources held;
  held.reserve(resources.size());
  for (const auto& r : resources) held.push_back(r.resource);
  std::sort(held.begin(), held.end(), ByName);
  return held;
}

// Per type URL: what the proxy asked for, and what we sent and it answered.
struct WatchState {
  WatchedResource watch;
  std::string version_sent;
  std::string nonce_sent;
  std::string nonce_acked;
  std::string version_acked;
  std::string last_nack;          // error_detail of the last NACK, cleared by an ACK
  std::chrono::system_clock::time_point last_sent;  // of the last response (syncz's last_updated)
  // Hash of the names and bytes held (state of the world): what a full push
  // compares with. Computed when needed: an EDS-only push leaves it unset
  // rather than walk every held assignment of every stream.
  std::optional<size_t> fingerprint;
  bool sent = false;
  HeldResources resources_sent;  // what the proxy holds after our last response
};

using model::ProxyIdentity;

// What one stream may make Keel hold (istiod closes such streams too). Past a
// bound the stream is closed with RESOURCE_EXHAUSTED naming it, its state freed.
struct StreamLimits {
  // Resource names subscribed, all types together (--max-subscribed-names).
  size_t max_subscribed_names = 100000;
  // Serialized responses queued behind the one being written, for a proxy that
  // reads slower than Keel pushes (--max-queued-bytes). A response is always
  // queued when nothing waits, however large.
  size_t max_queued_bytes = 128u << 20;
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
};

// What one connection owes its proxy, as it waits in the PushQueue: a push
// and/or answers to requests that changed subscriptions. Requests merge, so a
// connection waits at most once however many pushes and requests arrive.
struct ConnectionRequest {
  // A subscription change of one type to answer with the current PushContext.
  struct Answer {
    std::set<std::string> subscribed;  // names newly subscribed (delta: reported removed if they do not exist)
    bool always = false;               // respond even if nothing changed (a first request; every SotW change)
  };
  std::optional<PushRequest> push;        // a config push: full (every watched type) or EDS-only
  std::map<std::string, Answer> answers;  // type URL -> the answer owed
  int requests_answered = 0;              // client requests whose answers these are (merged: summed)

  void Merge(const ConnectionRequest& other) {
    requests_answered += other.requests_answered;
    if (other.push) {
      if (push) {
        push->Merge(*other.push);
      } else {
        push = other.push;
      }
    }
    for (const auto& [type, answer] : other.answers) {
      Answer& mine = answers[type];
      mine.subscribed.insert(answer.subscribed.begin(), answer.subscribed.end());
      mine.always = mine.always || answer.always;
    }
  }
};

// One live stream, as the server drives it (owned by a shared_ptr: work that
// outlives a gRPC callback holds one).
class XdsConnection : public std::enable_shared_from_this<XdsConnection> {
 public:
  virtual ~XdsConnection() = default;
  // Serves `request` against the server's current PushContext: generates with
  // no lock held, then diffs against the stream's state as it is by then and
  // queues what the proxy lacks. A push sends what changed of every watched
  // type (everything when forced); an EDS-only one (!full) only the
  // ClusterLoadAssignments of `endpoints_updated` hosts, to streams that watch
  // one. `push->start` is when convergence time starts. Called by a PushQueue
  // worker only, never for one connection on two threads at once. A no-op once
  // the stream is finishing.
  virtual void Process(const ConnectionRequest& request) = 0;
  // The proxy, once the first request identified it. Thread-safe.
  virtual std::optional<model::Proxy> IdentifiedProxy() const = 0;
  virtual ConnectionSnapshot Snapshot() const = 0;
};

}  // namespace keel::pilot::xds
