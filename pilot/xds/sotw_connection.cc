#include "pilot/xds/sotw_connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "pilot/xds/ads_server.h"
#include "pilot/xds/discovery_request_view.h"
#include "pilot/xds/monitoring.h"
#include "pilot/xds/resource_types.h"
#include "pkg/log/log_limiter.h"

namespace keel::pilot::xds {
namespace {

using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

// A hash of what a response would carry, in name order (each resource's bytes
// hold its name, so the bytes' hashes suffice).
size_t Fingerprint(const std::vector<NamedResource>& resources) {
  size_t h = resources.size();
  for (const auto& r : resources) h = h * 1000003u ^ r.resource->hash;
  return h;
}
size_t Fingerprint(const HeldResources& resources) {
  size_t h = resources.size();
  for (const auto& r : resources) h = h * 1000003u ^ r->hash;
  return h;
}

}  // namespace

bool SotwConnection::HandledAsPlainAckLocked(const grpc::ByteBuffer& bytes) {
  grpc::Slice slice;
  if (!bytes.DumpToSingleSlice(&slice).ok()) return false;
  DiscoveryRequestView request;
  if (!DiscoveryRequestView::Parse(absl::string_view(reinterpret_cast<const char*>(slice.begin()), slice.size()),
                                   &request) ||
      !request.OnlyAckFields() || request.response_nonce.empty() || !IsAscii(request.version_info)) {
    return false;
  }
  // At most one entry per xDS type: a scan, with no string made per ACK.
  auto w = std::find_if(watches_.begin(), watches_.end(),
                        [&](const auto& entry) { return entry.first == request.type_url; });
  if (w == watches_.end() || request.response_nonce != w->second.nonce_sent) return false;
  if (!w->second.watch.names.SameAs(std::move(request.resource_names))) return false;
  // As the full parse would find it: a known type (it is watched), our last nonce, no error, the same names.
  RecordAckLocked(w->first, request.response_nonce, request.version_info);
  monitoring::RecordAckReadInPlace();
  return true;
}

void SotwConnection::HandleRequestLocked(const DiscoveryRequest& request) {
  const std::string& type = request.type_url();
  if (!server_->generators().count(type)) {
    KEEL_WARN_LIMITED("ADS: connection {} asked for unsupported type {}", connection_id_, type);
    return;
  }
  if (!MaySubscribeLocked(type)) return;
  switch (AnswerLocked(request, request.version_info())) {
    case Answer::kStale:
    case Answer::kNack:
      return;
    case Answer::kAck:
      if (watches_[type].watch.names.SameAs({request.resource_names().begin(), request.resource_names().end()})) {
        return;  // a plain ACK
      }
      break;
    case Answer::kNone:
      break;
  }
  WatchState& w = watches_[type];
  w.watch.names = SubscribedNames(request.resource_names().begin(), request.resource_names().end());
  w.watch.wildcard = w.watch.names.empty() && IsWildcardType(type);
  if (!WatchingLocked(type)) return;  // unsubscribed from everything
  // Every request that changes the subscription is answered, changed resources or not.
  OweAnswerLocked(type, {{}, /*always=*/true});
}

bool SotwConnection::SendLocked(const TypeWork& work, const model::PushContext& push) {
  const auto begin = std::chrono::steady_clock::now();
  const std::string& type_url = work.type_url;
  WatchState& w = watches_[type_url];
  std::vector<NamedResource> resources;
  if (work.partial || WatchChangedLocked(work)) {
    for (const auto& r : work.resources) {
      if (InScopeLocked(work, r.name)) resources.push_back(r);
    }
  } else {
    resources = work.resources;
  }
  // What the response carries: everything, or for a partial work (an EDS-only
  // push) the assignments whose bytes changed; the proxy keeps the others, as
  // EDS is not a state-of-the-world type.
  std::vector<NamedResource> changed;
  if (work.partial) {
    for (const auto& r : resources) {
      auto it = FindHeld(w.resources_sent, r.name);
      if (it == w.resources_sent.end() || (*it)->name != r.name || (*it)->hash != r.resource->hash) changed.push_back(r);
    }
    if (changed.empty() && !work.forced) return false;
  } else {
    if (!work.forced && w.sent) {
      if (!w.fingerprint) w.fingerprint = Fingerprint(w.resources_sent);
      if (Fingerprint(resources) == *w.fingerprint) return false;
    }
  }
  const std::vector<NamedResource>& sent = work.partial ? changed : resources;

  DiscoveryResponse response;
  response.set_version_info(absl::StrCat(push.version()));
  response.set_type_url(type_url);
  response.set_nonce(NextNonceLocked());
  if (auto cp = server_->generators().at(type_url)->ControlPlane()) *response.mutable_control_plane() = *std::move(cp);
  size_t bytes = 0;
  for (const auto& r : sent) {
    *response.add_resources() = r.resource->any;
    bytes += r.resource->any.value().size();
  }
  w.version_sent = response.version_info();
  w.nonce_sent = response.nonce();
  w.sent = true;
  w.last_sent = std::chrono::system_clock::now();
  if (work.partial) {
    RecordHeldLocked(work, resources);  // the untouched names stay held
    w.fingerprint.reset();
  } else {
    w.resources_sent = HeldOf(resources);  // a SotW response replaces what the proxy held
    w.fingerprint = Fingerprint(w.resources_sent);
  }
  spdlog::debug("ADS: {} push to {}: {} resources{}, version {}", ShortTypeName(type_url), proxy_->id,
                response.resources_size(), work.partial ? " (changed assignments only)" : "", response.version_info());
  QueueLocked(std::move(response));
  RecordSent(work, begin, bytes);
  return true;
}

}  // namespace keel::pilot::xds
