#include "pilot/xds/delta_connection.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "pilot/xds/ads_server.h"
#include "pilot/xds/monitoring.h"
#include "pilot/xds/resource_types.h"
#include "pkg/log/log_limiter.h"

namespace keel::pilot::xds {
namespace {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;

constexpr char kWildcard[] = "*";

}  // namespace

void DeltaConnection::HandleRequestLocked(const DeltaDiscoveryRequest& request) {
  const std::string& type = request.type_url();
  if (!server_->generators().count(type)) {
    KEEL_WARN_LIMITED("ADS: delta connection {} asked for unsupported type {}", connection_id_, type);
    return;
  }
  if (!MaySubscribeLocked(type)) return;
  WatchState& w = watches_[type];
  // An ACK, NACK or stale answer may still carry subscription changes: those apply regardless.
  AnswerLocked(request, w.version_sent);

  std::map<std::string, std::string>& held = held_[type];
  const bool first = started_types_.insert(type).second;
  const bool was_wildcard = w.watch.wildcard;
  if (first) {
    held.insert(request.initial_resource_versions().begin(), request.initial_resource_versions().end());
    w.watch.wildcard = request.resource_names_subscribe().empty() && IsWildcardType(type);
  }
  std::set<std::string> requested;  // newly subscribed
  for (const auto& name : request.resource_names_subscribe()) {
    if (name == kWildcard) {
      w.watch.wildcard = true;
    } else if (!w.watch.names.contains(name)) {
      requested.insert(name);
    }
  }
  std::set<std::string> unsubscribed;
  for (const auto& name : request.resource_names_unsubscribe()) {
    if (name == kWildcard) {
      w.watch.wildcard = false;
    } else {
      unsubscribed.insert(name);
      held.erase(name);  // the proxy forgets it
    }
  }
  w.watch.names = w.watch.names.With(requested, unsubscribed);
  for (const auto& name : unsubscribed) requested.erase(name);
  const bool wildcard_added = w.watch.wildcard && !was_wildcard;
  if (!first && requested.empty() && !wildcard_added) return;
  OweAnswerLocked(type, {std::move(requested), /*always=*/first});
}

bool DeltaConnection::SendLocked(const TypeWork& work, const model::PushContext& push) {
  const auto begin = std::chrono::steady_clock::now();
  const std::string& type_url = work.type_url;
  WatchState& w = watches_[type_url];
  std::map<std::string, std::string>& held = held_[type_url];

  DeltaDiscoveryResponse response;
  std::set<std::string> present;
  std::vector<NamedResource> resources;
  size_t bytes = 0;
  for (const auto& r : work.resources) {
    if (!InScopeLocked(work, r.name)) continue;  // unsubscribed meanwhile
    present.insert(r.name);
    resources.push_back(r);
    const std::string& version = r.resource->version;  // computed once per push
    auto it = held.find(r.name);
    if (it != held.end() && it->second == version) continue;
    auto* out = response.add_resources();
    out->set_name(r.name);
    out->set_version(version);
    *out->mutable_resource() = r.resource->any;
    bytes += r.resource->any.value().size();
  }
  for (const auto& [name, version] : held) {
    if (!present.count(name) && InScopeLocked(work, name)) response.add_removed_resources(name);
  }
  for (const auto& name : work.answer.subscribed) {
    if (!present.count(name) && !held.count(name) && InScopeLocked(work, name)) response.add_removed_resources(name);
  }
  const bool always = work.answer.always && WatchingLocked(type_url);
  if (response.resources().empty() && response.removed_resources().empty() && !always) return false;

  for (const auto& r : response.resources()) held[r.name()] = r.version();
  for (const auto& name : response.removed_resources()) held.erase(name);
  response.set_system_version_info(absl::StrCat(push.version()));
  response.set_type_url(type_url);
  response.set_nonce(NextNonceLocked());
  if (auto cp = server_->generators().at(type_url)->ControlPlane()) *response.mutable_control_plane() = *std::move(cp);
  w.version_sent = response.system_version_info();
  w.nonce_sent = response.nonce();
  w.sent = true;
  w.last_sent = std::chrono::system_clock::now();
  RecordHeldLocked(work, resources);
  spdlog::debug("ADS: {} delta push to {}: {} resources, {} removed, version {}", ShortTypeName(type_url), proxy_->id,
                response.resources_size(), response.removed_resources_size(), response.system_version_info());
  QueueLocked(std::move(response));
  RecordSent(work, begin, bytes);
  return true;
}

}  // namespace keel::pilot::xds
