#include "pilot/xds/xds_cache.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "networking/v1alpha3/destination_rule.pb.h"
#include "networking/v1alpha3/service_entry.pb.h"
#include "networking/v1alpha3/virtual_service.pb.h"
#include "pilot/xds/monitoring.h"

namespace keel::pilot::xds {
namespace networking = ::istio::networking::v1alpha3;
using model::Kind;

std::string XdsCacheKey::ToString() const {
  return absl::StrCat(type, "|", generator, "|", scope.ToString(), "|", variant, "|", name);
}

bool XdsCache::Lookup(const XdsCacheKey& key, uint64_t version, model::ResourcePtr* out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!has_version_ || version != version_) return false;  // a stale push: build without the cache
  auto id = ids_.find(key);
  if (id == ids_.end()) {
    ++stats_[key.type].misses;
    monitoring::RecordXdsCacheLookup(key.type, /*hit=*/false);
    return false;
  }
  Entry& entry = entries_.at(id->second);
  lru_.splice(lru_.end(), lru_, entry.lru);
  ++stats_[key.type].hits;
  monitoring::RecordXdsCacheLookup(key.type, /*hit=*/true);
  *out = entry.resource;
  return true;
}

void XdsCache::Insert(const XdsCacheKey& key, uint64_t version, model::Dependencies deps,
                      model::ResourcePtr resource) {
  if (!resource) return;  // see GetOrBuild
  std::lock_guard<std::mutex> lock(mu_);
  if (!has_version_ || version != version_) return;  // built from a push that is no longer current
  if (auto old = ids_.find(key); old != ids_.end()) EraseLocked(old->second);  // a parallel build won
  const uint64_t id = next_id_++;
  for (const auto& k : deps.configs) by_config_[k].insert(id);
  for (const auto& h : deps.hosts) by_host_[h].insert(id);
  for (const auto& g : deps.gateways) by_gateway_[g].insert(id);
  for (const auto& k : deps.kinds) by_kind_[k].insert(id);
  for (const auto& h : deps.endpoints) by_endpoints_[h].insert(id);
  Entry& entry = entries_[id];
  entry.key = key;
  entry.resource = std::move(resource);
  entry.deps = std::move(deps);
  entry.lru = lru_.insert(lru_.end(), id);
  ids_[key] = id;
  while (entries_.size() > max_entries_) {
    EraseLocked(lru_.front());
    monitoring::RecordXdsCacheEviction();
  }
  PublishSizeLocked();
}

void XdsCache::EraseLocked(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  auto unindex = [id](auto& index, const auto& token) {
    auto found = index.find(token);
    if (found == index.end()) return;
    found->second.erase(id);
    if (found->second.empty()) index.erase(found);
  };
  for (const auto& k : e.deps.configs) unindex(by_config_, k);
  for (const auto& h : e.deps.hosts) unindex(by_host_, h);
  for (const auto& g : e.deps.gateways) unindex(by_gateway_, g);
  for (const auto& k : e.deps.kinds) unindex(by_kind_, k);
  for (const auto& h : e.deps.endpoints) unindex(by_endpoints_, h);
  lru_.erase(e.lru);
  ids_.erase(e.key);
  entries_.erase(it);
}

template <typename Index, typename Token>
void XdsCache::EraseIndexedLocked(const Index& index, const Token& token) {
  auto found = index.find(token);
  if (found == index.end()) return;
  const std::set<uint64_t> ids = found->second;  // EraseLocked edits the index
  for (uint64_t id : ids) EraseLocked(id);
}

void XdsCache::InvalidateHostsLocked(Kind kind, const std::string& pattern) {
  // Services are looked up by exact hostname; VirtualServices and
  // DestinationRules match hosts by pattern.
  if (kind == Kind::kService || !absl::StartsWith(pattern, "*")) {
    EraseIndexedLocked(by_host_, std::make_pair(kind, pattern));
    return;
  }
  std::set<uint64_t> ids;
  for (auto it = by_host_.lower_bound({kind, ""}); it != by_host_.end() && it->first.first == kind; ++it) {
    if (model::HostMatches(pattern, it->first.second)) ids.insert(it->second.begin(), it->second.end());
  }
  for (uint64_t id : ids) EraseLocked(id);
}

void XdsCache::InvalidateLocked(const model::PushContext& push, const PushRequest& request) {
  bool endpoints_may_move = false;
  for (const model::ConfigKey& key : request.configs_updated) {
    EraseIndexedLocked(by_config_, key);
    EraseIndexedLocked(by_kind_, model::HostClass(key.kind));
    switch (key.kind) {
      case Kind::kPod:
      case Kind::kEndpointSlice:
      case Kind::kService:
      case Kind::kServiceEntry: endpoints_may_move = true; break;
      default: break;
    }
    auto it = push.configs()->find(key);
    if (it == push.configs()->end()) continue;  // deleted: only entries that read it (dropped above)
    const model::Config& config = *it->second;
    switch (key.kind) {
      case Kind::kService:
        InvalidateHostsLocked(Kind::kService, absl::StrCat(key.name, ".", key.ns, ".svc.", push.mesh().domain));
        break;
      case Kind::kServiceEntry:
        for (const auto& host : config.As<networking::ServiceEntry>().hosts()) {
          InvalidateHostsLocked(Kind::kService, host);
        }
        break;
      case Kind::kDestinationRule:
        InvalidateHostsLocked(Kind::kDestinationRule,
                              push.ResolveHost(config.As<networking::DestinationRule>().host(), key.ns));
        break;
      case Kind::kVirtualService: {
        const auto& vs = config.As<networking::VirtualService>();
        for (const auto& host : vs.hosts()) InvalidateHostsLocked(Kind::kVirtualService, push.ResolveHost(host, key.ns));
        for (const auto& g : vs.gateways()) {
          EraseIndexedLocked(by_gateway_, g == "mesh" || absl::StrContains(g, "/") ? g : absl::StrCat(key.ns, "/", g));
        }
        break;
      }
      default: break;
    }
  }
  for (const std::string& host : request.endpoints_updated) EraseIndexedLocked(by_endpoints_, host);
  if (request.full && endpoints_may_move) {
    std::set<uint64_t> ids;
    for (const auto& [host, entries] : by_endpoints_) ids.insert(entries.begin(), entries.end());
    for (uint64_t id : ids) EraseLocked(id);
  }
}

void XdsCache::BeginPush(const model::PushContext& push, const PushRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool everything = request.forced || (request.full && request.configs_updated.empty()) || !has_version_ ||
                          push.version() <= version_;
  if (everything) {
    ClearLocked();
  } else {
    InvalidateLocked(push, request);
  }
  has_version_ = true;
  version_ = push.version();
  PublishSizeLocked();
}

void XdsCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  ClearLocked();
  PublishSizeLocked();
}

void XdsCache::ClearLocked() {
  ids_.clear();
  entries_.clear();
  lru_.clear();
  by_config_.clear();
  by_host_.clear();
  by_gateway_.clear();
  by_kind_.clear();
  by_endpoints_.clear();
}

void XdsCache::PublishSizeLocked() { monitoring::RecordXdsCacheSize(entries_.size()); }

size_t XdsCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

std::map<std::string, XdsCacheStats> XdsCache::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace keel::pilot::xds
